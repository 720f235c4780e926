"""dashboard.common.safe: data strings embedded in Markdown render as exactly themselves.

Checked against markdown-it-py (a CommonMark parser, with GFM tables, strikethrough and
linkify switched on) and against Streamlit's own extensions, which markdown-it does not
know: a directive (`:red[…]`), an icon (`:material/…:`) or maths (`$…$`) can only start at
an unescaped `:`/`$`. The rendered result in a browser is checked by the e2e test.
"""
from __future__ import annotations

import html
import re
import string

import pytest

from dashboard.common.safe import md_code, md_escape

HOSTILE = [
    "![x](http://evil.example/x.png)", "<img src=http://evil.example/y.png onerror=alert(1)>",
    '=HYPERLINK("http://evil.example")', ":red[alarm] :material/home: :smile: $x^2$",
    "a*b* _c_ `code` # h ~~s~~ [l](http://e) <http://e.com> www.evil.example", "Ödem, 肺 &amp;",
    "1. list", "- item", "> quote", "***", "|a|b|", "\\*not*", "line\nbreak\n\n# head",
    "    four spaces", "trailing  ", "&#60;b&#62;", "<!-- c -->", "[x]: http://e",
]


def _render(source: str) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("gfm-like" if _has_linkify() else "commonmark").enable("strikethrough")
    return md.render(source)


def _has_linkify() -> bool:
    try:
        import linkify_it  # noqa: F401
    except ImportError:
        return False
    return True


def _shown(text: str) -> str:
    """What a reader should see: one line, the same characters (no-break at the edges)."""
    flat = re.sub(r"[\r\n]+", " ", text)
    core = flat.strip(" ")
    lead, trail = len(flat) - len(flat.lstrip(" ")), len(flat) - len(flat.rstrip(" "))
    return "\u00a0" * lead + core + "\u00a0" * trail


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_one_literal_paragraph(text):
    pytest.importorskip("markdown_it")
    out = _render(md_escape(text))
    assert out.startswith("<p>") and out.endswith("</p>\n"), out
    inner = out[3:-5]
    assert "<" not in inner, out           # no element at all: no img, a, em, code, html
    assert html.unescape(inner).replace("\u2060", "") == _shown(text)


def test_every_ascii_punctuation_is_escaped_so_no_extension_can_start():
    esc = md_escape(string.punctuation).replace("\u2060", "")
    assert esc == "".join("\\" + c for c in string.punctuation)
    # Streamlit's own syntax starts at ':' (directives, icons, emoji) and '$' (maths)
    assert not re.search(r"(?<!\\):|(?<!\\)\$", md_escape(":red[x] $y$ :material/home:"))


def test_code_span_survives_backticks():
    pytest.importorskip("markdown_it")
    for text in ["/data/my `study`", "``x", "plain", "a\nb"]:
        out = _render(md_code(text))
        assert out.startswith("<p><code>") and out.endswith("</code></p>\n"), out
        assert html.unescape(out[9:-12]) == text.replace("\n", " ")


def test_non_strings_and_empty():
    assert md_escape(3.5) == "3\\.5"
    assert md_escape("") == ""
    assert html.unescape(md_escape("  ")) == "\u00a0\u00a0"


def test_dashboard_csv_export_is_spreadsheet_safe():
    import io

    import pandas as pd

    from dashboard.common.export import csv_bytes

    df = pd.DataFrame({"class": ["=1+1", "@x", "Edema"], "delta": [-0.25, 0.1, -1.0]})
    back = pd.read_csv(io.BytesIO(csv_bytes(df)))
    assert list(back["class"]) == ["'=1+1", "'@x", "Edema"]
    assert list(back["delta"]) == [-0.25, 0.1, -1.0]


def test_web_addresses_do_not_become_links():
    """GFM turns http://…, www.… and name@host.tld in *text* into links, after escapes are
    resolved (Streamlit uses remark-gfm): a word joiner breaks each pattern invisibly."""
    out = md_escape("see http://evil.example/x.png, WWW.evil.example and me@evil.example")
    text = out.replace("\\", "")
    for pattern in (r"https?://", r"www\.", r"\w@\w"):
        assert not re.search(pattern, text, flags=re.I), (pattern, text)
    assert text.replace("\u2060", "") == ("see http://evil.example/x.png, WWW.evil.example "
                                          "and me@evil.example")


def test_literal_draws_the_text_as_one_plain_paragraph():
    pytest.importorskip("markdown_it")
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.mdtext import elements, plain

    at = AppTest.from_string(
        "from dashboard.common.safe import literal\n"
        "literal('![x](http://evil.example/x.png) <b>b</b> :red[r] =1+1')\n").run()
    assert not at.exception
    [md] = [m.value for m in at.markdown]
    assert elements(md) == {"p"}
    assert plain(md) == "![x](http://evil.example/x.png) <b>b</b> :red[r] =1+1"


def test_md_table_cells_render_as_their_text():
    from markdown_it import MarkdownIt

    from dashboard.common.safe import md_table

    render = MarkdownIt("commonmark").enable("table").render   # GFM tables, as Streamlit
    html = render(md_table(["a|b", "*c*"], [["x | y", "<b>z</b>"], ["", "[l](http://e)"]]))
    assert html.count("<tr>") == 3 and "<b>" not in html and "<em>" not in html
    assert "<th>a|b</th>" in html and "<th>*c*</th>" in html
    assert "x | y" in html and "a|b" in html and 'href' not in html
