"""URL parameter writes, sent to the browser as one change per run.

Every write to `st.query_params` is a message of its own, and the browser answers each with
a new history entry and a re-render of the whole app: Browse's first run made 13 of them
(filters, the page's controls, the image), so Back walked through 13 half-written URLs and
the page took longer to draw. Inside `url_batch()` the writes of `set_params` are collected
and sent as one `st.query_params.from_dict` at the end of the block (also when the block
ends with st.rerun or st.stop). app.py wraps each full run; a fragment wraps its own body,
so a fragment's rerun sends its writes too. Outside a batch a write goes out at once (as a
batch of its own).

A batch replaces the whole query, so what it starts from matters. A whole run starts from
the browser's URL (a pasted link, Back). A fragment's own rerun starts from the URL this
session last sent: the browser may ask for that rerun (a component's trigger, a click)
before the previous run's URL has reached it, and then reports the URL it had before; a
fragment that merged its few parameters into that one dropped all the others (Browse's
first load lost the sidebar's k/kr/m/seeds that way and left a 4th history entry).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

# Per script thread: Streamlit runs each session's script (and its fragments) in one thread.
_local = threading.local()


# A page control's URL name says what it holds. Links written before the names said so
# (two-letter keys) still open the same view: their keys are renamed on arrival.
OLD_NAMES = {
    "pm": "pie_method", "fm": "forgetting_method", "cm": "classes_method",
    "wm": "hurt_method", "pcm": "check_method", "wr": "hurt_rate",
    "wc": "calibration_measure", "wk": "reliability_class", "cb": "classes_band",
    "y": "classes_show", "cs": "cooccurrence_of", "pv": "pair_variant",
    "pct": "pie_percentile", "dis": "disease", "nf": "findings", "x": "x_axis",
}


def renamed(params: Mapping[str, list[str]]) -> dict[str, list[str]] | None:
    """`params` with old names replaced by today's, or None when it holds none. A new name
    already present wins over its old spelling (the link was edited by hand)."""
    if not any(k in OLD_NAMES for k in params):
        return None
    out = {k: v for k, v in params.items() if k not in OLD_NAMES}
    for old, new in OLD_NAMES.items():
        if old in params and new not in out:
            out[new] = params[old]
    return out


def upgrade_old_names() -> None:
    """Rename an old link's keys in the browser's URL, once, before anything reads them."""
    import streamlit as st

    new = renamed(_read_all(st.query_params))
    if new is not None:
        _write_all(st.query_params, new)


def _read_all(qp) -> dict[str, list[str]]:
    """Every URL parameter as a list of values (a key may repeat)."""
    return {k: qp.get_all(k) for k in qp}


def _write_all(qp, params: Mapping[str, list[str]]) -> None:
    """Replace the whole URL query by `params` in one change (one history entry)."""
    qp.from_dict({k: v[0] if len(v) == 1 else v for k, v in params.items()})


def _as_list(value) -> list[str]:
    return list(value) if isinstance(value, list) else [value]


@contextmanager
def url_batch() -> Iterator[None]:
    """Collect URL writes until the outermost batch of this thread ends, then send them as
    one change (none when nothing changed)."""
    if getattr(_local, "pending", None) is not None:    # nested: the outer batch sends
        yield
        return
    _local.pending = {}
    try:
        yield
    finally:
        pending, _local.pending = _local.pending, None
        _send(pending)


SENT = "_url_sent"     # session state: the whole query this session's last batch left


def merged(base: Mapping[str, list[str]],
           pending: Mapping[str, list[str] | None]) -> dict[str, list[str]]:
    """`base` with the batch's writes applied (None removes a key); keys keep their order."""
    new = dict(base)
    for name, value in pending.items():
        if value is None:
            new.pop(name, None)
        else:
            new[name] = value
    return new


def start_of(browser: Mapping[str, list[str]], sent: Mapping[str, list[str]] | None,
             fragment_rerun: bool) -> Mapping[str, list[str]]:
    """The query a batch changes: in a fragment's own rerun the one this session last sent
    (the browser's may be older, see the module's docstring), else the browser's."""
    return sent if fragment_rerun and sent is not None else browser


def _fragment_rerun() -> bool:
    """Whether this run reruns fragments alone (not the whole script)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def _send(pending: Mapping[str, list[str] | None]) -> None:
    import streamlit as st

    qp, ss = st.query_params, st.session_state
    base = start_of(_read_all(qp), ss.get(SENT), _fragment_rerun())
    new = merged(base, pending)
    if new != base:
        _write_all(qp, new)
    ss[SENT] = new


def set_params(values: Mapping[str, str | list[str]], drop: Sequence[str] = ()) -> None:
    """Write URL parameters; remove `drop` keys not in values. Inside url_batch() the writes
    wait for its end; outside one they go out at once, as a batch of their own. An unchanged
    URL is not rewritten (comparing first keeps the browser history clean)."""
    if getattr(_local, "pending", None) is None:
        with url_batch():
            set_params(values, drop)
        return
    pending = _local.pending
    for name in drop:
        if name not in values:
            pending[name] = None
    for name, value in values.items():
        pending[name] = _as_list(value)
