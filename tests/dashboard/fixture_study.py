"""A small but complete study folder for the dashboard tests (and the benchmark's shape).

Written with core.store helpers: labels, class counts, co-occurrence, predictions that
degrade with sparsity (rare classes faster, like the paper), tiny PNG images on disk, real
SmallCNN weights (so Grad-CAM runs), then core.analysis.analyze_study and the manifest.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core import store
from core.config import StudyConfig

CLASSES_A = ("No Finding", "Effusion", "Atelectasis", "Nodule", "Pneumothorax", "Hernia")
CLASSES_B = ("Alpha sign", "Beta ring", "Gamma haze", "Delta line")


def make_study(root, *, seal=True, **kw) -> Path:
    """Write the study; with `seal`, its manifest lists exactly the files written here."""
    with store.record_writes() as written:
        root = _write_study(root, **kw)
    if seal:
        store.write_manifest(root, written)
    return root


def _write_study(root, *, classes=CLASSES_A, n_images=120, seeds=(0, 1, 2),
                 methods=("l1_global", "random"), sparsities=(0, 25, 50, 70, 80, 90, 95),
                 image_size=32, groundtruth=True, weights=True, analyze=True,
                 rng_seed=0, name=None, metadata=True, ids=None, y=None, files=None,
                 image_root=None) -> Path:
    root = Path(root)
    rng = np.random.default_rng(rng_seed)
    classes = list(classes)
    c = len(classes)
    paths = store.StudyPaths(root)
    # long tail: prevalence falls geometrically along the class order
    prev = 0.5 * 0.55 ** np.arange(c)
    given = y is not None
    if not given:
        y = (rng.random((n_images, c)) < prev).astype(np.float32)
    if classes[0] == "No Finding" and not given:
        y[:, 0] = y[:, 1:].sum(axis=1) == 0
    if not given:
        y[0, :], y[1, :] = 1.0, 0.0             # every class has positives and negatives
        y[2:, :][rng.random((n_images - 2, c)) < 0.02] = np.nan
    y = np.asarray(y, dtype=np.float32)
    img_dir = Path(image_root) if image_root is not None else \
        root.parent / f"{root.name}-images"
    img_dir.mkdir(parents=True, exist_ok=True)
    labels = pd.DataFrame({
        "id": list(ids) if ids is not None else [f"im{i:04d}.png" for i in range(n_images)],
        "path": list(files) if files is not None else [f"im{i:04d}.png"
                                                        for i in range(n_images)],
        "split": "test",
        "patient_id": [f"p{i // 2}" for i in range(n_images)], "sex": "F", "age": 50.0,
        "view": "PA"})
    if metadata:   # varied sex / age / view (own generator: the other draws stay as they were)
        meta = np.random.default_rng(rng_seed + 1000)
        labels["sex"] = np.where(meta.random(n_images) < 0.5, "M", "F")
        labels["age"] = meta.integers(20, 90, n_images).astype(float)
        labels["view"] = np.where(meta.random(n_images) < 0.6, "PA", "AP")
    else:          # a study without metadata: the "Who is hurt" page says subgroups are absent
        labels["sex"], labels["age"], labels["view"] = None, np.nan, None
    for j, cls in enumerate(classes):
        labels[cls] = y[:, j]
    if groundtruth:
        labels["quality"] = rng.random(n_images).astype(np.float32)
        labels["label_noise"] = rng.random(n_images) < 0.08
    labels["row"] = np.arange(n_images)
    if image_root is None:     # given image files are the caller's (real radiographs)
        _write_images(img_dir, labels["path"], image_size, rng)
    store.write_parquet(paths.labels, labels)

    y0 = np.nan_to_num(y)
    train_pos = (y0.sum(0) * 7 + 2).astype(np.int64)
    store.write_parquet(paths.class_counts, pd.DataFrame({
        "class": classes, "train_pos": train_pos, "train_neg": 1000 - train_pos,
        "train_nan": 0, "eval_pos": y0.sum(0).astype(np.int64),
        "eval_neg": (n_images - y0.sum(0)).astype(np.int64), "eval_nan": 0}))
    cooc = (y0.T @ y0).astype(np.int64)
    store.write_npy(paths.cooccurrence("eval"), cooc)
    store.write_npy(paths.cooccurrence("train"), cooc * 7)
    store.write_json(paths.dataset_json, {"splits": {
        "test": {"images": n_images, "patients": n_images // 2}}})

    cfg = StudyConfig(name=name or root.name, model="smallcnn", seeds=list(seeds),
                      methods=list(methods), sparsities=list(sparsities))
    cfg.analysis.at_sparsity = 95 if 95 in sparsities else sparsities[-1]
    cfg.analysis.pie_sparsity = 90 if 90 in sparsities else sparsities[-1]
    cfg.analysis.pie_percentile = 10.0
    store.write_json(paths.study_json, {
        "schema_version": store.SCHEMA_VERSION, "name": cfg.name, "config": cfg.to_dict(),
        "classes": classes, "sparsities": list(sparsities), "methods": list(methods),
        "seeds": list(seeds), "image_size": image_size,
        "dataset": {"name": "fixture",
                    **({"ground_truth": ["label_noise", "quality"]} if groundtruth else {})},
        "image_source": {"kind": "files", "root": str(img_dir)},
        "created": "2024-01-01T00:00:00+00:00", "code_version": "test"})

    frac = np.asarray(sparsities, dtype=np.float64)[:, None, None] / 100
    fragility = (1 + np.arange(c))[None, None, :] / c      # rarer classes forget sooner
    for method in methods:
        for seed in seeds:
            r = np.random.default_rng(rng_seed * 1000 + seed + 17 * len(method))
            signal = 3 * (np.nan_to_num(y, nan=0.5) - 0.5)[None] * (1 - frac ** 2 * fragility)
            logits = signal + (0.6 + 2 * frac * fragility) * r.normal(size=(len(sparsities),
                                                                         n_images, c))
            store.write_npy(paths.predictions(method, seed),
                            (1 / (1 + np.exp(-logits))).astype(np.float16))
            store.write_json(paths.measured_sparsity(method, seed), {
                "method": method, "seed": seed, "sparsities": list(sparsities),
                "measured": [k / 100 for k in sparsities]})
    if weights:
        _write_weights(paths, classes, seeds, image_size)
    if analyze:
        from core.analysis import analyze_study

        analyze_study(root)
    return root


def _write_images(img_dir: Path, names, size: int, rng) -> None:
    from PIL import Image

    yy, xx = np.mgrid[0:size, 0:size] / size
    for name in names:
        # a soft bright blob on a dark field: enough structure for Grad-CAM to differ
        cy, cx = rng.uniform(0.3, 0.7, 2)
        img = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.05) * 200 + rng.normal(0, 8,
                                                                                 (size, size))
        Image.fromarray(np.clip(img + 30, 0, 255).astype(np.uint8)).save(img_dir / name)


def _write_weights(paths: store.StudyPaths, classes, seeds, image_size: int) -> None:
    import torch

    from core import models

    for seed in seeds:
        torch.manual_seed(seed)
        model = models.create("smallcnn", len(classes))
        meta = {"architecture": "smallcnn", "classes": list(classes), "seed": seed,
                "input_size": image_size}
        models.save_model(paths.weights(seed), model, meta)
        store.write_json(paths.model_meta(seed), {**meta,
                                                  "spec": models.spec("smallcnn").to_dict()})


# Names an attacker (or an unlucky CSV) could give: Markdown image and link, raw HTML,
# spreadsheet formulas, Streamlit's own directives and maths, unicode, commas, table pipes.
HOSTILE_CLASSES = (
    "No Finding", "![x](http://evil.example/class.png)", "<img src=http://evil.example/h.png>",
    '=HYPERLINK("http://evil.example","x")', "+SUM(1,2)", "-1+2", "@cmd", "Ödem (Lunge) 肺水腫",
    "Effusion, left", "**bold** _it_", ":red[alarm] :material/home:", "$x^2$",
    "[link](http://evil.example/a)", "<script>alert(1)</script>", "a|b|c", "`tick`",
    "# heading", "1. list", "Hernia",
)
HOSTILE_STUDY_NAME = "![s](http://evil.example/study.png) <b>study</b> =1+1"
HOSTILE_READER = '=HYPERLINK("http://evil.example/r","reader")'
HOSTILE_COMMENT = "@SUM(A1) ![c](http://evil.example/comment.png) <i>note</i>, -2"


def hostile_image_id(i: int) -> str:
    return ["![i](http://evil.example/img.png)", "=cmd|' /C calc'!A0", "<b>id</b>, ök"][i % 3] \
        + f" #{i}"


def make_hostile_csv_study(root, n_images: int = 60) -> Path:
    """A 19-class study read from a CSV file through the `csv` dataset format (so the names
    are what a user's CSV would give), with hostile class names, image ids, study name, and a
    reader study whose reader name and comments are hostile too. (The labels themselves are
    make_study's synthetic ones; the CSV reader supplies the names and ids.)"""
    from core.config import DatasetConfig
    from core.data import load_dataset
    from core.reader import FormSpec, ReaderDB, forms_from_study

    root = Path(root)
    csv = root.parent / f"{root.name}-labels.csv"
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"path": [f"im{i:04d}.png" for i in range(n_images)],
                          "id": [hostile_image_id(i) for i in range(n_images)],
                          "split": "test"})
    for j, cls in enumerate(HOSTILE_CLASSES):
        frame[cls] = (rng.random(n_images) < 0.5 * 0.8 ** j).astype(int)
    frame.to_csv(csv, index=False)
    ds = load_dataset(DatasetConfig(name="csv", options={
        "path": str(csv), "split_column": "split", "id_column": "id"}))
    assert tuple(ds.classes) == HOSTILE_CLASSES, ds.classes
    make_study(root, classes=ds.classes, n_images=n_images, ids=ds.table["id"].tolist(),
               name=HOSTILE_STUDY_NAME, sparsities=(0, 50, 90), seeds=(0, 1),
               methods=("l1_global",))
    db = ReaderDB.for_study(root)
    plan = forms_from_study(root, FormSpec("l1_global", 90, percentile=10.0, n_pie=2,
                                           n_non_pie=2, seed=0))
    [form_id] = db.add_form_set(plan.spec_record(), plan.forms)
    reader, token = db.add_reader(HOSTILE_READER)
    db.assign(reader.reader_id, form_id)
    # one image left unrated, the one with the most findings: the reading view shows its
    # label line (hostile class names) and the form stays open
    labels = pd.read_parquet(store.StudyPaths(root).labels)
    findings = labels[list(HOSTILE_CLASSES[1:])].fillna(0).sum(axis=1)
    items = db.blind_items(form_id)
    left = max(items, key=lambda it: findings[it.row])
    assert findings[left.row] > 0, "the fixture needs an image with a finding to read"
    for item in items:
        if item.item_id != left.item_id:
            db.save_answer(HOSTILE_READER, item.item_id, True, 3, 2, HOSTILE_COMMENT)
    hostile_token_file(root).write_text(token)
    return root


