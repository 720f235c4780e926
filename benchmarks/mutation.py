"""Mutation score of the definition modules: how many small code changes their tests catch.

    python benchmarks/mutation.py [--modules forgetting frequency …] [--max-children 2]

For each module, mutmut (pinned in requirements.txt's test section) mutates that module's
source in a scratch copy of the repository and runs only that module's own tests (MODULES
below) against every mutant; the score per module is printed, and every survivor with its
diff is written to --out (JSON) for benchmarks/RESULTS.md. Survivors judged equivalent (the
change cannot alter any output) are listed with a one-line reason in EQUIVALENT and left out
of the score's denominator. Not part of .ci/run: the default run takes tens of minutes.

numba: mutmut leaves decorated functions alone (its trampoline cannot run inside compiled
code), so in the scratch copy of a module with @njit kernels each `@njit(...)` decorator is
moved below its function (`f = njit(...)(f)`, the same object at run time) and that module's
tests run with NUMBA_DISABLE_JIT=1: every mutant is then plain Python, with no compile per
mutant and no on-disk JIT cache that could hand back the unmutated kernel. The modules whose
kernels are not under mutation keep the JIT (compiled once in mutmut's parent process before
it forks one worker per mutant). Tests that are only fast compiled are deselected in the
pure-Python runs (listed in MODULES).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Module:
    files: list[str]                  # source files mutated
    tests: list[str]                  # its own tests (files or node ids)
    deselect: list[str] = field(default_factory=list)   # own tests too slow per mutant
    functions: list[str] = field(default_factory=list)  # only these functions (default all)
    jit: bool = False                 # has @njit kernels: run them as plain Python


_A = "tests/analysis/"
_SLOW_E2E = [  # analyze_study end to end (~15 s each): run by CI, too slow per mutant
    _A + "test_frequency.py::test_stored_class_summary_uses_class_counts_on_a_study_with_"
         "unrelated_counts",
    _A + "test_frequency.py::test_stored_class_summary_uses_class_counts_on_the_fixture_study",
    _A + "test_handworked.py::test_end_to_end_on_the_handworked_study",
    # reads artifacts/demo's stored tables (not in the scratch copy); calls no definition
    _A + "test_frequency.py::test_shipped_demo_class_summary_equals_its_class_counts",
]
# `prunelens paper-check` on an analysed study (analyze first: seconds each); the hand-worked
# tests of the same file call every row function directly
_PAPER_CLI = [_A + "test_paper_check.py::test_cli_on_an_analysed_study",
              _A + "test_paper_check.py::test_cli_refuses_a_study_analysed_before_the_check",
              _A + "test_paper_check.py::test_cli_recomputes_f7_from_reader_answers_given_after_"
                   "the_analysis"]
# Simulates 1000s of intervals: seconds compiled, >10 min as plain Python.
_COVERAGE = _A + "test_bootstrap.py::test_coverage_of_the_95_percent_interval"

# analyze end to end on a tiny study: 22 s as plain Python (pie_resample's JIT off)
_PIE_ANALYZE = _A + "test_pie_resample.py::test_analyze_stores_what_the_f5_f7_intervals_resample"

MODULES: dict[str, Module] = {
    "forgetting": Module(["core/analysis/forgetting.py"],
                         [_A + "test_forgetting.py", _A + "test_functions.py",
                          _A + "test_handworked.py"], _SLOW_E2E),
    "frequency": Module(["core/analysis/frequency.py"],
                        [_A + "test_frequency.py", _A + "test_functions.py",
                         _A + "test_handworked.py"], _SLOW_E2E),
    "pies": Module(["core/analysis/pies.py"],
                   [_A + "test_functions.py", _A + "test_handworked.py",
                    _A + "test_pies_tables.py"], _SLOW_E2E),
    "pie_stats": Module(["core/analysis/pie_stats.py"],
                        [_A + "test_functions.py", _A + "test_handworked.py"], _SLOW_E2E),
    "missed": Module(["core/analysis/missed.py"], [_A + "test_missed_calibration_subgroups.py"]),
    "calibration": Module(["core/analysis/calibration.py"],
                          [_A + "test_missed_calibration_subgroups.py"]),
    "subgroups": Module(["core/analysis/subgroups.py"],
                        [_A + "test_missed_calibration_subgroups.py"]),
    "store_verify": Module(["core/store.py"], ["tests/test_store.py"],
                           functions=["verify", "require_verified", "write_manifest",
                                      "sha256_file", "_entry", "_study_files",
                                      "_manifested_name"]),
    # all dtypes: float16 histogram and float64 sort paths (metrics.py), float32 kernels
    "metrics": Module(["core/metrics.py"], ["tests/test_metrics.py"]),
    "thresholds": Module(["core/analysis/thresholds.py"],
                         [_A + "test_thresholds.py", _A + "test_thresholds_study.py"]),
    "uncertainty": Module(["core/analysis/uncertainty.py"],
                          [_A + "test_bootstrap.py", _A + "test_uncertainty_pairing.py"]),
    "bootstrap": Module(["core/analysis/bootstrap.py"],
                        [_A + "test_bootstrap.py", _A + "test_uncertainty_pairing.py"],
                        [_COVERAGE], jit=True),
    "metrics_float32": Module(["core/metrics_float32.py"],
                              ["tests/test_metrics.py", "-k", "float32 or float16_continuous"],
                              jit=True),
    # moved out of forgetting/frequency/pie_stats: the median over seeds, the stored per-class
    # and per-pair tables (checked end to end on the hand-worked study and against
    # data/class_counts.parquet), and the label counts, findings per image, labels in words
    "over_seeds": Module(["core/analysis/over_seeds.py"],
                         [_A + "test_forgetting.py", _A + "test_missed_calibration_subgroups.py",
                          # median_over_seeds, moved here from uncertainty: its tests there
                          _A + "test_bootstrap.py", _A + "test_uncertainty_pairing.py"],
                         [_COVERAGE]),
    "class_tables": Module(["core/analysis/class_tables.py"],
                           [_A + "test_handworked.py", _A + "test_frequency.py"],
                           [_SLOW_E2E[1], _SLOW_E2E[3]]),
    "data_stats": Module(["core/data/stats.py"],
                         ["tests/data/test_stats.py", _A + "test_functions.py"]),
    # the paper check (F1-F7): replicate statistics and the verdict rows. paper_values.py is
    # a table of constants (mutmut mutates only functions; its one function formats numbers
    # for the page): left out.
    "paper_check_stats": Module(["core/analysis/paper_check_stats.py"],
                                [_A + "test_paper_check.py",
                                 _A + "test_paper_check_stats_dtypes.py"], _PAPER_CLI),
    "paper_check": Module(["core/analysis/paper_check.py"],
                          [_A + "test_paper_check.py", _A + "test_paper_check_rows.py",
                           # the rows' seed-resampled F5-F7 intervals (pie_reps plumbing)
                           _A + "test_pie_resample.py"],
                          [*_PAPER_CLI, _PIE_ANALYZE]),
    # F5-F7's replicates re-cut from each replicate's seed ensemble (numba kernel: plain
    # Python under mutation)
    "pie_resample": Module(["core/analysis/pie_resample.py"],
                           [_A + "test_pie_resample.py", _A + "test_pie_resample_edges.py"],
                           [_PIE_ANALYZE], jit=True),
}

# Survivors that cannot change any output, by mutant name, with the reason in one line.
# A name is only valid for the source it was judged on: RESULTS.md records the commit.
_F = "core.analysis.forgetting."
EQUIVALENT: dict[str, str] = {
    _F + "x_first_drop_sparsity__mutmut_13":
        "errstate(invalid=None) around `<`: comparing with NaN never warns in numpy",
    _F + "x_first_drop_sparsity__mutmut_27":
        "reshape((-2,) + …): numpy reads any negative size as the one unknown dimension",
    _F + "x_first_drop_sparsity__mutmut_47":
        "astype(None) is astype(float64)",
    _F + "x_first_drop_text__mutmut_23":
        "dtype dropped on first_drop: int() of a drop sparsity is the same number",
    _F + "x_first_drop_text__mutmut_25":
        "dtype dropped on first_drop: int() of a drop sparsity is the same number",
    _F + "x_relative_change__mutmut_21":
        "assigning None into a float64 array stores NaN",
    _F + "x_summarise_over_seeds__mutmut_3":
        "dtype=None: np.nanpercentile computes and returns float64 for any float input",
    _F + "x_summarise_over_seeds__mutmut_5":
        "dtype dropped: np.nanpercentile computes and returns float64 for any float input",
    _F + "x_summarise_over_seeds__mutmut_9":
        "simplefilter('ignore') without a category: only RuntimeWarnings arise there",
    _F + "x_undefined_reason__mutmut_8":
        "dtype=None: a count == 0 is the same test for ints and floats",
    _F + "x_undefined_reason__mutmut_10":
        "dtype dropped: a count == 0 is the same test for ints and floats",
}
_P = "core.analysis.pies."
_ROW_MEAN = "every row of average ranks has mean (C + 1)/2, so the global mean is the row mean"
_GUARDED = "the division is guarded (den > 0 selects where it counts): nothing to warn about"
_CLIP = ("clip guards against rounding past ±1; none found (5,960 random tied rows, "
         "2-299 classes): the other bound alone gives the same numbers")
_SAME_RANKS = "ranks of float16/32 values are the ranks of their float64 values"
_SAME_MAX = "float32 or int correlations compare equal to their own maximum either way"
EQUIVALENT.update({
    _P + "x__centred_ranks__mutmut_5": _ROW_MEAN,
    _P + "x__centred_ranks__mutmut_7": _ROW_MEAN,
    _P + "x__spearman_from__mutmut_10": _GUARDED,
    _P + "x__spearman_from__mutmut_11": _GUARDED,
    _P + "x__spearman_from__mutmut_12": _GUARDED,
    _P + "x__spearman_from__mutmut_13": _GUARDED,
    _P + "x__spearman_from__mutmut_34": "den >= 0 only adds den = 0 slots that the outer "
                                        "where replaces by NaN",
    _P + "x__spearman_from__mutmut_36": "the 2.0 fills only den = 0 slots that the outer "
                                        "where replaces by NaN",
    _P + "x__spearman_from__mutmut_39": _CLIP,
    _P + "x__spearman_from__mutmut_40": _CLIP,
    _P + "x_cut_ties__mutmut_3": _SAME_MAX,
    _P + "x_cut_ties__mutmut_5": _SAME_MAX,
    _P + "x_ensemble_correlations__mutmut_3": _SAME_RANKS,
    _P + "x_ensemble_correlations__mutmut_5": _SAME_RANKS,
    _P + "x__spearman_from__mutmut_45": _CLIP,
    _P + "x__spearman_from__mutmut_46": _CLIP,
    _P + "x__spearman_from__mutmut_47": "assigning None into a float64 array stores NaN",
    _P + "x_rank_rows__mutmut_6": "tied values get the average rank, so the order among "
                                  "ties (stable or not) cannot show",
    _P + "x_rank_rows__mutmut_9": "tied values get the average rank, so the order among "
                                  "ties (stable or not) cannot show",
    _P + "x_rank_rows__mutmut_13": "numpy reads sort kinds case-insensitively",
    _P + "x_rank_rows__mutmut_8": "axis=-1 is argsort's default",
    _P + "x_rank_rows__mutmut_20": "axis=-1 is take_along_axis's default",
    _P + "x_rank_rows__mutmut_30": "float ones/zeros used only as truth values in np.where",
    _P + "x_rank_rows__mutmut_32": "float ones/zeros used only as truth values in np.where",
    _P + "x_rank_rows__mutmut_41": "float ones/zeros used only as truth values in np.where",
    _P + "x_rank_rows__mutmut_43": "float ones/zeros used only as truth values in np.where",
    _P + "x_rank_rows__mutmut_89": "float64 is np.empty's default",
    _P + "x_rank_rows__mutmut_91": "float64 is np.empty's default",
    _P + "x_rowwise_spearman__mutmut_3": _SAME_RANKS,
    _P + "x_rowwise_spearman__mutmut_5": _SAME_RANKS,
    _P + "x_rowwise_spearman__mutmut_8": _SAME_RANKS,
    _P + "x_rowwise_spearman__mutmut_10": _SAME_RANKS,
    _P + "x_select_bottom__mutmut_4": "argsort of the same values in their own dtype: "
                                      "the same order",
    _P + "x_select_bottom__mutmut_6": "argsort of the same values in their own dtype: "
                                      "the same order",
    _P + "x_select_bottom__mutmut_40": "numpy reads sort kinds case-insensitively",
    **{_P + f"x_image_table__mutmut_{i}": "np.arange of a Python int is int64 by default"
       for i in (14, 16)},
    _P + "x_pie_list__mutmut_12": "== 1 is the same test on the same numbers in any dtype",
    **{_P + f"x_pie_list__mutmut_{i}": "pandas stores str values from an object or a "
       "unicode array as the same string column" for i in (24, 26)},
    **{_P + f"x_pie_list__mutmut_{i}": "pandas ignores `kind` when sorting on several "
       "columns, and the distinct `row` leaves no tie to order" for i in (46, 48, 53, 54)},
    **{_P + f"xǁSeedEnsembleǁ__init____mutmut_{i}": "float64 is np.zeros' default"
       for i in (3, 5)},
})
_T = "core.analysis.thresholds."
_EXACT = "counts below 10^7 images: their products are exact in float64 as in int64"
_ORDER_FREE = "cumulative counts are read at each tie group's end: order inside a group " \
              "cannot show"
_SAME_VALUES = "the same values in their own dtype give the same comparisons and counts"
EQUIVALENT.update({
    _T + "x__best_index__mutmut_2": _EXACT,
    _T + "x__best_index__mutmut_4": _EXACT,
    _T + "x__best_index__mutmut_15": "3·TP/den orders candidates as 2·TP/den does (exact "
                                     "comparison scale-free)",
    _T + "x__best_index__mutmut_22": "the maximum itself is always > max − 1e-9",
    _T + "x__best_index__mutmut_24": "a wider window only adds candidates the exact "
                                     "comparison then rejects",
    _T + "x__counts_at_thresholds__mutmut_3": _ORDER_FREE,
    _T + "x__counts_at_thresholds__mutmut_5": _ORDER_FREE,
    _T + "x__counts_at_thresholds__mutmut_8": "numpy reads sort kinds case-insensitively",
    _T + "x_choose_thresholds__mutmut_5": _SAME_VALUES,
    _T + "x_choose_thresholds__mutmut_7": _SAME_VALUES,
    _T + "x_choose_thresholds__mutmut_10": _SAME_VALUES,
    _T + "x_choose_thresholds__mutmut_12": _SAME_VALUES,
    _T + "x_choose_thresholds__mutmut_42": "float 0/1 labels: _best_index casts the counts "
                                           "to int64",
    _T + "x_class_counts__mutmut_3": _SAME_VALUES,
    _T + "x_class_counts__mutmut_5": _SAME_VALUES,
    **{_T + f"x_seed_thresholds__mutmut_{i}": "choose_thresholds converts the scores to "
       "float64 itself" for i in (30, 32)},
    **{_T + f"x_validation_labels__mutmut_{i}": "`row` values are distinct (0..N-1) and "
       "pandas accepts 'STABLE': every sort kind gives the same order" for i in (13, 15, 19)},
})
_Q = "core.analysis.frequency."
_FLOATS = "numbers converted by numpy either way: the same values and comparisons"
EQUIVALENT.update({
    _Q + "x_class_exclusions__mutmut_5": _FLOATS,
    _Q + "x_class_exclusions__mutmut_7": _FLOATS,
    _Q + "x_class_exclusions__mutmut_10": _FLOATS,
    _Q + "x_class_exclusions__mutmut_12": _FLOATS,
    _Q + "x_class_exclusions__mutmut_19": "a missing status only has to differ from "
                                          "'undefined': None does",
    _Q + "x_class_exclusions__mutmut_22": "a missing status only has to differ from "
                                          "'undefined': 'XXXX' does",
    _Q + "x_correlate__mutmut_3": _FLOATS,
    _Q + "x_correlate__mutmut_5": _FLOATS,
    _Q + "x_correlate__mutmut_8": _FLOATS,
    _Q + "x_correlate__mutmut_10": _FLOATS,
    _Q + "x_log_frequency__mutmut_16": "assigning None into a float64 array stores NaN",
    _Q + "x_ols__mutmut_10": "an int design matrix is stacked with float ones: float64 "
                             "either way",
    _Q + "x_ols__mutmut_8": "an int design matrix is stacked with float ones: float64 "
                            "either way",
    _Q + "x_ols__mutmut_3": _FLOATS,
    _Q + "x_ols__mutmut_5": _FLOATS,
    _Q + "x_ols__mutmut_71": "rcond=None is lstsq's default in numpy 2",
    **{_Q + f"x_ols__mutmut_{i}": "TSS is never negative, and at TSS = 0 r2 is NaN, so "
       "the adjusted r2 computed from it is NaN too" for i in (120, 129)},
    _Q + "x_read_cooccurrence__mutmut_8": "open_npy reads `mmap` as a truth value: None, "
                                          "like False, reads the file into memory",
    _Q + "x_ols__mutmut_146": "f is NaN or finite (inf would need σ²/TSS < 1e-308; a nonzero "
                              "float64 residual is ≳ 1e-16 of y's scale); f.sf(NaN) is NaN",
    _Q + "x_pair_statistics__mutmut_20": "M = YᵀY is symmetric: row sums are column sums",
    _Q + "x_pair_statistics__mutmut_31": "M is checked square just above",
    _Q + "x_pair_statistics__mutmut_36": _GUARDED,
    _Q + "x_pair_statistics__mutmut_37": _GUARDED,
    _Q + "x_pair_statistics__mutmut_38": _GUARDED,
    _Q + "x_pair_statistics__mutmut_39": _GUARDED,
    _Q + "x_pair_statistics__mutmut_5": _FLOATS,
    _Q + "x_pair_statistics__mutmut_7": _FLOATS,
    _Q + "x_pair_statistics__mutmut_60": "the fill value only reaches union = 0 slots that "
                                         "the outer where replaces by NaN",
    _Q + "x_pair_statistics__mutmut_62": "the fill value only reaches union = 0 slots that "
                                         "the outer where replaces by NaN",
    _Q + "x_pair_statistics__mutmut_61": "unions are integer counts: dividing by max(union, 1) "
                                         "is dividing by union",
    _Q + "x_train_frequency__mutmut_18": "astype(None) is astype(float64)",
    _Q + "x_train_frequency__mutmut_21": _FLOATS,
    _Q + "x_train_frequency__mutmut_23": _FLOATS,
})
_S = "core.analysis.pie_stats."
EQUIVALENT.update({
    _S + "x__label_matrix__mutmut_1": _FLOATS,
    _S + "x__label_matrix__mutmut_5": _FLOATS,
    _S + "x__label_matrix__mutmut_7": _FLOATS,
    _S + "x__mann_whitney__mutmut_22": "alternative='two-sided' is scipy's default",
    _S + "x__mann_whitney__mutmut_24": "scipy reads the alternative case-insensitively",
    **{_S + f"x__prevalence__mutmut_{i}": _GUARDED for i in (1, 2, 3, 4)},
    **{_S + f"x__ratio__mutmut_{i}": _GUARDED for i in (1, 2, 3, 4)},
    _S + "x__ratio__mutmut_24": "the fill value only reaches b = 0 slots that the outer where "
                                "replaces by NaN",
    _S + "x__ratio__mutmut_26": "the fill value only reaches b = 0 slots that the outer where "
                                "replaces by NaN",
})
_M, _C = "core.analysis.missed.", "core.analysis.calibration."
_NO_DIVIDE = "the numerator is 0 wherever the count is 0: only 0/0 (invalid) can occur"
_NAN_ANYWAY = "0/0 is NaN (silenced), the value the where puts there anyway"
EQUIVALENT.update({
    _M + "x_missed_findings__mutmut_100": "astype(None) is astype(float64)",
    _M + "x_missed_findings__mutmut_39": "astype(None) is astype(float64)",
    **{_M + f"x_missed_findings__mutmut_{i}": _FLOATS for i in (9, 11, 14, 16)},
    _M + "x_missed_findings__mutmut_49": _NO_DIVIDE,
    _M + "x_missed_findings__mutmut_51": _NO_DIVIDE,
    **{_C + f"x_brier__mutmut_{i}": _FLOATS for i in (3, 5, 8, 10)},
    **{_C + f"x_reliability__mutmut_{i}": _FLOATS for i in (6, 8, 11, 13)},
    _C + "x_brier__mutmut_30": _NO_DIVIDE,
    _C + "x_brier__mutmut_32": _NO_DIVIDE,
    _C + "x_ece_from_bins__mutmut_16": _NO_DIVIDE,
    _C + "x_ece_from_bins__mutmut_18": _NO_DIVIDE,
    _C + "x_reliability__mutmut_81": "astype(None) is astype(float64)",
    _C + "x_brier__mutmut_43": _NAN_ANYWAY,
    _C + "x_ece_from_bins__mutmut_29": _NAN_ANYWAY,
})
_K = "core.metrics."
_DEFAULT_AXIS = "axis -1 is the default and, on these 2-D arrays, axis 1"
EQUIVALENT.update({
    _K + "x__build_key_table__mutmut_3": "np.arange of Python ints is int64 by default",
    _K + "x__build_key_table__mutmut_5": "np.arange of Python ints is int64 by default",
    **{_K + f"x__metrics_sorted__mutmut_{i}": _DEFAULT_AXIS for i in (28, 37, 110, 118, 127,
                                                                      134)},
    _K + "x__metrics_sorted__mutmut_143": _NO_DIVIDE,
    _K + "x__metrics_sorted__mutmut_145": _NO_DIVIDE,
    _K + "x__metrics_sorted__mutmut_23": "numpy's cumsum/sum accumulate int8 in int64",
    **{_K + f"x__metrics_sorted__mutmut_{i}": "float ones used only as truth values and "
       "copied flags" for i in (56, 58, 84, 86)},
    **{_K + f"x_nanmean_classes__mutmut_{i}": "the division is by max(count, 1): nothing to "
       "warn about" for i in (24, 25, 26, 27)},
    **{_K + f"x_{f}__mutmut_{i}": "reshape(-2): numpy reads any negative size as the one "
       "unknown dimension" for f, i in (("_from_histograms", 25), ("_from_histograms", 31),
                                        ("_from_histograms", 40), ("_from_histograms", 44),
                                        ("_from_histograms", 48), ("_from_histograms", 74),
                                        ("per_class_metrics", 19))},
    **{_K + f"x_{f}__mutmut_{i}": "astype(None) is astype(float64)"
       for f, i in (("_from_histograms", 37), ("per_class_metrics", 53))},
    **{_K + f"x__from_histograms__mutmut_{i}": _NO_DIVIDE for i in (76, 78)},
    _K + "x__metrics_float16__mutmut_10": "n = 0 never gets here (per_class_metrics' reshape "
                                          "refuses it); one image never has both a positive "
                                          "and a negative: every column is NaN either way",
    **{_K + f"x__metrics_float16__mutmut_{i}": "at the key of −inf or +inf itself the extra "
       "NaN scan finds no NaN: the same all-False flags" for i in (117, 118)},
    **{_K + f"x__metrics_float16__mutmut_{i}": "with every image labelled, the masked "
       "bincount counts the same images" for i in (21, 22)},
    **{_K + f"x__metrics_float16__mutmut_{i}": "np.arange of a Python int is int64 by default"
       for i in (25, 27, 63, 65)},
    **{_K + f"x__metrics_float16__mutmut_{i}": "int64 minus uint16 keys is int64 in numpy"
       for i in (70, 73)},
    **{_K + f"x__metrics_float16__mutmut_{i}": "keys are uint16 (lo >= 0): more bins per "
       "class only add empty lowest-score bins, which no cumulative count reads before"
       for i in (35, 36)},
    **{_K + f"x__metrics_float16__mutmut_{i}": "the chunk size (models per pass) only bounds "
       "memory: each model's histogram is the same in any chunk" for i in (42, 50)},
    **{_K + f"x_per_class_metrics__mutmut_{i}": "a sum of booleans is int64 already"
       for i in (21, 27)},
    **{_K + f"x_per_class_metrics__mutmut_{i}": "_metrics_sorted only reads its scores "
       "(fancy indexing copies): a copy gives the same numbers" for i in (54, 56, 57)},
    **{_K + f"x_per_class_metrics__mutmut_{i}": "assigning None into a float64 array stores "
       "NaN" for i in (80, 81)},
})
_U = "core.analysis.uncertainty."
EQUIVALENT.update({
    **{_U + f"x__rowwise_pearson__mutmut_{i}": "the constant and n < 3 cases are masked by "
       "`bad` afterwards: nothing left to warn about" for i in (23, 24, 25, 26)},
    **{_U + f"x_correlation_replicates__mutmut_{i}": _FLOATS for i in (4, 6, 13, 15)},
    _U + "x__nanmean__mutmut_4": "simplefilter('ignore') without a category: only "
                                 "RuntimeWarnings arise there",
    _U + "x_make_plan__mutmut_17": "with one seed rng.integers(0, 1) draws only zeros, after "
                                   "the weights were drawn: the same plan",
    _U + "x_make_plan__mutmut_23": "Generator.integers(K) is integers(0, K): the same draws "
                                   "from the same stream (checked)",
    **{_U + f"x_make_plan__mutmut_{i}": "the draws are cast to int64 right after"
       for i in (29, 31)},
    _U + "x_nan_percentiles__mutmut_85": "with no finite value a_lo = a_hi = the slice's first "
                                         "sorted value, NaN or ±inf, so v is NaN anyway",
    _U + "x_over_drawn_seeds__mutmut_1": "with one seed the plan draws only seed 0: the median "
                                         "of that one draw is its value, in float64",
    _U + "x_over_drawn_seeds__mutmut_15": "astype(None) is astype(float64)",
    **{_U + f"x_relative__mutmut_{i}": "forgetting.relative_change converts to float64 itself"
       for i in (9, 11)},
    **{_U + f"x_seed_replicates__mutmut_{i}": "bootstrap.weighted_ap converts the weights "
       "(whole numbers) to uint8 itself" for i in (11, 13)},
    _U + "x_seed_replicates__mutmut_25": "np.full(…, None, dtype=float32) stores NaN",
    **{_U + f"x_summarise_method__mutmut_{i}": "axis=0 is median_over_seeds' default"
       for i in (40, 49, 58)},
})
_G = "core.analysis.subgroups."
EQUIVALENT.update({
    _G + "x_define_groups__mutmut_12": "pd.to_numeric(errors='coerce') is float64 or int64: "
                                       "the same comparisons",
    _G + "x_define_groups__mutmut_47": "an object array of the same booleans: the same "
                                       "masks in every use",
    **{_G + f"x_pie_enrichment__mutmut_{i}": "rate / overall runs only when overall > 0: "
       "nothing to warn about" for i in (19, 20, 21, 22)},
    _G + "x_pie_enrichment__mutmut_29": "overall is 0 only without PIEs, then rate is 0 "
                                        "and 0/0 gives the same NaN",
    _G + "x_pie_enrichment__mutmut_31": "overall is 0 only without PIEs, then rate is 0 "
                                        "and 0/0 gives the same NaN",
    _G + "x_pie_enrichment__mutmut_3": "a 0/1 int mask gives the same mean and the same "
                                       "counts with `&`",
    _G + "x_pie_enrichment__mutmut_5": "a 0/1 int mask gives the same mean and the same "
                                       "counts with `&`",
    _G + "x_worst_groups__mutmut_42": "pandas reads sort=None as false: groups in order of "
                                      "appearance (checked)",
    **{_G + f"x_worst_groups__mutmut_{i}": "the inner merge keeps the left table's order: the "
       "counts' order cannot show" for i in (63, 65, 66)},
    _G + "x_worst_groups__mutmut_71": "the only common columns are the keys",
    _G + "x_worst_groups__mutmut_73": "the only common columns are the keys",
})

_D = "core.data.stats."
_TO_FLOAT = "label_counts / label_matrix convert the same values to float64 right after"
EQUIVALENT.update({
    _D + "x_class_counts__mutmut_11": _TO_FLOAT,
    _D + "x_class_counts__mutmut_22": "reshape((-2, C)): numpy reads any negative size as "
                                      "the one unknown dimension",
    _D + "x_cooccurrence__mutmut_10": "astype(None) is astype(float64)",
    _D + "x_cooccurrence__mutmut_3": "y == 1 is the same test on the same numbers in any "
                                     "numeric dtype (None fails both ways: == 1 is False)",
    _D + "x_cooccurrence__mutmut_5": "y == 1 is the same test on the same numbers in any "
                                     "numeric dtype (None fails both ways: == 1 is False)",
    _D + "x_findings_histogram__mutmut_13": "a longer bincount only adds zeros to the "
                                            "summed top+ bin",
    _D + "x_image_labels_in_words__mutmut_6": _TO_FLOAT,
    _D + "x_image_labels_in_words__mutmut_8": _TO_FLOAT,
    _D + "x_labels_in_words__mutmut_17": "class names are str: a unicode array hands join "
                                         "the same strings",
    _D + "x_labels_in_words__mutmut_19": "class names are str: a unicode array hands join "
                                         "the same strings",
})

_O = "core.analysis.over_seeds."
EQUIVALENT.update({
    _O + "x_summarise_over_seeds__mutmut_3": "dtype=None: np.nanpercentile computes and "
                                             "returns float64 for any float input",
    _O + "x_summarise_over_seeds__mutmut_5": "dtype dropped: np.nanpercentile computes and "
                                             "returns float64 for any float input",
    _O + "x_summarise_over_seeds__mutmut_9": "simplefilter('ignore') without a category: only "
                                             "RuntimeWarnings arise there",
    _O + "x_summary_table__mutmut_67": "simplefilter('ignore') without a category: only "
                                       "RuntimeWarnings arise there",
    _O + "x_summary_table__mutmut_40": "the values are assigned into a float64 cube: "
                                       "converted there either way",
    _O + "x_summary_table__mutmut_54": "sort=True is groupby's default",
    _O + "x_metric_cube__mutmut_45": "the values are assigned into a float64 array: "
                                     "converted there either way",
})

_PCS = "core.analysis.paper_check_stats."
_EMPTY_NAN = "an empty group's sums are 0, so its mean or prevalence is 0/0 = NaN anyway"
_NO_MY = ("Σ dx = 0 over the kept points, so the slope Σ dx·dy / Σ dx² does not depend on "
          "what is subtracted from y (the same number, up to the last bit of rounding)")
EQUIVALENT.update({
    **{_PCS + f"x_slope_reps__mutmut_{i}": _NO_MY for i in (41, 42, 43, 49, 67, 68)},
    _PCS + "x_slope_reps__mutmut_87": "sxx = 0 only when every dx is 0: the slope is then "
                                      "0/0 = NaN anyway",
    **{_PCS + f"x_class_ratio_reps__mutmut_{i}": "y == 1 and isnan give the same answers on "
       "the same numbers in any dtype" for i in (3, 5)},
    **{_PCS + f"x_class_ratio_reps__mutmut_{i}": _EMPTY_NAN for i in (59, 69)},
    **{_PCS + f"x_findings_reps__mutmut_{i}": "counts are whole numbers: the same bins, "
       "sums and means as int or float" for i in (4, 6)},
    **{_PCS + f"x_findings_reps__mutmut_{i}": "group_sums converts the one-hot rows to "
       "float32 anyway" for i in (22, 24)},
    **{_PCS + f"x_findings_reps__mutmut_{i}": "extra one-hot rows stay zero and are never "
       "read" for i in (27, 28)},
    _PCS + "x_findings_reps__mutmut_34": "both prevalences double: their ratio (the only "
                                         "output of those rows) does not change",
    **{_PCS + f"x_findings_reps__mutmut_{i}": _EMPTY_NAN for i in (111, 112, 114)},
    **{_PCS + f"x_mean_diff_reps__mutmut_{i}": "isfinite and the sums give the same answers "
       "on the same numbers in any dtype" for i in (3, 5)},
    **{_PCS + f"x_mean_diff_reps__mutmut_{i}": _EMPTY_NAN for i in (57, 58, 59, 62)},
    _PCS + "x_corr_reps__mutmut_19": "one column is fewer than 3 points: NaN either way",
    **{_PCS + f"x_cooccurrence_reps__mutmut_{i}": "0/1 labels: the products and sums are "
       "the same whole numbers in float32 or float64" for i in (2, 8, 10)},
    _PCS + "x_cooccurrence_reps__mutmut_6": "nan=0.0 is nan_to_num's default",
    **{_PCS + f"x_cooccurrence_reps__mutmut_{i}": "float64 is np.zeros' default"
       for i in (20, 22)},
    _PCS + "x_fcd_reps__mutmut_7": "the dense column's relative change is 0 (NaN only where "
                                   "every other is): it adds 0 to every FCD",
    _PCS + "x_group_sums__mutmut_6": "astype(None) is astype(float64)",
    **{_PCS + f"x_{f}__mutmut_{i}": _NO_DIVIDE for f, i in (
        ("slope_reps", 22), ("slope_reps", 24), ("mean_diff_reps", 36), ("mean_diff_reps", 38))},
    **{_PCS + f"x_{f}__mutmut_{i}": "for a 0/1 mask, `b & ~m` in ints (~1 = −2, ~0 = −1) "
       "keeps the same bit 0 as with booleans" for f, i in (
        ("class_ratio_reps", 8), ("class_ratio_reps", 10), ("mean_diff_reps", 8),
        ("mean_diff_reps", 10))},
    _PCS + "x_mean_diff_reps__mutmut_20": "the fill value is multiplied by ok = False",
    **{_PCS + f"x_slope_reps__mutmut_{i}": "y in float32: the same values; only its mean is "
       "summed in float32, and the slope does not depend on the mean of y" for i in (11, 13)},
    _PCS + "x_pair_x_reps__mutmut_35": "the fill value only reaches union = 0 slots that the "
                                       "outer where replaces by NaN",
    _PCS + "x_pair_x_reps__mutmut_37": "the fill value only reaches union = 0 slots that the "
                                       "outer where replaces by NaN",
    _PCS + "x_pair_x_reps__mutmut_36": "unions are whole numbers: dividing by max(union, 1) is "
                                       "dividing by union",
    _PCS + "x_pair_x_reps__mutmut_3": "M = YᵀY is symmetric: row sums are column sums",
    _PCS + "x_pair_x_reps__mutmut_6": "M_b is square",
    **{_PCS + f"x_pair_x_reps__mutmut_{i}": _GUARDED for i in (11, 12, 13, 14)},
})

_F32 = "core.metrics_float32."
EQUIVALENT.update({
    _F32 + "x__radix_argsort__mutmut_22": "count[0] is always 0 (digit d is counted at d + 1): "
                                          "adding it to count[1] changes nothing",
    **{_F32 + f"x_sorted_column__mutmut_{i}": "a float64 scratch array holds indices below "
       "2^53 exactly; order is int64 either way" for i in (19, 21)},
    _F32 + "x_metrics_float32__mutmut_16": "with no model every column is NaN either way; "
                                           "with no image every walk returns NaN too",
    _F32 + "x_metrics_float32__mutmut_20": "one image never has both a positive and a "
                                           "negative: NaN either way",
    **{_F32 + f"x_metrics_float32__mutmut_{i}": "only columns with a NaN score are touched, "
       "and per_class_metrics reports exactly those as undefined (NaN) whatever the walk "
       "gives" for i in (22, 23, 24, 25, 31, 32)},
    _F32 + "x_metrics_float32__mutmut_37": "label codes 0 / 1 / 2 compare the same as "
                                           "floats",
    _F32 + "x_sorted_column__mutmut_26": "digits are 11 bits (counted at 1…2048): a 2050th "
                                         "slot is never read",
})

_B = "core.analysis.bootstrap."
_COUNTERS = ("the walk's counters hold whole numbers (< 2^53; `flush` keeps the uint8 stage "
             "at <= 255): the same sums and comparisons in float64, int or bool")
EQUIVALENT.update({
    **{_B + f"x__walk__mutmut_{i}": _COUNTERS
       for i in (16, 18, 21, 23, 26, 28, 31, 33, 36, 38, 41, 43, 46, 48)},
    _B + "x__walk__mutmut_8": "without a positive `last` stays below 0 either way",
    _B + "x__walk__mutmut_51": "assigning None into a float64 array stores NaN",
    _B + "x__walk__mutmut_125": "None stored into a bool array is False",
    _B + "x__walk__mutmut_126": "an extra pass at a tie end without positives adds gp = 0 and "
                                "moves staged negatives into fp: the same sums",
    **{_B + f"x__walk__mutmut_{i}": "acc is 0 wherever tp is 0, and 0/0 is NaN (numba's numpy "
       "error model; the kernel always runs compiled)" for i in (131, 133)},
    **{_B + f"x_resample_counts__mutmut_{i}": "whole-number counts, cast to uint8 at the end"
       for i in (9, 11)},
    **{_B + f"x_resample_counts__mutmut_{i}": "chunks only bound memory: Generator.integers "
       "gives the same stream in any chunk sizes (checked)" for i in (17, 19, 25)},
    _B + "x_resample_counts__mutmut_37": "Generator.integers(N) is integers(0, N): the same "
                                         "draws (checked)",
    **{_B + f"x_weighted_ap__mutmut_{i}": "codes 1 / 0 / 2 compare the same in any integer "
       "dtype (numba compiles one version per dtype)" for i in (5, 7)},
    **{_B + f"x_weighted_ap__mutmut_{i}": "weights are whole numbers 0..255: the same sums in "
       "the counters whatever their dtype" for i in (10, 12)},
    _B + "x_weighted_ap__mutmut_14": "when only one of them is 3-D their shape[1:] differ in "
                                     "length, so the shape test refuses them anyway",
    **{_B + f"x_weighted_ap__mutmut_{i}": "float64 is np.empty's default" for i in (44, 46)},
    _B + "x_weighted_ap__mutmut_53": "the peak of empty weights is never used: nothing is staged",
    _B + "x_weighted_ap__mutmut_65": "flushing more often (peak 1 → every 127) gives the same "
                                     "sums",
})

_ST = "core.store."
EQUIVALENT.update({
    _ST + "x_verify__mutmut_89": "the kind is chosen only when the sizes differ: never equal",
    _ST + "x_sha256_file__mutmut_8": "read(None) reads the whole file in one block: the same "
                                     "bytes hashed (only memory differs)",
    _ST + "x__manifested_name__mutmut_4": "always root / p: pathlib's root / p is p itself when "
                                          "p is absolute, so both branches give the same path",
    _ST + "x_verify__mutmut_33": "a dead store: after an unreadable study.json nothing reads "
                                 "`version` again (its check is in the else branch)",
})

_CT = "core.analysis.class_tables."
_STR_COL = "pandas stores a column of class names in its string dtype either way"
_CONVERTS = "fq.correlate / fq.ols convert to float64 themselves; the columns are float64"
EQUIVALENT.update({
    **{_CT + f"x_{f}__mutmut_{i}": _STR_COL for f, i in (
        ("class_curves", 23), ("class_curves", 25), ("forgetting_table", 25),
        ("forgetting_table", 27), ("pair_table", 26), ("pair_table", 28), ("pair_table", 32),
        ("pair_table", 34))},
    _CT + "x_forgetting_table__mutmut_18": "reshape(2, -2): numpy reads any negative size as "
                                           "the one unknown dimension",
    **{_CT + f"x_forgetting_table__mutmut_{i}": "a sparsity grid is a list of Python ints: "
       "int64 already" for i in (31, 33)},
    **{_CT + f"x_eval_positives__mutmut_{i}": "y == 1 is the same test on the same numbers in "
       "any numeric dtype" for i in (4, 6)},
    **{_CT + f"x_{f}__mutmut_{i}": _CONVERTS for f, i in (
        ("class_correlations", 18), ("pair_correlations", 2), ("pair_correlations", 19),
        ("pair_regression", 7), ("pair_regression", 11), ("pair_regression", 14))},
    _CT + "x_pair_table__mutmut_3": "the dense column's relative change is 0 (NaN only where "
                                    "every other is): it adds 0 to every FCD",
})

_PC = "core.analysis.paper_check."
_NAN_JUDGED = ("judge() of a NaN value returns 'cannot be computed' with the given reason "
               "before it reads the paper value, the replicates or the level")
_SAME_J = "both judgements are the same NaN 'cannot be computed' here: None for the second " \
          "gives the same NaN values and verdict"
EQUIVALENT.update({
    **{_PC + f"x_pie_rows__mutmut_{i}": _NAN_JUDGED for i in (16, 17, 18, 41, 44, 46, 47, 48)},
    **{_PC + f"x_pie_rows__mutmut_{i}": _SAME_J for i in (29, 59)},
    **{_PC + f"x__groundtruth_row__mutmut_{i}": _NAN_JUDGED for i in (18, 19, 20)},
    **{_PC + f"x_f7_row__mutmut_{i}": _NAN_JUDGED for i in (31, 32, 33, 70, 71, 72)},
})
_NO_REASON2 = ("the second statistic's reason is in no row (_row writes only its value, "
               "interval and verdict)")
_LF = ("ln train positives are float64 (fq.log_frequency), and every use converts them "
       "(correlate, corr_reps) or only tests isfinite")
_NO_PAIRS = ("with one class there is no pair: fcd and the pair columns are empty either way "
             "(and correlate of an empty and a 1-element array keeps no point)")
EQUIVALENT.update({
    **{_PC + f"x__corr_reason__mutmut_{i}": "every caller passes float64 arrays (first drop, "
       "change at 95%, FCD, pair columns, class ratio, ln train positives)"
       for i in (3, 5, 7, 9)},
    _PC + "x__corr_reason__mutmut_30": "_corr_reason returns '' exactly when correlate "
                                       "defines r and ρ (n ≥ 3, spread in both), and judge "
                                       "reads a reason only for an undefined value",
    **{_PC + f"x__groundtruth_row__mutmut_{i}": "only 'label_noise' has an '_', and it is the "
       "second statistic: " + _NO_REASON2 for i in (31, 32, 78, 79)},
    **{_PC + f"x__left_out__mutmut_{i}": "isfinite of the same numbers in any numeric dtype"
       for i in (5, 7)},
    **{_PC + f"x__row__mutmut_{i}": "every caller passes a second Judged: `if j2` is always "
       "true" for i in (49, 53, 57, 61)},
    **{_PC + f"x_check_method__mutmut_{i}": "every row is a dict of exactly COLUMNS in that "
       "order: pandas takes the same columns from its keys" for i in (26, 28)},
    **{_PC + f"x_f7_row__mutmut_{i}": _NAN_JUDGED for i in (1, 4)},
    **{_PC + f"x_f7_row__mutmut_{i}": _SAME_J for i in (43, 82)},
    **{_PC + f"x_forgetting_rows__mutmut_{i}": _LF for i in (3, 5)},
    _PC + "x_forgetting_rows__mutmut_38": "DROP_PERCENT (20) is first_drop_sparsity's default",
    _PC + "x_forgetting_rows__mutmut_45": "AT_SPARSITY (95) is rel_change_at's default",
    _PC + "x_forgetting_rows__mutmut_56": "AT_SPARSITY (95) is class_level_reps' default",
    **{_PC + f"x_forgetting_rows__mutmut_{i}": "judge reads only the paper value's sign, and "
       "F1–F4's two statistics have the same sign" for i in (150, 316)},
    **{_PC + f"x_forgetting_rows__mutmut_{i}": _NO_REASON2 for i in (157, 162, 323, 328)},
    _PC + "x_forgetting_rows__mutmut_172": "'paper' is pair_statistics' default variant",
    **{_PC + f"x_forgetting_rows__mutmut_{i}": _NO_PAIRS for i in (177, 187, 242, 243, 246)},
    _PC + "x_forgetting_rows__mutmut_181": "the dense column's relative change is 0 (NaN only "
                                           "where every other is): it adds 0 to every FCD",
    **{_PC + f"x_forgetting_rows__mutmut_{i}": "with at most 2 classes (1 pair) F3/F4's point "
       "value is NaN, and judge never reads the replicates of an undefined value"
       for i in (194, 195)},
    **{_PC + f"x_judge__mutmut_{i}": "the replicates are float64 arrays (paper_check_stats), "
       "and unc.interval gives the same bounds on any numeric dtype" for i in (49, 51)},
    _PC + "x_pie_rows__mutmut_115": "ratio.size is 5 (findings_ratio's bins 0…4+), "
                                    "findings_reps' default",
    **{_PC + f"x_pie_rows__mutmut_{i}": _NO_REASON2
       for i in (125, 126, 129, 130, 165, 170, 283, 288)},
    **{_PC + f"x_pie_rows__mutmut_{i}": "pie_stats' ratio columns are float64 already"
       for i in (85, 183)},
    **{_PC + f"x_pie_rows__mutmut_{i}": _LF for i in (194, 196)},
    **{_PC + f"x_pie_rows__mutmut_{i}": "slope_reps converts the bins 0…4 to float64"
       for i in (96, 98)},
    _PC + "x_verdict__mutmut_13": "lo = 0 reaches this line only with hi < lo, which a "
                                  "percentile interval never has",
})

# pie_rows, f7_row, _groundtruth_row and check_method gained the seed-resampled F5-F7
# intervals' argument (2026-12-08), which renumbered their mutants: the judgements above,
# made on the earlier numbering, move to the new number of the same diff (old: new,
# matched by function and diff text); an old number without a match is dropped.
_RENUMBERED = {
    "x_pie_rows": {16: 17, 17: 18, 18: 19, 29: 30, 41: 42, 44: 45, 46: 47, 47: 48, 48: 49, 59:
                   60, 85: 86, 96: 97, 98: 99, 115: 128, 125: 138, 126: 139, 129: 142, 130: 143,
                   165: 178, 170: 183, 183: 196, 194: 207, 196: 209, 283: 305, 288: 310},
    "x_f7_row": {1: 1, 4: 4, 31: 33, 32: 34, 33: 35, 70: 73, 71: 74, 72: 75, 82: 85},
    "x__groundtruth_row": {18: 24, 19: 25, 20: 26, 31: 37, 32: 38, 78: 90, 79: 91},
    "x_check_method": {26: 30, 28: 32},
}
for _fn, _moves in _RENUMBERED.items():
    _old = {k: v for k, v in EQUIVALENT.items() if k.startswith(f"{_PC}{_fn}__mutmut_")}
    for _k in _old:
        del EQUIVALENT[_k]
    for _o, _n in _moves.items():
        EQUIVALENT[f"{_PC}{_fn}__mutmut_{_n}"] = _old[f"{_PC}{_fn}__mutmut_{_o}"]

# pie_resample (F5-F7's replicate PIE sets), judged 2026-12-08
_PR = "core.analysis.pie_resample."
_SCALE = ("both ensembles of an image are divided by one non-zero number; their values come "
          "from float32 probabilities (relative gaps far above a float64 ulp), so every class "
          "keeps its rank (both reversed if negative): the same Spearman")
_INT = "the input is already int64 (the plan's draws, counts built here): the cast is a no-op"
_EMPTY = ("a group with no weight has sum 0 in both the numerator and the count: 0/0 is NaN "
          "either way (inside errstate)")
EQUIVALENT.update({
    **{_PR + f"x__corr_chunk__mutmut_{i}": _INT for i in (22, 24, 27, 29)},
    _PR + "x__corr_chunk__mutmut_13": "np.argsort's default axis is -1, the last of 2",
    _PR + "x__corr_chunk__mutmut_19": "numpy reads the sort kind case-insensitively",
    _PR + "x__corr_chunk__mutmut_35": "take_along_axis's default axis is -1, the last of 2",
    **{_PR + f"x__replicate_corr__mutmut_{i}": "rank counts are small integers: exact in a "
       "float64 scratch as in int32" for i in (13, 15, 18, 20)},
    **{_PR + f"x__replicate_corr__mutmut_{i}": "astype(None) is astype(float64)"
       for i in (22, 24)},
    **{_PR + f"x__replicate_corr__mutmut_{i}": _SCALE for i in (31, 35, 36, 46, 48)},
    **{_PR + f"x__spearman_row__mutmut_{i}": "never binds: num, sx and sy are exact sums of "
       "half-integer products, |num| <= sqrt(sx*sy) (Cauchy-Schwarz), and a correctly rounded "
       "sqrt and division keep that, so |num/den| <= 1 already" for i in (67, 73)},
    _PR + "x__sums__mutmut_1": "astype(None) is astype(float64)",
    **{_PR + f"x_bottom_masks__mutmut_{i}": "float32 correlations widen to float64 exactly: "
       "the same order and ties, the same cut" for i in (3, 5)},
    _PR + "x_bottom_masks__mutmut_27": "with exactly n finite values the partition path also "
                                       "takes all n (none below the n-th, all n tied or below)",
    _PR + "x_bottom_masks__mutmut_44": "np.partition's default axis is -1, the last of 2",
    _PR + "x_bottom_masks__mutmut_74": "None assigned into a bool array is False",
    **{_PR + f"x_class_ratio_reps__mutmut_{i}": "y == 1 and isnan(y) give the same masks for "
       "int or float labels" for i in (3, 5)},
    **{_PR + f"x_class_ratio_reps__mutmut_{i}": "no labelled image in a group means no "
       "positive either: 0/0 is NaN either way" for i in (42, 52)},
    **{_PR + f"x_findings_reps__mutmut_{i}": "findings counts are integers: exact in float64 "
       "or as given" for i in (4, 6)},
    **{_PR + f"x_findings_reps__mutmut_{i}": "_sums casts the columns to float32 whatever "
       "they were built as" for i in (17, 19)},
    _PR + "x_findings_reps__mutmut_21": "an extra all-zero row that nothing reads",
    _PR + "x_findings_reps__mutmut_24": "bin indicators of 2 double PIE and non-PIE "
                                        "prevalences alike (a power of 2, exact): same ratio",
    **{_PR + f"x_findings_reps__mutmut_{i}": _EMPTY for i in (75, 76, 78)},
    **{_PR + f"x_mean_diff_reps__mutmut_{i}": "float32 or float64 values reach _sums' float32 "
       "cast with the same values" for i in (3, 5)},
    **{_PR + f"x_mean_diff_reps__mutmut_{i}": _EMPTY for i in (48, 50, 53)},
    **{_PR + f"x_mean_diff_reps__mutmut_{i}": "a group's value sum is 0 whenever its count "
       "is: only 0/0 (invalid) can occur, never a division of a non-zero sum by 0"
       for i in (27, 29)},
    **{_PR + f"x_replicate_correlations__mutmut_{i}": _INT for i in (10, 12)},
    _PR + "x_replicate_pies__mutmut_20": "each replicate's correlations are computed on their "
                                         "own: chunks of 2 give the same columns as chunks of 1",
    _PR + "x_replicate_pies__mutmut_33": "range's default step is 1: chunks of one replicate, "
                                         "the same columns",
    **{_PR + f"x_seed_multiplicities__mutmut_{i}": _INT for i in (3, 5)},
    **{_PR + f"x_split_weights__mutmut_{i}": "np.where reads a 0/1 mask as it reads a bool one"
       for i in (8, 10)},
})

# median_over_seeds (moved into over_seeds from uncertainty), judged 2026-12-08
_OS = "core.analysis.over_seeds."
EQUIVALENT.update({
    _OS + "x_median_over_seeds__mutmut_1": "every caller passes axis (beyond_paper, "
                                           "uncertainty): the default is never used",
    _OS + "x_median_over_seeds__mutmut_6": "np.sort's default axis is -1, the one sorted",
    **{_OS + f"x_median_over_seeds__mutmut_{i}": "take_along_axis's default axis is -1, the "
       "one the indices run along" for i in (36, 54)},
    _OS + "x_median_over_seeds__mutmut_64": "(lo + hi) / 2 of finite or NaN values never "
                                            "raises an invalid-value warning",
    _OS + "x_median_over_seeds__mutmut_73": "with no finite value lo and hi are the sorted "
                                            "NaNs: (lo + hi) / 2 is NaN either way",
    _PC + "x_f7_row__mutmut_45": _SAME_J,
    _PC + "x_pie_rows__mutmut_118": "ratio.size is 5 (findings_ratio's bins 0…4+), "
                                    "pie_resample.findings_reps' default",
})

_NJIT = re.compile(r"^@njit\((?P<args>[^)]*)\)\n(?=def (?P<name>\w+)\()", re.M)


def move_njit_decorators(source: str) -> str:
    """`@njit(a)\\ndef f(...)` → `def f(...)` plus `f = njit(a)(f)` at the end of the module
    (same object once imported; mutmut mutates undecorated functions only)."""
    names = [(m["name"], m["args"]) for m in _NJIT.finditer(source)]
    out = _NJIT.sub("", source)
    tail = "".join(f"{n} = njit({a})({n})\n" for n, a in names)
    return out.rstrip("\n") + "\n\n\n# moved by benchmarks/mutation.py\n" + tail


def _toml_list(values) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def prepare(name: str, mod: Module, work: Path) -> Path:
    """Scratch copy of core/ + tests/ + pyproject.toml with a [tool.mutmut] section."""
    d = work / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    shutil.copytree(ROOT / "core", d / "core", ignore=ignore)
    shutil.copytree(ROOT / "tests", d / "tests", ignore=ignore)
    if mod.jit:
        for f in mod.files:
            p = d / f
            p.write_text(move_njit_decorators(p.read_text()))
    write_pyproject(d, mod)
    return d


def write_pyproject(d: Path, mod: Module) -> None:
    """The scratch folder's pyproject.toml: the project's, plus a [tool.mutmut] section with
    the module's files and its own tests (MODULES)."""
    selection = list(mod.tests)
    for t in mod.deselect:
        selection += ["--deselect", t]
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject += (
        "\n[tool.mutmut]\n"
        'source_paths = ["core"]\n'
        f"only_mutate = {_toml_list(mod.files)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(selection)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-o", "addopts="]\n'
        "use_git_change_detection = false\n")
    (d / "pyproject.toml").write_text(pyproject)


