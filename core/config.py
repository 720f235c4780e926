"""StudyConfig: the one run configuration of a study, saved into the study.

Loaded from YAML or JSON, overridden from the CLI with ``--set key.path=value``, and
validated before any work starts: unknown keys and invalid values are rejected with a
message that names the key and the allowed values.
"""
from __future__ import annotations

import dataclasses
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core import registries
from core.errors import ConfigError

DEFAULT_SPARSITIES = list(range(0, 100, 5))  # integer percents: 0, 5, …, 95

@dataclass
class DatasetConfig:
    name: str = "synthcxr"
    # Reader-specific options (label_dir, image_root, n_images, …), validated by the reader.
    options: dict = field(default_factory=dict)
    eval_split: str = "test"
    # Missing/unreadable images are an error unless this is set; then their number is recorded.
    skip_missing_images: bool = False


@dataclass
class TrainConfig:
    epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 0.0
    patience: int = 15          # early stopping on validation loss
    hflip: bool = True
    rotation_degrees: float = 15.0
    amp: bool = True            # mixed precision, used on CUDA only
    channels_last: bool = True  # used on CUDA only
    num_workers: int = 0        # DataLoader workers for the CUDA path (0 = in-process)
    device: str = "auto"        # auto | cpu | cuda | cuda:N
    threads: int = 0            # torch CPU threads (0 = torch's default)


@dataclass
class AnalysisConfig:
    drop_percent: int = 20       # first k%-drop sparsity
    at_sparsity: int = 95        # relative AP change reported at this sparsity
    pie_sparsity: int = 90       # PIEs compare dense with this sparsity
    pie_percentile: float = 5.0  # bottom p% of per-image Spearman correlation
    pair_variant: str = "paper"  # FCD pair plots: paper (column sums) | plain (image counts)
    # Beyond the paper (core.analysis.extended): bootstrap CIs, subgroups, missed findings.
    bootstrap: int = 1000        # bootstrap replicates (percentile intervals)
    bootstrap_seed: int = 0      # seeds the resampling: same tables on every run
    ci_level: float = 0.95       # confidence level of every interval
    threshold_rule: str = "youden"   # dense operating threshold on val: youden | f1
    min_group_positives: int = 5     # a subgroup × class with fewer positives is not reported
    calibration_bins: int = 10       # equal-width probability bins for ECE / reliability


@dataclass
class GradualConfig:
    """The `gmp_finetune` regime (core/regimes/gradual.py): fine-tuning between grid points."""
    finetune_steps: int = 100   # optimiser steps between consecutive grid sparsities
    lr: float = 1e-4            # Adam learning rate of the fine-tuning
    batch_size: int = 0         # 0: train.batch_size
    prune_every: int = 10       # steps between mask updates while the sparsity ramps up
    ramp: float = 0.5           # share of each interval's steps over which the cubic ramp runs


