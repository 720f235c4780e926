"""AppTest of the Browse PIEs page on the fixture studies: the image named in the URL is
shown with its rank table and words; unknown ids and empty filters say so and show no
image; a study without weights shows everything but Grad-CAM; data strings stay literal."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from core.store import read_rows
from dashboard.common.data import StudyData
from dashboard.reading_room.browse_logic import gallery_order
from tests.dashboard.htmltable import rank_table

PAGE = "reading_room/browse.py"


def _open(app_test, root, study="alpha", **query):
    at = app_test([root], study=study, **query)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _text(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                    + [w.value for w in at.warning] + [i.value for i in at.info])


def _first_pie(root, study="alpha") -> tuple[int, str]:
    from core.analysis.pies import rowwise_spearman, select_bottom
    from dashboard.reading_room.browse_logic import gallery_table

    d = StudyData(root / study)
    k = d.param("pie_sparsity", 90)
    ens = [np.mean([np.asarray(d.predictions("l1_global", s).probabilities(i), np.float64)
                    for s in d.seeds], axis=0) for i in (0, d.sparsities.index(k))]
    corr = rowwise_spearman(*ens)
    t = gallery_table(d.labels, d.classes, corr, select_bottom(corr, d.param(
        "pie_percentile", 5.0)))
    row = int(gallery_order(t)[0])
    return row, str(d.labels["id"].iloc[row])


def test_browse_opens_on_the_lowest_agreement_pie_with_its_rank_table(app_test,
                                                                      studies_root):
    row, image_id = _first_pie(studies_root)
    at = _open(app_test, studies_root)
    assert at.title[0].value == "Browse PIEs"
    assert at.query_params["image"] in (image_id, [image_id])
    text = _text(at)
    assert image_id in text.replace("\\", "") and "This image is a PIE" in text
    table = rank_table(at)
    d = StudyData(studies_root / "alpha")
    assert len(table) == len(d.classes)
    # the rank table's dense P is the ensemble mean of the stored predictions for that row
    dense = np.mean([np.asarray(d.predictions("l1_global", s).probabilities(0, row), np.float64)
                     for s in d.seeds], axis=0)
    top = d.classes[int(np.argmax(dense))]
    assert table["finding"].iloc[0].lstrip("●? ") == top
    assert table["dense P"].iloc[0] == f"{dense.max():.2f}"   # as shown: two decimals
    # the Grad-CAM class defaults to a positive finding of this image (or the top class)
    cls = at.selectbox(key=f"br_cam_{row}_ens_l1_global_90").value
    y = d.labels.iloc[row][d.classes].to_numpy(dtype=float)
    assert y[d.classes.index(cls)] == 1 or (not (y == 1).any() and cls == top)
    assert "Operating thresholds are unavailable" in text or "operating thresholds" in text


def test_image_from_the_url_and_unknown_ids(app_test, studies_root):
    at = _open(app_test, studies_root, image="im0007.png")
    assert at.query_params["image"] in ("im0007.png", ["im0007.png"])
    assert "im0007" in _text(at)
    at = _open(app_test, studies_root, image="no*such_[id]")
    assert any("No image with the id" in w.value for w in at.warning)
    # shown literally: markdown characters escaped, no rank table, no image
    assert any("no\\*such\\_\\[id\\]" in w.value for w in at.warning)
    assert rank_table(at) is None


def test_a_filter_with_no_images_says_so_and_shows_no_image(app_test, studies_root):
    at = _open(app_test, studies_root)
    # positive for Effusion with zero findings: impossible, so always empty
    at.selectbox(key="br_dis").set_value("Effusion")
    at.selectbox(key="br_nf").set_value("0")
    at.run()
    assert any("No image matches the gallery filter" in i.value for i in at.info)
    assert rank_table(at) is None and "image" not in at.query_params
    # a filter that matches brings the image back
    at.selectbox(key="br_nf").set_value("any")
    at.selectbox(key="br_which").set_value("all")
    at.run()
    assert rank_table(at) is not None and not at.info
    assert "Effusion" in _text(at)


def test_single_seed_selection_uses_that_seeds_numbers(app_test, studies_root):
    at = _open(app_test, studies_root)
    at.selectbox(key="br_model").set_value("1")
    at.run()
    assert not at.exception
    image_id = at.query_params["image"]
    image_id = image_id[0] if isinstance(image_id, list) else image_id
    d = StudyData(studies_root / "alpha")
    row = int(np.flatnonzero(d.labels["id"].astype(str) == image_id)[0])
    dense = np.asarray(d.predictions("l1_global", 1).probabilities(0, row), np.float64)
    table = rank_table(at)
    assert list(table["dense P"]) == [f"{p:.2f}" for p in np.sort(dense)[::-1]]
    assert "seed 1 only" in _text(at)


def test_study_without_weights_shows_everything_but_gradcam(app_test, studies_root):
    at = _open(app_test, studies_root, study="beta")
    assert rank_table(at) is not None, "the rank table is shown"
    assert "This image is" in _text(at)


def test_gallery_pies_are_the_stored_analysis_pies(studies_root):
    """With all seeds and the study's parameters, the gallery's PIEs are exactly the rows
    the analysis marked `pie_paper` in analysis/pies.parquet."""
    from dashboard.reading_room.browse_logic import gallery_table

    d = StudyData(studies_root / "alpha")
    stored = pd.read_parquet(d.paths.analysis_dir / "pies.parquet")
    for method in d.methods:
        from core.analysis.pies import select_bottom

        k = d.param("pie_sparsity", 90)
        corr = np.asarray(d.pie_corr(method)[d.sparsities.index(k)], np.float64)
        t = gallery_table(d.labels, d.classes, corr,
                          select_bottom(corr, d.param("pie_percentile", 5.0)))
        theirs = stored[(stored["method"] == method) & stored["pie_paper"]]
        assert set(gallery_order(t).tolist()) == set(theirs["row"].tolist())
        # and in gallery order = ascending stored correlation
        assert np.all(np.diff(t.set_index("row").loc[gallery_order(t), "corr"]) >= 0)


def test_ensemble_gradcam_is_the_mean_of_the_models_maps(studies_root):
    """The page's Grad-CAM (pruned copies kept per seed) equals core.explain.gradcam of the
    dense model and of the model pruned in place (core.pruning.sequence), for one seed and as
    the mean over seeds."""
    import torch

    from core import models, pruning
    from core.explain import difference_map, gradcam, normalize_cam
    from dashboard.reading_room import browse_loaders as bl

    d = StudyData(studies_root / "alpha")
    row, cls, k = 5, 1, 90
    pairs = []
    for s in d.seeds:
        model, meta = models.load_model(d.paths.weights(s))
        spec = models.ModelSpec.from_dict(meta["spec"]) if "spec" in meta else \
            models.spec(meta["architecture"])
        x = models.preprocess(torch.from_numpy(np.ascontiguousarray(d.image(row)))[None], spec)
        dense = gradcam(model, spec.gradcam_layer, x, cls)
        with pruning.sequence(model, "l1_global", [k], seed=s, example_input=x) as seq:
            for _, _, net in seq:
                pruned = gradcam(net, spec.gradcam_layer, x, cls)
        pairs.append((dense, pruned))
    one = bl.cam_maps(d, (d.seeds[0],), "l1_global", k, row, cls)
    np.testing.assert_allclose(one["dense"], normalize_cam(pairs[0][0]), atol=1e-5)
    np.testing.assert_allclose(one["pruned"], normalize_cam(pairs[0][1]), atol=1e-5)
    ens = bl.cam_maps(d, tuple(d.seeds), "l1_global", k, row, cls)
    dense = sum(p[0] for p in pairs)
    pruned = sum(p[1] for p in pairs)
    np.testing.assert_allclose(ens["dense"], normalize_cam(dense), atol=1e-5)
    np.testing.assert_allclose(ens["diff"], difference_map(dense, pruned), atol=1e-5)
    assert not np.allclose(ens["dense"], ens["pruned"]), "pruning changed nothing"


def _fake_val(monkeypatch, d, n_val=40, rng_seed=3):
    """Validation predictions for the fixture study through the core.predictions interface
    (read_val_probabilities(root, seed) -> [Nval, C], read_val_labels(root) -> DataFrame with
    `row` and class columns). Replaces the module's readers (or stands in for the module on
    a branch without it), so only where the numbers come from is faked."""
    import sys
    import types

    rng = np.random.default_rng(rng_seed)
    y = (rng.random((n_val, len(d.classes))) < 0.4).astype(np.float64)
    y[0], y[1] = 1, 0
    probs = {s: np.clip(0.6 * y + 0.4 * rng.random(y.shape), 0, 1).astype(np.float32)
             for s in d.seeds}
    labels = pd.DataFrame(y, columns=d.classes)
    labels.insert(0, "row", np.arange(n_val))
    labels = labels.iloc[::-1]          # out of order on purpose: the reader sorts by row
    stored = Path(tempfile.mkdtemp()) / "val_labels.parquet"
    labels.to_parquet(stored, index=False)
    labels = read_rows(stored)          # what core.predictions.read_val_labels returns
    try:
        import core.predictions as mod
    except ImportError:
        mod = types.ModuleType("core.predictions")
        monkeypatch.setitem(sys.modules, "core.predictions", mod)
    monkeypatch.setattr(mod, "read_val_probabilities", lambda root, seed: probs[int(seed)],
                        raising=False)
    monkeypatch.setattr(mod, "read_val_labels", lambda root: labels, raising=False)
    return probs, y


def test_thresholds_are_chosen_on_the_validation_split_of_the_selection(studies_root,
                                                                        monkeypatch):
    from core.analysis.thresholds import choose_thresholds
    from dashboard.reading_room import browse_loaders as bl

    d = StudyData(studies_root / "alpha")
    probs, y = _fake_val(monkeypatch, d)
    thr, why = bl.thresholds.__wrapped__(d, "k1", tuple(d.seeds))
    assert why == ""
    ens = np.mean([probs[s].astype(np.float64) for s in d.seeds], axis=0)
    np.testing.assert_array_equal(thr, choose_thresholds(ens, y, rule="youden"))
    one, _ = bl.thresholds.__wrapped__(d, "k2", (d.seeds[1],))
    np.testing.assert_array_equal(one, choose_thresholds(probs[d.seeds[1]], y, rule="youden"))


def test_page_shows_calls_at_the_thresholds_and_says_which_rule(app_test, studies_root,
                                                                monkeypatch):
    from dashboard.reading_room import browse_loaders as bl

    d = StudyData(studies_root / "alpha")
    _fake_val(monkeypatch, d)
    bl.thresholds.clear()       # other tests cached "unavailable" for this study
    try:
        at = _open(app_test, studies_root)
    finally:
        monkeypatch.undo()
        bl.thresholds.clear()
    text = _text(at).replace("\\", "")
    assert "youden rule" in text and "Operating thresholds are unavailable" not in text
    table = rank_table(at)
    assert {"dense call", "threshold"} <= set(table.columns)
