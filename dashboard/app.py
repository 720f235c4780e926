"""PruneLens dashboard — `streamlit run dashboard/app.py [-- --roots DIR …]`.

The entry script draws what every page shares (study picker and filters in the sidebar) and
hands over to the page chosen in `st.navigation`. Pages are thin descriptions of a screen,
in the folder of their room: study_pages/, reading_room/, reader_study/ (never a folder called
pages/: that name switches Streamlit into its legacy multipage mode, where a pasted deep link
runs a page without app.py); data comes from cached loaders (common/loaders.py), charts from
pure builders (common/charts.py). Studies are found under artifacts/,
`PRUNELENS_STUDY_ROOTS` and `--roots`.
"""
from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the repository root.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import altair as alt  # noqa: E402
import streamlit as st  # noqa: E402

from dashboard.common.file_errors import file_errors_in_one_line  # noqa: E402
from dashboard.common.filters import ALL_FILTERS  # noqa: E402
from dashboard.common.sidebar import open_study, reader_pages  # noqa: E402
from dashboard.common.url_params import upgrade_old_names, url_batch  # noqa: E402
from dashboard.reader_study import reader_access  # noqa: E402

HERE = Path(__file__).resolve().parent
STUDY, ROOM, READER = HERE / "study_pages", HERE / "reading_room", HERE / "reader_study"

# A local icon file: a Material-icon or emoji favicon is fetched by the browser from Google's
# or a CDN's servers, and the page must not talk to any host but its own.
ICON = Path(__file__).resolve().parent / "static" / "prunelens.png"

upgrade_old_names()   # links made before the URL keys had names that say what they hold

# A reader's link (or a reading server): the Read page alone — no navigation, no sidebar, no
# study picker or filters, a neutral title; the page itself checks the link's token.
if reader_access.reader_only() or reader_access.token_in_url():
    st.set_page_config(page_title="Reading", page_icon=str(ICON), layout="wide")
    st.navigation([st.Page(READER / "reader_read.py", title="Reading", default=True)],
                  position="hidden").run()
    st.stop()

st.set_page_config(page_title="PruneLens", page_icon=str(ICON), layout="wide")
# Altair validates every schema object against Vega-Lite's JSON schema as it is built (its
# "debug mode"): about half of building a page's charts. The builders are validated in the
# tests (tests/dashboard/test_charts.py), so the server skips it.
alt.utils.schemapi.disable_debug_mode()

sections = {
    "Study": [
        st.Page(STUDY / "overview.py", title="Overview", icon=":material/monitoring:",
                default=True),
        st.Page(STUDY / "classes.py", title="Classes", icon=":material/stacked_line_chart:"),
        st.Page(STUDY / "forgettability.py", title="Forgettability", icon=":material/psychology:"),
        st.Page(STUDY / "pies.py", title="PIEs", icon=":material/image_search:"),
        st.Page(STUDY / "who_is_hurt.py", title="Who is hurt", icon=":material/diversity_3:"),
        st.Page(STUDY / "paper_check.py", title="Paper check", icon=":material/fact_check:"),
    ],
    "Reading room": [
        st.Page(ROOM / "browse.py", title="Browse PIEs", icon=":material/radiology:"),
    ],
    "Experiments": [
        st.Page(STUDY / "frequency_experiment.py", title="Frequency experiment",
                icon=":material/science:"),
    ],
}
reader = reader_pages()
if reader:
    titles = {"reader_setup": ("Set up", ":material/assignment:"),
              "reader_people": ("Readers and links", ":material/group:"),
              "reader_results": ("Results", ":material/bar_chart:")}
    sections["Reader study"] = [st.Page(p, title=titles[p.stem][0], icon=titles[p.stem][1])
                                for p in reader]

page = st.navigation(sections)
# The reading room uses the chosen sparsity and the seeds; the research pages' disease,
# method and sparsity-range filters would do nothing there (Browse picks its method with
# its own Model button), so they are not drawn and keep their values for the other pages.
with url_batch():   # this run's URL writes reach the browser as one change (url_params)
    if page.url_path != "frequency_experiment":   # that page reads its own tables, no study
        open_study(("sparsity", "seed_range") if page.url_path == "browse" else ALL_FILTERS)
    with file_errors_in_one_line():   # a file only reading finds bad: one line, no traceback
        page.run()