@dataclass
class StudyConfig:
    name: str = "study"
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: str = "resnet50"
    pretrained: bool = False
    image_size: int | None = None  # None: the model's declared input size
    seeds: list[int] = field(default_factory=lambda: [0])
    methods: list[str] = field(default_factory=lambda: ["l1_global", "random"])
    sparsities: list[int] = field(default_factory=lambda: list(DEFAULT_SPARSITIES))
    predict_batch_size: int = 512
    # float16 halves the stored dense weights (the shipped demo must stay small); the weights
    # are rounded *before* prediction, so the stored file is exactly the model evaluated.
    weights_dtype: str = "float32"
    train: TrainConfig = field(default_factory=TrainConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    gradual: GradualConfig = field(default_factory=GradualConfig)

    # ------------------------------------------------------------------ io
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, validate: bool = True) -> StudyConfig:
        cfg = _build(cls, data, path="")
        if validate:
            cfg.validate()
        return cfg

    @classmethod
    def load(cls, path, overrides: list[str] | None = None, validate: bool = True) -> StudyConfig:
        data = read_config_file(path)
        for item in overrides or []:
            apply_override(data, item)
        return cls.from_dict(data, validate=validate)

    def with_overrides(self, overrides: list[str]) -> StudyConfig:
        data = self.to_dict()
        for item in overrides:
            apply_override(data, item)
        return StudyConfig.from_dict(data)

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        check_study_name(self.name)
        _choice("dataset.name", self.dataset.name, registries.dataset_names())
        _choice("model", self.model, registries.model_names())
        for m in self.methods:
            _choice("methods", m, registries.method_names())
        if not self.methods:
            raise ConfigError(f"methods: at least one pruning method is needed; allowed: "
                              f"{', '.join(registries.method_names())}")
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"methods: duplicates in {self.methods}")
        if not self.seeds:
            raise ConfigError("seeds: at least one seed is needed, e.g. seeds: [0, 1, 2]")
        if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in self.seeds):
            raise ConfigError(f"seeds: must be non-negative integers, got {self.seeds}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: duplicates in {self.seeds}")
        if not self.sparsities:
            raise ConfigError("sparsities: empty; give integer percents such as [0, 5, …, 95]")
        for k in self.sparsities:
            if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= 99:
                raise ConfigError(f"sparsities: {k!r} is not an integer percent in 0–99 "
                                  "(write 50 for 50% sparsity)")
        if sorted(set(self.sparsities)) != list(self.sparsities):
            raise ConfigError(f"sparsities: must be strictly increasing, got {self.sparsities}")
        if self.sparsities[0] != 0:
            raise ConfigError("sparsities: must include 0 (the dense model every change is "
                              "measured against)")
        if self.dataset.eval_split not in ("val", "test"):
            raise ConfigError(f"dataset.eval_split: {self.dataset.eval_split!r}; "
                              "allowed: val, test")
        if self.image_size is not None and not 16 <= self.image_size <= 2048:
            raise ConfigError(f"image_size: {self.image_size} outside 16–2048")
        t = self.train
        _positive("train.epochs", t.epochs)
        _positive("train.batch_size", t.batch_size)
        _positive("predict_batch_size", self.predict_batch_size)
        if not t.lr > 0:
            raise ConfigError(f"train.lr: must be > 0, got {t.lr}")
        if t.patience < 1:
            raise ConfigError(f"train.patience: must be ≥ 1, got {t.patience}")
        if not 0 <= t.rotation_degrees <= 180:
            raise ConfigError(f"train.rotation_degrees: {t.rotation_degrees} outside 0–180")
        if not (t.device in ("auto", "cpu", "cuda") or t.device.startswith("cuda:")):
            raise ConfigError(f"train.device: {t.device!r}; allowed: auto, cpu, cuda, cuda:N")
        a = self.analysis
        if not 0 < a.drop_percent < 100:
            raise ConfigError(f"analysis.drop_percent: {a.drop_percent} outside 1–99")
        if a.at_sparsity not in self.sparsities:
            raise ConfigError(f"analysis.at_sparsity: {a.at_sparsity} is not in sparsities "
                              f"{self.sparsities}")
        if a.pie_sparsity not in self.sparsities or a.pie_sparsity == 0:
            raise ConfigError(f"analysis.pie_sparsity: {a.pie_sparsity} must be a non-zero "
                              f"member of sparsities {self.sparsities}")
        if not 0 < a.pie_percentile < 100:
            raise ConfigError(f"analysis.pie_percentile: {a.pie_percentile} outside (0, 100)")
        _choice("analysis.pair_variant", a.pair_variant, ["paper", "plain"])
        if a.bootstrap < 1:
            raise ConfigError(f"analysis.bootstrap: must be ≥ 1, got {a.bootstrap}")
        if not 0 < a.ci_level < 1:
            raise ConfigError(f"analysis.ci_level: {a.ci_level} outside (0, 1)")
        _choice("analysis.threshold_rule", a.threshold_rule, ["youden", "f1"])
        if a.min_group_positives < 1:
            raise ConfigError(f"analysis.min_group_positives: must be ≥ 1, got "
                              f"{a.min_group_positives}")
        if a.calibration_bins < 1:
            raise ConfigError(f"analysis.calibration_bins: must be ≥ 1, got {a.calibration_bins}")
        _choice("weights_dtype", self.weights_dtype, ["float32", "float16"])
        gr = self.gradual
        if not isinstance(gr.finetune_steps, int) or gr.finetune_steps < 0:
            raise ConfigError(f"gradual.finetune_steps: a non-negative integer, got "
                              f"{gr.finetune_steps!r}")
        if not gr.lr > 0:
            raise ConfigError(f"gradual.lr: must be > 0, got {gr.lr}")
        if not isinstance(gr.batch_size, int) or gr.batch_size < 0:
            raise ConfigError(f"gradual.batch_size: 0 (= train.batch_size) or a positive "
                              f"integer, got {gr.batch_size!r}")
        _positive("gradual.prune_every", gr.prune_every)
        if not 0 <= gr.ramp <= 1:
            raise ConfigError(f"gradual.ramp: a share of the steps in 0–1, got {gr.ramp}")


