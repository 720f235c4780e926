"""AppTest: every page renders on fixture studies (two class lists) and on real demo studies;
filters change what is shown and live in the URL; broken studies are explained."""
from __future__ import annotations

import shutil

import pytest

from core import store
from tests.dashboard.component_data import component_data
from tests.dashboard.conftest import demo_studies
from tests.dashboard.fixture_study import CLASSES_A, CLASSES_B, make_study
from tests.dashboard.htmltable import rank_table
from tests.dashboard.mdtext import plain

PAGES = {"study_pages/overview.py": "Overview", "study_pages/classes.py": "Classes",
         "study_pages/forgettability.py": "Forgettability", "study_pages/pies.py": "PIEs",
         "reading_room/browse.py": "Browse PIEs", "study_pages/who_is_hurt.py": "Who is hurt"}


def _render_all(at) -> dict[str, object]:
    at.run()
    out = {}
    for page, title in PAGES.items():
        at.switch_page(page).run()
        assert not at.exception, f"{page}: {[e.value for e in at.exception]}"
        assert not at.error, f"{page}: {[e.value for e in at.error]}"
        assert at.title and at.title[0].value.startswith(title), page
        out[page] = at
    return out


@pytest.mark.parametrize("name,classes", [("alpha", CLASSES_A), ("beta", CLASSES_B)])
def test_every_page_renders_on_fixture_studies(app_test, studies_root, name, classes):
    at = app_test([studies_root], study=name)
    at.run()
    # the sidebar's disease filter offers exactly this study's classes
    assert list(at.sidebar.multiselect(key="f_classes").options) == list(classes)
    _render_all(at)


@pytest.mark.parametrize("study", demo_studies(), ids=lambda p: p.name)
def test_every_page_renders_on_demo_study(app_test, study):
    at = app_test([study.parent], study=str(study))
    _render_all(at)
    at.switch_page("reading_room/browse.py").run()
    assert rank_table(at) is not None, "Browse shows the image's rank table"
    assert component_data(at, "prunelens_viewer_cams")["maps"], \
        "the demo has weights: Grad-CAM is drawn in the viewer"


def test_browse_page_shows_gradcam_and_groundtruth(app_test, studies_root):
    at = app_test([studies_root], study="alpha")
    at.run()
    at.switch_page("reading_room/browse.py").run()
    assert not at.exception
    md = " ".join(m.value for m in at.markdown)
    assert "SynthCXR ground truth" in md
    assert any(s.label == "Grad-CAM explains" for s in at.selectbox)
    assert component_data(at, "prunelens_viewer_cams")["maps"], "Grad-CAM is drawn"


def test_study_without_weights_shows_all_but_gradcam(app_test, studies_root):
    at = app_test([studies_root], study="beta")
    at.run()
    assert any("No model weights" in i.value for i in at.sidebar.info)
    at.switch_page("reading_room/browse.py").run()
    assert not at.exception
    note = component_data(at, "prunelens_viewer_cams")["note"]
    assert note.startswith("Grad-CAM is not available")
    assert rank_table(at) is not None, "everything else is shown"


def rerun(at):
    """Run again on the same page. AppTest (Streamlit 1.67) re-requests the page it finished
    on by its URL hash, which it treats as a page change: the entry script's sidebar then
    vanishes from the element tree (even in a two-line app). Clearing that hash reruns the
    default page as a browser does; other pages are checked after `switch_page`, where the
    sidebar is gone from the tree but the filters still apply."""
    at._finished_page_script_hash = ""
    return at.run()


def test_filter_change_changes_what_is_shown(app_test, studies_root):
    at = app_test([studies_root], study="alpha")
    at.run()
    before = at.dataframe[0].value
    assert at.metric[2].value == "3 of 3"
    at.sidebar.slider(key="f_seeds").set_value((0, 1))
    rerun(at)
    assert at.metric[2].value == "2 of 3"
    assert not before.equals(at.dataframe[0].value)
    at.sidebar.select_slider(key="f_k").set_value(50)
    rerun(at)
    at.sidebar.multiselect(key="f_classes").set_value(["Hernia", "Nodule"])
    rerun(at)
    assert at.query_params["k"] in ("50", ["50"])
    at.switch_page("study_pages/classes.py").run()
    table = at.dataframe[0].value
    assert "change at 50%" in table.columns
    assert set(table["class"]) == {"Hernia", "Nodule"}
    at.switch_page("study_pages/pies.py").run()
    assert any("labelled with Nodule, Hernia" in plain(c.value) for c in at.caption)


