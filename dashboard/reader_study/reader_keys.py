"""Keyboard answers on the reading page: Y / N, 1–5, Enter.

Streamlit has no key bindings, so a zero-height component installs one `keydown` listener on
the page (the component's iframe is same-origin, so it can reach its parent document) and
turns keys into clicks on the page's own widgets. Nothing is sent anywhere else; the answers
still go through the same form and the same validation as mouse clicks.

- Y / N: "Do you fully agree with the label?"
- 1–5: the first rating still unanswered (quality, then difficulty); Q or D first picks the
  rating the next digit goes to, to correct one
- Enter: "Save and next"
Keys typed into the comment box stay text.
"""
from __future__ import annotations

import json

import streamlit as st

HINT = ("Keys: **Y**/**N** agree · **1–5** quality, then difficulty (**Q**/**D** to pick one) "
        "· **Enter** save and next")

# Runs in the parent page's own realm (a <script> element added there), so the listener
# keeps working when Streamlit replaces this component's iframe on the next rerun.
_LISTENER = """
(function () {
  const doc = document;
  if (window.__readerKeys) { return; }
  window.__readerKeys = true;
  let target = null;  // 1 = quality, 2 = difficulty, chosen with Q / D
  function groups() {
    return Array.from(doc.querySelectorAll('[data-testid="stForm"] [role="radiogroup"]'));
  }
  function choose(group, index) {
    const labels = group ? group.querySelectorAll('label') : [];
    if (labels[index]) { labels[index].click(); }
  }
  function answered(group) {
    return !!(group && group.querySelector('input[type="radio"]:checked'));
  }
  doc.addEventListener('keydown', function (e) {
    const el = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (el && (el.tagName === 'TEXTAREA' || (el.tagName === 'INPUT' && el.type !== 'radio'))) {
      return;
    }
    const g = groups();
    if (g.length < 3) { return; }
    const key = e.key.toLowerCase();
    if (key === 'y' || key === 'n') { choose(g[0], key === 'y' ? 0 : 1); }
    else if (key === 'q') { target = 1; }
    else if (key === 'd') { target = 2; }
    else if (key >= '1' && key <= '5') {
      let which = target;
      if (which === null) { which = answered(g[1]) ? 2 : 1; }
      choose(g[which], Number(key) - 1);
      target = null;
    } else if (key === 'enter') {
      const save = Array.from(doc.querySelectorAll('[data-testid="stForm"] button'))
        .find(b => b.innerText.trim() === 'Save and next');
      if (save) { save.click(); target = null; }
    } else { return; }
    e.preventDefault();
  }, true);
})();
"""

_SCRIPT = ("<script>(function () {const p = window.parent;"
           " if (p.__readerKeys) { return; }"
           " const s = p.document.createElement('script');"
           " s.textContent = " + json.dumps(_LISTENER) + ";"
           " p.document.head.appendChild(s);})();</script>")


def install() -> None:
    """Install the listener (once per browser tab; later calls find it installed)."""
    st.iframe(_SCRIPT, height=1)
