"""PruneLens core: what pruning makes a chest X-ray classifier forget, and on which images.

The command line is `python -m core …` (or `prunelens …` after `pip install -e .`;
`core.cli.main`). The functions a user or the dashboard calls, by job:

- a study: `core.config.StudyConfig`, `core.study` (run), `core.store` (layout, manifest,
  `verify`), `core.predictions` (the one reader of stored model outputs);
- data: `core.data.load_dataset`, `core.data.stats` (counts, co-occurrence, findings per
  image, labels in words);
- analysis: `core.analysis.analyze_study` (every table), the definitions in
  `core.analysis.forgetting`, `.frequency`, `.pies`, `.pie_stats`, `.thresholds`, the
  table recipes in `core.analysis.over_seeds` and `.class_tables`, and
  `core.analysis.report.build_report`;
- metrics: `core.metrics.per_class_metrics`; Grad-CAM: `core.explain.gradcam`.

Definitions in words: docs/definitions.md; the tables: docs/ARCHITECTURE.md.
"""
