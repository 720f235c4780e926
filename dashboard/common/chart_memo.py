"""Memoised chart builders: the same tables in, the same chart object out.

Building an Altair chart costs 0.05–0.5 s on two cores (schema objects, layering hashes the
data), and every rerun of a page (a filter change, a new tab) rebuilds every chart from
tables that mostly did not change. `memo(builder)` keys a built chart by a fingerprint of
the builder's arguments (DataFrames, arrays, scalars, lists and dicts of them) and returns
the chart built before; dashboard/common/export.py then also reuses that chart's Vega-Lite spec.
Builders must be pure (charts.py's rule: DataFrames in, charts out) and callers must not
modify a returned chart in place (Altair's methods return copies). Arguments that cannot be
fingerprinted simply bypass the memo.
"""
from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

SIZE = 96     # charts kept (a few kB–MB each, data included)


class Unhashable(TypeError):
    pass


def _feed(h, obj) -> None:
    if isinstance(obj, pd.DataFrame):
        h.update(b"df" + repr((list(map(str, obj.columns)), [str(t) for t in obj.dtypes],
                               obj.shape)).encode())
        h.update(pd.util.hash_pandas_object(obj, index=True).to_numpy().tobytes())
    elif isinstance(obj, pd.Series):
        h.update(b"s" + repr((str(obj.name), str(obj.dtype), len(obj))).encode())
        h.update(pd.util.hash_pandas_object(obj, index=True).to_numpy().tobytes())
    elif isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise Unhashable("object array")
        h.update(b"a" + repr((str(obj.dtype), obj.shape)).encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif obj is None or isinstance(obj, (str, bytes, bool, int, float, np.generic)):
        h.update(b"v" + repr((type(obj).__name__, obj)).encode())
    elif isinstance(obj, Mapping):
        h.update(b"{")
        for k in sorted(obj, key=repr):
            _feed(h, k)
            _feed(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[" if isinstance(obj, list) else b"(")
        for v in obj:
            _feed(h, v)
        h.update(b"]")
    else:
        raise Unhashable(type(obj).__name__)


def fingerprint(*args, **kwargs) -> str:
    """A digest of the arguments' contents; raises Unhashable for anything else."""
    h = hashlib.blake2b(digest_size=16)
    try:
        _feed(h, (args, kwargs))
    except (TypeError, ValueError) as exc:   # hash_pandas_object on list cells, …
        raise Unhashable(str(exc)) from exc
    return h.hexdigest()


_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def memo(builder: Callable) -> Callable:
    @functools.wraps(builder)
    def wrapper(*args, **kwargs):
        try:
            key = (builder.__module__, builder.__qualname__, fingerprint(*args, **kwargs))
        except Unhashable:
            return builder(*args, **kwargs)
        with _lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        chart = builder(*args, **kwargs)
        with _lock:
            _cache[key] = chart
            while len(_cache) > SIZE:
                _cache.popitem(last=False)
        return chart
    wrapper.__wrapped__ = builder
    return wrapper


def memoise(namespace: dict, names: tuple[str, ...]) -> None:
    """Replace the named builders of a module (its `globals()`) with memoised ones."""
    for name in names:
        namespace[name] = memo(namespace[name])
