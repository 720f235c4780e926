"""Words and tables of the Browse page: the glossary, the model-selection name, the rank
table as shown, and escaping of data strings (class names, ids) inside Markdown."""
from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

try:   # the project's one escaper (pagetrust); the fallback escapes the same characters
    from dashboard.common.safe import md_escape as _md_escape
except ImportError:   # pragma: no cover - until dashboard.common.safe is on this branch
    _md_escape = None

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")

GLOSSARY = """
- **PIE** (pruning-identified exemplar): an image on which pruning changes the model's
  answer most. For every image the findings are ranked by the full (dense) model and by the
  pruned model; the agreement of the two rankings is a Spearman correlation (1 = same
  order). The images with the lowest agreement, e.g. the bottom 5%, are the PIEs.
- **Sparsity**: the share of the network's weights set to zero by pruning. 90% sparsity
  keeps one weight in ten; the pruned model is smaller and faster, and may forget.
- **Pruning method**: how the weights to remove are chosen. *l1_global* removes the
  smallest weights of the whole network; *random* removes weights at random (a baseline).
- **Grad-CAM**: a heat map of where in the image the features that raise the model's score
  for one finding are. It shows where a model looks, not whether it is right.
- **Threshold** (operating point): the probability above which a model calls a finding
  positive. Chosen per finding for the dense model on the validation images (Youden's J:
  the point that maximises sensitivity + specificity − 1) and kept unchanged for the pruned
  model, as a deployed model's would be.
"""


def esc(text) -> str:
    """A data string (class name, image id, path) as literal text inside Markdown."""
    if _md_escape is not None:
        return _md_escape(str(text))
    return _MD.sub(r"\\\1", str(text)).replace("\n", " ")


def model_name(seeds: Sequence[int], all_seeds: Sequence[int], model: str) -> str:
    if model == "ens":
        lo, hi = min(seeds), max(seeds)
        span = f"{lo}–{hi}" if list(seeds) == list(range(lo, hi + 1)) and len(seeds) > 2 \
            else ", ".join(map(str, seeds))
        return f"ensemble of seeds {span} (mean probability)"
    return f"seed {seeds[0]} only"


def _arrow(change: int) -> str:
    return f"▲ {change}" if change > 0 else (f"▼ {-change}" if change < 0 else "–")


def rank_frame(rt: pd.DataFrame, k: int, with_calls: bool) -> pd.DataFrame:
    """The rank table with display columns (text arrows, yes/no calls)."""
    mark = {"positive": "● ", "not labelled": "? "}
    out = pd.DataFrame({
        "finding": [mark.get(lab, "") + c for c, lab in zip(rt["class"], rt["label"],
                                                            strict=True)],
        "dense #": rt["dense_rank"], "dense P": rt["dense_p"],
        f"{k}% #": rt["pruned_rank"], f"{k}% P": rt["pruned_p"],
        "moved": [_arrow(int(c)) for c in rt["rank_change"]],
    })
    if with_calls:
        def yes(v):
            return "—" if pd.isna(v) else ("positive" if v else "")
        out["dense call"] = [yes(v) for v in rt["dense_call"]]
        out[f"{k}% call"] = [yes(v) for v in rt["pruned_call"]]
        out["threshold"] = rt["threshold"]
    return out


# The rank table's look: one <style> for the table's class (st.html keeps it in the page),
# colours with transparency so the light and the dark theme both read.
_RANK_CSS = """<style>
div.pl-rank-box { overflow-x: auto; }
table.pl-rank { border-collapse: collapse; font-size: 13px; width: 100%; }
table.pl-rank th, table.pl-rank td { padding: 3px 5px; text-align: left;
  border-bottom: 1px solid rgba(128, 128, 128, 0.25); }
table.pl-rank td { white-space: nowrap; }
table.pl-rank th { font-weight: 600; vertical-align: bottom; }
table.pl-rank td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.pl-rank td.p { background: linear-gradient(90deg, rgba(66, 146, 198, 0.35) var(--p),
  transparent var(--p)); }
table.pl-rank tr.mv td { background-color: rgba(255, 196, 0, 0.28); }
table.pl-rank tr.mv td.p { background: linear-gradient(90deg, rgba(66, 146, 198, 0.35)
  var(--p), rgba(255, 196, 0, 0.28) var(--p)); }
</style>"""


def rank_html(rt: pd.DataFrame, k: int, with_calls: bool) -> str:
    """The rank table as one HTML table: every text cell escaped (dashboard.common.safe.html_text),
    probabilities drawn as bars behind the numbers, the movers' rows highlighted."""
    from dashboard.common.safe import html_text

    df = rank_frame(rt, k, with_calls)
    probs = {"dense P", f"{k}% P"}
    numeric = probs | {"dense #", f"{k}% #", "threshold"}
    head = "".join(f'<th class="n">{html_text(c)}</th>' if c in numeric
                   else f"<th>{html_text(c)}</th>" for c in df.columns)
    rows = []
    for mover, values in zip(rt["mover"].to_numpy(), df.itertuples(index=False), strict=True):
        cells = []
        for col, v in zip(df.columns, values, strict=True):
            if col in probs:
                cells.append(f'<td class="n p" style="--p: {100 * float(v):.1f}%">'
                             f"{float(v):.2f}</td>")
            elif col == "threshold":
                cells.append(f'<td class="n">{"—" if pd.isna(v) else f"{float(v):.2f}"}</td>')
            elif col in numeric:
                cells.append(f'<td class="n">{int(v)}</td>')
            else:
                cells.append(f"<td>{html_text(v)}</td>")
        rows.append(("<tr class='mv'>" if mover else "<tr>") + "".join(cells) + "</tr>")
    # the box scrolls sideways on a narrow screen instead of pushing the page wider
    return (f'{_RANK_CSS}<div class="pl-rank-box"><table class="pl-rank"><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def rank_view(rt: pd.DataFrame, k: int, with_calls: bool) -> None:
    """The rank table as static HTML (st.html): read at a glance, in the page's DOM (the e2e
    test reads it). Not st.table: that renders every text cell as Markdown, ~150 Markdown
    elements that took the browser ~0.35 s of Browse's first render (benchmarks/RESULTS.md)."""
    import streamlit as st

    st.html(rank_html(rt, k, with_calls))
    st.caption("Findings ranked by the dense model (● labelled positive, ? not labelled); "
               "highlighted: the largest rank movers and every finding whose call changes. "
               "▲/▼ = places gained/lost after pruning."
               + (" Calls: probability at or above the dense model's threshold."
                  if with_calls else ""))
