"""StudyConfig: the one run configuration of a study, saved into the study.

Loaded from YAML or JSON, overridden from the CLI with ``--set key.path=value``, and
validated before any work starts: unknown keys and invalid values are rejected with a
message that names the key and the allowed values.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core import registries
from core.config_text import DuplicateKeyError, parse_error_text, parse_text
from core.errors import ConfigError

DEFAULT_SPARSITIES = list(range(0, 100, 5))  # integer percents: 0, 5, …, 95
# The paper reports relative AP change at 95% and finds PIEs at 90%: the defaults of
# analysis.at_sparsity / pie_sparsity when the grid has them (else the grid's largest).
PAPER_AT_SPARSITY, PAPER_PIE_SPARSITY = 95, 90

@dataclass
class DatasetConfig:
    """Which dataset a study reads, and how.

    Attributes:
        name (str): a registered dataset format (synthcxr, nih-cxr-lt, mimic-cxr-lt,
            chestx-ray14, csv).
        options (dict): the format's options (label_dir, image_root, n_images, …), validated
            by its loader.
        eval_split (str): "test" or "val", the split every metric is computed on.
        skip_missing_images (bool): record missing/unreadable images instead of failing.
    """
    name: str = "synthcxr"
    # Options of the dataset format (label_dir, image_root, n_images, …), validated by its loader.
    options: dict = field(default_factory=dict)
    eval_split: str = "test"
    # Missing/unreadable images are an error unless this is set; then their number is recorded.
    skip_missing_images: bool = False


@dataclass
class TrainConfig:
    """How each seed's dense model is trained.

    Attributes:
        epochs (int): the most epochs.
        batch_size (int): images per step.
        lr (float): Adam's learning rate.
        weight_decay (float): weight decay.
        patience (int): early stopping on validation loss after this many epochs without a
            better one.
        hflip (bool): random horizontal flips.
        rotation_degrees (float): random rotations up to ± this.
        amp (bool): mixed precision (CUDA only).
        channels_last (bool): channels-last memory format (CUDA only).
        channels_last_cpu (bool): channels-last training on the CPU too (off by default: the
            float results differ in the last bits from the default layout's, so turning it
            on changes what a seed trains to).
        num_workers (int): DataLoader workers for the CUDA path (0 = in-process).
        device (str): auto | cpu | cuda | cuda:N.
        threads (int): torch CPU threads (0 = torch's default).
    """
    epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 0.0
    patience: int = 15          # early stopping on validation loss
    hflip: bool = True
    rotation_degrees: float = 15.0
    amp: bool = True            # mixed precision, used on CUDA only
    channels_last: bool = True  # used on CUDA only
    # ~1.1–1.4× faster smallcnn training on a 2-core CPU (benchmarks/RESULTS.md), but other
    # bits than the default layout: off, so existing studies train as they always did
    channels_last_cpu: bool = False
    num_workers: int = 0        # DataLoader workers for the CUDA path (0 = in-process)
    device: str = "auto"        # auto | cpu | cuda | cuda:N
    threads: int = 0            # torch CPU threads (0 = torch's default)


@dataclass
class AnalysisConfig:
    """The analysis settings (the paper's by default).

    Attributes:
        drop_percent (int): k of the first k%-drop sparsity.
        at_sparsity (int | None): the sparsity the relative AP change is reported at; None =
            95 when the grid has it, else the grid's largest (resolved by StudyConfig).
        pie_sparsity (int | None): PIEs compare dense with this sparsity; None = 90 when the
            grid has it, else the grid's largest.
        pie_percentile (float): PIEs are the bottom p% of per-image Spearman correlation.
        pair_variant (str): FCD pair plots: "paper" (column sums) or "plain" (image counts).
        bootstrap (int): bootstrap replicates (percentile intervals).
        bootstrap_seed (int): seeds the resampling: the same tables on every run.
        ci_level (float): confidence level of every interval.
        threshold_rule (str): dense operating threshold on val: "youden" or "f1".
        min_group_positives (int): a subgroup × class with fewer positives is not reported.
        calibration_bins (int): equal-width probability bins for ECE / reliability.
    """
    drop_percent: int = 20       # first k%-drop sparsity
    # None: the paper's value (95 / 90) when the grid has it, else the grid's largest sparsity
    # (resolved by StudyConfig, so study.json records the number used)
    at_sparsity: int | None = None   # relative AP change reported at this sparsity
    pie_sparsity: int | None = None  # PIEs compare dense with this sparsity
    pie_percentile: float = 5.0  # bottom p% of per-image Spearman correlation
    pair_variant: str = "paper"  # FCD pair plots: paper (column sums) | plain (image counts)
    # Beyond the paper (core.analysis.beyond_paper): bootstrap CIs, subgroups, missed findings.
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
    """Everything that defines a study; stored in study.json, validated by `validate`.

    Attributes:
        name (str): a single safe folder name (`check_study_name`).
        dataset (DatasetConfig): the data.
        model (str): a registered architecture.
        pretrained (bool): start from pretrained weights (where the model has them).
        image_size (int | None): None = the model's declared input size.
        seeds (list[int]): non-negative, distinct.
        methods (list[str]): registered pruning methods, distinct.
        sparsities (list[int]): integer percents in 0–99, strictly increasing, from 0.
        predict_batch_size (int): images per inference batch.
        weights_dtype (str): "float32" or "float16"; the weights are rounded before
            prediction, so the stored file is exactly the model evaluated.
        train (TrainConfig): training.
        analysis (AnalysisConfig): analysis (at_sparsity / pie_sparsity resolved on
            creation).
        gradual (GradualConfig): the gradual-pruning regime's settings.
    """
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

    def __post_init__(self):
        a = self.analysis
        if isinstance(a, AnalysisConfig):
            if a.at_sparsity is None:
                a.at_sparsity = grid_default(self.sparsities, PAPER_AT_SPARSITY)
            if a.pie_sparsity is None:
                a.pie_sparsity = grid_default(self.sparsities, PAPER_PIE_SPARSITY)

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
        for key, paper in (("at_sparsity", PAPER_AT_SPARSITY),
                           ("pie_sparsity", PAPER_PIE_SPARSITY)):
            # a value that is the grid's default follows a new grid, as if never set
            if data["analysis"][key] == grid_default(self.sparsities, paper):
                data["analysis"][key] = None
        for item in overrides:
            apply_override(data, item)
        return StudyConfig.from_dict(data)

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise ConfigError (one line: the key, what is allowed, what was given) unless every
        value is of its field's type and in its range, and the names are registered ones."""
        _check_types(self, "")
        for key, rule in _RULES.items():
            _check_rule(key, _lookup(self, key), rule)
        check_study_name(self.name)
        _choice("dataset.name", self.dataset.name, registries.dataset_names())
        _choice("model", self.model, registries.model_names())
        if self.pretrained and self.model not in registries.pretrained_model_names():
            raise ConfigError(f"pretrained: {self.model} has no pretrained weights (it is "
                              "trained from scratch); pretrained: true is allowed with model "
                              f"{', '.join(registries.pretrained_model_names())}, else use "
                              "pretrained: false")
        for m in self.methods:
            _choice("methods", m, registries.method_names())
        if not self.methods:
            raise ConfigError(f"methods: at least one pruning method is needed; allowed: "
                              f"{', '.join(registries.method_names())}")
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"methods: duplicates in {self.methods}")
        if not self.seeds:
            raise ConfigError("seeds: at least one seed is needed, e.g. seeds: [0, 1, 2]")
        if any(seed < 0 for seed in self.seeds):
            raise ConfigError(f"seeds: must be non-negative integers, got {self.seeds}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds: duplicates in {self.seeds}")
        self._check_grid()
        _choice("dataset.eval_split", self.dataset.eval_split, ["val", "test"])
        if not _DEVICE.fullmatch(self.train.device):
            raise ConfigError(f"train.device: expected auto, cpu, cuda or cuda:N (N = a GPU "
                              f"index such as 0), got {self.train.device!r}")
        a = self.analysis
        _choice("analysis.pair_variant", a.pair_variant, ["paper", "plain"])
        _choice("analysis.threshold_rule", a.threshold_rule, ["youden", "f1"])
        _choice("weights_dtype", self.weights_dtype, ["float32", "float16"])

    def _check_grid(self) -> None:
        if not self.sparsities:
            raise ConfigError("sparsities: empty; give integer percents such as [0, 5, …, 95]")
        for sparsity in self.sparsities:
            if not 0 <= sparsity <= 99:
                raise ConfigError(f"sparsities: {sparsity!r} is not an integer percent in 0–99 "
                                  "(write 50 for 50% sparsity)")
        if sorted(set(self.sparsities)) != list(self.sparsities):
            raise ConfigError(f"sparsities: must be strictly increasing, got {self.sparsities}")
        if self.sparsities[0] != 0:
            raise ConfigError("sparsities: must include 0 (the dense model every change is "
                              "measured against)")
        if len(self.sparsities) < 2:
            raise ConfigError("sparsities: needs a sparsity above 0 besides the dense 0, e.g. "
                              "[0, 50, 90]")
        a, nonzero = self.analysis, ", ".join(map(str, self.sparsities[1:]))
        if a.at_sparsity not in self.sparsities:
            raise ConfigError(f"analysis.at_sparsity: {a.at_sparsity!r} is not in sparsities; "
                              f"allowed: {', '.join(map(str, self.sparsities))} (or leave it "
                              "out: 95 when the grid has it, else the largest)")
        if a.pie_sparsity not in self.sparsities[1:]:
            raise ConfigError(f"analysis.pie_sparsity: {a.pie_sparsity!r} must be a non-zero "
                              f"member of sparsities; allowed: {nonzero} (or leave it out: 90 "
                              "when the grid has it, else the largest)")


def grid_default(sparsities, paper: int) -> int | None:
    """The paper's sparsity when the grid has it, else the grid's largest non-zero one.

    Args:
        sparsities (list[int]): the grid (anything but a list gives None).
        paper (int): the paper's value.

    Returns:
        int | None: the sparsity; None when the grid has no non-zero integer (validation
        names the grid then).

    Example:
        >>> grid_default([0, 50, 90, 95], 95), grid_default([0, 50, 80], 95), grid_default([0], 95)
        (95, 80, None)
    """
    if not isinstance(sparsities, list):
        return None
    nonzero = [sparsity for sparsity in sparsities if _is_int(sparsity) and sparsity > 0]
    if paper in nonzero:
        return paper
    return max(nonzero) if nonzero else None


# ---------------------------------------------------------------------- helpers
def _choice(key: str, value, allowed) -> None:
    allowed = list(allowed)
    if value not in allowed:
        names = ", ".join(map(str, allowed))
        raise ConfigError(f"{key}: unknown value {value!r}; allowed: {names}")


def _build(cls, data, path: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping of keys "
                          f"({', '.join(sorted(fields))}), got {_shown(data)}")
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
    """`value` checked against the field's annotated type (the dataclass is the schema):
    integers are integers (not 32.5, "32" or true), numbers are finite; ints become floats
    where a float is meant. Raises ConfigError naming the key and what is allowed."""
    kind, optional = _kind(f)
    if value is None:
        if optional:
            return None
        if kind == "dict":
            return {}
    elif kind == "bool" and isinstance(value, bool):
        return value
    elif kind == "int" and _is_int(value):
        return value
    elif kind == "float" and _is_number(value) and math.isfinite(value):
        return float(value)
    elif kind == "str" and isinstance(value, str):
        return value
    elif kind == "dict" and isinstance(value, dict):
        return value
    elif kind == "list[int]" and isinstance(value, list) and all(map(_is_int, value)):
        return list(value)
    elif kind == "list[str]" and isinstance(value, list) and all(
            isinstance(v, str) for v in value):
        return list(value)
    elif kind not in _KINDS:
        return value
    rule = _RULES.get(key)
    allowed = rule.text() if rule is not None else _LISTS.get(key, _KINDS[kind])
    if optional and rule is None:
        allowed += " or null"
    got = "null" if value is None else _shown(value)
    raise ConfigError(f"{key}: expected {allowed}, got {got}")


_DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")


@dataclass(frozen=True)
class _Range:
    """Allowed numbers of one key: integers or finite numbers between lo and hi."""
    integer: bool
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    note: str = ""

    def text(self) -> str:
        noun = "an integer" if self.integer else "a finite number"
        lo = None if self.lo is None else f"{self.lo:g}"
        hi = None if self.hi is None else f"{self.hi:g}"
        if lo is not None and hi is not None:
            if self.lo_open or self.hi_open:
                where = (f"in {'(' if self.lo_open else '['}{lo}, "
                         f"{hi}{')' if self.hi_open else ']'}")
            else:
                where = f"in {lo}–{hi}"
        elif lo is not None:
            where = f"{'>' if self.lo_open else '≥'} {lo}"
        else:
            where = ""
        return " ".join(x for x in (noun, where, self.note) if x)

    def holds(self, v) -> bool:
        if not self.integer and not math.isfinite(v):
            return False
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return False
        return not (self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi))


