"""One predicate for "the page is drawn", shared by the browser benchmarks.

`page_drawn(*extra)` is a JS function for `page.wait_for_function`: Streamlit's script run is
over, the page has its title, every visible chart has its canvas or SVG and every image has
loaded; each `extra` line adds one more condition (e.g. the viewer has painted). `mark` names
a window property that records the first moment all of it held.
"""
from __future__ import annotations


def page_drawn(*extra: str, mark: str | None = None) -> str:
    lines = [
        "  const app = document.querySelector('[data-testid=\"stApp\"]');",
        "  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;",
        "  if (!document.querySelector('h1')) return false;",
        "  const charts = [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')]",
        "    .filter(c => c.offsetParent !== null);",
        "  if (!charts.every(c => c.querySelector('canvas, svg'))) return false;",
        "  if (![...document.images].every(i => i.complete)) return false;",
        *(f"  {line}" for line in extra),
    ]
    if mark:
        lines.append(f"  window.{mark} = window.{mark} || performance.now();")
    return "() => {\n" + "\n".join(lines) + "\n  return true;\n}"
