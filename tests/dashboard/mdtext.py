"""What a Markdown string shows a reader: for assertions on AppTest elements, whose `.value`
is the Markdown source (escapes and all). Rendered by markdown-it-py (CommonMark)."""
from __future__ import annotations

import html
import re


def render(md: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("strikethrough").render(md)


def plain(md: str) -> str:
    """The visible text of `md` (tags dropped, entities decoded, lines joined by spaces)."""
    text = re.sub(r"<[^>]+>", " ", render(md))
    # U+2060 (word joiner) is invisible: dashboard.common.safe puts it in web addresses
    text = html.unescape(text).replace("\u00a0", " ").replace("\u2060", "")
    return re.sub(r"\s+", " ", text).strip()


def elements(md: str) -> set[str]:
    """HTML element names `md` turns into (e.g. {'p', 'code'}; never 'img' or 'a' for data)."""
    return set(re.findall(r"<([a-z][a-z0-9]*)", render(md)))


# Proto fields Streamlit renders as Markdown (checked in Chromium: labels, help, captions of
# images, metric values and deltas, progress text, button labels, radio options, alerts).
_MD_FIELDS = {"body", "label", "help", "caption", "delta", "text"}
_PLAIN_PROTOS = {"Text", "Code", "Exception", "Json", "DataFrame", "Arrow",
                 "ArrowVegaLiteChart", "VegaLiteChart",
                 "Html"}   # st.html is HTML, not Markdown: html_sources / htmltable check it


def markdown_sources(at) -> list[tuple[str, str]]:
    """(proto type.field, source) of every string of the AppTest's page (main and sidebar)
    that Streamlit renders as Markdown."""
    out: list[tuple[str, str]] = []

    def fields(msg) -> None:
        name = type(msg).__name__
        if name in _PLAIN_PROTOS:
            return
        for fd, value in msg.ListFields():
            repeated = getattr(fd, "is_repeated", None)
            if repeated is None:
                repeated = fd.label == fd.LABEL_REPEATED
            items = value if repeated else [value]
            for v in items:
                if isinstance(v, str):
                    if fd.name in _MD_FIELDS or (name == "Radio" and fd.name == "options"):
                        out.append((f"{name}.{fd.name}", v))
                elif hasattr(v, "ListFields"):
                    fields(v)

    for node, proto in _nodes(at):
        fields(proto)
        if type(proto).__name__ == "Table":   # st.table renders its text cells as Markdown
            frame = node.value
            out.extend(("Table.cell", v) for v in frame.to_numpy().ravel() if isinstance(v, str))
            out.extend(("Table.column", str(c)) for c in frame.columns)
    return out


def html_sources(at) -> list[str]:
    """The bodies of every st.html element of the AppTest's page (main and sidebar)."""
    return [proto.body for _, proto in _nodes(at) if type(proto).__name__ == "Html"]


def _nodes(at):
    """(node, proto) of every element of the AppTest's tree that has a proto, depth first."""
    stack = [at._tree]
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None:
            yield node, proto
        stack.extend(reversed(list(getattr(node, "children", {}).values())))