# ---------------------------------------------------------------------- helpers
def _choice(key: str, value, allowed) -> None:
    allowed = list(allowed)
    if value not in allowed:
        names = ", ".join(map(str, allowed))
        raise ConfigError(f"{key}: unknown value {value!r}; allowed: {names}")


def _positive(key: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{key}: must be a positive integer, got {value!r}")


def _build(cls, data, path: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(where + u for u in unknown)}; allowed: "
                          f"{', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in data.items():
        f = fields[name]
        sub = f"{path}.{name}" if path else name
        ftype = f.type if isinstance(f.type, type) else _SUBCONFIGS.get(name)
        if isinstance(ftype, type) and dataclasses.is_dataclass(ftype):
            kwargs[name] = _build(ftype, value, sub)
        else:
            kwargs[name] = _coerce(sub, value, f)
    return cls(**kwargs)


_SUBCONFIGS = {"dataset": DatasetConfig, "train": TrainConfig, "analysis": AnalysisConfig,
               "gradual": GradualConfig}


def _coerce(key: str, value, f: dataclasses.Field):
    """Check a leaf value's type against the field's default (the dataclass is the schema)."""
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        value = float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
    elif isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
    elif isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
    return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` merges defaults that explicit keys may override
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue  # the base constructor reports unhashable keys itself
        line = key_node.start_mark.line + 1
        if key in seen:
            where = f"line {line}" if seen[key] == line else f"lines {seen[key]} and {line}"
            raise ConfigError(f"duplicate key {key!r} ({where}); give each key once")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _unique_mapping)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict:
    """json `object_pairs_hook`: refuse a key given twice in one object (json keeps the last)."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ConfigError(f"duplicate key {key!r}; give each key once")
        out[key] = value
    return out


def parse_config_text(text: str, json_format: bool = False):
    """YAML (or JSON) text → Python data; a key repeated in any mapping is an error."""
    if json_format:
        return json.loads(text, object_pairs_hook=_unique_object)
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def read_config_file(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text()
    try:
        data = parse_config_text(text, json_format=path.suffix == ".json")
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot parse ({exc})") from exc
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return data


def check_study_name(name) -> None:
    """`name` becomes the folder `studies/<name>` when no --out is given: it must be one
    plain folder name, never a path (`../x`, `/abs`, `a/b`) or a name a shell misreads."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"name: must be a non-empty folder name, got {name!r}")
    bad = None
    if name != name.strip():
        bad = "leading or trailing spaces"
    elif name in (".", ".."):
        bad = "it names the current or parent folder"
    elif "/" in name or "\\" in name:
        bad = "it contains a path separator (/ or \\)"
    elif name.startswith("-"):
        bad = "it starts with '-' (read as an option by command-line tools)"
    elif name.startswith("~"):
        bad = "it starts with '~' (a home folder to a shell)"
    elif any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        bad = "it contains a control or invisible formatting character"
    elif ":" in name:
        bad = "it contains ':' (a drive or stream name on Windows)"
    elif len(name.encode("utf-8")) > 200:
        bad = "it is longer than 200 bytes"
    if bad:
        raise ConfigError(f"name: {name!r} is not a single safe folder name: {bad}; "
                          "use letters, digits, '-', '_' or '.', e.g. name: my-study")


def apply_override(data: dict, item: str) -> None:
    """Apply one ``key.path=value`` override (value parsed as YAML) to a nested dict."""
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected key.path=value, e.g. train.epochs=5")
    key, raw = item.split("=", 1)
    try:
        value: Any = parse_config_text(raw) if raw.strip() else ""
    except (yaml.YAMLError, ConfigError) as exc:
        raise ConfigError(f"override {item!r}: cannot parse the value ({exc})") from exc
    parts = key.strip().split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {p} is not a section")
    node[parts[-1]] = value
