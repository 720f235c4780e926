"""StudyConfig: loading, overrides, and errors that name the key and the allowed values."""
import json

import pytest

from core.config import DEFAULT_SPARSITIES, StudyConfig
from core.errors import ConfigError


def _write(tmp_path, text, name="study.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_are_the_paper_grid():
    cfg = StudyConfig()
    assert cfg.sparsities == list(range(0, 100, 5)) == DEFAULT_SPARSITIES
    assert cfg.model == "resnet50" and cfg.train.lr == 1e-4 and cfg.train.patience == 15
    assert cfg.train.batch_size == 256 and cfg.train.epochs == 60
    cfg.validate()


def test_yaml_and_json_load_the_same(tmp_path):
    y = _write(tmp_path, "name: a\nseeds: [0, 1]\ntrain:\n  epochs: 3\ndataset:\n"
                         "  name: synthcxr\n  options: {n_images: 500}\n")
    j = _write(tmp_path, json.dumps({"name": "a", "seeds": [0, 1], "train": {"epochs": 3},
                                     "dataset": {"name": "synthcxr",
                                                 "options": {"n_images": 500}}}), "s.json")
    assert StudyConfig.load(y) == StudyConfig.load(j)
    cfg = StudyConfig.load(y)
    assert cfg.train.epochs == 3 and cfg.train.lr == 1e-4 and cfg.dataset.options["n_images"] == 500


def test_overrides(tmp_path):
    y = _write(tmp_path, "seeds: [0]\n")
    cfg = StudyConfig.load(y, ["train.epochs=7", "seeds=[1, 2, 3]", "methods=[random]",
                               "analysis.pie_percentile=2.5"])
    assert cfg.train.epochs == 7 and cfg.seeds == [1, 2, 3] and cfg.methods == ["random"]
    assert cfg.analysis.pie_percentile == 2.5
    with pytest.raises(ConfigError, match="expected key.path=value"):
        StudyConfig.load(y, ["train.epochs"])


def test_round_trip_through_dict():
    cfg = StudyConfig(seeds=[3, 4], methods=["l1_global"])
    assert StudyConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("text, message", [
    ("colour: red\n", r"unknown key colour; allowed: .*seeds"),
    ("train:\n  epoch: 3\n", r"unknown key train\.epoch; allowed: .*epochs"),
    ("seeds: []\n", r"seeds: at least one seed"),
    ("sparsities: [0, 50, 100]\n", r"sparsities: 100 is not an integer percent in 0–99"),
    ("sparsities: [0, 0.5]\n",
     r"sparsities: expected a list of integer percents in 0–99.*got \[0, 0\.5\]"),
    ("sparsities: [5, 50]\n", r"sparsities: must include 0"),
    ("sparsities: [0, 50, 20]\n", r"strictly increasing"),
    ("model: vgg99\n", r"model: unknown value 'vgg99'; allowed: .*resnet50"),
    ("methods: [magic]\n", r"methods: unknown value 'magic'; allowed: .*l1_global"),
    ("dataset: {name: imagenet}\n",
     r"dataset\.name: unknown value 'imagenet'; allowed: .*nih-cxr-lt"),
    ("train: {epochs: many}\n", r"train\.epochs: expected an integer"),
    ("train: {lr: -1}\n", r"train\.lr: expected a finite number > 0, got -1"),
    ("train: {device: tpu}\n", r"train\.device: expected auto, cpu, cuda or cuda:N .*got 'tpu'"),
    ("pretrained: 'yes'\n", r"pretrained: expected true or false"),
    ("analysis: {pie_sparsity: 0}\n",
     r"analysis\.pie_sparsity: 0 must be a non-zero member of sparsities; allowed: 5, 10"),
    ("- a\n- b\n", r"top level must be a mapping"),
])
def test_invalid_configs_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        StudyConfig.load(_write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        StudyConfig.load(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text, key", [
    ("name: a\nseeds: [0]\nname: b\n", "name"),
    ("train:\n  epochs: 3\n  lr: 0.1\n  epochs: 5\n", "epochs"),
    ("dataset:\n  options: {n_images: 10, n_images: 20}\n", "n_images"),
])
def test_duplicate_yaml_keys_are_refused_by_name(tmp_path, text, key):
    # PyYAML's safe_load keeps the last value silently; every mapping level is checked
    with pytest.raises(ConfigError, match=rf"study\.yaml: duplicate key '{key}'"):
        StudyConfig.load(_write(tmp_path, text))


def test_duplicate_json_keys_are_refused_by_name(tmp_path):
    text = '{"seeds": [0], "train": {"epochs": 3, "epochs": 4}}'
    with pytest.raises(ConfigError, match=r"s\.json: duplicate key 'epochs'"):
        StudyConfig.load(_write(tmp_path, text, "s.json"))


def test_yaml_merge_keys_still_override_without_being_duplicates(tmp_path):
    text = ("x-defaults: &d {epochs: 3, lr: 0.5}\n")
    from core.config import parse_config_text

    data = parse_config_text(text + "train:\n  <<: *d\n  epochs: 7\n")
    assert data["train"] == {"epochs": 7, "lr": 0.5}


def test_duplicate_key_inside_an_override_value_is_refused():
    with pytest.raises(ConfigError, match=r"override .*duplicate key 'n_images'"):
        StudyConfig().with_overrides(["dataset.options={n_images: 1, n_images: 2}"])


@pytest.mark.parametrize("name", ["../..", "..", ".", "/tmp/x", "a/b", "a\\b", "", " ",
                                  "-rf", "a\x00b", "tab\there", "C:study", "~root"])
def test_study_name_must_be_one_safe_folder_name(name):
    # without --out the name becomes studies/<name>; these would write elsewhere or confuse
    with pytest.raises(ConfigError, match=r"^name: "):
        StudyConfig(name=name).validate()


@pytest.mark.parametrize("name", ["demo", "nih-cxr-lt_30seeds", "études.v2", "胸部"])
def test_plain_and_unicode_study_names_are_accepted(name):
    StudyConfig(name=name).validate()


def test_study_name_is_checked_on_load_and_override(tmp_path):
    with pytest.raises(ConfigError, match=r"name: '\.\./\.\./x' is not a single safe folder"):
        StudyConfig.load(_write(tmp_path, "name: ../../x\n"))
    with pytest.raises(ConfigError, match=r"name: '/etc' is not a single safe folder"):
        StudyConfig().with_overrides(["name=/etc"])