# Every numeric key: its type comes from the dataclass field, its range from here.
_RULES: dict[str, _Range] = {
    "image_size": _Range(True, 16, 2048, note="or null (the model's input size)"),
    "predict_batch_size": _Range(True, 1),
    "train.epochs": _Range(True, 1),
    "train.batch_size": _Range(True, 1),
    "train.lr": _Range(False, 0, lo_open=True),
    "train.weight_decay": _Range(False, 0),
    "train.patience": _Range(True, 1),
    "train.rotation_degrees": _Range(False, 0, 180),
    "train.num_workers": _Range(True, 0),
    "train.threads": _Range(True, 0, note="(0 = torch's default)"),
    "analysis.drop_percent": _Range(True, 1, 99),
    "analysis.pie_percentile": _Range(False, 0, 100, lo_open=True, hi_open=True),
    "analysis.bootstrap": _Range(True, 1),
    "analysis.bootstrap_seed": _Range(True, 0),
    "analysis.ci_level": _Range(False, 0, 1, lo_open=True, hi_open=True),
    "analysis.min_group_positives": _Range(True, 1),
    "analysis.calibration_bins": _Range(True, 1),
    "gradual.finetune_steps": _Range(True, 0),
    "gradual.lr": _Range(False, 0, lo_open=True),
    "gradual.batch_size": _Range(True, 0, note="(0 = train.batch_size)"),
    "gradual.prune_every": _Range(True, 1),
    "gradual.ramp": _Range(False, 0, 1, note="(a share of each interval's steps)"),
}

