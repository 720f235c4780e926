"""Strings from data or users shown as literal text: the one way they reach the page.

Class names, study names, image ids, reader names and comments come from files other people
wrote. Streamlit renders Markdown (and its own extensions: `:red[…]` colours,
`:material/…:` icons, `$…$` maths) in st.markdown/caption/info/warning/error/success, in
headers, and in the labels of widgets, tabs, expanders and metrics. A class called
`![x](http://host/x.png)` would make every viewer's browser fetch that address, and a
reader's comment could restyle the clinician's label line. So every such string goes through
this module:

- `md_escape(text)` → the text with every ASCII punctuation character backslash-escaped
  (CommonMark allows exactly that set to be escaped, and an escaped character is never
  syntax: no link, image, emphasis, HTML tag, autolink, directive or maths can start), line
  breaks flattened to spaces, edge spaces kept (as no-break spaces) and web addresses kept
  from turning into links (an invisible word joiner after `http`, `www`, `@`). Use it for a value
  embedded in a Markdown string or in a label: `st.caption(f"class **{md_escape(name)}**")`.
- `md_code(text)` → the text as an inline code span, for paths and identifiers that read
  best in monospace (`f"folder {md_code(path)}"`). Escapes do not work inside code spans,
  so the fence is made longer than any run of backticks in the text.
- `literal(text)` draws a string as a paragraph of literal text.
- `html_text(text)` → the text for an HTML element's content or a quoted attribute value
  (`&`, `<`, `>`, `"` and `'` as entities, line breaks as spaces): for the few places
  that build HTML themselves (st.html, e.g. Browse's rank table).

Places that render plain text already (st.text, st.code, st.dataframe cells, selectbox and
multiselect options, Altair/Vega titles and axis labels) need nothing.
"""
from __future__ import annotations

import html
import re
import string
from typing import Any

# Every ASCII punctuation character (CommonMark §2.4: all of them, and only them, escape).
_PUNCT = re.compile("([" + re.escape(string.punctuation) + "])")
_BREAKS = re.compile(r"[\r\n\t\v\f\u2028\u2029\x85]+")
_NBSP = "&#160;"
# GitHub-flavoured "autolink literals" (http://…, www.…, name@host.tld) are found in the
# text *after* escapes are resolved, so escaping cannot stop them: an invisible word joiner
# (U+2060) after the scheme, the "www" or the "@" does, and changes nothing that is shown.
_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(?i)(?:\bhttps?(?=:)|\bwww(?=\.)|@)")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _flat(text: Any) -> str:
    # A line break inside a label would end the paragraph (or start a list, a heading or a
    # code block on the next line): one line, as a space. Other control characters show
    # as the replacement character rather than vanish.
    return _CONTROL.sub("\ufffd", _BREAKS.sub(" ", str(text)))


def md_escape(text: Any) -> str:
    """`text` (any object, via str) as Markdown source that renders as exactly that text."""
    s = _PUNCT.sub(r"\\\1", _AUTOLINK.sub("\\g<0>" + _JOINER, _flat(text)))
    # Leading spaces would be dropped (or, four of them, open a code block) and trailing
    # ones trimmed: keep them as no-break spaces so what was typed is what is shown. As an
    # entity, because parsers trim a literal U+00A0 at a paragraph's edges too.
    core = s.strip(" ")
    lead = len(s) - len(s.lstrip(" "))
    trail = len(s) - len(s.rstrip(" ")) if core else 0
    return _NBSP * lead + core + _NBSP * trail


def md_table(header, rows) -> str:
    """A Markdown table whose every cell renders as exactly its text (`md_escape`, which also
    escapes `|`). Markdown draws with the page's first paint, where Streamlit's table and
    grid elements wait for their own code to load."""
    def line(cells):
        return "| " + " | ".join(md_escape(c) if str(c) else "\u00a0" for c in cells) + " |"
    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in rows)])


def md_code(text: Any) -> str:
    """`text` as a Markdown inline code span (monospace, shown exactly as written)."""
    s = _flat(text)
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    # A space on each side keeps a leading/trailing backtick off the fence (CommonMark strips
    # exactly one such space on each side when both are present).
    return f"{fence} {s} {fence}" if s else "\u00a0"


def literal(text: Any, container: Any = None, **kwargs) -> Any:
    """Draw `text` as a paragraph of literal text (in `container`, default the page)."""
    if container is None:
        import streamlit as st

        container = st
    return container.markdown(md_escape(text), **kwargs)


def html_text(text: Any) -> str:
    """`text` (any object, via str) as HTML text or quoted attribute value, shown literally."""
    return html.escape(_flat(text), quote=True)
