"""SynthCXR's `signature_map`: the default is today's data byte for byte; a map moves the
drawn signatures and nothing else; bad maps are refused with one line naming the key."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from core.cli import main
from core.config import DatasetConfig
from core.data import load_dataset, source_from_description
from core.data.synth_findings import FINDINGS
from core.data.synthcxr import SynthSource, check_signature_map, drawn_signatures
from core.errors import ConfigError

OPTS = {"n_images": 3000, "seed": 3}
# sha256 of what the code before `signature_map` existed (main at 11ef3c4) produced for
# OPTS: 40 images (the first 3 positives of every finding + 6 without findings) at 32 and
# 64 px, the table as CSV and the dataset description as sorted JSON.
BEFORE = {
    32: "84aa761f77043f141c68650d4aaf01fd37748434eb010a8ac725f4625ecd0174",
    64: "33fd935bf135212f2d0e11b5be58a6b8dd7ae5ebfbed439292a08d6038ed5cc4",
    "table": "87a1e9a0c3f13235abeb9ea275f803cd42af2150d37050b351c4c6e5de438dcb",
    "description": "c835377d7629fe4fb1f95bd93993e75d2b01b82f6bd36fd04894f0e6917afc28",
}
SWAP = {"Nodule": "Cardiomegaly", "Cardiomegaly": "Nodule"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def ds():
    return load_dataset(DatasetConfig(name="synthcxr", options=OPTS))


def _sample_rows(table):
    rows = []
    for f in FINDINGS:
        rows += list(np.flatnonzero(table[f].to_numpy() > 0.5)[:3])
    rows += list(np.flatnonzero(table[FINDINGS].to_numpy().sum(1) == 0)[:6])
    return table.iloc[sorted(set(rows))]


def test_default_is_byte_identical_to_the_code_before_the_option(ds):
    rows = _sample_rows(ds.table)
    assert len(rows) == 40
    for size in (32, 64):
        assert _sha(ds.source.load(rows, size).tobytes()) == BEFORE[size]
    assert _sha(ds.table.to_csv(index=False).encode()) == BEFORE["table"]
    assert _sha(json.dumps(ds.description, sort_keys=True, default=str).encode()) == \
        BEFORE["description"]
    assert "signature_map" not in ds.source.describe()


def test_identity_given_explicitly_is_the_default(ds):
    ident = {f: f for f in FINDINGS}
    assert check_signature_map(ident) is None and check_signature_map({"Hernia": "Hernia"}) \
        is None
    other = load_dataset(DatasetConfig(name="synthcxr", options={**OPTS,
                                                                 "signature_map": ident}))
    assert other.description == ds.description
    rows = _sample_rows(ds.table)
    assert np.array_equal(other.source.load(rows, 32), ds.source.load(rows, 32))


def test_a_map_keeps_the_table_and_swaps_only_the_drawn_signatures(ds):
    mapped = load_dataset(DatasetConfig(name="synthcxr", options={**OPTS, "signature_map": SWAP}))
    # labels, quality, label noise: the real table, unchanged
    assert mapped.table.equals(ds.table)
    assert mapped.description["options"]["signature_map"]["Nodule"] == "Cardiomegaly"
    # Without label noise, drawing Cardiomegaly's signature for the Nodule column (and the
    # reverse) is the same as the identity map on rows whose two columns are swapped.
    rows = _sample_rows(ds.table)
    swapped = rows.rename(columns={"Nodule": "Cardiomegaly", "Cardiomegaly": "Nodule"})
    a = SynthSource(3, 1.0, 0.0, SWAP).load(rows, 32)
    b = SynthSource(3, 1.0, 0.0).load(swapped, 32)
    assert np.array_equal(a, b)
    # and it does change the images that carry either finding, and only those
    plain = SynthSource(3, 1.0, 0.0).load(rows, 32)
    differs = (a != plain).reshape(len(rows), -1).any(axis=1)
    carries = (rows[["Nodule", "Cardiomegaly"]].to_numpy() > 0.5).any(axis=1)
    assert differs[carries].all() and not differs[~carries].any()


def test_drawn_signatures_moves_columns_as_the_map_says():
    drawn = np.zeros((2, 14), dtype=bool)
    drawn[0, FINDINGS.index("Nodule")] = True
    drawn[1, FINDINGS.index("Hernia")] = True
    full = {f: f for f in FINDINGS} | SWAP
    out = drawn_signatures(drawn, full)
    assert out[0, FINDINGS.index("Cardiomegaly")] and out[0].sum() == 1
    assert out[1, FINDINGS.index("Hernia")] and out[1].sum() == 1


def test_description_round_trip_keeps_the_map(ds):
    src = SynthSource(3, 1.0, 0.04, SWAP)
    back = source_from_description(src.describe())
    assert back.signature_map == src.signature_map
    rows = _sample_rows(ds.table).iloc[:6]
    assert np.array_equal(back.load(rows, 32), src.load(rows, 32))


@pytest.mark.parametrize("value, words", [
    ({"Hernia": "Nodule"}, "not a permutation: Nodule"),
    ({"Hernia": "Pneumonitis"}, "unknown finding(s) 'Pneumonitis'"),
    ({"Hernia": "No Finding", "No Finding": "Hernia"}, "'No Finding'"),
    ({"No Finding": "No Finding"}, "'No Finding'"),
    (["Hernia", "Nodule"], "a mapping"),
])
def test_bad_maps_are_refused_naming_the_key(value, words):
    with pytest.raises(ConfigError) as err:
        load_dataset(DatasetConfig(name="synthcxr", options={"n_images": 500,
                                                             "signature_map": value}))
    msg = str(err.value)
    assert msg.startswith("dataset.options.signature_map: ") and words in msg
    assert "\n" not in msg


def test_cli_bad_map_is_one_line_and_exit_2(capsys):
    code = main(["dataset", "synthcxr", "-o", "n_images=500", "-o",
                 "signature_map={Hernia: Nodule}", "--summary"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "dataset.options.signature_map" in err
    assert "not a permutation" in err