_LISTS = {"sparsities": "a list of integer percents in 0–99 from 0 up (write 50 for 50% "
                        "sparsity)",
          "seeds": "a list of non-negative integers"}

_KINDS = {"bool": "true or false", "int": "an integer", "float": "a finite number",
          "str": "a text value", "list[int]": "a list of integers",
          "list[str]": "a list of names", "dict": "a mapping of keys"}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _shown(value) -> str:
    """The given value for an error line; a quoted number says why it was not read as one."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "…"
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return text
        return f"{text} (quoted: text, not a number; write it without quotes)"
    return text


def _lookup(cfg, key: str):
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _check_rule(key: str, value, rule: _Range) -> None:
    if value is not None and not rule.holds(value):  # None: an optional field left out
        raise ConfigError(f"{key}: expected {rule.text()}, got {_shown(value)}")


def _kind(f: dataclasses.Field) -> tuple[str, bool]:
    """(type name, optional) of a field from its annotation (a string: postponed annotations)."""
    text = str(f.type).replace(" ", "")
    return text.removesuffix("|None"), text.endswith("|None")


def _check_types(cfg, path: str) -> None:
    for f in dataclasses.fields(cfg):
        key = f"{path}.{f.name}" if path else f.name
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            _check_types(value, key)
        else:
            _coerce(key, value, f)


def parse_config_text(text: str, json_format: bool = False):
    """YAML (or JSON) text → Python data; a key repeated in any mapping is an error.

    Args:
        text (str): the text.
        json_format (bool): parse as JSON instead of YAML.

    Returns:
        Any: the parsed data.

    Raises:
        ConfigError: for a repeated key.
        yaml.YAMLError | json.JSONDecodeError: for text that does not parse.

    Example:
        >>> parse_config_text("seeds: [0, 1]")
        {'seeds': [0, 1]}
    """
    try:
        return parse_text(text, json_format)
    except DuplicateKeyError as exc:
        raise ConfigError(str(exc)) from exc


def read_config_file(path) -> dict:
    """A study config file (YAML, or JSON by its .json suffix) as a dict.

    Args:
        path (str | Path): the file.

    Returns:
        dict: the top-level mapping ({} for an empty file).

    Raises:
        ConfigError: naming the file when it is missing, does not parse, repeats a key, or
            its top level is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text()
    try:
        data = parse_config_text(text, json_format=path.suffix == ".json")
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot parse ({parse_error_text(exc)})") from exc
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return data