def _status(code) -> str:
    from mutmut.stats import status_by_exit_code
    return status_by_exit_code[code]


_DONE = ("killed", "timeout", "caught by type check", "segfault")


def _exit_codes(d: Path, mod: Module) -> dict[str, int | None]:
    """{mutant: the exit code mutmut recorded for its test run} (None = not tried)."""
    out: dict[str, int | None] = {}
    for f in mod.files:
        meta = d / "mutants" / (f + ".meta")
        if meta.is_file():
            for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
                if not mod.functions or any(f".x_{fn}__mutmut_" in key for fn in mod.functions):
                    out[key] = code
    return out


def _statuses(d: Path, mod: Module) -> dict[str, str]:
    return {k: _status(c) for k, c in _exit_codes(d, mod).items()}


def cpu_seconds() -> float:
    """User + system CPU of this process and of every child it has waited for (mutmut and,
    through it, every forked mutant worker): the load-independent cost of a run."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_module(name: str, mod: Module, work: Path, max_children: int, log,
               resume: bool = False, collect: bool = False) -> dict:
    """Mutate one module and run its own tests against every mutant. With `resume`, reuse
    `work`'s earlier run of the same source: copy the current tests and test selection in
    and retry only the mutants that were not killed (tests were added, none removed, so
    kills still stand).
    With `collect`, only read what an earlier (perhaps stopped) run recorded there."""
    d = work / name
    retry: list[str] = []
    if collect:
        resume = True
    elif resume and (d / "mutants").is_dir():
        retry = [k for k, st in _statuses(d, mod).items() if st not in _DONE]
        for t in (d / "tests", d / "mutants" / "tests"):
            shutil.rmtree(t, ignore_errors=True)
        shutil.copytree(ROOT / "tests", d / "tests",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        # the module's test selection may have grown: write it again, and let mutmut map
        # tests to functions afresh (its stats are of the earlier selection)
        write_pyproject(d, mod)
        (d / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    else:
        resume = False
        d = prepare(name, mod, work)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    if mod.jit:
        env["NUMBA_DISABLE_JIT"] = "1"
    env["NUMBA_CACHE_DIR"] = str(d / "numba_cache")
    # mutmut forks one worker per mutant from a parent that has already run the tests. With
    # numba's default OpenMP threading layer a parallel kernel in such a child ends it with
    # SIGTERM ("fork() called from a process already using GNU OpenMP"): mutmut then records
    # exit -15, "suspicious", for every mutant whose tests reach a prange kernel. The workqueue
    # layer survives the fork and computes the same numbers.
    env["NUMBA_THREADING_LAYER"] = "workqueue"
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children)]
    if resume:
        cmd += retry
    elif mod.functions:
        stem = ".".join(Path(mod.files[0]).with_suffix("").parts)
        cmd += [f"{stem}.x_{f}__mutmut_*" for f in mod.functions]
    t0, cpu0, load0 = time.perf_counter(), cpu_seconds(), _load()
    rc = 0
    if not resume or retry:
        with open(d / ("mutmut-resume.log" if resume else "mutmut.log"), "w") as fh:
            rc = subprocess.run(cmd, cwd=d, env=env, stdout=fh,
                                stderr=subprocess.STDOUT).returncode
    codes = _exit_codes(d, mod)
    # scored over the mutants tried (a run cut short leaves the rest untried: counted apart)
    statuses = {k: _status(c) for k, c in codes.items() if c is not None}
    alive = {k: st for k, st in sorted(statuses.items()) if st not in _DONE}
    diffs = _diffs(d, env, alive, mod.files)
    wall, cpu, load1 = time.perf_counter() - t0, cpu_seconds() - cpu0, _load()
    survivors = {k: {"status": st, "exit_code": codes[k], "diff": _short_diff(diffs.get(k, "")),
                     "equivalent": EQUIVALENT.get(k)} for k, st in alive.items()}
    total = len(statuses)
    equivalent = sum(1 for s in survivors.values() if s["equivalent"])
    killed = total - len(survivors)
    score = killed / (total - equivalent) if total - equivalent else float("nan")
    res = {"module": name, "files": mod.files, "mutants": total, "killed": killed,
           "equivalent": equivalent, "survived": len(survivors) - equivalent,
           "score": score, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
           "mutants_total": len(codes),
           "load_before": load0, "load_after": load1, "mutmut_rc": rc, "resumed": resume,
           "not_tried": sum(1 for c in codes.values() if c is None), "survivors": survivors}
    log(f"{name:17s} {killed:4d}/{total - equivalent:<4d} killed = {100 * score:5.1f} %  "
        f"({equivalent} equivalent, wall {wall:5.0f} s, CPU {cpu:5.0f} s, load "
        f"{load0[0]:.2f} → {load1[0]:.2f})")
    return res


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
keys, files = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for k in keys:
    for f in files:
        try:
            out[k] = get_diff_for_mutant(k, path=f)
            break
        except Exception:
            continue
print(json.dumps(out))
"""