def hostile_token_file(root) -> Path:
    """Where make_hostile_csv_study leaves the hostile reader's link token (beside the study,
    outside it: the token is a secret, never part of a study)."""
    return Path(root).parent / f"{Path(root).name}-reader-token.txt"


# Two public NIH ChestX-ray14 radiographs (512², 8-bit; source, labels, licence in README.md)
REAL_CXR = Path(__file__).resolve().parents[1] / "data" / "real-cxr"
REAL_FILES = {"00000001_000.png": "Cardiomegaly", "00027426_000.png": "No Finding"}


def make_real_csv_study(root, *, n_images: int = 24, image_root=None, weights=True) -> Path:
    """A study of real radiographs read through the `csv` dataset: a CSV naming the two
    ChestX-ray14 files of tests/data/real-cxr, repeated to `n_images` rows, with their real
    labels (Cardiomegaly / No Finding). Predictions and weights are make_study's (a SmallCNN
    at 32 px). `image_root`: where the files are read (default the real-cxr folder; a test
    may put other files under the same names there, e.g. a huge 16-bit one)."""
    from core.config import DatasetConfig
    from core.data import load_dataset

    root = Path(root)
    names = list(REAL_FILES)
    csv = root.parent / f"{root.name}-labels.csv"
    files = [names[i % 2] for i in range(n_images)]
    frame = pd.DataFrame({"path": files, "id": [f"{f[:-4]}#{i}" for i, f in enumerate(files)],
                          "split": "test"})
    for cls in ("No Finding", "Cardiomegaly"):
        frame[cls] = [int(REAL_FILES[f] == cls) for f in files]
    frame.to_csv(csv, index=False)
    ds = load_dataset(DatasetConfig(name="csv", options={
        "path": str(csv), "split_column": "split", "id_column": "id"}))
    table = ds.table.set_index("id").loc[frame["id"]]
    return make_study(root, classes=ds.classes, n_images=n_images, ids=frame["id"].tolist(),
                      files=frame["path"].tolist(), y=table[list(ds.classes)].to_numpy(),
                      image_root=image_root or REAL_CXR, sparsities=(0, 50, 90),
                      seeds=(0, 1), methods=("l1_global",), groundtruth=False,
                      weights=weights)
