"""Reader page helpers that need no browser: study facts, pixels, chart builders."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.reader import compare_groups, distributions
from dashboard.reader_study import reader_ui
from tests.reader.conftest import CLASSES


def _answers():
    rng = np.random.default_rng(0)
    n = 24
    return pd.DataFrame({"reader": np.repeat(["A", "B"], n // 2),
                         "image_id": [f"i{k % 12}" for k in range(n)],
                         "is_pie": np.tile(np.arange(12) < 6, 2),
                         "agree": rng.integers(0, 2, n), "quality": rng.integers(1, 6, n),
                         "difficulty": rng.integers(1, 6, n)})


def test_study_view(study):
    view = reader_ui.StudyView(study)
    assert view.classes == CLASSES and view.has_pie_analysis
    assert view.pie_sparsities == [50, 90] and view.default_sparsity == 90
    row = view.labels.loc[3]
    expected = ", ".join(c for c in CLASSES[1:] if row[c] == 1) or "No Finding"
    assert view.label_text(3) == expected
    img = view.display_image(3, size=64)  # unknown source kind → the eval cache, upscaled
    assert img.dtype == np.uint8 and img.shape == (64, 64)


def test_charts_build():
    ans = _answers()
    spec = reader_ui.means_chart(compare_groups(ans)).to_dict()
    assert spec["facet"]["column"]["field"] == "question"
    spec = reader_ui.distribution_chart(distributions(ans, "quality"), "Quality").to_dict()
    combined = reader_ui.distributions_chart(
        [reader_ui.distribution_chart(distributions(ans, q), q) for q in ("agree", "quality")]
    ).to_dict()
    assert len(combined["hconcat"]) == 2 and combined["resolve"]["scale"]["x"] == "independent"
    assert spec["mark"]["type"] == "bar"


def test_form_set_label():
    row = {"set_id": 2, "method": "l1_global", "sparsity": 90, "definition": "paper",
           "percentile": 5.0, "n_forms": 6, "n_pie": 20, "n_non_pie": 20}
    assert reader_ui.form_set_label(row) == \
        "Set 2: l1_global at 90% · paper bottom 5% · 6 form(s) of 20+20"