def test_filters_reopen_from_the_url(app_test, studies_root):
    at = app_test([studies_root], study="alpha")
    at.run()
    at.sidebar.select_slider(key="f_k").set_value(70)
    rerun(at)
    at.sidebar.multiselect(key="f_methods").set_value(["random"])
    rerun(at)
    at.radio(key="ov_band").set_value("range")
    rerun(at)
    params = {k: at.query_params[k] for k in at.query_params}
    assert params["study"] in ("alpha", ["alpha"]) and params["band"] in ("range", ["range"])
    # a new session opened with that link shows the same view
    link = {k: (v[0] if isinstance(v, list) and len(v) == 1 and k != "m" else v)
            for k, v in params.items()}
    at2 = app_test([studies_root], **link)
    at2.run()
    assert at2.sidebar.select_slider(key="f_k").value == 70
    assert at2.sidebar.multiselect(key="f_methods").value == ["random"]
    assert at2.radio(key="ov_band").value == "range"
    assert set(at2.dataframe[0].value["method"]) == {"random"}


def test_url_values_are_checked_against_the_study(app_test, studies_root):
    at = app_test([studies_root], study="beta", k="47", cls=["Hernia", "Beta ring"],
                  m="nonsense", seeds="100-200")
    at.run()
    assert not at.exception
    assert at.sidebar.select_slider(key="f_k").value == 60   # snapped to beta's grid 30/60/90
    assert at.sidebar.multiselect(key="f_classes").value == ["Beta ring"]   # Hernia is not in beta
    assert at.sidebar.multiselect(key="f_methods").value == ["l1_global"]


def test_no_study_found_explains_how_to_add_one(app_test, tmp_path, monkeypatch):
    import dashboard.common.studies as studies

    monkeypatch.setattr(studies, "DEFAULT_ROOT", tmp_path / "nothing")
    at = app_test([tmp_path / "empty"])
    at.run()
    assert not at.exception
    text = " ".join(e.value for e in at.error)
    assert "No study found" in text and "--roots" in text


def test_incomplete_and_corrupt_studies_are_named_not_shown(app_test, tmp_path):
    make_study(tmp_path / "unsealed", seal=False, weights=False, n_images=40)
    corrupt = make_study(tmp_path / "corrupt", weights=False, n_images=40)
    with open(corrupt / "metrics" / "overall.parquet", "ab") as fh:
        fh.write(b"junk")
    for name, words in (("unsealed", "incomplete"), ("corrupt", "does not verify")):
        at = app_test([tmp_path], study=name)
        at.run()
        assert not at.exception
        text = " ".join(e.value for e in at.error)
        assert words in text, text
        if name == "corrupt":
            assert "metrics/overall.parquet" in text and "grown" in text


def test_study_without_analysis_tables_names_the_command(app_test, tmp_path):
    root = make_study(tmp_path / "raw", weights=False, analyze=False, seal=False, n_images=40)
    shutil.rmtree(root / "metrics", ignore_errors=True)
    store.write_manifest(root, [p for p in root.rglob("*") if p.is_file()])  # the test's files
    at = app_test([tmp_path], study="raw")
    at.run()
    text = " ".join(e.value for e in at.error)
    assert "python -m core analyze" in text and "per_class.parquet" in text


def test_reader_pages_are_optional(app_test, studies_root, tmp_path, monkeypatch):
    import dashboard.common.sidebar as sidebar

    assert sidebar.reader_pages(tmp_path) == []
    (tmp_path / "reader_people.py").write_text("")
    assert sidebar.reader_pages(tmp_path) == [tmp_path / "reader_people.py"]
    monkeypatch.setattr(sidebar, "reader_pages", lambda folder=None: [])
    at = app_test([studies_root], study="alpha")
    at.run()
    assert not at.exception and at.title[0].value.startswith("Overview")


def test_filters_browse_does_not_draw_keep_their_values(app_test, studies_root):
    """The reading room draws only the chosen sparsity and the seeds (checked in Chromium by
    test_e2e_browse.py: AppTest drops the entry script's sidebar after a page switch); the
    research pages' disease, method and sparsity-range filters keep their values through
    runs of Browse, in the URL and on the next research page."""
    at = app_test([studies_root], study="alpha")
    at.run()
    at.sidebar.multiselect(key="f_classes").set_value(["Hernia", "Nodule"])
    at.sidebar.multiselect(key="f_methods").set_value(["random"])
    at.sidebar.slider(key="f_kr").set_value((25, 70))
    rerun(at)
    at.switch_page("reading_room/browse.py").run()
    assert not at.exception
    # Browse offers every method of the study, whatever the research pages' method filter
    assert list(at.selectbox(key="br_method").options) == ["l1_global", "random"]
    at.run()
    at.run()     # runs that do not draw those widgets
    assert at.query_params["m"] in ("random", ["random"])
    assert at.query_params["kr"] in ("25-70", ["25-70"])
    at.switch_page("study_pages/classes.py").run()
    table = at.dataframe[0].value
    assert set(table["class"]) == {"Hernia", "Nodule"}
    at.switch_page("study_pages/overview.py").run()
    assert set(at.dataframe[0].value["method"]) == {"random"}
