"""Form creation: counts, shuffling, seed reproducibility, matching, blinding."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from core.reader import (
    BlindItem,
    FormError,
    FormSpec,
    NoPIEsError,
    ReaderDB,
    forms_from_study,
    label_words,
    make_forms,
    study_candidates,
)
from tests.reader.conftest import CLASSES, build_study, candidates


def _ids(plan):
    return [[it.image_id for it in f.items] for f in plan.forms]


def test_counts_and_disjoint_forms():
    plan = make_forms(candidates(), FormSpec("l1_global", 90, n_forms=2, seed=1))
    assert [f.name for f in plan.forms] == ["Form 1", "Form 2"]
    for form in plan.forms:
        assert len(form.items) == 40
        assert sum(it.is_pie for it in form.items) == 20
        assert [it.position for it in form.items] == list(range(1, 41))
        assert len({it.image_id for it in form.items}) == 40
    a, b = ({it.image_id for it in f.items} for f in plan.forms)
    assert not a & b
    assert plan.n_pie_available == 50 and plan.n_non_pie_available == 150
    item_ids = [it.item_id for f in plan.forms for it in f.items]
    assert len(set(item_ids)) == len(item_ids)


def test_shared_forms_hold_same_images_in_different_orders():
    plan = make_forms(candidates(), FormSpec("l1_global", 90, n_forms=3,
                                             image_overlap="shared", seed=2))
    orders = _ids(plan)
    assert all(sorted(o) == sorted(orders[0]) for o in orders)
    assert len({tuple(o) for o in orders}) == 3  # each form shuffled its own way


def test_pies_are_shuffled_not_grouped():
    plan = make_forms(candidates(), FormSpec("l1_global", 90, seed=3))
    flags = [it.is_pie for it in plan.forms[0].items]
    assert flags != sorted(flags) and flags != sorted(flags, reverse=True)


def test_seed_reproducible_and_seed_sensitive():
    spec = FormSpec("l1_global", 90, n_forms=2, seed=7)
    assert _ids(make_forms(candidates(), spec)) == _ids(make_forms(candidates(), spec))
    other = dataclasses.replace(spec, seed=8)
    assert _ids(make_forms(candidates(), spec)) != _ids(make_forms(candidates(), other))


def test_matching_on_findings_follows_pie_bins():
    cand = candidates(n_pie=40, n_non=400, seed=4)
    plan = make_forms(cand, FormSpec("l1_global", 90, match_findings=True, seed=5))
    form = plan.forms[0].items
    bins = lambda items: sorted(min(it.n_findings, 4) for it in items)
    assert bins([i for i in form if i.is_pie]) == bins([i for i in form if not i.is_pie])
    assert plan.unmatched == 0


def test_matching_reports_borrowed_bins():
    cand = candidates(n_pie=20, n_non=30)
    cand.loc[cand["is_pie"], "n_findings"] = 3
    cand.loc[~cand["is_pie"], "n_findings"] = [3] * 5 + [0] * 25
    plan = make_forms(cand, FormSpec("m", 90, match_findings=True))
    assert plan.unmatched == 15
    assert sum(not it.is_pie for it in plan.forms[0].items) == 20


def test_refusals():
    with pytest.raises(NoPIEsError, match="no PIEs"):
        make_forms(candidates(n_pie=0), FormSpec("l1_global", 90))
    with pytest.raises(FormError, match="only 50 available"):
        make_forms(candidates(), FormSpec("l1_global", 90, n_forms=3))
    with pytest.raises(FormError, match="definition"):
        make_forms(candidates(), FormSpec("l1_global", 90, definition="bogus"))
    with pytest.raises(FormError, match="sparsity"):
        make_forms(candidates(), FormSpec("l1_global", 0))


def test_label_words():
    row = {"No Finding": 0.0, "Effusion": 1.0, "Nodule": 1.0, "Pleural_Thickening": np.nan}
    assert label_words(row, CLASSES) == "Effusion, Nodule"
    row = {"No Finding": 1.0, "Effusion": 0.0, "Nodule": 0.0, "Pleural_Thickening": 1.0}
    assert label_words(row, CLASSES) == "Pleural_Thickening"   # names as the dataset spells them
    assert label_words(dict.fromkeys(CLASSES, 0.0), CLASSES) == "No Finding"


def test_from_study_uses_analysis_cut(study):
    cand = study_candidates(study, "l1_global", 90, "paper", 10.0)
    assert len(cand) == 80 and cand["is_pie"].sum() == 8  # ⌊10% of 80⌋
    corr = np.load(study / "analysis" / "pie_corr" / "l1_global.npy")[2]
    assert set(cand.loc[cand["is_pie"], "row"]) == set(np.argsort(corr)[:8])
    pop = study_candidates(study, "l1_global", 50, "population")
    assert pop["is_pie"].sum() == np.load(study / "analysis" / "pie_population" /
                                          "l1_global.npy")[1].sum()
    plan = forms_from_study(study, FormSpec("l1_global", 90, percentile=25, n_pie=20,
                                            n_non_pie=20))
    assert len(plan.forms[0].items) == 40


def test_study_without_pies_says_so(tmp_path):
    bare = build_study(tmp_path / "bare", with_analysis=False)
    with pytest.raises(NoPIEsError, match="no PIE analysis"):
        forms_from_study(bare, FormSpec("l1_global", 90))
    none = build_study(tmp_path / "none", no_pies=True)
    with pytest.raises(NoPIEsError, match="no PIEs"):
        forms_from_study(none, FormSpec("l1_global", 90, definition="population"))
    with pytest.raises(FormError, match="not one of"):
        forms_from_study(none, FormSpec("l1_global", 70))


def test_blind_items_carry_no_pie_flag(tmp_path):
    db = ReaderDB(tmp_path / "r.sqlite")
    plan = make_forms(candidates(), FormSpec("l1_global", 90, seed=1))
    [form_id] = db.add_form_set(plan.spec_record(), plan.forms)
    fields = {f.name for f in dataclasses.fields(BlindItem)}
    assert fields == {"item_id", "form_id", "position", "image_id", "row"}
    assert set(db.forms().columns) == {"form_id", "name", "n_items"}
    items = db.blind_items(form_id)
    assert [i.image_id for i in items] == [i.image_id for i in plan.forms[0].items]
    full = db.items()
    assert full["is_pie"].sum() == 20  # the researcher's view keeps the flag
    assert isinstance(full, pd.DataFrame)
