"""Analysis of a study: forgetting, frequency and co-occurrence relations, PIEs.

Public API (the dashboard and the CLI use these; the modules hold the pure functions):
- `analyze_study(study_dir)` computes and writes every table (docs/ARCHITECTURE.md,
  "Analysis tables"); `main_analyze(args)` is `python -m core analyze STUDY`.
- `core.analysis.forgetting`, `.frequency`, `.pies`, `.pie_stats`: the definitions of
  DESIGN.md as functions of arrays.
- `core.analysis.report.build_report(study_dir)`: the summary behind `python -m core report`.
"""
from __future__ import annotations

__all__ = ["analyze_study", "main_analyze"]


def analyze_study(study_dir, analysis=None, log=None) -> dict:
    from core.analysis.study_analysis import analyze_study as _analyze

    return _analyze(study_dir, analysis=analysis, log=log)


def main_analyze(args) -> int:
    """`python -m core analyze STUDY`: verify, recompute every table, re-seal, summarise.

    A study that does not verify is refused (store.StudyNotVerified, every problem by file):
    analysing tampered predictions and sealing the result would launder the damage. The
    re-seal lists the verified manifest plus exactly the files this analysis wrote, so a
    stray file stays unlisted and `verify` keeps reporting it."""
    from core import lock, store

    store.require_verified(args.study, check_hashes=False)  # cheap: before creating the lock
    with lock.study_lock(args.study):
        base = store.require_verified(args.study)
        with store.record_writes() as written:
            params = analyze_study(args.study, log=lambda msg: print(f"  {msg}", flush=True))
        store.write_manifest(args.study, written, base=base)
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
