"""Show a chart or table with its download buttons (SVG/PNG, CSV).

The files are produced only when a button is clicked (Streamlit calls the `data` callable
then): rendering a PNG takes ~50–500 ms per chart, which every filter change would
otherwise pay for every chart on the page.
"""
from __future__ import annotations

import re

import altair as alt
import pandas as pd

from core.textsafe import spreadsheet_safe


def chart_bytes(chart: alt.TopLevelMixin, fmt: str, scale: float = 2.0) -> bytes:
    """SVG or PNG of an Altair chart, rendered offline by vl-convert (no browser)."""
    import vl_convert as vlc

    spec = chart.to_json()
    if fmt == "svg":
        return vlc.vegalite_to_svg(spec).encode()
    if fmt == "png":
        return vlc.vegalite_to_png(spec, scale=scale)
    raise ValueError(f"unknown chart format {fmt!r}; allowed: svg, png")


def csv_bytes(df: pd.DataFrame) -> bytes:
    """The table as UTF-8 CSV, spreadsheet-safe (class names, ids and comments are data)."""
    return spreadsheet_safe(df).to_csv(index=False).encode()


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "export"


def show_chart(chart: alt.TopLevelMixin, name: str, *, stretch: bool = True) -> None:
    """The chart (as wide as its column unless `stretch` is off: heat maps and faceted
    charts keep their own size), then 'SVG' and 'PNG' download buttons under it. Exports
    use the chart's own fixed size, whatever the screen."""
    import streamlit as st

    st.altair_chart(chart, width="stretch" if stretch else "content")
    s = slug(name)
    row = st.container(horizontal=True, gap="small")
    row.download_button("SVG", data=lambda: chart_bytes(chart, "svg"), file_name=f"{s}.svg",
                        mime="image/svg+xml", on_click="ignore", key=f"dl_svg_{s}",
                        icon=":material/download:", type="tertiary",
                        help="Save this chart as a vector image (SVG)")
    row.download_button("PNG", data=lambda: chart_bytes(chart, "png"), file_name=f"{s}.png",
                        mime="image/png", on_click="ignore", key=f"dl_png_{s}",
                        icon=":material/download:", type="tertiary",
                        help="Save this chart as a PNG image (2× resolution)")


def show_table(df: pd.DataFrame, name: str, *, height: int | str = "auto", **kwargs) -> None:
    """The table and a 'CSV' download button (the whole table, not only what is visible)."""
    import streamlit as st

    st.dataframe(df, hide_index=True, height=height, **kwargs)
    s = slug(name)
    st.download_button("CSV", icon=":material/download:", type="tertiary",
                       data=lambda: csv_bytes(df), file_name=f"{s}.csv",
                       mime="text/csv", on_click="ignore", key=f"dl_csv_{s}",
                       help=f"Download this table ({len(df):,} rows) as CSV")
