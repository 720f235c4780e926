"""Every command that reads a study verifies it first; a re-seal lists only what PruneLens
itself just wrote (issue 9, items 1 and 2)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from core import store
from core.analysis import main_analyze
from core.cli import main as cli_main
from core.errors import StoreError, StudyNotVerified
from tests.analysis.conftest import make_study

PRED = "predictions/l1_global/seed-1.npy"


def _flip(root):
    p = root / PRED
    raw = bytearray(p.read_bytes())
    raw[-7] ^= 0x40
    p.write_bytes(bytes(raw))


def _truncate(root):
    p = root / PRED
    p.write_bytes(p.read_bytes()[:-100])


def _delete(root):
    (root / "data" / "labels.parquet").unlink()


def _stray(root):
    (root / "predictions" / "l1_global" / "seed-9.npy").write_bytes(
        (root / PRED).read_bytes())


def _pickle(root):
    (root / "analysis").mkdir(exist_ok=True)
    (root / "analysis" / "x.pkl").write_bytes(b"\x80\x04N.")


def _schema2(root):
    study = json.loads((root / "study.json").read_text())
    study["schema_version"] = 99
    (root / "study.json").write_text(json.dumps(study))


def _no_manifest(root):
    (root / "manifest.json").unlink()


DAMAGE = {  # damage → (file named, word in the problem)
    "flip": (_flip, PRED, "modified"), "truncate": (_truncate, PRED, "truncated"),
    "delete": (_delete, "data/labels.parquet", "missing"),
    "stray": (_stray, "predictions/l1_global/seed-9.npy", "not in the manifest"),
    "pickle": (_pickle, "analysis/x.pkl", "pickle"),
    "schema 99": (_schema2, "study.json", "unknown schema_version 99"),
    "no manifest": (_no_manifest, "manifest.json", "missing"),
}


@pytest.fixture
def analysed(tmp_path):
    paths = make_study(tmp_path / "s", methods=("l1_global",))
    assert main_analyze(SimpleNamespace(study=str(paths.root))) == 0
    assert store.verify(paths.root) == []
    return paths.root


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("command", ["analyze", "report"])
def test_damaged_study_is_refused_by_file(analysed, damage, command, capsys):
    fn, name, word = DAMAGE[damage]
    fn(analysed)
    manifest = analysed / "manifest.json"
    sealed = manifest.read_bytes() if manifest.is_file() else None
    tables = {p: p.read_bytes() for p in (analysed / "analysis").rglob("*") if p.is_file()}
    capsys.readouterr()
    assert cli_main([command, str(analysed)]) == 1
    out = capsys.readouterr()
    assert out.out == ""                          # no numbers
    lines = [x for x in out.err.splitlines() if x.strip().startswith(name + ":")]
    assert any(word in x for x in lines), out.err
    # nothing re-sealed, nothing recomputed: the damage is still reported by verify
    assert (manifest.read_bytes() if manifest.is_file() else None) == sealed
    assert {p: p.read_bytes() for p in (analysed / "analysis").rglob("*")
            if p.is_file()} == tables
    assert any(p.file == name for p in store.verify(analysed))


def test_report_with_modified_overall_table_prints_nothing(analysed, capsys):
    p = analysed / "metrics" / "overall.parquet"
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    p.write_bytes(bytes(raw))
    assert cli_main(["report", str(analysed), "--json"]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "metrics/overall.parquet: modified" in out.err


def test_reanalysis_seals_the_verified_manifest_plus_what_it_wrote(analysed):
    before = store.read_json(analysed / "manifest.json")["files"]
    params = analysed / "analysis" / "params.json"
    assert main_analyze(SimpleNamespace(study=str(analysed))) == 0
    after = store.read_json(analysed / "manifest.json")["files"]
    assert set(after) == set(before)
    assert after["analysis/params.json"] == {"size": params.stat().st_size,
                                             "sha256": store.sha256_file(params)}
    assert after[PRED] == before[PRED]            # carried over, not re-hashed from disk
    assert store.verify(analysed) == []


def test_write_manifest_never_lists_a_file_it_was_not_given(analysed):
    """A re-seal from a verified manifest + the files just written leaves a stray file out."""
    base = store.require_verified(analysed)
    stray = analysed / "analysis" / "planted.parquet"
    stray.write_bytes(b"not written by PruneLens")
    with store.record_writes() as written:
        store.write_json(analysed / "analysis" / "params.json", {"x": 1})
    assert list(written) == [str((analysed / "analysis" / "params.json").resolve())]
    store.write_manifest(analysed, written, base=base)
    assert "analysis/planted.parquet" not in store.read_json(analysed / "manifest.json")["files"]
    assert [(p.file, p.problem.split(" (")[0]) for p in store.verify(analysed)] == [
        ("analysis/planted.parquet", "not in the manifest")]


def test_require_verified_lists_every_problem(analysed):
    _flip(analysed)
    _stray(analysed)
    with pytest.raises(StudyNotVerified) as err:
        store.require_verified(analysed)
    assert {p.file for p in err.value.problems} == {PRED, "predictions/l1_global/seed-9.npy"}
    assert PRED in str(err.value) and "seed-9.npy" in str(err.value)
    assert isinstance(err.value, StoreError)