def _diffs(d: Path, env: dict, keys, files) -> dict[str, str]:
    """{mutant: `mutmut show` diff}, in one process (mutmut's start-up is seconds)."""
    if not keys:
        return {}
    proc = subprocess.run([sys.executable, "-c", _DIFFS, json.dumps(list(keys)),
                           json.dumps(files)], cwd=d, env=env, capture_output=True, text=True)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def _short_diff(diff: str) -> str:
    """Only the changed lines of `mutmut show` (the -/+ pair)."""
    keep = [ln for ln in diff.splitlines()
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    return "\n".join(keep)


def merge_passes(results: list[dict]) -> list[dict]:
    """One row per module from a first pass and its --resume retries (in the order given):
    the counts and survivors of the last pass, the wall and CPU time of all passes summed,
    the load before the first and after the last."""
    by: dict[str, dict] = {}
    for r in results:
        first = by.get(r["module"])
        if first is not None:
            r = dict(r, wall_s=first["wall_s"] + r["wall_s"],
                     cpu_s=first.get("cpu_s", math.nan) + r.get("cpu_s", math.nan),
                     load_before=first.get("load_before", [math.nan]),
                     passes=first.get("passes", 1) + 1)
        by[r["module"]] = r
    return list(by.values())


def markdown(results: list[dict]) -> str:
    """The RESULTS.md block: score per module, then every survivor (equivalent: why)."""
    rows = ["| module | mutants | killed | equivalent | survived | score (killed / "
            "non-equivalent) | not tried | wall s | CPU s | load 1-min before → after |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lb, la = r.get("load_before", [math.nan]), r.get("load_after", [math.nan])
        rows.append(f"| {r['module']} | {r['mutants']} | {r['killed']} | {r['equivalent']} | "
                    f"{r['survived']} | {100 * r['score']:.1f} % | {r.get('not_tried', 0)} | "
                    f"{r['wall_s']:.0f} | "
                    f"{r.get('cpu_s', math.nan):.0f} | {lb[0]:.2f} → {la[0]:.2f} |")
    lines = ["", "Survivors (`mutmut show NAME` in the scratch copy gives the full diff):", ""]
    for r in results:
        for key, s in r["survivors"].items():
            why = f"equivalent: {s['equivalent']}" if s["equivalent"] else f"**{s['status']}**"
            change = " → ".join(x[1:].strip() for x in s["diff"].splitlines()[:2])
            lines.append(f"- `{key.split('.', 2)[-1]}` `{change[:150]}` — {why}")
    return "\n".join(rows + lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", nargs="+", choices=sorted(MODULES), default=list(MODULES))
    ap.add_argument("--max-children", type=int, default=2, help="parallel mutant workers")
    ap.add_argument("--work", type=Path, default=None,
                    help="scratch folder (default: a new temp folder, removed at the end)")
    ap.add_argument("--out", type=Path, default=None, help="write every result here (JSON)")
    ap.add_argument("--resume", action="store_true",
                    help="reuse --work's earlier run: retry only the mutants not killed")
    ap.add_argument("--collect", action="store_true",
                    help="run nothing: report what --work's earlier (perhaps stopped) run "
                         "recorded")
    ap.add_argument("--markdown", nargs="+", type=Path, metavar="JSON",
                    help="only print the RESULTS.md block of earlier --out files")
    args = ap.parse_args(argv)
    if args.markdown:
        results = merge_passes([r for f in args.markdown
                                for r in json.loads(f.read_text())["results"]])
        for r in results:                     # re-judge with the current EQUIVALENT list
            for key, sv in r["survivors"].items():
                sv["equivalent"] = EQUIVALENT.get(key)
            r["equivalent"] = sum(1 for sv in r["survivors"].values() if sv["equivalent"])
            r["survived"] = len(r["survivors"]) - r["equivalent"]
            r["score"] = (r["killed"] / (r["mutants"] - r["equivalent"])
                          if r["mutants"] - r["equivalent"] else float("nan"))
        print(markdown(results))
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="prunelens-mutation-"))
    started = datetime.now(UTC)
    print(f"mutation run {started:%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.2f}, "
          f"scratch {work}", flush=True)
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    if (args.resume or args.collect) and args.work is None:
        ap.error("--resume and --collect need the --work folder of the earlier run")
    results = []
    for n in args.modules:
        results.append(run_module(n, MODULES[n], work, args.max_children,
                                  lambda s: print(s, flush=True), args.resume,
                                  args.collect))
        if args.out:                          # after each module: a cut-short run keeps them
            args.out.write_text(json.dumps({"started": started.isoformat(),
                                            "results": results}, indent=1))
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    # CPU seconds do not grow with other people's load; on the 2-core machine a quiet run
    # cannot take less wall time than CPU / 2 (nor, with 2 workers busy, much more)
    print(f"total {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU (≥ {cpu / 120:.1f} min on "
          f"2 quiet cores), load at end {os.getloadavg()[0]:.2f}")
    for r in results:
        for key, s in r["survivors"].items():
            tag = (f"equivalent: {s['equivalent']}" if s["equivalent"]
                   else f"{s['status']}, exit code {s['exit_code']}")
            print(f"  {key} ({tag})\n    " + s["diff"].replace("\n", "\n    "))
    if args.out:
        args.out.write_text(json.dumps({"started": started.isoformat(), "wall_s": wall,
                                        "cpu_s": cpu, "results": results}, indent=1))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["mutmut_rc"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
