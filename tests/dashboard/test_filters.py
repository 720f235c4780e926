"""The URL codec of the shared filters (no Streamlit)."""
from __future__ import annotations

from dashboard.common.filters import Filters, decode, defaults, encode

CLASSES = ["No Finding", "Effusion", "Hernia"]
GRID = [0, 25, 50, 70, 90, 95]
METHODS = ["l1_global", "random"]
SEEDS = [0, 1, 2, 3]


def test_defaults_and_round_trip():
    d = defaults(CLASSES, GRID, METHODS, SEEDS, default_k=90)
    assert d == Filters(tuple(CLASSES), 90, (0, 95), tuple(METHODS), (0, 3))
    f = Filters(("Hernia",), 70, (25, 90), ("random",), (1, 2))
    params = encode(f, CLASSES)
    assert params == {"k": "70", "kr": "25-90", "m": ["random"], "seeds": "1-2",
                      "cls": ["Hernia"]}
    assert decode(params, CLASSES, GRID, METHODS, SEEDS, 90) == f
    assert "cls" not in encode(d, CLASSES)       # all classes: not written into the link


def test_bad_or_foreign_values_fall_back_or_snap():
    params = {"k": "47", "kr": "90-3", "m": ["nope"], "seeds": "10-20",
              "cls": ["Hernia", "Beta ring"]}
    f = decode(params, CLASSES, GRID, METHODS, SEEDS, 90)
    assert f.sparsity == 50                      # nearest grid point
    assert f.sparsity_range == (0, 90)           # reordered, snapped
    assert f.methods == tuple(METHODS)           # unknown method → all
    assert f.seed_range == (0, 3)                # no seed in range → all
    assert f.classes == ("Hernia",)              # classes of another study dropped
    junk = decode({"k": "x", "kr": "a-b", "seeds": "7"}, CLASSES, GRID, METHODS, SEEDS, 90)
    assert junk == defaults(CLASSES, GRID, METHODS, SEEDS, 90)
    # the dense model (0%) is what the chosen sparsity is compared with, not a choice
    assert decode({"k": "0"}, CLASSES, GRID, METHODS, SEEDS, 90).sparsity == 25


def test_seed_and_sparsity_selection():
    f = Filters(tuple(CLASSES), 90, (25, 70), tuple(METHODS), (1, 2))
    assert f.seeds([0, 1, 2, 3]) == [1, 2]
    assert f.sparsities(GRID) == [25, 50, 70]


def test_a_clipped_or_reversed_seed_range_gets_the_not_here_notice():
    from dashboard.common.filters import decode_checked

    def seed_misses(raw):
        f, misses = decode_checked({"seeds": raw}, CLASSES, GRID, METHODS, SEEDS, 90)
        return f.seed_range, [(m.what, m.asked, m.shown) for m in misses]

    assert seed_misses("0-99") == ((0, 3), [("seed range", "0-99", "seeds 0–3")])
    assert seed_misses("9-1") == ((1, 3), [("seed range", "9-1", "seeds 1–3")])
    assert seed_misses("10-20") == ((0, 3), [("seed range", "10-20", "seeds 0–3")])
    assert seed_misses("1-2") == ((1, 2), [])     # inside the study: nothing to say
    assert seed_misses("2-1") == ((1, 2), [])     # the same seeds, written the other way
