"""Chart of the frequency experiment page: a paired dot plot (pure builder, no Streamlit)."""
from __future__ import annotations

import altair as alt
import pandas as pd

ROLE_TITLES = {"common": "common arm (more frequent label)",
               "rare": "rare arm (less frequent label)"}


def paired_dots(df: pd.DataFrame, x_title: str) -> alt.LayerChart:
    """One row per signature (most-moved frequency on top): its value in the common arm and
    in the rare arm, joined by a line. `df` is experiment_data.dot_frame's output."""
    data = df.assign(role_title=df["role"].map(ROLE_TITLES))
    order = data.sort_values("rank")["signature"].drop_duplicates().tolist()
    y = alt.Y("signature:N", sort=order, title="visual signature (most moved frequency first)")
    tooltip = [alt.Tooltip("signature:N", title="signature"),
               alt.Tooltip("role_title:N", title="arm"),
               alt.Tooltip("label_column:N", title="drawn on label column"),
               alt.Tooltip("train_pos:Q", title="training positives", format=","),
               alt.Tooltip("value:Q", title=x_title, format=".3~f"),
               alt.Tooltip("lo:Q", title="95% CI low", format=".3~f"),
               alt.Tooltip("hi:Q", title="95% CI high", format=".3~f")]
    base = alt.Chart(data)
    line = base.mark_rule(color="#9e9e9e").encode(
        y=y, x=alt.X("min(value):Q", title=x_title), x2="max(value):Q")
    dots = base.mark_point(filled=True, size=90).encode(
        y=y, x=alt.X("value:Q", title=x_title),
        color=alt.Color("role_title:N", title="arm",
                        scale=alt.Scale(domain=list(ROLE_TITLES.values()),
                                        range=["#1f77b4", "#d62728"])),
        shape=alt.Shape("role_title:N", title="arm",
                        scale=alt.Scale(domain=list(ROLE_TITLES.values()),
                                        range=["circle", "diamond"])),
        tooltip=tooltip)
    return (line + dots).properties(height=28 * max(1, len(order)) + 40)
