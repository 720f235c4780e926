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


class _Browser(dict):
    """st.query_params as a run sees it: the URL the browser reported when it asked for the
    run (values as Streamlit keeps them: a str, or a list for a repeated key)."""

    def __init__(self, sent, **params):
        super().__init__(params)
        self.sent = sent

    def get_all(self, k):
        v = self[k]
        return v if isinstance(v, list) else [v]

    def from_dict(self, d):
        self.sent.append(dict(d))
        self.clear()
        self.update(d)


def test_a_fragment_rerun_asked_with_an_old_url_keeps_the_last_run_s_parameters(monkeypatch):
    """The race Browse's first load hit: the whole run writes the sidebar's filters and the
    image; before that URL reaches the browser, the browser asks for a fragment rerun (the
    viewer's 'painted' trigger) and reports the URL it had, the pasted link. The fragment's
    writes must be merged into what the session last sent, not into that link: the
    sidebar's k/kr/m/seeds stay, and an unchanged fragment sends nothing (no history
    entry)."""
    sys.path.insert(0, REPO)
    import streamlit as st

    from dashboard.common import url_params

    session, sent, fragment = {}, [], [False]
    monkeypatch.setattr(st, "session_state", session)
    monkeypatch.setattr(url_params, "_fragment_rerun", lambda: fragment[0])
    link = {"study": "alpha", "show": "all"}

    # 1. the whole run, from the pasted link: one write with everything
    monkeypatch.setattr(st, "query_params", _Browser(sent, **link))
    with url_params.url_batch():
        url_params.set_params({"k": "90", "m": ["l1_global", "random"], "seeds": "0-2"})
        with url_params.url_batch():                  # the room's fragment, inside the run
            url_params.set_params({"show": "all", "image": "im1.png"})
    first = {"study": "alpha", "show": "all", "k": "90", "m": ["l1_global", "random"],
             "seeds": "0-2", "image": "im1.png"}
    assert sent == [first]

    # 2. the fragment alone, asked for with the link's URL (the first write not there yet):
    # it writes the same values, so nothing goes out
    fragment[0] = True
    monkeypatch.setattr(st, "query_params", _Browser(sent, **link))
    with url_params.url_batch():
        url_params.set_params({"show": "all", "image": "im1.png"})
    assert sent == [first]

    # 3. again with the old URL, now with a change (→): the change on top of the last write
    monkeypatch.setattr(st, "query_params", _Browser(sent, **link))
    with url_params.url_batch():
        url_params.set_params({"image": "im2.png"})
    assert sent[1:] == [{**first, "image": "im2.png"}]

    # 4. a whole run (Back, a pasted link) starts from the browser's URL, whatever was sent
    fragment[0] = False
    monkeypatch.setattr(st, "query_params", _Browser(sent, **link, k="50"))
    with url_params.url_batch():
        url_params.set_params({"image": "im7.png"})
    assert sent[2:] == [{**link, "k": "50", "image": "im7.png"}]
    assert session[url_params.SENT] == {"study": ["alpha"], "show": ["all"], "k": ["50"],
                                        "image": ["im7.png"]}


def test_where_a_batch_starts_and_what_it_makes():
    from dashboard.common.url_params import merged, start_of

    browser, sent = {"a": ["1"]}, {"a": ["1"], "k": ["90"]}
    assert start_of(browser, sent, fragment_rerun=True) is sent
    assert start_of(browser, sent, fragment_rerun=False) is browser
    assert start_of(browser, None, fragment_rerun=True) is browser   # nothing sent yet
    assert merged({"a": ["1"], "b": ["2"], "c": ["3"]}, {"b": None, "a": ["9"], "d": ["4"]}) \
        == {"a": ["9"], "c": ["3"], "d": ["4"]}
    assert list(merged({"a": ["1"], "b": ["2"]}, {"a": ["5"]})) == ["a", "b"]   # same order


def _fragment_script():
    import sys

    import streamlit as st

    sys.path.insert(0, st.session_state.get("repo", "."))
    from dashboard.common.url_params import _fragment_rerun

    @st.fragment
    def part():
        st.session_state["in_fragment"] = _fragment_rerun()

    st.session_state["in_script"] = _fragment_rerun()
    part()


def test_a_whole_run_is_not_a_fragment_rerun_even_inside_a_fragment():
    at = AppTest.from_function(_fragment_script)
    at.session_state["repo"] = REPO
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["in_script"] is False
    assert at.session_state["in_fragment"] is False
