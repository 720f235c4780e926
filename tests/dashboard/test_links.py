"""Links that ask for something the study does not have say so, as literal text, before
showing the fallback (issue 9 item 19): an unknown study, disease, method, sparsity, image."""
from __future__ import annotations

import pytest

from dashboard.common.filters import Miss, decode_checked
from tests.dashboard.mdtext import elements, plain

pytest.importorskip("markdown_it")

CLASSES = ["No Finding", "Effusion", "Hernia"]
GRID = [0, 25, 50, 70, 90, 95]
METHODS = ["l1_global", "random"]
SEEDS = [0, 1, 2, 3]


def test_decode_names_every_value_the_study_lacks():
    f, misses = decode_checked({"cls": ["Hernia", "Beta ring"], "m": ["nope"], "k": "47",
                                "kr": "x", "seeds": "10-20"}, CLASSES, GRID, METHODS, SEEDS, 90)
    assert misses == [Miss("disease", "Beta ring", "Hernia"),
                      Miss("method", "nope", "all methods"),
                      Miss("sparsity (%)", "47", "50%"),
                      Miss("sparsity range (%)", "x", "0–95%"),
                      Miss("seed range", "10-20", "seeds 0–3")]
    assert f.classes == ("Hernia",) and f.sparsity == 50
    # a link whose every value exists reports nothing
    ok = {"cls": ["Hernia"], "m": ["random"], "k": "70", "kr": "25-90", "seeds": "1-2"}
    assert decode_checked(ok, CLASSES, GRID, METHODS, SEEDS, 90)[1] == []


def _warnings(at) -> str:
    """The warnings' text as a reader sees it; none may contain a link or an image."""
    sources = [w.value for w in [*at.warning, *at.sidebar.warning]]
    for md in sources:
        assert not elements(md) & {"img", "a"}, md
    return " | ".join(plain(md) for md in sources)


def test_unknown_study_is_named_then_the_fallback_is_shown(app_test, studies_root):
    at = app_test([studies_root], study="![x](http://evil.example/x.png)")
    at.run()
    assert not at.exception
    shown = plain(at.title[0].value).removeprefix("Overview · ")   # the fallback study
    assert (f"study ![x](http://evil.example/x.png) was not found; showing {shown} instead"
            in _warnings(at))
    # a link to a study that exists says nothing
    good = app_test([studies_root], study="alpha")
    good.run()
    assert "not found" not in _warnings(good)


def test_unknown_filter_values_are_named(app_test, studies_root):
    at = app_test([studies_root], study="alpha", cls=["Hernia", "Gamma haze"], m="nope", k="33")
    at.run()
    text = _warnings(at)
    assert "disease Gamma haze was not found; showing Hernia instead" in text
    assert "method nope was not found; showing all methods instead" in text
    assert "sparsity (%) 33 was not found; showing 25% instead" in text


def test_page_setting_not_in_the_study_is_named(app_test, studies_root):
    at = app_test([studies_root], study="alpha", pm="<b>nope</b>")
    at.run()
    at.switch_page("study_pages/pies.py").run()
    assert not at.exception
    assert "Pruning method <b>nope</b> was not found; showing l1_global instead" \
        in _warnings(at)
    ok = app_test([studies_root], study="alpha", pm="random")
    ok.run()
    ok.switch_page("study_pages/pies.py").run()
    assert "not found" not in _warnings(ok)
    assert ok.selectbox(key="pie_method").value == "random"


def test_image_not_in_the_study_is_named(app_test, studies_root):
    """Browse PIEs resolves `image=<id>` (its own check, reading_room/browse.py): the id asked
    for is named literally, even when it is Markdown."""
    wanted = "![i](http://evil.example/nope.png)"
    at = app_test([studies_root], study="alpha", image=wanted)
    at.run()
    at.switch_page("reading_room/browse.py").run()
    assert not at.exception
    assert f"No image with the id {wanted} in this study" in _warnings(at)


@pytest.mark.parametrize("raw", ["0-99", "9-1"])
def test_a_seed_range_past_the_study_is_named(app_test, studies_root, raw):
    at = app_test([studies_root], study="alpha", seeds=raw)
    at.run()
    assert not at.exception
    assert f"seed range {raw} was not found; showing seeds" in _warnings(at)