def check_study_name(name) -> None:
    """Refuse a study name that is not one plain folder name.

    `name` becomes the folder ``studies/<name>`` when no --out is given: it must never be a
    path (``../x``, ``/abs``, ``a/b``) or a name a shell misreads.

    Args:
        name (str): the name.

    Raises:
        ConfigError: naming what is wrong (empty, spaces around it, . or .., a path
            separator, a leading '-' or '~', control characters, ':', over 200 bytes).
    """
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
    """Apply one ``key.path=value`` override (value parsed as YAML) to a nested dict, in place.

    Missing sections are created.

    Args:
        data (dict): the config data; updated.
        item (str): ``key.path=value``.

    Raises:
        ConfigError: without "=", for a value that does not parse, or when a path part is
            not a section.

    Example:
        >>> d = {"train": {"epochs": 60}}
        >>> apply_override(d, "train.epochs=5"); d
        {'train': {'epochs': 5}}
    """
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected key.path=value, e.g. train.epochs=5")
    key, raw = item.split("=", 1)
    try:
        value: Any = parse_config_text(raw) if raw.strip() else ""
    except (yaml.YAMLError, ConfigError) as exc:
        raise ConfigError(f"override {item!r}: cannot parse the value "
                          f"({parse_error_text(exc)})") from exc
    parts = key.strip().split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {item!r}: {p} is not a section")
    node[parts[-1]] = value
