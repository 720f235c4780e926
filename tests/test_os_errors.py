"""OS errors (disk full, permission denied, read-only folder) end every CLI command in one
line naming the path, exit 2, no traceback; nothing is lost and the re-run resumes.

The tests run as root, and root ignores permission bits (a chmod-ed read-only folder would
still be writable), so each error is injected where the system call happens: the monkeypatched
function raises the OSError the kernel would (errno, strerror, file name) — ENOSPC from the
rename that publishes a file, EROFS from creating the lock file, ENOSPC from allocating the
image cache's blocks. What is tested is PruneLens's handling of the error, not the kernel.
"""
from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest

import core.data
from core import store
from core.analysis.study_analysis import analyze_study
from core.cli import main as cli_main
from core.errors import UnreadableFile
from tests.analysis.conftest import make_study
from tests.test_study import _cfg, _fake_dataset

_REAL_REPLACE = os.replace


def _fail_replace_of(monkeypatch, name: str, err: int = errno.ENOSPC):
    real = os.replace
    calls = []

    def replace(src, dst, *a, **k):
        if os.path.basename(str(dst)) == name:
            calls.append(dst)
            raise OSError(err, os.strerror(err), str(src))   # as the kernel names the source
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_disk_full_during_analyze(tmp_path, monkeypatch, capsys):
    paths = make_study(tmp_path / "s")
    assert cli_main(["analyze", str(paths.root)]) == 0
    sealed = (paths.root / "manifest.json").read_bytes()
    calls = _fail_replace_of(monkeypatch, "class_summary.parquet")
    capsys.readouterr()
    assert cli_main(["analyze", str(paths.root)]) == 2
    line = _one_line(capsys.readouterr().err)
    target = paths.analysis_dir / "class_summary.parquet"
    assert calls and f"{target}: No space left on device" in line
    # nothing half-written: no temp file, the old table and manifest are intact
    assert not list(paths.root.rglob(".tmp-*"))
    assert (paths.root / "manifest.json").read_bytes() == sealed
    monkeypatch.undo()
    assert store.verify(paths.root) == []            # tables rewritten so far: same bytes
    assert cli_main(["analyze", str(paths.root)]) == 0
    assert store.verify(paths.root) == []


def test_disk_full_during_a_study_then_the_rerun_resumes(tmp_path, monkeypatch, capsys):
    ds = _fake_dataset()
    monkeypatch.setattr(core.data, "load_dataset", lambda cfg, image_size=None: ds)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(_cfg().to_dict()))
    out = tmp_path / "s"
    argv = ["study", "--config", str(cfg), "--out", str(out), "--no-progress"]
    _fail_replace_of(monkeypatch, "seed-1.npy")
    assert cli_main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"{out / 'predictions' / 'l1_global' / 'seed-1.npy'}: No space left" in line
    assert not list(out.rglob(".tmp-*"))
    assert (out / "units" / "seed-0.json").is_file()          # finished work kept
    assert not (out / "units" / "seed-1.json").exists()
    monkeypatch.setattr(os, "replace", _REAL_REPLACE)          # the disk has room again
    assert cli_main(argv) == 0
    assert "seed 0: already done" in capsys.readouterr().out
    assert store.verify(out) == []


def test_read_only_study_folder(tmp_path, monkeypatch, capsys):
    paths = make_study(tmp_path / "s")
    import core.lock

    def read_only(path, *a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(core.lock.os, "open", read_only)
    assert cli_main(["analyze", str(paths.root)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(paths.root / "units" / "lock") in line and "Read-only file system" in line


def test_full_disk_while_caching_images_is_an_error_not_a_sigbus(tmp_path, monkeypatch):
    """A memory map over a sparse file dies of SIGBUS when the disk fills; the cache's blocks
    are allocated first, so a full disk is an OSError naming the cache, with no temp left."""
    import pandas as pd

    from core.data import images

    class Source:
        def load(self, rows, size):
            return np.zeros((len(rows), size, size), np.uint8)

        def describe(self):
            return {"kind": "zeros"}

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    target = tmp_path / "cache" / "eval_images.npy"
    target.parent.mkdir()
    rows = pd.DataFrame({"id": ["a", "b"], "path": ["", ""]})
    with pytest.raises(OSError) as err:
        images.build_cache(Source(), rows, 8, target)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(target)
    assert list(target.parent.iterdir()) == []


def test_permission_denied_is_one_line(monkeypatch, capsys, tmp_path):
    import core.analysis

    def boom(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/data/labels.csv")

    monkeypatch.setattr(core.analysis, "main_analyze", boom)
    assert cli_main(["analyze", str(tmp_path)]) == 2
    assert _one_line(capsys.readouterr().err).startswith(
        "error: /data/labels.csv: Permission denied")


def test_truncated_prediction_names_the_file(tmp_path):
    """Item 5: numpy's "mmap length is greater than file size" does not say which file."""
    paths = make_study(tmp_path / "s", seal=False)
    p = paths.predictions("l1_global", 1)
    p.write_bytes(p.read_bytes()[:-64])
    with pytest.raises(UnreadableFile) as err:
        analyze_study(paths.root)
    assert str(p) in str(err.value) and "mmap length" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_interrupted_analyze_can_be_rerun_but_damage_is_still_refused(tmp_path, monkeypatch,
                                                                      capsys):
    """A disk full at the very end (the manifest) leaves rewritten tables the old manifest
    does not match; the re-run recognises its own interrupted work (journal) and finishes.
    Inputs, stray files and pickles are still refused in that state."""
    paths = make_study(tmp_path / "s")
    assert cli_main(["analyze", str(paths.root)]) == 0
    _fail_replace_of(monkeypatch, "manifest.json")
    assert cli_main(["analyze", str(paths.root)]) == 2
    monkeypatch.setattr(os, "replace", _REAL_REPLACE)
    table = paths.analysis_dir / "forgetting.parquet"
    table.write_bytes(table.read_bytes()[:-5])     # as a run of other code would leave it
    # timings.json (its run time) and the table differ from the old manifest: without the
    # journal, analyze would refuse this study for ever
    damaged = {p.file for p in store.verify(paths.root)}
    assert "analysis/forgetting.parquet" in damaged
    assert damaged <= {"analysis/forgetting.parquet", "analysis/params.json",
                       "analysis/timings.json"}
    stray = paths.analysis_dir / "planted.parquet"
    stray.write_bytes(b"x")
    capsys.readouterr()
    assert cli_main(["analyze", str(paths.root)]) == 1          # a stray file still refuses
    assert "analysis/planted.parquet: not in the manifest" in capsys.readouterr().err
    stray.unlink()
    pred = paths.predictions("l1_global", 0)
    good = pred.read_bytes()
    pred.write_bytes(good[:-8])
    assert cli_main(["analyze", str(paths.root)]) == 1          # so does a damaged input
    pred.write_bytes(good)
    assert cli_main(["analyze", str(paths.root)]) == 0          # its own tables: recomputed
    assert store.verify(paths.root) == []
    assert not (paths.root / "units" / "analyze.pending.json").exists()
