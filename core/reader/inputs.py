"""What people type into the reader study, checked before it reaches the database.

A leaf module (no import of the database): the values a reader's screen may hold
(`BlindItem`, `Answer`, `Reader`), the refusals meant for the person who typed
(`InputError`, `FormLocked`) and the rules for names, answers, comments and times.

Names: the coordinator types them once, readers see them and results group by them, so two
names that look alike must be one name. A name is NFKC-normalised (so full-width, ligature
and compatibility forms become their plain letters); white space of any kind (tabs, line
breaks, no-break spaces) becomes one space and the ends are stripped; control, format
(zero-width spaces, bidirectional overrides, soft hyphens), private-use, unassigned and
other invisible characters are refused, not silently dropped (the coordinator should see
what was pasted);
and a name needs at least one letter or digit. "Reader\u200bA" is refused; "Reader A" and
"ｒｅａｄｅｒ　Ａ" are one reader.
"""
from __future__ import annotations

import hashlib
import math
import unicodedata
from dataclasses import dataclass

from core.reader.schema import RATING_RANGE

QUESTIONS = ("agree", "quality", "difficulty")
MAX_NAME = 100
MAX_COMMENT = 2000
# Unicode categories never allowed in a name: control, format, surrogate, private use,
# unassigned, line and paragraph separators.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# Default-ignorable characters that are letters or marks by category yet draw nothing
# (Hangul fillers, Khmer inherent vowels, variation selectors, grapheme joiner, braille blank).
_INVISIBLE = ({0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0}
              | set(range(0x180B, 0x1810)) | set(range(0xFE00, 0xFE10))
              | set(range(0xE0100, 0xE01F0)))


class InputError(ValueError):
    """Input refused with a message meant for the person who typed it."""


class FormLocked(InputError):
    """The reader already submitted this form; its answers can no longer change."""


@dataclass(frozen=True)
class BlindItem:
    """What a reader's screen may know about an image: nothing about PIE status."""

    item_id: str
    form_id: int
    position: int  # 1-based place in the form
    image_id: str
    row: int       # row of data/labels.parquet, to fetch labels and pixels


@dataclass(frozen=True)
class Answer:
    """One reader's validated answer to one image.

    Attributes:
        agree (bool): fully agrees with the label.
        quality (int): image quality, 1 (poor) – 5 (excellent).
        difficulty (int): difficulty, 1 (very easy) – 5 (very difficult).
        comment (str): free text, at most MAX_COMMENT characters.
    """
    agree: bool
    quality: int
    difficulty: int
    comment: str = ""


@dataclass(frozen=True)
class Reader:
    """A registered reader.

    Attributes:
        reader_id (int): the database id.
        name (str): the name as stored.
    """
    reader_id: int
    name: str


def name_key(name: str) -> str:
    """The form under which two spellings of one name are the same reader.

    Unicode-normalised (NFKC), case-folded (so "Ärztin Öz" = "ärztin öz", which SQLite's
    NOCASE does not do) and with runs of white space collapsed.

    Args:
        name (str): a reader's name.

    Returns:
        str: the key.

    Example:
        >>> name_key("  Ärztin   Öz ") == name_key("ärztin öz")
        True
    """
    return " ".join(unicodedata.normalize("NFKC", str(name)).casefold().split())


def token_hash(token: str) -> str:
    """The SHA-256 of a reader's token, as stored (the token itself never is).

    Args:
        token (str): the token.

    Returns:
        str: 64 lowercase hex digits.
    """
    return hashlib.sha256(str(token).encode("utf-8")).hexdigest()


def _hidden(ch: str) -> bool:
    return unicodedata.category(ch) in _REFUSED_CATEGORIES or ord(ch) in _INVISIBLE


