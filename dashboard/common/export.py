"""Show a chart or table with its download buttons (SVG/PNG, CSV).

The files are produced only when a button is clicked (Streamlit calls the `data` callable
then): rendering a PNG takes ~50–500 ms per chart, which every filter change would
otherwise pay for every chart on the page.
"""
from __future__ import annotations

import contextlib
import re
import threading
from collections import OrderedDict

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


def vega_spec(chart: alt.TopLevelMixin) -> dict:
    """The Vega-Lite dict `st.altair_chart` would send (data as named Arrow datasets, no
    theme), without Altair's JSON-schema validation: on these pages validation was ~80% of
    turning a chart into a spec, paid on every rerun. The builders' charts are validated
    where they are tested (tests call `to_dict()`, which validates). The spec of a chart
    object seen before (a memoised builder's, dashboard/common/chart_memo.py) is reused; a copy is
    returned because Streamlit moves the datasets out of the dict it is given."""
    with _LOCK:
        hit = _SPECS.get(id(chart))
        if hit is not None and hit[0] is chart:
            _SPECS.move_to_end(id(chart))
            return _copy(hit[1])
    spec = _to_spec(chart)
    with _LOCK:
        _SPECS[id(chart)] = (chart, spec)      # the chart is kept: its id stays unique
        while len(_SPECS) > 96:
            _SPECS.popitem(last=False)
    return _copy(spec)


def _copy(spec: dict) -> dict:
    import copy

    out = copy.deepcopy({k: v for k, v in spec.items() if k != "datasets"})
    out["datasets"] = dict(spec.get("datasets") or {})
    return out


def _to_spec(chart: alt.TopLevelMixin) -> dict:
    import hashlib

    from streamlit import dataframe_util
    from streamlit.elements import vega_charts

    datasets: dict[str, bytes] = {}

    def to_arrow(data, datasets=datasets):
        raw = dataframe_util.convert_anything_to_arrow_bytes(data)
        name = hashlib.sha1(raw).hexdigest()[:20]
        datasets[name] = raw
        return {"name": name}

    # the data transformer and theme are Altair globals: hold Streamlit's own lock so a
    # concurrent st.altair_chart (another session) never sees ours
    lock = getattr(vega_charts, "_altair_globals_lock", _ALT_LOCK)
    with lock:
        alt.data_transformers.register("prunelens_arrow", to_arrow)
        theme = (alt.theme.enable("none") if alt.theme.active == "default"
                 else contextlib.nullcontext())   # as st.altair_chart: Streamlit's own theme
        with alt.data_transformers.enable("prunelens_arrow"), theme:
            spec = chart.to_dict(validate=False)
    spec["datasets"] = {**(spec.get("datasets") or {}), **datasets}
    return spec


_LOCK, _ALT_LOCK = threading.Lock(), threading.Lock()
_SPECS: OrderedDict = OrderedDict()     # id(chart) → (chart, spec)


def show_chart(chart: alt.TopLevelMixin, name: str, *, stretch: bool = True) -> None:
    """The chart (as wide as its column unless `stretch` is off: heat maps and faceted
    charts keep their own size), then 'SVG' and 'PNG' download buttons under it. Exports
    use the chart's own fixed size, whatever the screen."""
    import streamlit as st

    st.vega_lite_chart(vega_spec(chart), width="stretch" if stretch else "content")
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
