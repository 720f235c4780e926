"""core.analysis.forgetting: the definitions pinned at their boundaries, by hand."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis import forgetting as fg


def test_first_drop_at_exactly_minus_drop_is_not_a_drop():
    # AP 0.625 → 0.5 is exactly −20 % (both exact in binary): "below −20 %" is strict, so
    # the class never drops; 0.625 → 0.49 (−21.6 %) drops at that sparsity.
    ap = np.array([[[0.625, 0.625], [0.5, 0.49]]])          # 1 seed, sparsities 0 and 50
    rel = fg.forgetting_curves(ap).median
    assert rel[1, 0] == -0.2
    first = fg.first_drop_sparsity(rel, [0, 50], 20)
    assert np.isnan(first[0]) and first[1] == 50


@pytest.mark.parametrize("drop", [10, 20, 50])
def test_first_drop_boundary_for_other_thresholds(drop):
    # The curve sits exactly on −drop at 50 %, just past it (1e-12 lower) at 90 %.
    rel = np.array([0.0, -drop / 100, -drop / 100 - 1e-12])
    assert fg.first_drop_sparsity(rel, [0, 50, 90], drop) == 90
    assert np.isnan(fg.first_drop_sparsity(rel[:2], [0, 50], drop))
