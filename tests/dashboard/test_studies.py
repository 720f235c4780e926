"""Study discovery, roots from env/CLI, cached verification, problem classification."""
from __future__ import annotations

import os

from core import store
from dashboard.common import studies
from tests.dashboard.fixture_study import make_study


def test_roots_from_default_env_and_cli_deduplicated(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    env = {studies.ENV_VAR: os.pathsep.join([str(a), str(b), ""])}
    roots = studies.study_roots(["--server.port", "1", "--roots", str(c), str(a)], env,
                                default=tmp_path / "art")
    assert roots == [tmp_path / "art", a, b, c]
    assert studies.parse_cli_roots(["--roots", "x", "--roots", "y", "z"]) == ["x", "y", "z"]
    assert studies.study_roots([], {}, default=None) == []


def test_find_studies_nested_and_not_inside_a_study(tmp_path):
    make_study(tmp_path / "group" / "one", weights=False, analyze=False, n_images=30)
    make_study(tmp_path / "two", weights=False, analyze=False, seal=False, n_images=30)
    # a study.json inside a study's own folders is not another study
    (tmp_path / "two" / "analysis").mkdir(exist_ok=True)
    (tmp_path / "two" / "analysis" / "study.json").write_text("{}")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "study.json").write_text("{not json")
    found = {e.path.name: e for e in studies.find_studies([tmp_path])}
    assert set(found) == {"one", "two", "broken"}
    one = found["one"]
    assert one.dataset == "fixture" and one.model == "smallcnn" and one.seeds == (0, 1, 2)
    assert one.methods == ("l1_global", "random") and one.has_manifest and not one.error
    assert not found["two"].has_manifest and "incomplete" in found["two"].label
    assert "unreadable" in found["broken"].error
    assert studies.find_studies([tmp_path / "missing"]) == []


def test_verification_is_cached_on_sizes_and_mtimes(tmp_path, monkeypatch):
    root = make_study(tmp_path / "s", weights=False, n_images=30)
    calls = []
    real = studies.require_verified

    def counting(path, check_hashes=True):
        calls.append(path)
        return real(path, check_hashes=check_hashes)

    monkeypatch.setattr(studies, "require_verified", counting)
    studies._verify_cached.cache_clear()
    assert studies.verify_study(root) == []
    assert studies.verify_study(root) == []
    assert len(calls) == 1                       # second call: stat only, no hashing
    f = root / "metrics" / "overall.parquet"
    data = bytearray(f.read_bytes())
    data[-20] ^= 0xFF                            # same size, new content and mtime
    f.write_bytes(bytes(data))
    problems = studies.verify_study(root)
    assert len(calls) == 2
    assert any("overall.parquet" in p and "modified" in p for p in problems)
    assert studies.classify(problems) == "corrupt"


def test_classify_incomplete_and_missing_weights(tmp_path):
    root = make_study(tmp_path / "s", weights=False, seal=False, n_images=30)
    problems = studies.verify_study(root)
    assert studies.classify(problems) == "incomplete"
    assert studies.classify([]) == "ok"
    assert studies.missing_weights(root, [0, 1]) == [0, 1]
    store.write_manifest(root, [p for p in root.rglob("*") if p.is_file()])  # the test's files
    assert studies.verify_study(root) == []
