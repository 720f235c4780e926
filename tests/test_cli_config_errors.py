"""Every bad config value: exit 2 and one line naming the key and what is allowed, never a
traceback; and a grid the user gave without `analysis` keys runs (their defaults follow it).

The matrix runs the real CLI (`python -m core study …`) as subprocesses: one interpreter runs
every case through `core.cli.main` (what `python -m core` calls), recording its exit code,
its stderr and any exception that escaped; a few cases also run as their own process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import StudyConfig

ROOT = Path(__file__).resolve().parents[1]

BASE = """\
name: t
dataset: {name: synthcxr, options: {seed: 0, n_images: 300}}
model: smallcnn
image_size: 32
seeds: [0]
methods: [l1_global]
sparsities: [0, 50, 90]
predict_batch_size: 128
train: {epochs: 1, batch_size: 64, lr: 1e-3, device: cpu, threads: 1}
"""

# (--set value, the key its one line must name)
SET_CASES = [
    ("image_size=abc", "image_size"), ("image_size=[32]", "image_size"),
    ('image_size="32"', "image_size"), ("image_size=32.5", "image_size"),
    ("image_size=8", "image_size"), ("image_size=true", "image_size"),
    ("train.device=cuda:x", "train.device"), ("train.device=tpu", "train.device"),
    ("train.device=5", "train.device"), ("pretrained=true", "pretrained"),
    ("pretrained=yes please", "pretrained"),
    ("train.lr=.inf", "train.lr"), ("train.lr=.nan", "train.lr"), ("train.lr=0", "train.lr"),
    ("train.lr=-1e-3", "train.lr"), ("train.lr=abc", "train.lr"),
    ("train.threads=-4", "train.threads"), ("train.epochs=0", "train.epochs"),
    ("train.epochs=2.5", "train.epochs"), ('train.batch_size="64"', "train.batch_size"),
    ("train.num_workers=-1", "train.num_workers"), ("train.patience=null", "train.patience"),
    ("train.rotation_degrees=.inf", "train.rotation_degrees"),
    ("train.weight_decay=-1", "train.weight_decay"), ("train.amp=2", "train.amp"),
    ("train=5", "train"), ("seeds=abc", "seeds"), ("seeds=[-1]", "seeds"),
    ("seeds=[0, 0]", "seeds"), ("seeds=[]", "seeds"), ("seeds=[true]", "seeds"),
    ("sparsities=[0, 50, 100]", "sparsities"), ("sparsities=[50, 90]", "sparsities"),
    ("sparsities=[0, 0.5]", "sparsities"), ("sparsities=[0]", "sparsities"),
    ("sparsities=[0, 90, 50]", "sparsities"), ("methods=[magic]", "methods"),
    ("methods=[]", "methods"), ("methods=[[1]]", "methods"), ("model=vgg99", "model"),
    ("predict_batch_size=0", "predict_batch_size"), ("weights_dtype=int8", "weights_dtype"),
    ("analysis.at_sparsity=33", "analysis.at_sparsity"),
    ("analysis.pie_sparsity=0", "analysis.pie_sparsity"),
    ("analysis.pie_percentile=.nan", "analysis.pie_percentile"),
    ("analysis.ci_level=1", "analysis.ci_level"), ("analysis.bootstrap=0", "analysis.bootstrap"),
    ("analysis.bootstrap_seed=-1", "analysis.bootstrap_seed"),
    ("analysis.drop_percent=100", "analysis.drop_percent"),
    ("analysis.pair_variant=odd", "analysis.pair_variant"),
    ("analysis.threshold_rule=[x]", "analysis.threshold_rule"),
    ("gradual.ramp=2", "gradual.ramp"), ("gradual.lr=.inf", "gradual.lr"),
    ("gradual.batch_size=-2", "gradual.batch_size"),
    ("dataset.eval_split=train", "dataset.eval_split"), ("dataset.name=imagenet", "dataset.name"),
    ("dataset.options=5", "dataset.options"),
    ("dataset.options.n_images=1000000000000", "dataset.options.n_images"),
    ("dataset.options.n_images=10^12", "dataset.options.n_images"),
    ("dataset.options.noise_rate=.nan", "dataset.options.noise_rate"),
    ("dataset.options.fractions=[1, 1, 1]", "dataset.options.fractions"),
    ("dataset.options.seed=-1", "dataset.options.seed"),
    ("dataset.options.colour=red", "dataset.options"),
    ("name=../x", "name"), ("nosuchkey=1", "nosuchkey"), ("train.epochs", "train.epochs"),
    ("dataset.skip_missing_images=1", "dataset.skip_missing_images"),
]

# (config file name, text, key)
FILE_CASES = [
    ("quoted.yaml", BASE + 'image_size: "32"\n', "image_size"),
    ("lr.yaml", BASE.replace("lr: 1e-3", "lr: .inf"), "train.lr"),
    ("threads.yaml", BASE.replace("threads: 1", "threads: -4"), "train.threads"),
    ("half.json", json.dumps({"image_size": 32.5}), "image_size"),
    ("broken.yaml", "train: [\n", "broken.yaml"),
    ("dup.yaml", BASE + "seeds: [1]\n", "seeds"),
    ("list.yaml", "- a\n", "list.yaml"),
]

_DRIVER = r"""
import contextlib, io, json, sys, traceback
from core.cli import main
out = []
for argv in json.loads(sys.argv[1]):
    err, std = io.StringIO(), io.StringIO()
    escaped = None
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        try:
            rc = main(argv)
        except BaseException:
            rc, escaped = None, traceback.format_exc()
    out.append({"rc": rc, "stderr": err.getvalue(), "stdout": std.getvalue(),
                "escaped": escaped})
