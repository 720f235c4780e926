"""Tables the dashboard draws as HTML (st.html), read back as the browser would show them:
for assertions on AppTest elements. Parsed with the standard library's HTML parser."""
from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd


class _Tables(HTMLParser):
    """Every <table>'s header cells and body rows as text; the tags met, for safety checks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.tags: set[str] = set()
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in_head = False
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "table":
            self.tables.append({"head": [], "rows": [], "row_classes": []})
        elif tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self._in_head = False
        elif tag == "tr":
            self._row = []
            if not self._in_head and self.tables:
                self.tables[-1]["row_classes"].append(dict(attrs).get("class") or "")
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            t = self.tables[-1]
            (t["head"].extend(self._row) if self._in_head else t["rows"].append(self._row))
            self._row = None
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._cell is not None and not self._in_style:
            self._cell.append(data)


def parse(body: str) -> _Tables:
    p = _Tables()
    p.feed(body)
    p.close()
    return p


def html_tables(at, css_class: str = "") -> list[pd.DataFrame]:
    """The tables of the AppTest's main area drawn with st.html (those whose HTML names
    `css_class`), as text DataFrames with a `_row_class` column."""
    out = []
    for h in at.main.html:
        if css_class and css_class not in h.value:
            continue
        for t in parse(h.value).tables:
            df = pd.DataFrame(t["rows"], columns=t["head"])
            df["_row_class"] = t["row_classes"]
            out.append(df)
    return out


def rank_table(at) -> pd.DataFrame | None:
    """Browse's rank table (dashboard.reading_room.browse_text.rank_html), or None when none
    is shown."""
    tables = html_tables(at, "pl-rank")
    return tables[0] if tables else None
