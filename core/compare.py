"""`python -m core compare A B`: are two studies' results byte-identical?

Results are every file the manifest lists except measurement files (`store.is_measurement`:
names containing "timings", which hold how long, when and how fast a run went). Two runs
of one config on the same kind of device, with the same thread count, give identical
results — a rerun, a resumed run, a Ray run beside a local one (docs/ARCHITECTURE.md,
"Reruns are byte-identical"). Both studies are verified first, so the manifests' sha256
stand for the bytes on disk; manifest.json itself differs exactly where measurements do.
"""
from __future__ import annotations

from pathlib import Path

from core import store


def result_files(manifest: dict) -> dict[str, str]:
    """A manifest's result files (measurements left out).

    Args:
        manifest (dict): a study manifest (``files``: {path: {sha256, …}}).

    Returns:
        dict[str, str]: {relative path: sha256}.
    """
    return {rel: m["sha256"] for rel, m in manifest["files"].items()
            if not store.is_measurement(rel)}


def compare_studies(a, b) -> tuple[list[str], int, int]:
    """Compare the result files of two verified studies by sha256.

    Args:
        a (str | Path): one study.
        b (str | Path): the other.

    Returns:
        tuple[list[str], int, int]: (differences as lines, result files compared,
        measurement files left out).

    Raises:
        StudyNotVerified: when either does not verify.
    """
    ma, mb = store.require_verified(a), store.require_verified(b)
    ra, rb = result_files(ma), result_files(mb)
    lines = [f"{rel}: only in {a}" for rel in sorted(set(ra) - set(rb))]
    lines += [f"{rel}: only in {b}" for rel in sorted(set(rb) - set(ra))]
    lines += [f"{rel}: differs" for rel in sorted(set(ra) & set(rb)) if ra[rel] != rb[rel]]
    skipped = len(set(ma["files"]) | set(mb["files"])) - len(set(ra) | set(rb))
    return lines, len(set(ra) | set(rb)), skipped


def main_compare(args) -> int:
    """`python -m core compare A B`: are two studies' results byte-identical?

    Args:
        args (argparse.Namespace): ``a`` and ``b``.

    Returns:
        int: 0 identical results; 3 results differ (each file printed). A study that does
        not verify raises StudyNotVerified to the CLI (exit 1, every problem named).
    """
    lines, n, skipped = compare_studies(Path(args.a), Path(args.b))
    if lines:
        print(f"results differ in {len(lines)} of {n} file(s):")
        for line in lines:
            print(f"  {line}")
        return 3
    print(f"identical: {n} result file(s); {skipped} measurement file(s) (*timings*) not "
          "compared")
    return 0
