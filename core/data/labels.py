"""Reading label CSV files and turning label values into 1.0 / 0.0 / NaN.

Everything is read as text first, so that a bad value can be reported exactly as it is
written in the file (a float parser would have turned "yes" into NaN silently).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.data.base import check_class_names
from core.errors import LabelError, MissingColumnError

# Text that means "not labelled" besides an empty cell (pandas writes NaN as "").
_BLANKS = ["", "nan", "NaN", "NA", "N/A", "null", "None"]

def read_csv_checked(path: str | Path, **read_options) -> pd.DataFrame:
    """`pd.read_csv(path, **read_options)` after checking the header line as written.

    pandas renames a repeated column name (`Edema`, `Edema.1`), and the copy would become a
    class of its own; names that differ only by surrounding spaces collide after trimming.
    Both are refused by name here, on the header read as plain cells before pandas sees it.
    A file with a header and no rows is refused too: it would fail later with a misleading
    message (no class columns, no images in a split).

    Args:
        path (str | Path): the CSV file.
        **read_options: passed to `pd.read_csv`.

    Returns:
        pd.DataFrame: the table, blank header cells keeping pandas' own names.

    Raises:
        FileNotFoundError: when the file does not exist.
        LabelError: for an empty file, a file pandas cannot parse or decode, duplicate
            column names, or a header without rows.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file not found: {path}")
    try:
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False,
                             na_filter=False).iloc[0].tolist()
        check_header(header, path)
        frame = pd.read_csv(path, **read_options)
    except pd.errors.EmptyDataError as exc:
        raise LabelError(f"{path}: the file is empty (no header line)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: cannot read as CSV ({exc})") from exc
    if len(frame) == 0:
        raise LabelError(f"{path}: has a header line but no rows (no images)")
    if len(header) == len(frame.columns):
        # pandas' own name for a blank header cell, so messages can point at it
        frame.columns = [str(h) if str(h).strip() else str(c)
                         for h, c in zip(header, frame.columns, strict=True)]
    return frame


def check_header(header: list[str], path) -> None:
    """Refuse column names that repeat, as written or after trimming spaces.

    Blank cells of the header (e.g. from trailing commas) are not names and may repeat.

    Args:
        header (list[str]): the header cells as written.
        path (str | Path): the file, named in the message.

    Raises:
        LabelError: naming every repeated name.
    """
    groups: dict[str, list[str]] = {}
    for name in header:
        name = str(name)
        if name.strip():
            groups.setdefault(name.strip(), []).append(name)
    problems = []
    for key, names in groups.items():
        if len(names) < 2:
            continue
        if len(set(names)) == 1:
            problems.append(f"{key!r} appears {len(names)} times")
        else:
            problems.append(f"{', '.join(map(repr, names))} are the same name {key!r} after "
                            "trimming spaces")
    if problems:
        raise LabelError(f"{path}: duplicate column name(s) in the header: "
                         f"{'; '.join(problems)}; every column needs its own name")


def read_csv_text(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A label CSV with every cell as stripped text ("" for empty).

    Args:
        path (str | Path): the CSV file.
        columns (list[str] | None): columns that must exist.

    Returns:
        pd.DataFrame: all cells str, column names stripped.

    Raises:
        FileNotFoundError: when the file does not exist.
        LabelError: as `read_csv_checked`.
        MissingColumnError: when a named column is missing.
    """
    frame = read_csv_checked(path, dtype=str, keep_default_na=False, na_filter=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    if columns:
        require_columns(frame, columns, path)
    for c in frame.columns:
        frame[c] = frame[c].str.strip()
    return frame


def require_columns(frame: pd.DataFrame, columns, path) -> None:
    """Refuse a table that lacks any of `columns`.

    Args:
        frame (pd.DataFrame): the table.
        columns (Iterable[str]): the required column names.
        path (str | Path): the file, named in the message.

    Raises:
        MissingColumnError: naming the missing columns and the first 30 present.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing)
        have = ", ".join(repr(c) for c in list(frame.columns)[:30])
        raise MissingColumnError(f"{path}: missing column(s) {shown} (columns present: {have})")


