"""Memoised chart builders (dashboard/common/chart_memo.py) and the spec sent for a chart
(dashboard/export.vega_spec)."""
import numpy as np
import pandas as pd
import pytest

from dashboard.common import chart_memo, charts
from dashboard.common.chart_memo import Unhashable, fingerprint, memo
from dashboard.common.export import vega_spec


def _df(v=1.0):
    return pd.DataFrame({"class": ["A", "B"], "x": [v, 2.0]})


def test_fingerprint_follows_contents():
    assert fingerprint(_df(), "t", k=1) == fingerprint(_df(), "t", k=1)
    assert fingerprint(_df(), "t") != fingerprint(_df(1.5), "t")      # a value
    assert fingerprint(_df(), "t") != fingerprint(_df().rename(columns={"x": "y"}), "t")
    assert fingerprint(np.arange(3)) != fingerprint(np.arange(3.0))   # dtype
    assert fingerprint([1, 2]) != fingerprint((1, 2))
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    with pytest.raises(Unhashable):
        fingerprint(object())


def test_memo_reuses_equal_inputs_and_passes_the_rest_through():
    calls = []

    def build(df, title):
        calls.append(title)
        return object()

    m = memo(build)
    a = m(_df(), "t")
    assert m(_df(), "t") is a and calls == ["t"]          # equal tables: built once
    assert m(_df(1.5), "t") is not a and len(calls) == 2
    m(_df(), object())                                     # unhashable: always built
    m(_df(), object())
    assert len(calls) == 4
    assert m.__wrapped__ is build


def test_page_builders_are_memoised_and_give_the_validated_spec():
    counts = pd.DataFrame({"class": ["A", "B"], "images": [10, 3], "eval_images": [4, 1]})
    chart = charts.long_tail(counts)
    assert charts.long_tail(counts) is chart
    assert charts.long_tail.__wrapped__ is not None
    chart.to_dict()                          # valid Vega-Lite (validates against the schema)
    spec = vega_spec(chart)
    assert spec["datasets"] and all(isinstance(v, bytes) for v in spec["datasets"].values())
    assert "$schema" in spec
    spec.pop("datasets")                     # what Streamlit does to the dict it is given
    again = vega_spec(chart)
    assert again["datasets"]                 # the kept spec is not affected


def test_memo_size_is_bounded():
    m = memo(lambda i: [i])
    for i in range(chart_memo.SIZE + 10):
        m(i)
    assert len(chart_memo._cache) <= chart_memo.SIZE
