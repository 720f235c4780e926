"""A file that verifies against a re-sealed manifest but cannot be read is named in one line
on the page, never a traceback (issue 22, item 5)."""
from __future__ import annotations

import numpy as np
import pytest

from core import store
from dashboard.common.studies import npy_problem
from tests.dashboard.fixture_study import CLASSES_A, make_study
from tests.dashboard.mdtext import plain


def _reseal(study) -> None:
    """What an attacker or a careless tool does: rewrite the manifest over whatever is there."""
    store.write_manifest(study, [p for p in study.rglob("*")
                                 if p.is_file() and p.name != store.MANIFEST])


@pytest.fixture
def tampered(tmp_path):
    root = tmp_path / "studies"
    make_study(root / "alpha", classes=CLASSES_A)
    return root


@pytest.mark.parametrize("rel", ["analysis/pie_corr/l1_global.npy",
                                 "predictions/l1_global/seed-0.npy"])
def test_an_object_array_is_named_on_pies_and_browse(app_test, tampered, rel):
    study = tampered / "alpha"
    np.save(study / rel, np.array([{"x": 1}] * 3, dtype=object), allow_pickle=True)
    _reseal(study)
    assert store.verify(study) == []            # the manifest alone cannot tell
    for page in ("study_pages/pies.py", "reading_room/browse.py"):
        at = app_test([tampered], study="alpha")
        at.run()
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        text = " ".join(plain(e.value) for e in at.error)
        assert f"{rel}: holds Python objects (dtype object)" in text


def test_npy_problem_cases(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.arange(12, dtype=np.float32).reshape(3, 4))
    assert npy_problem(good) is None
    cut = tmp_path / "cut.npy"
    cut.write_bytes(good.read_bytes()[:-8])
    assert "bytes, but its header describes" in npy_problem(cut)
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy at all")
    assert npy_problem(junk).startswith("not a readable .npy file")


def test_a_table_that_is_not_a_table_is_named_in_one_line(app_test, tampered):
    study = tampered / "alpha"
    tables = sorted((study / "metrics").glob("*.parquet"))
    assert tables
    for t in tables:
        t.write_bytes(b"PAR1 this is not parquet PAR1")
    _reseal(study)
    at = app_test([tampered], study="alpha")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error, "the page said nothing"
    text = " ".join(plain(e.value) for e in at.error)
    assert "metrics/" in text and ".parquet" in text, text
