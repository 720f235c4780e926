"""`python -m core dataset SPEC --summary` on a csv dataset written by the test."""
from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from core import cli
from core.data.summary import format_table, main, parse_options
from core.errors import ConfigError


def write_dataset(tmp_path):
    frame = pd.DataFrame({
        "file": [f"{i}.png" for i in range(8)],
        "patient": ["p1", "p1", "p2", "p3", "p4", "p5", "p6", "p6"],
        "split": ["train", "train", "train", "train", "val", "test", "test", "test"],
        "No Finding": [1, 0, 0, 0, 1, 0, 0, 1],
        "Edema": [0, 1, 1, -1, 0, 1, 1, 0],
        "Hernia": [0, 1, 0, None, 0, 0, 0, 0],  # no positive in the test split
    })
    path = tmp_path / "labels.csv"
    frame.to_csv(path, index=False)
    return path


def options(path) -> list[str]:
    return [f"path={path}", "image_column=file", "split_column=split",
            "patient_column=patient"]


def run(spec, opts, summary=True) -> int:
    return main(argparse.Namespace(spec=str(spec), option=opts, summary=summary))


def table_lines(text: str, title: str) -> list[str]:
    block = text.split(title + "\n", 1)[1].split("\n\n", 1)[0]
    return block.splitlines()


def test_summary_prints_split_class_nan_and_findings_tables(tmp_path, capsys):
    path = write_dataset(tmp_path)
    assert run("csv", options(path)) == 0
    out = capsys.readouterr().out
    assert out.startswith("dataset csv: 8 images, 6 patients, 3 classes (evaluation split: test)")
    splits = table_lines(out, "Images and patients per split")
    assert splits[2].split() == ["train", "4", "3", "50.0%"]
    assert splits[3].split() == ["val", "1", "1", "12.5%"]
    assert splits[4].split() == ["test", "3", "2", "37.5%"]
    assert splits[5].split() == ["total", "8", "6", "100.0%"]
    classes = table_lines(out, "Positive images per class and split (NaN = not labelled: "
                               "blank or -1)")
    assert classes[0].split() == ["class", "train", "val", "test", "total", "NaN", "of",
                                  "which", "-1"]
    assert classes[2].split() == ["No", "Finding", "1", "1", "1", "3", "0", "0"]
    assert classes[3].split() == ["Edema", "2", "0", "2", "4", "1", "1"]
    assert classes[4].split() == ["Hernia", "1", "0", "0", "1", "1", "0"]
    # right-aligned numbers: every row of a table ends in the same column
    assert len({len(line) for line in classes}) == 1
    findings = table_lines(out, "Images per number of findings (No Finding not counted)")
    assert findings[0].split() == ["split", "0", "1", "2", "3", "4+"]
    assert findings[2].split() == ["train", "2", "1", "1", "0", "0"]  # image 1: Edema + Hernia
    assert findings[5].split() == ["total", "4", "3", "1", "0", "0"]
    assert "warning: 1 class(es) with no positive image in the test split" in out
    assert "Hernia" in out.split("warning:")[1]


def test_summary_from_a_config_file_with_extra_options(tmp_path, capsys):
    path = write_dataset(tmp_path)
    cfg = {"dataset": {"name": "csv", "eval_split": "val",
                       "options": {"path": str(path), "image_column": "file",
                                   "split_column": "split"}}}
    (tmp_path / "study.json").write_text(json.dumps(cfg))
    assert run(tmp_path / "study.json", ["patient_column=patient"]) == 0
    out = capsys.readouterr().out
    assert "6 patients" in out and "(evaluation split: val)" in out
    assert "no positive image in the val split" in out  # Edema and Hernia lack one in val


def test_without_summary_prints_one_line(tmp_path, capsys):
    path = write_dataset(tmp_path)
    assert run("csv", options(path), summary=False) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "8 images" in out


def test_cli_dataset_command_and_its_errors(tmp_path, capsys):
    path = write_dataset(tmp_path)
    argv = ["dataset", "csv", *[a for o in options(path) for a in ("-o", o)], "--summary"]
    assert cli.main(argv) == 0
    assert "Images and patients per split" in capsys.readouterr().out
    assert cli.main(["dataset", "csv", "-o", f"path={tmp_path / 'nope.csv'}", "-o",
                     "split_column=split"]) == 2
    assert "error: label file not found" in capsys.readouterr().err
    assert cli.main(["dataset", "nih", "--summary"]) == 2
    assert "allowed: chestx-ray14, csv" in capsys.readouterr().err
    assert cli.main(["dataset", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_parse_options_reads_yaml_values():
    opts = parse_options(["class_columns=[A, B]", "seed=3", "image_root=/data/x", "flag=true",
                          "empty="])
    assert opts == {"class_columns": ["A", "B"], "seed": 3, "image_root": "/data/x",
                    "flag": True, "empty": ""}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_options(["novalue"])


def test_format_table_aligns_columns():
    text = format_table(["name", "n"], [["a", 1234], ["long name", 5]], indent="")
    assert text.splitlines() == ["name           n",
                                 "---------  -----",
                                 "a          1,234",
                                 "long name      5"]
