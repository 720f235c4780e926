"""URL writes inside url_batch() reach the URL together at the block's end, removals
included; outside a batch they are written at once; an unchanged URL is not rewritten."""
from __future__ import annotations

import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = str(Path(__file__).resolve().parents[2])


def _script():
    import sys

    import streamlit as st

    sys.path.insert(0, st.session_state.get("repo", "."))
    from dashboard.common.url_params import set_params, url_batch

    with url_batch():
        set_params({"a": "1", "b": ["x", "y"]})
        with url_batch():                       # nested: the outer block sends
            set_params({"a": "2"}, drop=["c"])
        st.session_state["seen_inside"] = st.query_params.to_dict()
    st.session_state["seen_after"] = st.query_params.to_dict()
    set_params({"d": "4"})                      # no batch: written at once
    st.session_state["seen_d"] = st.query_params.get("d")


def test_batched_writes_arrive_together_at_the_end():
    at = AppTest.from_function(_script)
    at.session_state["repo"] = REPO
    at.query_params["c"] = "3"
    at.query_params["keep"] = "k"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["seen_inside"] == {"c": "3", "keep": "k"}   # not yet written
    after = at.session_state["seen_after"]
    assert after["a"] == "2" and "c" not in after and after["keep"] == "k"
    assert at.query_params["b"] == ["x", "y"]
    assert at.session_state["seen_d"] == "4"


def test_a_batch_that_changes_nothing_sends_nothing(monkeypatch):
    sys.path.insert(0, REPO)
    import streamlit as st

    from dashboard.common import url_params

    sent = []

    class FakeQP(dict):
        def get_all(self, k):
            v = self[k]
            return v if isinstance(v, list) else [v]

        def from_dict(self, d):
            sent.append(d)

    fake = FakeQP(a="1", b=["x", "y"])
    monkeypatch.setattr(st, "query_params", fake)
    with url_params.url_batch():
        url_params.set_params({"a": "1", "b": ["x", "y"]}, drop=["zz"])
    assert sent == []
    with url_params.url_batch():
        url_params.set_params({"a": "2"}, drop=["b"])
    assert sent == [{"a": "2"}]


def test_old_two_letter_keys_are_renamed_and_a_new_name_wins():
    from dashboard.common.url_params import OLD_NAMES, renamed

    assert renamed({"k": ["90"], "m": ["random"]}) is None   # nothing old: left alone
    out = renamed({"pm": ["random"], "k": ["90"], "fm": ["l1_global"],
                   "forgetting_method": ["random"]})
    assert out == {"k": ["90"], "pie_method": ["random"], "forgetting_method": ["random"]}
    assert len(set(OLD_NAMES.values())) == len(OLD_NAMES)      # no two old keys share a name
    assert not set(OLD_NAMES) & set(OLD_NAMES.values())


def test_an_old_link_opens_the_same_view(app_test, studies_root):
    """A link made before the rename (?pm=random on Pies) opens Pies with method random, and
    the URL then carries the new name only."""
    at = app_test([studies_root], study="alpha", pm="random")
    at.run()
    at.switch_page("study_pages/pies.py").run()
    assert not at.exception
    assert at.selectbox(key="pie_method").value == "random"
    assert "pm" not in at.query_params
    assert at.query_params["pie_method"] in ("random", ["random"])