def parse_label_column(values: pd.Series, path, column: str) -> tuple[np.ndarray, int]:
    """One label column as float32 labels, and the number of −1 ("uncertain") values.

    1 → 1.0, 0 → 0.0; −1 (CheXpert-style uncertain, unusable as a binary target) and blanks
    ("", nan, NA, N/A, null, None) → NaN.

    Args:
        values (pd.Series): the column's cells.
        path (str | Path): the file, named in the message.
        column (str): the column, named in the message.

    Returns:
        tuple[np.ndarray, int]: (float32 ``[n]``, the count of −1 values).

    Raises:
        LabelError: for any other value, with examples and line numbers.

    Example:
        >>> y, n_unc = parse_label_column(pd.Series(["1", "0", "-1", ""]), "x.csv", "Edema")
        >>> y.tolist(), n_unc
        ([1.0, 0.0, nan, nan], 1)
    """
    text = values.astype(str)
    blank = text.isin(_BLANKS).to_numpy()
    number = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype=float)
    # 1 positive, 0 negative; -1 is CheXpert-style "uncertain", unusable as a binary target
    pos, neg, unc = number == 1, number == 0, number == -1
    bad = ~(pos | neg | unc | blank)
    if bad.any():
        text = text.to_numpy()
        examples = list(dict.fromkeys(text[bad]))[:5]
        rows = np.flatnonzero(bad)[:3] + 2  # 1-based, after the header line
        raise LabelError(
            f"{path}: column {column!r} has {int(bad.sum())} value(s) that are not a label "
            f"(1, 0, -1 or blank), e.g. {', '.join(map(repr, examples))} "
            f"(line {', '.join(map(str, rows))})")
    out = np.full(len(text), np.nan, dtype=np.float32)
    out[pos] = 1.0
    out[neg] = 0.0
    return out, int(unc.sum())


def parse_labels(frame: pd.DataFrame, classes: list[str], path) -> tuple[pd.DataFrame, dict]:
    """The class columns as float32 labels, and the per-class count of −1 values found.

    Args:
        frame (pd.DataFrame): the label table.
        classes (list[str]): the class columns.
        path (str | Path): the file, named in messages.

    Returns:
        tuple[pd.DataFrame, dict[str, int]]: (float32 class columns, {class: count of −1}).

    Raises:
        LabelError: for bad class names or values.
        MissingColumnError: when a class column is missing.
    """
    check_class_names(classes, str(path))
    require_columns(frame, classes, path)
    cols, uncertain = {}, {}
    for c in classes:
        cols[c], uncertain[c] = parse_label_column(frame[c], path, c)
    return pd.DataFrame(cols, index=frame.index), uncertain


def label_like_columns(frame: pd.DataFrame, exclude) -> tuple[list[str], list[str]]:
    """Columns that look like labels, and the other numeric columns.

    A column is label-like when every non-blank cell is 1, 0 or -1; other all-numeric columns
    (such as an unnamed age column) are not taken as classes. All-blank columns are neither.

    Args:
        frame (pd.DataFrame): the label table (cells as text).
        exclude (Iterable[str]): columns not considered.

    Returns:
        tuple[list[str], list[str]]: (label-like columns, other numeric columns).
    """
    labels, other = [], []
    for c in frame.columns:
        if c in exclude:
            continue
        text = frame[c].astype(str)
        filled = pd.to_numeric(text[~text.isin(_BLANKS)], errors="coerce")
        if not len(filled) or filled.isna().any():
            continue
        (labels if filled.isin([1, 0, -1]).all() else other).append(c)
    return labels, other


def normalise_sex(values: pd.Series) -> pd.Series:
    """M / F, anything else missing (sources write M, Male, male, F, Female, …).

    Args:
        values (pd.Series): the cells.

    Returns:
        pd.Series: "M", "F" or NaN.

    Example:
        >>> normalise_sex(pd.Series(["male", " F", "x"])).tolist()
        ['M', 'F', nan]
    """
    key = values.astype(str).str.strip().str.upper().str[:1]
    return key.where(key.isin(["M", "F"]))


def parse_age(values: pd.Series, path, column: str) -> pd.Series:
    """An age column as numbers; blanks become NaN.

    Args:
        values (pd.Series): the cells.
        path (str | Path): the file, named in the message.
        column (str): the column, named in the message.

    Returns:
        pd.Series: float ages, NaN where blank.

    Raises:
        LabelError: for a non-numeric, non-blank age.
    """
    text = values.astype(str).str.strip()
    age = pd.to_numeric(text.where(~text.isin(_BLANKS)), errors="coerce")
    bad = age.isna() & ~text.isin(_BLANKS)
    if bad.any():
        raise LabelError(f"{path}: column {column!r} has non-numeric age(s), e.g. "
                         f"{', '.join(map(repr, list(dict.fromkeys(text[bad]))[:5]))}")
    return age.astype(float)


def normalise_split(values: pd.Series, path, column: str) -> pd.Series:
    """train / val / test; common spellings (validate, valid, validation, training, testing) map
    to those.

    Args:
        values (pd.Series): the cells (case and surrounding spaces ignored).
        path (str | Path): the file, named in the message.
        column (str): the column, named in the message.

    Returns:
        pd.Series: "train", "val" or "test".

    Raises:
        LabelError: for an unknown split value.
    """
    aliases = {"train": "train", "training": "train", "val": "val", "valid": "val",
               "validate": "val", "validation": "val", "test": "test", "testing": "test"}
    key = values.astype(str).str.strip().str.lower()
    out = key.map(aliases)
    if out.isna().any():
        bad = list(dict.fromkeys(values[out.isna()].astype(str)))[:5]
        raise LabelError(f"{path}: column {column!r} has unknown split value(s) "
                         f"{', '.join(map(repr, bad))}; allowed: train, val (or validate, "
                         f"valid, validation), test")
    return out
