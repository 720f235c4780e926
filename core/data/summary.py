"""`python -m core dataset SPEC [--option KEY=VALUE …] --summary`: describe a dataset.

SPEC is a dataset name (options from --option) or a study config file (its `dataset`
section; --option adds to or replaces its options). Only labels are read, never pixels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from core.config import DatasetConfig, StudyConfig, parse_config_text, read_config_file
from core.data import SPLITS, Dataset, load_dataset
from core.data.stats import class_counts, findings_histogram, findings_per_image
from core.errors import ConfigError


def parse_options(items: list[str]) -> dict:
    """``--option KEY=VALUE`` items as a dict; values are YAML (numbers, lists, true/false).

    Args:
        items (list[str] | None): ["key=value", …].

    Returns:
        dict: key → parsed value ("" for an empty value).

    Raises:
        ConfigError: for an item without "=" or a value that does not parse.

    Example:
        >>> parse_options(["seed=3", "fractions=[0.8, 0.1, 0.1]", "image_root=/data"])
        {'seed': 3, 'fractions': [0.8, 0.1, 0.1], 'image_root': '/data'}
    """
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--option {item!r}: expected KEY=VALUE, e.g. label_dir=/data")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = parse_config_text(raw) if raw.strip() else ""
        except (yaml.YAMLError, ConfigError) as exc:
            raise ConfigError(f"--option {item!r}: cannot parse the value ({exc})") from exc
    return out


def dataset_config(spec: str, options: list[str]) -> DatasetConfig:
    """The DatasetConfig that SPEC (dataset name or config file) and --option describe.

    Args:
        spec (str): a dataset name, or a study config file (.yaml/.yml/.json or an existing
            file) whose dataset section is used.
        options (list[str]): ``KEY=VALUE`` items, overriding the file's options.

    Returns:
        DatasetConfig: the dataset's name and options.

    Raises:
        ConfigError: as `parse_options`, or for an unreadable config file.
    """
    extra = parse_options(options)
    path = Path(spec)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
        cfg = StudyConfig.from_dict(read_config_file(path), validate=False).dataset
        cfg.options = {**(cfg.options or {}), **extra}
        return cfg
    return DatasetConfig(name=spec, options=extra)


def format_table(header: list[str], rows: list[list], indent: str = "  ") -> str:
    """Aligned text table: first column left-aligned, the others right-aligned.

    Args:
        header (list[str]): the column names.
        rows (list[list]): the rows (numbers formatted with thousands separators).
        indent (str): put before each line.

    Returns:
        str: header, a dashed rule, then the rows.
    """
    cells = [[_cell(v) for v in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for k, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(row[1:], widths[1:],
                                                                         strict=True)]
        lines.append(indent + "  ".join(parts).rstrip())
        if k == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(v) -> str:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"{int(v):,}"
    return str(v)


def summary_text(ds: Dataset) -> str:
    """A dataset's counts in words and tables (`python -m core dataset SPEC --summary`).

    Args:
        ds (Dataset): the loaded dataset.

    Returns:
        str: images and patients per split, positives per class and split, images per
        number of findings, warnings and notes; ends with a newline.
    """
    d, t, classes = ds.description, ds.table, ds.classes
    present = [s for s in SPLITS if (t["split"] == s).any()]
    out = [f"dataset {ds.name}: {len(t):,} images, {t['patient_id'].nunique():,} patients, "
           f"{len(classes)} classes (evaluation split: {d.get('eval_split')})", ""]

    rows = [[s, d["splits"][s]["images"], d["splits"][s]["patients"],
             f"{d['splits'][s]['images'] / max(len(t), 1):.1%}"] for s in present]
    rows.append(["total", len(t), t["patient_id"].nunique(), "100.0%"])
    out += ["Images and patients per split", format_table(["split", "images", "patients",
                                                           "share"], rows), ""]

    counts = class_counts(t, classes, present)
    unc = d.get("uncertain_counts", {})
    rows = []
    for i, c in enumerate(classes):
        pos = [int(counts.at[i, f"{s}_pos"]) for s in present]
        rows.append([c, *pos, sum(pos), d["nan_counts"][c], unc.get(c, 0)])
    out += ["Positive images per class and split (NaN = not labelled: blank or -1)",
            format_table(["class", *present, "total", "NaN", "of which -1"], rows), ""]

    rows = []
    for s in present:
        y = t.loc[t["split"] == s, classes].to_numpy(dtype=np.float64)
        hist = findings_histogram(findings_per_image(y, classes))
        rows.append([s, *map(int, hist.to_numpy())])
    hist = findings_histogram(findings_per_image(t[classes].to_numpy(np.float64), classes))
    rows.append(["total", *map(int, hist.to_numpy())])
    out += ["Images per number of findings (No Finding not counted)",
            format_table(["split", *hist.index], rows), ""]

    for key, what in (("classes_without_positives", "no positive"),
                      ("classes_without_negatives", "no negative")):
        if d.get(key):
            out.append(f"warning: {len(d[key])} class(es) with {what} image in the "
                       f"{d['eval_split']} split (AP/AUC undefined there): {', '.join(d[key])}")
    for note in d.get("notes", []):
        out.append(f"note: {note}")
    return "\n".join(out).rstrip() + "\n"


def main(args) -> int:
    """`python -m core dataset SPEC [--option K=V …] [--summary]`: load and describe a dataset.

    Args:
        args (argparse.Namespace): ``spec``, ``option``, ``summary``.

    Returns:
        int: exit status 0; loading errors propagate.
    """
    cfg = dataset_config(args.spec, getattr(args, "option", []))
    ds = load_dataset(cfg)
    if getattr(args, "summary", False):
        print(summary_text(ds), end="")
    else:
        d = ds.description
        print(f"dataset {ds.name}: {d['n_images']:,} images, {d['n_patients']:,} patients, "
              f"{len(ds.classes)} classes; add --summary for counts per split and class")
    return 0
