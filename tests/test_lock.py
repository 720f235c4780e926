"""core.lock.study_lock: one coordinator per study folder, released when the holder dies."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core import lock
from core.cli import main as cli_main
from core.errors import StudyLockedError
from core.lock import study_lock

ROOT = Path(__file__).resolve().parent.parent
HOLD = """
import sys, time
from core.lock import study_lock
with study_lock(sys.argv[1], shared=sys.argv[2] == "shared"):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(study: Path, mode: str = "exclusive") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(study), mode], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_process_is_refused_naming_the_holder_then_sigkill_releases(tmp_path):
    study = tmp_path / "s"
    proc = _holder(study)
    try:
        with pytest.raises(StudyLockedError) as err:
            with study_lock(study):
                pytest.fail("took a lock another process holds")
        msg = str(err.value)
        assert f"{study} is in use by host {socket.gethostname()} pid {proc.pid} since " in msg
        with pytest.raises(StudyLockedError):     # a shared taker is refused too
            with study_lock(study, shared=True):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the kernel released the flock with the process: never a stale lock after a crash
    with study_lock(study):
        assert [h["pid"] for h in lock.holders(study)] == [os.getpid()]
        assert len(list((study / lock.HOLDERS_DIR).iterdir())) == 1   # dead record dropped
    assert lock.holders(study) == []


def test_shared_holders_coexist_and_exclude_an_exclusive_one(tmp_path):
    study = tmp_path / "s"
    proc = _holder(study, "shared")
    try:
        with study_lock(study, shared=True):       # a second --seeds run: fine
            assert sorted(h["pid"] for h in lock.holders(study)) == sorted([proc.pid,
                                                                            os.getpid()])
        with pytest.raises(StudyLockedError, match=f"pid {proc.pid} .*--seeds run"):
            with study_lock(study):
                pass
    finally:
        proc.kill()
        proc.wait()


def test_reentrant_in_one_process(tmp_path):
    with study_lock(tmp_path), study_lock(tmp_path), study_lock(tmp_path, shared=True):
        assert len(lock.holders(tmp_path)) == 1
    with study_lock(tmp_path):
        pass


def test_cli_commands_refuse_a_study_in_use_with_one_line(tmp_path, capsys):
    """`core analyze` and `core study` on a folder another coordinator holds: exit 2, one
    line naming host and pid, and the other's in-flight temp file is left alone."""
    from tests.analysis.conftest import make_study

    paths = make_study(tmp_path / "s")
    inflight = paths.root / "predictions" / "l1_global" / ".tmp-seed-0.npy.abc"
    inflight.write_bytes(b"half written by the other coordinator")
    before = (paths.root / "manifest.json").read_bytes()
    proc = _holder(paths.root)
    try:
        assert cli_main(["analyze", str(paths.root)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {proc.pid}" in err[0], err
        assert err[0].startswith(f"error: {paths.root} is in use by host ")
        cfg = tmp_path / "c.yaml"
        cfg.write_text("name: s\nseeds: [0, 1, 2]\nmethods: [l1_global]\n"
                       "sparsities: [0, 50, 90, 95]\n")
        assert cli_main(["study", "--config", str(cfg), "--out", str(paths.root),
                         "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {proc.pid}" in err[0], err
    finally:
        proc.kill()
        proc.wait()
    assert inflight.is_file()                      # the start-up clean-up did not run
    assert (paths.root / "manifest.json").read_bytes() == before


def test_lock_lives_outside_the_manifest(tmp_path):
    from core import store
    from tests.analysis.conftest import make_study

    paths = make_study(tmp_path / "s")
    with study_lock(paths.root):
        assert store.verify(paths.root) == []
    assert store.verify(paths.root) == []
