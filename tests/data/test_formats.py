"""Dataset formats: every format written by the test (with -1 and blanks), and every bad input."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.config import DatasetConfig
from core.data import DATASETS, load_dataset, source_from_description
from core.data.base import BASE_COLUMNS
from core.data.formats import MIMIC_CXR_LT_CLASSES, NIH_CXR_LT_CLASSES
from core.data.images import FileSource
from core.errors import ConfigError, DuplicateIdError, LabelError, LeakageError, MissingColumnError

FILE_FORMATS = ("nih-cxr-lt", "mimic-cxr-lt", "chestx-ray14", "csv")


# --------------------------------------------------------------------------- writers
def _frame(n: int, classes: list[str], rng) -> pd.DataFrame:
    """Random 0/1 labels as text, with a -1 and a blank in the first two classes."""
    labels = rng.integers(0, 2, size=(n, len(classes))).astype(str).astype(object)
    labels[-1][labels[-1] == "0"] = "1"  # every class has a positive
    labels[0, 0] = "-1"
    labels[1, 1] = ""
    return pd.DataFrame(labels, columns=classes)


def write_nih(tmp_path, sizes=(6, 2, 3), seed=0) -> tuple:
    rng = np.random.default_rng(seed)
    frames, k, pid = {}, 0, 0
    for split, n in zip(("train", "val", "test"), sizes, strict=True):
        f = _frame(n, NIH_CXR_LT_CLASSES, rng)
        f.insert(0, "id", [f"{k + i:08d}_000.png" for i in range(n)])
        f["subj_id"] = [str(pid + i // 2) for i in range(n)]  # two images per patient
        pid += (n + 1) // 2
        k += n
        f.loc[0, "Hernia"] = "1"  # every split has a positive for Hernia …
        f["Pneumomediastinum"] = "0"  # … and none for Pneumomediastinum
        f.to_csv(tmp_path / f"miccai2023_nih-cxr-lt_labels_{split}.csv", index=False)
        frames[split] = f
    return tmp_path, frames


def write_mimic(tmp_path, sizes=(4, 2, 2)) -> tuple:
    rng = np.random.default_rng(1)
    frames, pid = {}, 10000000
    for split, n in zip(("train", "val", "test"), sizes, strict=True):
        f = _frame(n, MIMIC_CXR_LT_CLASSES, rng)
        paths = []
        for i in range(n):
            p = pid + i // 2
            paths.append(f"files/p{str(p)[:2]}/p{p}/s5{i:07d}/{split}{i:02d}-ab12.jpg")
        pid += n
        f.insert(0, "path", paths)
        f.to_csv(tmp_path / f"miccai2023_mimic-cxr-lt_labels_{split}.csv", index=False)
        frames[split] = f
    return tmp_path, frames


def write_csv(tmp_path, name="labels.csv", **extra) -> tuple:
    f = pd.DataFrame({
        "image": [f"img/{i}.png" for i in range(10)],
        "patient": ["a", "a", "b", "b", "c", "d", "e", "e", "f", "g"],
        "split": ["train"] * 4 + ["train", "validate", "test", "test", "val", "test"],
        "sex": ["M", "Male", "F", "female", "", "M", "F", "F", "x", "M"],
        "age": ["50", "51", "30", "", "44", "60", "70", "70", "18", "33"],
        "Effusion": ["1", "0", "-1", "", "1.0", "0", "1", "0", "1", "0"],
        "Mass": ["0", "0", "1", "0", "0", "0", "0", "1", "0", "0"],
        **extra,
    })
    path = tmp_path / name
    f.to_csv(path, index=False)
    return path, f


def nih(tmp_path, **opts):
    return load_dataset(DatasetConfig("nih-cxr-lt", {"label_dir": str(tmp_path),
                                                     "metadata": False, **opts}))


def csv_cfg(path, **opts) -> DatasetConfig:
    return DatasetConfig("csv", {"path": str(path), "image_column": "image",
                                 "split_column": "split", "patient_column": "patient", **opts})


def check_contract(ds, tmp_path) -> None:
    t = ds.table
    assert list(t.columns[:len(BASE_COLUMNS)]) == list(BASE_COLUMNS)
    assert isinstance(t.index, pd.RangeIndex)
    assert t["id"].is_unique
    assert set(t["split"]) <= {"train", "val", "test"}
    for c in ds.classes:
        assert t[c].dtype == np.float32
        assert set(np.unique(t[c].dropna())) <= {0.0, 1.0}
    assert t.groupby("patient_id")["split"].nunique().max() == 1
    json.dumps(ds.description)  # JSON-able
    if len(t) < 1000:  # the store writes the table as parquet: it must round-trip
        path = tmp_path / "labels.parquet"
        t.to_parquet(path, index=False)
        back = pd.read_parquet(path)
        pd.testing.assert_frame_equal(back, t, check_dtype=False)
        assert all(back[c].dtype == np.float32 for c in ds.classes)


# --------------------------------------------------------------------------- registry
def test_registry_has_every_format():
    # a new format must be added to FILE_FORMATS (and so to the contract test below)
    assert set(DATASETS) == {*FILE_FORMATS, "synthcxr"}
    assert all(callable(fn) for fn in DATASETS.values())


@pytest.fixture(scope="module")
def chestxray14():
    return load_dataset(DatasetConfig("chestx-ray14", {"seed": 0}))


@pytest.mark.parametrize("name", FILE_FORMATS)
def test_every_file_format_meets_the_contract(name, tmp_path, chestxray14):
    if name == "nih-cxr-lt":
        write_nih(tmp_path)
        opts = {"label_dir": str(tmp_path), "metadata": False}
    elif name == "mimic-cxr-lt":
        write_mimic(tmp_path)
        opts = {"label_dir": str(tmp_path)}
    elif name == "chestx-ray14":
        opts = None  # the module's fixture
    else:
        path, _ = write_csv(tmp_path)
        opts = csv_cfg(path).options
    ds = chestxray14 if name == "chestx-ray14" else load_dataset(DatasetConfig(name, opts))
    assert ds.name == name
    check_contract(ds, tmp_path)
    assert isinstance(ds.source, FileSource)


def test_unknown_dataset_and_unknown_option_name_the_allowed_values(tmp_path):
    with pytest.raises(ConfigError, match="allowed: .*nih-cxr-lt"):
        load_dataset(DatasetConfig("nih", {}))
    with pytest.raises(ConfigError, match="labeldir.*allowed: .*label_dir"):
        load_dataset(DatasetConfig("nih-cxr-lt", {"labeldir": "x"}))
    with pytest.raises(ConfigError, match="needs label_dir"):
        load_dataset(DatasetConfig("mimic-cxr-lt", {}))


# --------------------------------------------------------------------------- NIH-CXR-LT
def test_nih_reads_labels_nan_counts_and_patients(tmp_path):
    _, frames = write_nih(tmp_path)
    ds = nih(tmp_path, image_root=str(tmp_path / "images"))
    assert ds.classes == NIH_CXR_LT_CLASSES and len(ds.classes) == 20
    assert ds.description["splits"]["train"] == {"images": 6, "patients": 3}
    assert ds.description["splits"]["test"] == {"images": 3, "patients": 2}
    t = ds.table
    assert (t["path"] == t["id"]).all()
    # one -1 and one blank per split file, in the first two classes
    assert ds.description["nan_counts"]["No Finding"] == 3
    assert ds.description["nan_counts"]["Infiltration"] == 3
    assert ds.description["uncertain_counts"]["No Finding"] == 3
    assert ds.description["uncertain_counts"]["Infiltration"] == 0
    expected = frames["val"]["Effusion"].astype(float).to_numpy()
    assert np.array_equal(ds.split("val")["Effusion"].to_numpy(), expected)
    assert ds.description["classes_without_positives"] == ["Pneumomediastinum"]
    assert ds.source.describe() == {"kind": "files", "root": str(tmp_path / "images")}


def test_nih_merges_chestxray14_metadata_by_id(tmp_path):
    write_nih(tmp_path)
    # ids 00000001_000.png … 00000010_000.png are ChestX-ray14 images; 00000000_000.png is not
    ds = load_dataset(DatasetConfig("nih-cxr-lt", {"label_dir": str(tmp_path)}))
    row = ds.table.set_index("id").loc["00000001_000.png"]
    assert row["sex"] == "M" and row["age"] == 57 and row["view"] == "PA"
    assert pd.isna(ds.table.loc[0, "sex"]) and np.isnan(ds.table.loc[0, "age"])
    assert "for 10 images" in ds.description["notes"][0]


def test_nih_missing_file_and_column_are_named(tmp_path):
    write_nih(tmp_path)
    (tmp_path / "miccai2023_nih-cxr-lt_labels_val.csv").unlink()
    with pytest.raises(FileNotFoundError, match="miccai2023_nih-cxr-lt_labels_val.csv"):
        nih(tmp_path)
    write_nih(tmp_path)
    f = tmp_path / "miccai2023_nih-cxr-lt_labels_test.csv"
    pd.read_csv(f).drop(columns=["Hernia"]).to_csv(f, index=False)
    with pytest.raises(MissingColumnError, match=r"labels_test.csv: missing column\(s\) 'Hernia'"):
        nih(tmp_path)
    with pytest.raises(FileNotFoundError, match="label_dir not found"):
        nih(tmp_path / "nowhere")


@pytest.mark.parametrize("bad", ["2", "yes", "0.5"])
def test_bad_label_value_names_file_column_and_value(tmp_path, bad):
    write_nih(tmp_path)
    f = tmp_path / "miccai2023_nih-cxr-lt_labels_train.csv"
    frame = pd.read_csv(f, dtype=str, keep_default_na=False)
    frame.loc[3, "Edema"] = bad
    frame.to_csv(f, index=False)
    with pytest.raises(LabelError) as err:
        nih(tmp_path)
    msg = str(err.value)
    assert "labels_train.csv" in msg and "'Edema'" in msg and repr(bad) in msg and "line 5" in msg


def test_duplicate_ids_within_and_across_files(tmp_path):
    _, frames = write_nih(tmp_path)
    f = tmp_path / "miccai2023_nih-cxr-lt_labels_train.csv"
    frame = frames["train"].copy()
    frame.loc[1, "id"] = frame.loc[0, "id"]
    frame.to_csv(f, index=False)
    with pytest.raises(DuplicateIdError, match="labels_train.csv.*00000000_000.png"):
        nih(tmp_path)
    write_nih(tmp_path)
    g = tmp_path / "miccai2023_nih-cxr-lt_labels_test.csv"
    frame = pd.read_csv(g, dtype=str, keep_default_na=False)
    frame.loc[0, "id"] = "00000000_000.png"  # also in train
    frame.to_csv(g, index=False)
    with pytest.raises(DuplicateIdError, match="00000000_000.png.*train.*test"):
        nih(tmp_path)


def test_patient_in_two_splits_is_label_leakage(tmp_path):
    write_nih(tmp_path)
    g = tmp_path / "miccai2023_nih-cxr-lt_labels_test.csv"
    frame = pd.read_csv(g, dtype=str, keep_default_na=False)
    frame.loc[0, "subj_id"] = "0"  # patient 0 is in train
    frame.to_csv(g, index=False)
    with pytest.raises(LeakageError, match=r"1 patient.*leakage.*0 \(test/train\)"):
        nih(tmp_path)


def test_eval_split_val_records_its_own_missing_positives(tmp_path):
    write_nih(tmp_path)
    cfg = DatasetConfig("nih-cxr-lt", {"label_dir": str(tmp_path), "metadata": False},
                        eval_split="val")
    ds = load_dataset(cfg)
    assert ds.description["eval_split"] == "val"
    assert "Pneumomediastinum" in ds.description["classes_without_positives"]
    assert "Pneumomediastinum" not in ds.description["classes_without_negatives"]


# --------------------------------------------------------------------------- MIMIC-CXR-LT
def test_mimic_patient_from_path_and_dicom_id(tmp_path):
    write_mimic(tmp_path)
    ds = load_dataset(DatasetConfig("mimic-cxr-lt", {"label_dir": str(tmp_path)}))
    assert ds.classes == MIMIC_CXR_LT_CLASSES and len(ds.classes) == 19
    first = ds.table.iloc[0]
    assert first["path"] == "files/p10/p10000000/s50000000/train00-ab12.jpg"
    assert first["patient_id"] == "10000000" and first["id"] == "train00-ab12"
    assert ds.description["splits"]["train"] == {"images": 4, "patients": 2}
    assert ds.description["nan_counts"]["Support Devices"] == 3


def test_mimic_path_without_patient_folder_is_an_error(tmp_path):
    write_mimic(tmp_path)
    f = tmp_path / "miccai2023_mimic-cxr-lt_labels_val.csv"
    frame = pd.read_csv(f, dtype=str, keep_default_na=False)
    frame.loc[0, "path"] = "images/x.jpg"
    frame.to_csv(f, index=False)
    with pytest.raises(LabelError, match="labels_val.csv.*'images/x.jpg'"):
        load_dataset(DatasetConfig("mimic-cxr-lt", {"label_dir": str(tmp_path)}))


# --------------------------------------------------------------------------- ChestX-ray14
def test_chestxray14_real_counts_and_patient_disjoint_splits(chestxray14):
    from core.data.stats import findings_histogram, findings_per_image

    ds = chestxray14
    t = ds.table
    assert len(t) == 112_120 and t["patient_id"].nunique() == 30_805
    assert int(t["No Finding"].sum()) == 60_361 and int(t["Hernia"].sum()) == 227
    assert int(t["Infiltration"].sum()) == 19_894
    assert (t["view"] == "PA").sum() == 67_310 and (t["sex"] == "M").sum() == 63_340
    assert t.groupby("patient_id")["split"].nunique().max() == 1
    share = t["split"].value_counts(normalize=True)
    assert abs(share["train"] - 0.7) < 0.01 and abs(share["test"] - 0.2) < 0.01
    n = findings_per_image(ds.labels(), ds.classes)
    assert list(findings_histogram(n, top=5)) == [60_361, 30_963, 14_306, 4_856, 1_247, 387]
    # patients are cut by cumulative image counts: each split ends within one patient's
    # images of its requested edge (0.7, 0.8 of the images), never past it
    most = int(t["patient_id"].value_counts().max()) / len(t)
    cum = np.cumsum([share["train"], share["val"]])
    for got, edge in zip(cum, (0.7, 0.8), strict=True):
        assert edge - most < got <= edge + 1e-12, (got, edge, most)
    other = load_dataset(DatasetConfig("chestx-ray14", {"seed": 1})).table
    assert (other["id"] == t["id"]).all() and (other["split"] != t["split"]).mean() > 0.3


def test_split_by_patient_hand_worked():
    from core.data.chestxray14 import split_by_patient

    ids = ["a", "a", "b", "c", "c", "c", "d", "e", "e", "e"]   # 10 images, 5 patients
    # default_rng(0).permutation(5) = [2, 4, 3, 0, 1]: patients c, e, d, a, b in that order,
    # cumulative images 3, 6, 7, 9, 10 of 10 = 0.3, 0.6, 0.7, 0.9, 1.0; edges 0.5 and 0.7.
    # A patient goes to the split where its last image lands, one ending on an edge to the
    # earlier split: c → train (0.3), e → val (0.6), d → val (0.7 = edge), a, b → test.
    assert np.random.default_rng(0).permutation(5).tolist() == [2, 4, 3, 0, 1]
    got = split_by_patient(ids, (0.5, 0.2, 0.3), seed=0)
    assert got.tolist() == ["test", "test", "test", "train", "train", "train", "val",
                            "val", "val", "val"]


# --------------------------------------------------------------------------- csv
def test_csv_with_split_and_patient_columns(tmp_path):
    path, _ = write_csv(tmp_path)
    ds = load_dataset(csv_cfg(path, sex_column="sex", age_column="age", image_root="/data"))
    t = ds.table
    assert ds.classes == ["Effusion", "Mass"]  # numeric columns not named elsewhere (not age)
    assert list(t["split"]) == ["train"] * 5 + ["val", "test", "test", "val", "test"]
    assert list(t["sex"].fillna("?")) == ["M", "M", "F", "F", "?", "M", "F", "F", "?", "M"]
    assert np.isnan(t.loc[3, "age"]) and t.loc[0, "age"] == 50
    assert list(np.isnan(t["Effusion"])) == [False, False, True, True] + [False] * 6
    assert ds.description["nan_counts"] == {"Effusion": 2, "Mass": 0}
    assert ds.description["uncertain_counts"] == {"Effusion": 1, "Mass": 0}
    assert t["id"].tolist() == t["path"].tolist()


def test_csv_split_by_patient_and_explicit_class_columns(tmp_path):
    path, _ = write_csv(tmp_path)
    cfg = DatasetConfig("csv", {"path": str(path), "image_column": "image",
                                "patient_column": "patient", "class_columns": ["Mass"],
                                "fractions": [0.6, 0.2, 0.2], "seed": 3})
    ds = load_dataset(cfg)
    assert ds.classes == ["Mass"]
    assert ds.table.groupby("patient_id")["split"].nunique().max() == 1
    assert any("split by patient" in n for n in ds.description["notes"])


def test_csv_errors(tmp_path):
    path, frame = write_csv(tmp_path)
    with pytest.raises(LabelError, match="split_column .* or patient_column"):
        load_dataset(DatasetConfig("csv", {"path": str(path), "image_column": "image"}))
    with pytest.raises(MissingColumnError, match="labels.csv.*'Cardiomegaly'"):
        load_dataset(csv_cfg(path, class_columns=["Cardiomegaly"]))
    with pytest.raises(MissingColumnError, match="labels.csv.*'file'"):
        load_dataset(csv_cfg(path, image_column="file"))
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_dataset(csv_cfg(tmp_path / "nope.csv"))
    bad = frame.assign(split=["train"] * 9 + ["holdout"])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(LabelError, match="'split'.*'holdout'"):
        load_dataset(csv_cfg(tmp_path / "bad.csv"))
    leak = frame.assign(patient=["a"] * 10)
    leak.to_csv(tmp_path / "leak.csv", index=False)
    with pytest.raises(LeakageError, match="a \\(test/train/val\\)"):
        load_dataset(csv_cfg(tmp_path / "leak.csv"))
    dup = frame.assign(image=["same.png"] * 10)
    dup.to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(DuplicateIdError, match="dup.csv.*same.png"):
        load_dataset(csv_cfg(tmp_path / "dup.csv"))


def test_csv_without_patient_column_notes_unchecked_leakage(tmp_path):
    path, _ = write_csv(tmp_path)
    ds = load_dataset(DatasetConfig("csv", {"path": str(path), "image_column": "image",
                                            "split_column": "split",
                                            "exclude_columns": ["age"]}))
    assert ds.classes == ["Effusion", "Mass"]
    assert any("cannot be checked" in n for n in ds.description["notes"])
    assert ds.description["classes_without_positives"] == []


# --------------------------------------------------------------------------- sources
def test_source_from_description_round_trip_and_override(tmp_path):
    src = FileSource(tmp_path)
    again = source_from_description(src.describe())
    assert isinstance(again, FileSource) and again.root == tmp_path
    moved = source_from_description(src.describe(), image_root=tmp_path / "elsewhere")
    assert moved.root == tmp_path / "elsewhere"
    with pytest.raises(ValueError, match="unknown image source kind 'tiles'"):
        source_from_description({"kind": "tiles"})


# --------------------------------------------------------------------------- headers
def _write_text(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_header_repeated_exactly_is_refused_by_name(tmp_path):
    # pandas would read the second column as 'Edema.1' and the csv format take it as a class
    p = _write_text(tmp_path, "labels.csv", "image,split,Edema,Mass,Edema\n"
                                            "a.png,train,1,0,0\nb.png,test,0,1,1\n")
    with pytest.raises(LabelError, match=r"labels\.csv: duplicate column name.*'Edema' "
                                         r"appears 2 times"):
        load_dataset(csv_cfg(p, patient_column=None))


def test_csv_header_duplicate_after_trimming_spaces_is_refused_by_name(tmp_path):
    p = _write_text(tmp_path, "labels.csv", "image,split,Edema, Edema \n"
                                            "a.png,train,1,0\nb.png,test,0,1\n")
    with pytest.raises(LabelError, match=r"'Edema', ' Edema ' are the same name 'Edema' "
                                         r"after trimming spaces"):
        load_dataset(csv_cfg(p, patient_column=None))


def test_paper_label_files_get_the_same_header_check(tmp_path):
    label_dir, frames = write_nih(tmp_path)
    test = frames["test"].copy()
    test.columns = [*test.columns[:-2], "Hernia", "subj_id"]  # a second 'Hernia'
    f = label_dir / "miccai2023_nih-cxr-lt_labels_test.csv"
    test.to_csv(f, index=False)
    with pytest.raises(LabelError, match=r"labels_test\.csv: duplicate .*'Hernia' appears 2"):
        nih(label_dir)
    (tmp_path / "m").mkdir()
    label_dir, _ = write_mimic(tmp_path / "m")
    f = label_dir / "miccai2023_mimic-cxr-lt_labels_val.csv"
    lines = f.read_text().splitlines()
    lines[0] = lines[0].replace("Edema", " Edema", 1) + ",Edema"
    f.write_text("\n".join([lines[0]] + [x + ",0" for x in lines[1:]]) + "\n")
    with pytest.raises(LabelError, match=r"labels_val\.csv: .*after trimming spaces"):
        load_dataset(DatasetConfig("mimic-cxr-lt", {"label_dir": str(label_dir)}))


def test_chestxray14_metadata_gets_the_same_header_check(tmp_path):
    from core.data.chestxray14 import read_metadata

    p = _write_text(tmp_path, "meta.csv", "Image Index,Finding Labels,Patient ID,Patient Age,"
                                          "Patient Gender,View Position,Patient ID\n"
                                          "a.png,Mass,1,40,M,PA,1\n")
    with pytest.raises(LabelError, match=r"meta\.csv: .*'Patient ID' appears 2 times"):
        read_metadata(p)


def test_blank_header_cells_are_not_duplicates(tmp_path):
    # spreadsheets often export trailing empty columns: ",," is not two columns named ""
    p = _write_text(tmp_path, "labels.csv", "image,split,Edema,,\n"
                                            "a.png,train,1,,\nb.png,test,0,,\n")
    ds = load_dataset(csv_cfg(p, patient_column=None))
    assert ds.classes == ["Edema"]


def test_header_only_csv_says_it_has_no_rows(tmp_path):
    p = _write_text(tmp_path, "labels.csv", "image,split,Edema,Mass\n")
    with pytest.raises(LabelError, match=r"labels\.csv: has a header line but no rows"):
        load_dataset(csv_cfg(p, patient_column=None))
    e = _write_text(tmp_path, "empty.csv", "")
    with pytest.raises(LabelError, match=r"empty\.csv: the file is empty"):
        load_dataset(csv_cfg(e, patient_column=None))


# --------------------------------------------------------------------------- reserved names
@pytest.mark.parametrize("name", ["quality", "label_noise", "row", "id", "path", "view",
                                  "synth_index"])
def test_class_named_like_a_prunelens_column_is_refused_by_name(tmp_path, name):
    # a class called `quality` was taken as SynthCXR ground truth; `row`/`id` collided later
    path, _ = write_csv(tmp_path, **{name: ["1", "0"] * 5})
    with pytest.raises(LabelError, match=rf"class name\(s\) '{name}' clash with PruneLens"):
        load_dataset(csv_cfg(path))  # found as a label-like column
    with pytest.raises(LabelError, match=rf"'{name}' clash with PruneLens"):
        load_dataset(csv_cfg(path, class_columns=["Mass", name]))  # named explicitly


def test_reserved_class_name_in_a_paper_label_file_is_refused(tmp_path, monkeypatch):
    from core.data import formats

    monkeypatch.setattr(formats, "NIH_CXR_LT_CLASSES",
                        [*NIH_CXR_LT_CLASSES[:-1], "label_noise"])
    label_dir, frames = write_nih(tmp_path)
    for split, f in frames.items():
        f.rename(columns={"Pneumomediastinum": "label_noise"}).to_csv(
            label_dir / f"miccai2023_nih-cxr-lt_labels_{split}.csv", index=False)
    with pytest.raises(LabelError, match=r"'label_noise' clash with PruneLens"):
        nih(label_dir)


def test_every_format_is_held_to_the_reserved_names():
    # formats that build their table themselves meet the same check in load_dataset
    from core.data import base

    def loader(options, *, cfg):
        table = pd.DataFrame({"id": ["a", "b"], "path": "", "split": ["train", "test"],
                              "patient_id": ["1", "2"], "sex": "M", "age": 1.0, "view": "PA",
                              "quality": [1.0, 0.0]})
        return base.Dataset("fake", ["quality"], table, FileSource(None), {})

    base.DATASETS.register("fake-reserved", loader)   # the registry's one way in
    try:
        with pytest.raises(LabelError,
                           match=r"dataset 'fake-reserved': class name\(s\) 'quality'"):
            load_dataset(DatasetConfig("fake-reserved"))
    finally:
        base.DATASETS.unregister("fake-reserved")


def test_reserved_names_come_from_one_constant():
    from core.data.base import BASE_COLUMNS, RESERVED_COLUMNS, SYNTHCXR_GROUND_TRUTH

    assert set(BASE_COLUMNS) | set(SYNTHCXR_GROUND_TRUTH) | {"row"} <= set(RESERVED_COLUMNS)


def test_ground_truth_is_what_the_dataset_declares():
    from core.data.base import ground_truth_columns

    cols = ["id", "A", "quality", "label_noise"]
    assert ground_truth_columns({"name": "csv"}, cols) == []            # names alone: nothing
    assert ground_truth_columns(None, cols) == []
    assert ground_truth_columns({"name": "x", "ground_truth": ["quality"]}, cols) == ["quality"]
    assert ground_truth_columns({"ground_truth": ["label_noise", "quality", "gone"]},
                                cols) == ["label_noise", "quality"]     # declared and present
    # studies the SynthCXR format wrote before it declared its ground truth
    assert ground_truth_columns({"name": "synthcxr"}, cols) == ["label_noise", "quality"]
    assert ground_truth_columns({"name": "synthcxr", "ground_truth": []}, cols) == []


def test_old_reader_names_still_work_with_a_deprecation_warning():
    # "reader" now means only the human reader; plugins written against the old names load
    import core.data
    import core.registries

    with pytest.warns(DeprecationWarning, match="DATASETS"):
        assert core.data.READERS is core.data.DATASETS
    with pytest.warns(DeprecationWarning, match="register_dataset"):
        assert core.data.register_reader is core.data.register_dataset
    with pytest.warns(DeprecationWarning, match="DATASETS"):
        assert core.registries.READERS is core.registries.DATASETS
    with pytest.raises(AttributeError):
        core.data.no_such_name  # noqa: B018