def clean_reader(name, strict: bool = True) -> str:
    """A reader's name as stored: NFKC, spaces collapsed, at most MAX_NAME characters.

    Args:
        name (str | None): the name typed.
        strict (bool): registering a name: invisible, control and format characters are
            refused by code point, and the name needs a letter or digit. Not strict (looking
            up a name already registered): only emptiness and length are checked, so a
            reader registered before these rules keeps working.

    Returns:
        str: the cleaned name.

    Raises:
        InputError: for an empty or too long name, or (strict) hidden characters or no
            letter or digit.

    Example:
        >>> clean_reader("  Dr.   Ada ")
        'Dr. Ada'
    """
    text = " ".join(unicodedata.normalize("NFKC", str(name or "")).split())
    if strict:
        bad = sorted({f"U+{ord(c):04X}" for c in text if _hidden(c)})
        if bad:
            raise InputError(f"Reader name contains invisible or control character(s) "
                             f"{', '.join(bad)}; type the name without them.")
        if text and not any(unicodedata.category(c)[0] in "LN" for c in text):
            raise InputError("A reader name needs at least one letter or digit.")
    if not text:
        raise InputError("Please enter your name before rating (it keeps your answers apart "
                         "from other readers').")
    if len(text) > MAX_NAME:
        raise InputError(f"Reader name too long ({len(text)} characters, at most {MAX_NAME}).")
    return text


def check_seconds(seconds) -> float | None:
    """Time spent on an image: None (not measured) or a finite number ≥ 0.

    Args:
        seconds (float | None): the time.

    Returns:
        float | None: the time as a float, or None.

    Raises:
        InputError: for a bool, a non-number, a non-finite or a negative value.
    """
    if seconds is None:
        return None
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(seconds, bool) or not math.isfinite(value) or value < 0:
        raise InputError(f"seconds must be a finite number ≥ 0, got {seconds!r}")
    return value


def clip_comment(text) -> tuple[str, bool]:
    """A comment as the page saves it: stripped, cut to its first MAX_COMMENT characters.

    Args:
        text (str | None): the comment.

    Returns:
        tuple[str, bool]: (the comment, True when cut — so the page can say so instead of
        losing the paste).
    """
    comment = "" if text is None else str(text).strip()
    return comment[:MAX_COMMENT], len(comment) > MAX_COMMENT


def validate_answer(agree, quality, difficulty, comment="") -> Answer:
    """Refuse missing or out-of-range answers with a message naming the question.

    Args:
        agree (bool | int | str): yes/no (True/False, 1/0, or "yes"/"no").
        quality (int): a whole number in RATING_RANGE.
        difficulty (int): a whole number in RATING_RANGE.
        comment (str | None): stripped; at most MAX_COMMENT characters.

    Returns:
        Answer: the validated answer.

    Raises:
        InputError: for a missing answer, an agreement that is not yes/no, a rating that is
            not a whole number in range, or a too long comment.

    Example:
        >>> validate_answer("yes", 4, 2.0)
        Answer(agree=True, quality=4, difficulty=2, comment='')
    """
    lo, hi = RATING_RANGE
    missing = [q for q, v in zip(QUESTIONS, (agree, quality, difficulty), strict=True)
               if v is None]
    if missing:
        raise InputError(f"Please answer every question (missing: {', '.join(missing)}).")
    if isinstance(agree, str):
        if agree.strip().lower() not in ("yes", "no"):
            raise InputError(f"Label agreement must be yes or no, got {agree!r}.")
        agree = agree.strip().lower() == "yes"
    if agree not in (0, 1, True, False):
        raise InputError(f"Label agreement must be yes or no, got {agree!r}.")
    out = {}
    for name, value, words in (("quality", quality, "1 (poor) – 5 (excellent)"),
                               ("difficulty", difficulty, "1 (very easy) – 5 (very difficult)")):
        try:
            ok = float(value) == int(value) and not isinstance(value, bool)
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok or not lo <= int(value) <= hi:
            raise InputError(f"Image {name} must be a whole number {words}; got {value!r}.")
        out[name] = int(value)
    comment = "" if comment is None else str(comment).strip()
    if len(comment) > MAX_COMMENT:
        raise InputError(f"Comment too long ({len(comment)} characters, at most {MAX_COMMENT}).")
    return Answer(bool(agree), out["quality"], out["difficulty"], comment)
