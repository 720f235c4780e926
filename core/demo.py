"""The SynthCXR demo study's configs: the one place where their sizes and epochs live.

DEMO_CONFIG is what `python -m core demo` runs (the shipped artifacts/demo study): sized to
finish within 15 minutes on a 2-core CPU and to stay under 25 MB. QUICK_CONFIG (`--quick`)
is a tiny version for tests and smoke runs, under a minute. Both are plain dicts in
StudyConfig's schema, so `--set key=value` overrides apply to them as to a config file.
"""
from __future__ import annotations

import copy

from core.config import DEFAULT_SPARSITIES, StudyConfig, apply_override

DEMO_CONFIG: dict = {
    "name": "demo",
    # A tempered subsample of ~10,000 ChestX-ray14 label vectors (class counts ≈ count^0.5,
    # still ranked as in ChestX-ray14 and long-tailed), split by patient 80/10/10: ~8,000
    # train, ~1,000 validation and ~1,000 evaluation images, so that the rarest class (Hernia)
    # has ≥ 20 evaluation positives and every class can be learned (docs/demo.md). The 10%
    # evaluation split keeps 4 methods × 3 seeds of float32 predictions under 25 MB.
    "dataset": {"name": "synthcxr",
                "options": {"seed": 0, "n_images": 10000, "prevalence_power": 0.5,
                            "fractions": [0.8, 0.1, 0.1], "difficulty": 0.5},
                "eval_split": "test"},
    "model": "smallcnn",
    "pretrained": False,
    "image_size": 64,
    "seeds": [0, 1, 2],
    "methods": ["l1_global", "random", "channel_l1_global", "gmp_finetune"],
    "sparsities": list(DEFAULT_SPARSITIES),
    "predict_batch_size": 512,
    # float16 weights keep the committed demo study under 25 MB (3 × 1.2M parameters)
    "weights_dtype": "float16",
    # Calibrated (docs/demo.md): validation loss of this small BatchNorm net is noisy from
    # epoch to epoch, so patience 3–4 stopped runs at a fraction of their accuracy.
    "train": {"epochs": 12, "batch_size": 128, "lr": 1e-3, "patience": 8,
              "rotation_degrees": 15.0, "device": "auto"},
    # 12 fine-tuning steps between grid points: 228 steps per seed (~3.7 epochs of images)
    "gradual": {"finetune_steps": 12, "lr": 3e-4, "prune_every": 4, "ramp": 0.5},
}

QUICK_CONFIG: dict = {
    "name": "demo-quick",
    "dataset": {"name": "synthcxr", "options": {"seed": 0, "n_images": 600},
                "eval_split": "test"},
    "model": "smallcnn",
    "pretrained": False,
    "image_size": 32,
    "seeds": [0, 1],
    "methods": ["l1_global", "random"],
    "sparsities": list(DEFAULT_SPARSITIES),
    "predict_batch_size": 256,
    # cpu even where a GPU exists: the resume test compares runs bit for bit. One thread:
    # on a busy 2-core machine, two OpenMP threads per tiny op wait on each other (measured:
    # 66 s with 2 threads vs 9 s with 1 for this config while other jobs ran).
    "train": {"epochs": 2, "batch_size": 64, "lr": 1e-3, "patience": 2,
              "rotation_degrees": 15.0, "device": "cpu", "threads": 1},
}


def demo_config(quick: bool = False, overrides: list[str] | None = None) -> StudyConfig:
    """The demo (or quick demo) StudyConfig with `--set` overrides applied.

    Args:
        quick (bool): the tiny version (under a minute).
        overrides (list[str] | None): ``key.path=value`` items.

    Returns:
        StudyConfig: the validated config.

    Raises:
        ConfigError: for a bad override.
    """
    data = copy.deepcopy(QUICK_CONFIG if quick else DEMO_CONFIG)
    for item in overrides or []:
        apply_override(data, item)
    return StudyConfig.from_dict(data)
