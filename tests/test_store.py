"""The study store: atomic writes, manifest and `verify` catching every kind of damage."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from core import store
from core.errors import UnreadableFile


def _make_study(root):
    with store.record_writes() as written:
        store.write_json(root / "study.json", {"schema_version": store.SCHEMA_VERSION,
                                               "name": "t"})
        store.write_parquet(root / "data" / "labels.parquet", pd.DataFrame({"id": ["a", "b"]}))
        store.write_npy(root / "predictions" / "l1_global" / "seed-0.npy",
                        np.arange(24, dtype=np.float16).reshape(2, 3, 4))
    store.write_manifest(root, written)
    return root


def test_complete_study_verifies(tmp_path):
    root = _make_study(tmp_path / "s")
    assert store.verify(root) == []
    manifest = json.loads((root / "manifest.json").read_text())
    assert set(manifest["files"]) == {"study.json", "data/labels.parquet",
                                      "predictions/l1_global/seed-0.npy"}


def test_flipped_byte_is_modified(tmp_path):
    root = _make_study(tmp_path / "s")
    p = root / "predictions" / "l1_global" / "seed-0.npy"
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))
    problems = store.verify(root)
    assert [(x.file, x.problem.split(":")[0]) for x in problems] == [
        ("predictions/l1_global/seed-0.npy", "modified")]


def test_truncated_and_deleted_files(tmp_path):
    root = _make_study(tmp_path / "s")
    p = root / "predictions" / "l1_global" / "seed-0.npy"
    p.write_bytes(p.read_bytes()[:-10])
    (root / "data" / "labels.parquet").unlink()
    found = {x.file: x.problem for x in store.verify(root)}
    assert found["predictions/l1_global/seed-0.npy"].startswith("truncated")
    assert found["data/labels.parquet"] == "missing"


def test_missing_manifest_and_unknown_schema(tmp_path):
    root = _make_study(tmp_path / "s")
    (root / "manifest.json").unlink()
    assert [x.file for x in store.verify(root)] == ["manifest.json"]
    store.write_json(root / "study.json", {"schema_version": 99})
    files = [x.file for x in store.verify(root)]
    assert files == ["study.json", "manifest.json"]


def test_unlisted_file_and_pickle_are_reported(tmp_path):
    root = _make_study(tmp_path / "s")
    (root / "analysis").mkdir()
    (root / "analysis" / "extra.pkl").write_bytes(b"x")
    problems = {x.problem.split(" ")[0] for x in store.verify(root)}
    assert problems == {"not", "pickle"}


def test_cache_and_reader_folders_are_not_manifested(tmp_path):
    root = _make_study(tmp_path / "s")
    (root / "cache").mkdir()
    (root / "cache" / "eval_images.npy").write_bytes(b"123")
    (root / "reader").mkdir()
    (root / "reader" / "db.sqlite").write_bytes(b"123")
    assert store.verify(root) == []


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "x.bin"

    def boom(fh):
        fh.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        store.atomic_write(target, boom)
    assert list(tmp_path.iterdir()) == []


def test_killed_writer_never_leaves_partial_file(tmp_path):
    """SIGKILL a process mid-write: the final name holds the old content or nothing."""
    target = tmp_path / "big.npy"
    store.write_bytes(target, b"old")
    code = (
        "import os, signal\n"
        "from core import store\n"
        f"def w(fh):\n    fh.write(b'x' * 1000)\n    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"store.atomic_write({str(target)!r}, w)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(_repo_root()))
    assert proc.returncode == -9
    assert target.read_bytes() == b"old"
    assert store.clean_temp_files(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["big.npy"]


def test_write_npy_refuses_objects_and_round_trips_mmap(tmp_path):
    with pytest.raises(TypeError):
        store.write_npy(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object))
    a = np.random.default_rng(0).random((3, 4)).astype(np.float16)
    store.write_npy(tmp_path / "a.npy", a)
    m = store.open_npy(tmp_path / "a.npy")
    assert isinstance(m, np.memmap) and np.array_equal(m, a)


def test_verify_cli(tmp_path):
    root = _make_study(tmp_path / "s")
    ok = subprocess.run([sys.executable, "-m", "core", "verify", str(root)],
                        capture_output=True, text=True, cwd=str(_repo_root()))
    assert ok.returncode == 0 and ok.stdout.strip() == "ok"
    (root / "data" / "labels.parquet").unlink()
    bad = subprocess.run([sys.executable, "-m", "core", "verify", str(root)],
                         capture_output=True, text=True, cwd=str(_repo_root()))
    assert bad.returncode == 1
    assert "data/labels.parquet: missing" in bad.stdout


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


# ---- verify's every message and branch, pinned (mutation run: benchmarks/mutation.py)
def _problems(root, **kw):
    return [(p.file, p.problem) for p in store.verify(root, **kw)]


def test_verify_messages_exactly(tmp_path):
    assert _problems(tmp_path / "nowhere") == [(str(tmp_path / "nowhere"),
                                                "study folder does not exist")]
    root = _make_study(tmp_path / "s")
    p = root / "predictions" / "l1_global" / "seed-0.npy"
    size = p.stat().st_size
    p.write_bytes(p.read_bytes() + b"xx")
    (root / "data" / "labels.parquet").unlink()
    (root / "extra.txt").write_text("stray")
    (root / "units").mkdir()
    (root / "units" / "model.pkl").write_bytes(b"x")
    (root / "data" / ".tmp-half.parquet").write_bytes(b"x")     # a killed writer's temp file
    assert _problems(root) == [
        ("data/labels.parquet", "missing"),
        ("predictions/l1_global/seed-0.npy",
         f"grown: {size + 2} bytes, manifest says {size}"),
        ("extra.txt", "not in the manifest (added after the study was sealed)"),
        ("units/model.pkl", "pickle files are not allowed"),
    ]
    p.write_bytes(p.read_bytes()[:size - 1])
    assert ("predictions/l1_global/seed-0.npy",
            f"truncated: {size - 1} bytes, manifest says {size}") in _problems(root)


def test_verify_without_hashes_skips_only_the_hash(tmp_path):
    root = _make_study(tmp_path / "s")
    p = root / "predictions" / "l1_global" / "seed-0.npy"
    data = bytearray(p.read_bytes())
    data[-1] ^= 0xFF
    p.write_bytes(bytes(data))
    assert _problems(root, check_hashes=False) == []
    assert _problems(root) == [("predictions/l1_global/seed-0.npy",
                                "modified: sha256 differs from the manifest")]
    with pytest.raises(store.StudyNotVerified, match="modified"):
        store.require_verified(root)
    assert store.require_verified(root, check_hashes=False)["files"]


def test_verify_unreadable_study_json_and_manifest(tmp_path):
    root = _make_study(tmp_path / "s")
    (root / "study.json").write_text("{not json")
    found = _problems(root)
    assert found[0][0] == "study.json" and found[0][1].startswith("unreadable (")
    (root / "study.json").write_text("[1, 2]")             # valid JSON without .get
    assert _problems(root)[0][1].startswith("unreadable (")
    (root / "study.json").unlink()
    assert _problems(root)[0] == ("study.json", "missing")
    root2 = _make_study(tmp_path / "t")
    store.write_json(root2 / "study.json", {"schema_version": 99})
    reads = ", ".join(map(str, store.SUPPORTED_SCHEMA_VERSIONS))
    assert ("study.json", f"unknown schema_version 99 (this PruneLens reads {reads})") in \
        _problems(root2)
    (root2 / "manifest.json").unlink()
    assert _problems(root2)[-1] == ("manifest.json", "missing: the study is incomplete (it "
                                    "was not finished or is still running)")
    root3 = _make_study(tmp_path / "u")
    for bad in ("{oops", '{"no_files": {}}', "[]"):
        (root3 / "manifest.json").write_text(bad)
        found = _problems(root3)
        assert len(found) == 1 and found[0][0] == "manifest.json"
        assert found[0][1].startswith("unreadable (")


def test_require_verified_returns_the_manifest_and_names_every_problem(tmp_path):
    root = _make_study(tmp_path / "s")
    manifest = store.require_verified(root)
    assert manifest == json.loads((root / "manifest.json").read_text())
    (root / "data" / "labels.parquet").unlink()
    (root / "extra.txt").write_text("x")
    with pytest.raises(store.StudyNotVerified) as err:
        store.require_verified(root)
    assert "data/labels.parquet: missing" in str(err.value)
    assert "extra.txt: not in the manifest" in str(err.value)


def test_write_manifest_base_paths_markers_and_what_it_ignores(tmp_path):
    root = _make_study(tmp_path / "s")
    base = store.require_verified(root)
    new = root / "analysis" / "t.json"
    store.write_json(new, {"a": 1})
    (root / "cache").mkdir()
    (root / "cache" / "c.npy").write_bytes(b"c")
    (root / "data" / ".tmp-x").write_bytes(b"t")
    outside = tmp_path / "outside.txt"
    outside.write_text("o")
    sha = store.sha256_file(new)
    m = store.write_manifest(root, [new, root / "cache" / "c.npy", root / "data" / ".tmp-x",
                                    outside, root / "manifest.json", "study.json"], base=base)
    assert set(m["files"]) == set(base["files"]) | {"analysis/t.json"}
    assert m["files"]["analysis/t.json"] == {"size": new.stat().st_size, "sha256": sha}
    assert m["schema_version"] == store.SCHEMA_VERSION
    assert list(m["files"]) == sorted(m["files"])          # stored in path order
    # a marker's checked hash without a size: the size comes from the file
    m2 = store.write_manifest(root, {str(new): {"sha256": sha}}, base=base)
    assert m2["files"]["analysis/t.json"] == {"size": new.stat().st_size, "sha256": sha}
    # base entries are carried over as they are, never re-hashed from disk
    fake = {"files": {"study.json": {"size": 1, "sha256": "0" * 64}}}
    m3 = store.write_manifest(root, [], base=fake)
    assert m3["files"] == {"study.json": {"size": 1, "sha256": "0" * 64}}
    assert json.loads((root / "manifest.json").read_text()) == m3


def test_sha256_file_in_chunks_equals_hashlib(tmp_path):
    import hashlib
    p = tmp_path / "f.bin"
    data = bytes(range(256)) * 41
    p.write_bytes(data)
    assert store.sha256_file(p) == hashlib.sha256(data).hexdigest()
    assert store.sha256_file(p, chunk=7) == hashlib.sha256(data).hexdigest()


def test_read_rows_gives_row_order_and_refuses_gaps(tmp_path):
    path = tmp_path / "labels.parquet"
    pd.DataFrame({"row": [2, 0, 1], "id": ["c", "a", "b"]}).to_parquet(path, index=False)
    got = store.read_rows(path)
    assert got["row"].tolist() == [0, 1, 2] and got["id"].tolist() == ["a", "b", "c"]
    assert list(got.index) == [0, 1, 2]
    pd.DataFrame({"row": [0, 2], "id": ["a", "c"]}).to_parquet(path, index=False)
    with pytest.raises(UnreadableFile, match="not 0..N-1"):
        store.read_rows(path)


def test_write_manifest_takes_recorded_entries_as_given_and_paths_relative_to_the_study(
        tmp_path, monkeypatch):
    """Recorded {size, sha256} entries are stored as recorded (never re-read from disk); a
    relative path is the study's, whatever the working directory; an ignored path earlier
    in the list does not stop the ones after it."""
    root = _make_study(tmp_path / "s")
    base = store.require_verified(root)
    new = root / "analysis" / "t.json"
    store.write_json(new, {"a": 1})
    recorded = {"size": 999, "sha256": "f" * 64}      # what a writer recorded, kept as is
    m = store.write_manifest(root, {str(new): recorded}, base=base)
    assert m["files"]["analysis/t.json"] == recorded
    monkeypatch.chdir(tmp_path)                       # not the study folder
    m = store.write_manifest(root, [tmp_path / "outside.txt", root / "cache" / "x",
                                    "analysis/t.json"], base=base)
    assert m["files"]["analysis/t.json"] == {"size": new.stat().st_size,
                                             "sha256": store.sha256_file(new)}


def test_verify_reports_strays_after_folders_and_both_pickle_suffixes(tmp_path):
    root = _make_study(tmp_path / "s")
    (root / "zz").mkdir()
    (root / "zz" / "stray.json").write_text("{}")      # sorted after the study's folders
    (root / "zz" / "model.pickle").write_bytes(b"x")
    (root / "data" / "old.pkl").write_bytes(b"x")
    found = _problems(root)
    assert ("zz/stray.json", "not in the manifest (added after the study was sealed)") in found
    assert ("zz/model.pickle", "pickle files are not allowed") in found
    assert ("data/old.pkl", "pickle files are not allowed") in found
