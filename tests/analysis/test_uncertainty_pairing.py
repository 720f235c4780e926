"""The paired bootstrap: one image draw per replicate, shared by every sparsity (and seed), so
a relative change is computed on paired data. Identical scores at every sparsity must then
change by exactly 0 in every replicate, with an interval of width 0."""
from __future__ import annotations

import numpy as np

from core.analysis import uncertainty as unc
from core.metrics import label_codes


def _identical_over_sparsity(n_seeds=3, n_sparsities=4, n=80, c=3, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    y = (rng.random((n, c)) < 0.3).astype(float)
    y[0], y[1] = 1, 0
    codes = label_codes(y)[None]                                  # Q = 1: all images
    plan = unc.make_plan(n, n_seeds, n_boot=200, rng_seed=7)
    points, reps = [], []
    for k in range(n_seeds):
        one = (y + rng.normal(size=(n, c))).astype(np.float32)  # differs between seeds
        scores = np.repeat(one[None], n_sparsities, axis=0)       # same at every sparsity
        p, r = unc.seed_replicates(scores, codes, plan, k)
        points.append(p[:, 0])
        reps.append(r[:, 0])
    return plan, np.stack(points), np.stack(reps)


def test_each_replicate_uses_one_draw_for_every_sparsity():
    plan, points, reps = _identical_over_sparsity()
    # per seed and replicate, every sparsity has the very same AP (NaN where not drawn)
    np.testing.assert_array_equal(reps, np.broadcast_to(reps[:, :1], reps.shape))
    assert np.isfinite(reps).any(axis=-1).all()


def test_identical_scores_give_zero_relative_change_in_every_replicate():
    plan, points, reps = _identical_over_sparsity()
    ci = unc.summarise_method(points, reps, plan)
    assert ci.rel_reps.shape == (plan.n_boot, 4, 3)
    assert (ci.rel_reps[:, 1:] == 0).all()          # exactly 0, every replicate, no NaN
    assert (ci.rel[1:] == 0).all()
    lo, hi, n = unc.interval(ci.rel_reps, plan.level)
    assert (lo[1:] == 0).all() and (hi[1:] == 0).all() and (n[1:] == plan.n_boot).all()
    # the AP itself does vary over replicates: the zero width comes from the pairing
    ap_lo, ap_hi, _ = unc.interval(ci.ap_reps, plan.level)
    assert (ap_hi - ap_lo > 0.01).all()
