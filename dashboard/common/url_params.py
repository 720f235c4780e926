"""URL parameter writes, sent to the browser as one change per run.

Every write to `st.query_params` is a message of its own, and the browser answers each with
a new history entry and a re-render of the whole app: Browse's first run made 13 of them
(filters, the page's controls, the image), so Back walked through 13 half-written URLs and
the page took longer to draw. Inside `url_batch()` the writes of `set_params` are collected
and sent as one `st.query_params.from_dict` at the end of the block (also when the block
ends with st.rerun or st.stop). app.py wraps each full run; a fragment wraps its own body,
so a fragment's rerun sends its writes too. Outside a batch a write goes out at once.
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


def _send(pending: Mapping[str, list[str] | None]) -> None:
    import streamlit as st

    qp = st.query_params
    now = _read_all(qp)
    new = dict(now)
    for name, value in pending.items():
        if value is None:
            new.pop(name, None)
        else:
            new[name] = value
    if new != now:
        _write_all(qp, new)


def set_params(values: Mapping[str, str | list[str]], drop: Sequence[str] = ()) -> None:
    """Write URL parameters that changed (comparing first keeps the browser history clean);
    remove `drop` keys not in values. Inside url_batch() the writes wait for its end."""
    import streamlit as st

    pending = getattr(_local, "pending", None)
    if pending is not None:
        for name in drop:
            if name not in values:
                pending[name] = None
        for name, value in values.items():
            pending[name] = _as_list(value)
        return
    qp = st.query_params
    for name in drop:
        if name not in values and name in qp:
            del qp[name]
    for name, value in values.items():
        current = qp.get_all(name) if isinstance(value, list) else qp.get(name)
        if current != value:
            qp[name] = value
