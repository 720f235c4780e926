"""Paper check: which of the paper's headline findings hold in this study, and how sure."""
import pandas as pd
import streamlit as st

from core.analysis import paper_check as pc
from core.analysis import paper_check_table as pct
from core.analysis.paper_values import fmt_value
from dashboard.common import loaders
from dashboard.common.export import show_table
from dashboard.common.filters import url_control
from dashboard.common.safe import md_escape, md_table
from dashboard.study_pages import paper_text

ctx = loaders.page_context()
d = ctx.data

st.title("Paper check")
st.caption("Seven headline findings of Holste et al. (MICCAI 2023), each measured in this "
           "study with the same statistic, a 95% percentile bootstrap interval (evaluation "
           "images and seeds resampled, the draws every interval of the analysis shares) "
           "and a verdict by one rule. The paper's values are those of its NIH-CXR-LT and "
           "MIMIC-CXR-LT experiments; the source of each is in the table.")
st.markdown("**Rule.** " + md_escape(pc.RULE) + ".")

table = paper_text.table(d, d.key)
if table is None:
    st.info("This study was analysed before the paper check existed: run "
            "`python -m core analyze STUDY` to add it.", icon=":material/info:")
    st.stop()
methods = [m for m in d.methods if (table["method"] == m).any()]
method = url_control(st.selectbox, "Pruning method", key="pc_method", param="check_method",
                     default=paper_text.default_method(d) if paper_text.default_method(d) in methods
                     else methods[0], options=methods, valid=lambda v: v in methods)
rows = paper_text.method_rows(d, d.key, method)
st.markdown(paper_text.summary(d, method))
paper_text.why_pointer(d)


def _interval(r, suffix: str = "") -> str:
    if r["verdict" + suffix] == pc.CANNOT:
        return "—"
    return f"[{pct.num(r['lo' + suffix])}, {pct.num(r['hi' + suffix])}]"


def _paper(v) -> str:
    return fmt_value(None if v is None or pd.isna(v) else float(v))


# The answer first (verdict, this study's value and interval, the paper's value): at
# 1280 px the grid shows about five columns before it scrolls sideways.
view = pd.DataFrame({
    "finding": rows["finding"],
    "verdict": [pc.verdict_text(r) for _, r in rows.iterrows()],
    "this study": [pct.num(v) for v in rows["value"]],
    "95% CI": [_interval(r) for _, r in rows.iterrows()],
    "paper, NIH-CXR-LT": [_paper(v) for v in rows["paper_nih"]],
    "paper, MIMIC-CXR-LT": [_paper(v) for v in rows["paper_mimic"]],
    "statistic": rows["statistic"],
    "n": rows["n"].astype(int),
    "the paper found": rows["claim"],
    "second statistic": rows["statistic2"],
    "2nd: paper, NIH-CXR-LT": [_paper(v) for v in rows["paper_nih2"]],
    "2nd: this study": [pct.num(v) for v in rows["value2"]],
    "2nd: 95% CI": [_interval(r, "2") for _, r in rows.iterrows()],
    "2nd: verdict": rows["verdict2"],
    "interval over": rows["interval_over"],
    "note": rows["note"],
    "paper's source": rows["paper_source"],
})
st.subheader(f"Findings, method {md_escape(method)}")
st.caption("The verdict is the first statistic's; the second is shown with its own verdict "
           "by the same rule. An interval can lie off-centre from the value (percentile "
           "bootstrap). 'cannot be computed' says what the study lacks.")
# The answer as a plain table first: it is drawn with the page's first paint, where the
# interactive grid below (every column, sortable, CSV) waits for its code to load.
ANSWER = ["finding", "verdict", "this study", "95% CI", "paper, NIH-CXR-LT", "n"]
st.markdown(md_table(ANSWER, view[ANSWER].itertuples(index=False)))
st.caption("Every column (the paper's claim, the second statistic, notes, sources), "
           "sortable and as CSV:")
show_table(view, f"paper_check_{method}")

defs = st.expander("How each statistic is defined", key="pc_defs", on_change="rerun")
if defs.open:
    with defs:
        st.markdown(md_escape(
            "F1: Pearson r (and Spearman ρ) over classes between the first sparsity whose "
            "median-over-seeds relative AP change is below −20% and ln(train positives); "
            "classes that never drop are left out. F2: the same with the relative AP change "
            "at 95% sparsity. F3: over class pairs, FCD (Euclidean distance between the two "
            "forgetting curves, sparsities > 0) vs |Δ ln frequency|, frequency = the column "
            "sum of the evaluation co-occurrence matrix (the paper's code). F4: FCD vs "
            "IoU^¼. F5: mean number of findings per image ('No Finding' excluded) among PIEs "
            "minus among non-PIEs; second, the least-squares slope of the PIE:non-PIE ratio "
            "on the findings count 0, 1, 2, 3, 4+. F6: Spearman ρ over classes between the "
            "PIE:non-PIE prevalence ratio and ln(train positives). F7: mean image quality "
            "of PIEs minus non-PIEs, and label noise (or readers' disagreement with the "
            "label) of PIEs minus non-PIEs: the dataset's ground truth where it has one, "
            "else the reader study's answers."))
        notes = rows.loc[rows["paper_note"].astype(str) != "", ["finding", "paper_note"]]
        if len(notes):
            show_table(notes.rename(columns={"paper_note": "how the paper's value is read"}),
                       f"paper_check_sources_{method}")
