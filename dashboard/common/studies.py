"""Where studies are, what each one is, and whether it verifies. No Streamlit here.

Roots come from three places, in this order, duplicates dropped:
`artifacts/` of the repository (the shipped demo), the `PRUNELENS_STUDY_ROOTS` environment
variable (os.pathsep-separated), and `--roots DIR [DIR …]` after `--` on the command line
(`streamlit run dashboard/app.py -- --roots /data/studies`).

A study is any folder under a root (up to a few levels deep) holding a `study.json`.
Verification hashes every file, which is slow for paper-scale predictions, so its result is
cached keyed on the files' sizes and modification times: a rerun re-stats, not re-hashes.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import StudyNotVerified
from core.store import MANIFEST, STUDY_JSON, UNMANIFESTED_DIRS, StudyPaths, require_verified

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO / "artifacts"
ENV_VAR = "PRUNELENS_STUDY_ROOTS"
_SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", *UNMANIFESTED_DIRS,
              "predictions", "models", "metrics", "analysis", "data"}


def parse_cli_roots(argv: Sequence[str]) -> list[str]:
    """`--roots A B --roots C` → [A, B, C]; unknown arguments are ignored (Streamlit's own)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--roots", nargs="+", action="extend", default=[])
    args, _ = parser.parse_known_args(list(argv))
    return args.roots


def study_roots(argv: Sequence[str] = (), environ: Mapping[str, str] | None = None,
                default: Path | None | str = "artifacts") -> list[Path]:
    environ = os.environ if environ is None else environ
    if default == "artifacts":  # looked up at call time, so tests can point it elsewhere
        default = DEFAULT_ROOT
    raw: list[str | Path] = [default] if default is not None else []
    raw += [p for p in environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    raw += parse_cli_roots(argv)
    roots: list[Path] = []
    for r in raw:
        p = Path(r).expanduser().resolve()
        if p not in roots:
            roots.append(p)
    return roots


@dataclass(frozen=True)
class StudyEntry:
    """What the sidebar says about a study before it is opened."""
    path: Path
    name: str
    dataset: str = "?"
    model: str = "?"
    seeds: tuple[int, ...] = ()
    methods: tuple[str, ...] = ()
    sparsities: tuple[int, ...] = ()
    classes: tuple[str, ...] = ()
    error: str | None = None          # study.json missing fields or unreadable
    has_manifest: bool = False
    # analysis defaults of the study (paper values when study.json does not say)
    drop_percent: int = 20
    at_sparsity: int = 95
    pie_sparsity: int = 90
    pie_percentile: float = 5.0

    @property
    def key(self) -> str:
        """Stable identifier used in the URL: the folder path."""
        return str(self.path)

    @property
    def label(self) -> str:
        state = "" if self.has_manifest and not self.error else " (incomplete)"
        return f"{self.name} · {self.dataset} · {self.model}{state}"

    def summary(self) -> str:
        if self.error:
            return self.error
        return (f"{self.dataset} · {self.model} · {len(self.seeds)} seed(s) · "
                f"methods: {', '.join(self.methods)} · {len(self.classes)} classes")


def read_entry(path: Path) -> StudyEntry:
    path = Path(path)
    has_manifest = (path / MANIFEST).is_file()
    try:
        s = json.loads((path / STUDY_JSON).read_text())
        if not isinstance(s, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return StudyEntry(path, path.name, error=f"study.json unreadable: {exc}",
                          has_manifest=has_manifest)
    cfg = s.get("config", s)
    dataset = (s.get("dataset") or cfg.get("dataset") or {})
    dname = dataset.get("name", "?") if isinstance(dataset, dict) else str(dataset)
    model = s.get("model") or cfg.get("model") or "?"
    if isinstance(model, dict):
        model = model.get("name", "?")
    a = s.get("analysis") or cfg.get("analysis") or {}
    return StudyEntry(
        drop_percent=int(a.get("drop_percent", 20)), at_sparsity=int(a.get("at_sparsity", 95)),
        pie_sparsity=int(a.get("pie_sparsity", 90)),
        pie_percentile=float(a.get("pie_percentile", 5.0)),
        path=path, name=str(s.get("name") or cfg.get("name") or path.name),
        dataset=dname, model=str(model),
        seeds=tuple(int(x) for x in s.get("seeds") or cfg.get("seeds") or ()),
        methods=tuple(s.get("methods") or cfg.get("methods") or ()),
        sparsities=tuple(int(x) for x in s.get("sparsities") or cfg.get("sparsities") or ()),
        classes=tuple(s.get("classes") or ()), has_manifest=has_manifest,
        error=None if s.get("classes") else "study.json lists no classes",
    )


def find_studies(roots: Sequence[Path], max_depth: int = 3) -> list[StudyEntry]:
    """Every folder holding a study.json under the roots (a root may itself be a study)."""
    found: list[StudyEntry] = []
    seen: set[Path] = set()

    def walk(d: Path, depth: int) -> None:
        if d in seen:
            return
        seen.add(d)
        if (d / STUDY_JSON).is_file():
            found.append(read_entry(d))
            return  # a study's sub-folders are its own layout, not more studies
        if depth >= max_depth:
            return
        try:
            children = sorted(c for c in d.iterdir() if c.is_dir())
        except OSError:
            return
        for c in children:
            if c.name in _SKIP_DIRS or c.name.startswith("."):
                continue
            walk(c.resolve(), depth + 1)

    for r in roots:
        if Path(r).is_dir():
            walk(Path(r).resolve(), 0)
    return found


def fingerprint(path: Path) -> tuple:
    """(relative name, size, mtime) of every manifested file plus the manifest itself:
    cheap to compute (stat only), and it changes whenever any of those files does."""
    root = Path(path)
    items = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if rel.parts[0] in UNMANIFESTED_DIRS or not p.is_file():
            continue
        st = p.stat()
        items.append((rel.as_posix(), st.st_size, st.st_mtime_ns))
    return tuple(sorted(items))


@functools.lru_cache(maxsize=64)
def _verify_cached(path: str, fp: tuple) -> tuple[str, ...]:
    try:   # the same check as every CLI command that reads a study
        require_verified(path)
    except StudyNotVerified as exc:
        return tuple(str(p) for p in exc.problems)
    return ()


def verify_study(path: Path) -> list[str]:
    """Problems of a study folder (empty list = it verifies), hashed once per file state."""
    return list(_verify_cached(str(Path(path).resolve()), fingerprint(path)))


def npy_problem(path: Path) -> str | None:
    """Why a .npy file cannot be read as PruneLens writes it (plain numbers, data as long as
    its header says), or None. Reads the header only; a file that verifies against a
    manifest someone re-sealed can still hold Python objects or be cut short."""
    import numpy as np

    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(fh)
            offset = fh.tell()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        return f"not a readable .npy file ({exc})"
    if dtype.hasobject:
        return "holds Python objects (dtype object), which PruneLens never writes"
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = Path(path).stat().st_size
    if size != expected:
        return f"{size} bytes, but its header describes {expected}"
    return None


@functools.lru_cache(maxsize=64)
def _unreadable_cached(path: str, fp: tuple) -> tuple[str, ...]:
    root = Path(path)
    out = []
    for rel, *_ in fp:
        if rel.endswith(".npy"):
            problem = npy_problem(root / rel)
            if problem:
                out.append(f"{rel}: {problem}")
    return tuple(out)


def unreadable_files(path: Path) -> list[str]:
    """'FILE: why' for each of the study's arrays that cannot be read (cached per file
    state), so a page names the file in one line instead of failing with a traceback."""
    return list(_unreadable_cached(str(Path(path).resolve()), fingerprint(path)))


def classify(problems: Sequence[str]) -> str:
    """'ok', 'incomplete' (no manifest: not finished or still running) or 'corrupt'."""
    if not problems:
        return "ok"
    if any(p.startswith(MANIFEST) and "missing" in p for p in problems):
        return "incomplete"
    return "corrupt"


def missing_weights(path: Path, seeds: Sequence[int]) -> list[int]:
    """Seeds whose dense weights are absent (the study then shows all but Grad-CAM)."""
    sp = StudyPaths(path)
    return [s for s in seeds if not sp.weights(s).is_file()]
