"""Analysis of a study: forgetting, frequency and co-occurrence relations, PIEs.

Public API (the dashboard and the CLI use these; the modules hold the pure functions):
- `analyze_study(study_dir)` computes and writes every table (docs/ARCHITECTURE.md,
  "Analysis tables"); `main_analyze(args)` is `python -m core analyze STUDY`.
- `core.analysis.forgetting`, `.frequency`, `.pies`, `.pie_stats`: the definitions of
  docs/definitions.md as functions of arrays; `.over_seeds` and `.class_tables`: the
  recipes that turn per-seed metrics into the stored tables (the dashboard calls them
  over the seeds a user chose).
- `core.analysis.report.build_report(study_dir)`: the summary behind `python -m core report`.
"""
from __future__ import annotations

import datetime as dt

from core import lock, store
from core.errors import StudyNotVerified

__all__ = ["analyze_study", "main_analyze"]


def analyze_study(study_dir, analysis=None, log=None) -> dict:
    """Compute and write every metrics/ and analysis/ table of a study (no re-sealing).

    Args:
        study_dir (str | Path): the study folder.
        analysis (core.config.AnalysisConfig | None): parameters; None = the study's own
            (study.json → config.analysis).
        log (Callable[[str], None] | None): progress lines.

    Returns:
        dict: what analysis/params.json holds (parameters, PIE counts and ties, timing).

    Example:
        >>> params = analyze_study("artifacts/demo")            # doctest: +SKIP
        >>> params["pies"]["l1_global"]["n_paper"]               # doctest: +SKIP
        49
    """
    # loaded on call: the dashboard imports the pure analysis modules of this package and
    # need not load the study driver (and everything it reads with) for them
    from core.analysis.study_analysis import analyze_study as _analyze

    return _analyze(study_dir, analysis=analysis, log=log)


# Tables `core analyze` rewrites; where an interrupted analyze may have left them changed.
RECOMPUTED = ("metrics/", "analysis/")


def _journal(root):
    return store.StudyPaths(root).analyze_journal


def verified_base(root, check_hashes: bool = True) -> dict:
    """The verified manifest to re-seal from (store.require_verified).

    One exception, so that an interrupted `core analyze` (killed, disk full) can be re-run:
    when its journal (units/analyze.pending.json, written before the first table is
    rewritten) names the manifest that is still on disk, problems in the content of the
    listed tables under metrics/ and analysis/ are expected — they are analyze's own outputs
    and are all recomputed now. Anything else (inputs, stray files, pickles) still refuses.

    Args:
        root (str | Path): the study folder.
        check_hashes (bool): also compare file hashes (slow on big studies).

    Returns:
        dict: the manifest.

    Raises:
        StudyNotVerified: when the study does not verify, beyond that exception.
    """
    try:
        return store.require_verified(root, check_hashes)
    except StudyNotVerified as exc:
        manifest = store.StudyPaths(root).manifest
        journal = _journal(root)
        if not (journal.is_file() and manifest.is_file()):
            raise
        try:
            started_from = store.read_json(journal).get("manifest_sha256")
        except (ValueError, AttributeError):
            raise exc from None
        own = all(p.file.startswith(RECOMPUTED) and
                  p.problem.split(":")[0] in ("missing", "truncated", "grown", "modified")
                  for p in exc.problems)
        if not own or started_from != store.sha256_file(manifest):
            raise
        return store.read_json(manifest)


def main_analyze(args) -> int:
    """`python -m core analyze STUDY`: verify, recompute every table, re-seal, summarise.

    A study that does not verify is refused (StudyNotVerified, every problem by file):
    analysing tampered predictions and sealing the result would launder the damage. The
    re-seal lists the verified manifest plus exactly the files this analysis wrote, so a
    stray file stays unlisted and `verify` keeps reporting it.

    Args:
        args (argparse.Namespace): ``study``.

    Returns:
        int: exit status 0.

    Raises:
        StudyNotVerified: as `verified_base`.
        StudyLockedError: when another process holds the study's lock.
    """
    verified_base(args.study, check_hashes=False)  # cheap: before creating the lock
    with lock.study_lock(args.study):
        base = verified_base(args.study)
        journal = _journal(args.study)
        store.write_json(journal, {
            "manifest_sha256": store.sha256_file(store.StudyPaths(args.study).manifest),
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
        with store.record_writes() as written:
            params = analyze_study(args.study, log=lambda msg: print(f"  {msg}", flush=True))
        store.write_manifest(args.study, written, base=base)
        journal.unlink()
    print(f"analysed {args.study}: {len(params['methods'])} method(s) × "
          f"{len(params['seeds'])} seed(s) × {len(params['sparsities'])} sparsities × "
          f"{params['n_eval_images']} images × {len(params['classes'])} classes "
          f"in {params['seconds']:.1f} s")
    for method, info in params["pies"].items():
        print(f"  {method}: {info['n_paper']} PIEs (paper, {params['pie_percentile']:g}% at "
              f"{params['pie_sparsity']}%), {info['n_population']} (population)")
    print(f"tables in {store.StudyPaths(args.study).analysis_dir} and "
          f"{store.StudyPaths(args.study).metrics_dir}; manifest re-sealed")
    return 0