print(json.dumps(out))
"""


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}


def _study_argv(config: Path, out: Path, sets=()) -> list[str]:
    argv = ["study", "--config", str(config), "--out", str(out), "--no-progress"]
    for s in sets:
        argv += ["--set", s]
    return argv


def _check_one_line(result: dict, key: str, what: str) -> None:
    assert result["escaped"] is None, f"{what}: an exception escaped\n{result['escaped']}"
    assert result["rc"] == 2, f"{what}: exit {result['rc']}\n{result['stderr']}"
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1, f"{what}: {len(lines)} lines\n{result['stderr']}"
    assert lines[0].startswith("error: "), f"{what}: {lines[0]}"
    assert key in lines[0], f"{what}: the line does not name {key}: {lines[0]}"
    assert "Traceback" not in result["stderr"] + result["stdout"], what


def test_matrix_of_bad_values_exits_2_with_one_line(tmp_path):
    config = tmp_path / "s.yaml"
    config.write_text(BASE)
    cases = [(_study_argv(config, tmp_path / f"out{i}", [s]), key, f"--set {s}")
             for i, (s, key) in enumerate(SET_CASES)]
    for name, text, key in FILE_CASES:
        (tmp_path / name).write_text(text)
        cases.append((_study_argv(tmp_path / name, tmp_path / f"o-{name}"), key, name))
    res = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps([c[0] for c in cases])],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    results = json.loads(res.stdout.strip().splitlines()[-1])
    for (_, key, what), result in zip(cases, results, strict=True):
        _check_one_line(result, key, what)
    # the ones a reader sees most: each line says what is allowed
    lines = {what: r["stderr"] for (_, _, what), r in zip(cases, results, strict=True)}
    assert "an integer in 16–2048" in lines["--set image_size=abc"]
    assert "quoted" in lines['--set image_size="32"']
    assert "cuda:N" in lines["--set train.device=cuda:x"]
    assert "resnet18, resnet50" in lines["--set pretrained=true"]
    assert "a finite number > 0" in lines["--set train.lr=.inf"]
    assert "≥ 0" in lines["--set train.threads=-4"]
    assert "allowed: 1–112120" in lines["--set dataset.options.n_images=1000000000000"]
    assert "allowed: 0, 50, 90" in lines["--set analysis.at_sparsity=33"]


@pytest.mark.parametrize("setting, key", [
    ("image_size=abc", "image_size"), ("train.device=cuda:x", "train.device"),
    ("pretrained=true", "pretrained"), ("train.lr=.inf", "train.lr"),
])
def test_issue_cases_in_their_own_process(tmp_path, setting, key):
    config = tmp_path / "s.yaml"
    config.write_text(BASE)
    res = subprocess.run([sys.executable, "-m", "core",
                          *_study_argv(config, tmp_path / "out", [setting])],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    _check_one_line({"rc": res.returncode, "stderr": res.stderr, "stdout": res.stdout,
                     "escaped": None}, key, setting)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_yaml_exponent_is_the_number_it_means(tmp_path):
    config = tmp_path / "s.yaml"
    config.write_text(BASE.replace("lr: 1e-3", "lr: 1e-4") + "gradual: {lr: 3E-5}\n")
    cfg = StudyConfig.load(config, ["train.weight_decay=1e-6"])
    assert cfg.train.lr == 1e-4 and cfg.gradual.lr == 3e-5 and cfg.train.weight_decay == 1e-6


@pytest.mark.parametrize("grid, at, pie", [
    ([0, 50, 90], 90, 90), ([0, 50, 80], 80, 80), ([0, 90, 95, 99], 95, 90),
    ([0, 5], 5, 5), (list(range(0, 100, 5)), 95, 90),
])
def test_analysis_sparsities_default_from_the_grid(grid, at, pie):
    cfg = StudyConfig.from_dict({"sparsities": grid})
    assert (cfg.analysis.at_sparsity, cfg.analysis.pie_sparsity) == (at, pie)
    # recorded as numbers: study.json says what the analysis used
    assert StudyConfig.from_dict(cfg.to_dict()) == cfg
    # a default follows a new grid; a value the user set does not
    assert StudyConfig().with_overrides([f"sparsities={grid}"]).analysis.at_sparsity == at
    with pytest.raises(ValueError, match=r"analysis\.at_sparsity: 95 is not in sparsities"):
        StudyConfig.from_dict({"sparsities": [0, 50], "analysis": {"at_sparsity": 95}})


def test_integers_stay_integers_and_floats_accept_integers():
    cfg = StudyConfig.from_dict({"train": {"lr": 1, "rotation_degrees": 0}})
    assert isinstance(cfg.train.lr, float) and cfg.train.lr == 1.0
    with pytest.raises(ValueError, match=r"image_size: expected an integer .* got 32\.5"):
        StudyConfig.from_dict({"image_size": 32.5})


# --------------------------------------------------------------------------- Ctrl-C
@pytest.mark.slow
def test_ctrl_c_prints_one_line_exits_130_and_the_rerun_resumes(tmp_path):
    """SIGINT while the first seed trains: one line, exit 130, no lock holder left, no temp
    file; the same command then finishes and the study verifies. The grid [0, 50, 90] has
    no `analysis` key: its defaults come from the grid, so it runs."""
    import signal
    import time

    config, out = tmp_path / "s.yaml", tmp_path / "out"
    config.write_text(BASE.replace("seeds: [0]", "seeds: [0, 1]"))
    argv = [sys.executable, "-m", "core", *_study_argv(config, out)]
    proc = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 600
    # the first seed's work has begun: its caches and the data unit are written
    while not (out / "units" / "data.json").exists() and proc.poll() is None:
        assert time.monotonic() < end, "the study never started"
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["interrupted; run the same command to resume"]
    assert "Traceback" not in stdout + stderr
    assert not list((out / "units" / "lock.holders").glob("*.json"))  # lock released
    assert not list(out.rglob(".tmp-*"))
    assert not (out / "manifest.json").exists()
    res = subprocess.run(argv, cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run([sys.executable, "-m", "core", "verify", str(out)], cwd=ROOT,
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stdout + res.stderr
    study = json.loads((out / "study.json").read_text())
    assert study["config"]["analysis"]["at_sparsity"] == 90
    assert study["config"]["analysis"]["pie_sparsity"] == 90
