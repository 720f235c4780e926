"""`python -m core …`: one entry point; each sub-command's work lives in its own module."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core import executors
from core.errors import ConfigError, StoreError, StudyError, StudyLockedError, StudyNotVerified
from core.omp import passive_omp_threads


# Each command imports what it needs when it runs: `python -m core verify` or `--help` stays
# fast without torch, numba and pandas, and `study`/`demo` set OMP_WAIT_POLICY before torch
# is first imported (passive_omp_threads).
def _cmd_verify(args) -> int:
    from core.reader.health import check as check_reader_db
    from core.store import verify

    problems = verify(args.study, check_hashes=not args.quick)
    problems += check_reader_db(args.study) if Path(args.study).is_dir() else []
    if not problems:
        print("ok")
        return 0
    print(f"{args.study}: {len(problems)} problem(s)")
    for p in problems:
        print(f"  {p}")
    return 1


def _cmd_reader_backup(args) -> int:
    from core.reader import health

    dest = health.backup(args.study, args.dest)
    print(f"backed up {health.describe(dest)} to {dest}")
    return 0


def _cmd_reader_restore(args) -> int:
    from core.reader import health

    kept, live = health.restore(args.study, args.backup)
    print(f"restored {health.describe(live)} from {args.backup} into {live}"
          + (f"; the database it replaced is kept as {kept}" if kept else ""))
    return 0


def _cmd_dataset(args) -> int:
    from core.data.summary import main as summary_main

    return summary_main(args)


def _cmd_study(args) -> int:
    """`study --config FILE` and `demo` (the demo's config, `--quick` for the tiny one)."""
    passive_omp_threads()
    from core.config import StudyConfig
    from core.demo import demo_config
    from core.study.run import run_study

    if args.command == "demo":
        cfg = demo_config(quick=args.quick, overrides=args.set)
        out = Path(args.out)
    else:
        cfg = StudyConfig.load(args.config, args.set)
        out = Path(args.out) if args.out else Path("studies") / cfg.name
    seeds = args.seeds
    if isinstance(seeds, str):
        try:
            seeds = [int(seed) for seed in seeds.split(",") if seed.strip()]
        except ValueError:
            raise ConfigError(f"--seeds: expected seeds of the config separated by commas, "
                              f"e.g. 0,1; got {seeds!r}") from None
    run_study(cfg, out, progress=not args.no_progress, only_seeds=seeds,
              finalize=not args.no_finalize, executor=executors.from_args(args))
    return 0


def _cmd_analyze(args) -> int:
    from core.analysis import main_analyze

    return main_analyze(args)


def _cmd_report(args) -> int:
    from core.analysis.report import main_report

    return main_report(args)


def _cmd_experiment(args) -> int:
    from core.experiments.frequency import main_frequency

    return main_frequency(args)


def _cmd_paper_check(args) -> int:
    from core.analysis.paper_check_table import main_paper_check

    return main_paper_check(args)


def _cmd_compare(args) -> int:
    from core.compare import main_compare

    return main_compare(args)


def _cmd_import_paper(args) -> int:
    from core.importer import main_import

    return main_import(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m core` and its sub-commands.

    Returns:
        argparse.ArgumentParser: each sub-command sets ``func``.
    """
    p = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("verify", help="check a study folder against its manifest")
    s.add_argument("study")
    s.add_argument("--quick", action="store_true", help="sizes only, no sha256")
    s.set_defaults(func=_cmd_verify)

    s = sub.add_parser("reader-backup", help="copy a study's reader database (online backup)")
    s.add_argument("study")
    s.add_argument("dest", help="new backup file, or a folder to put a time-stamped one in")
    s.set_defaults(func=_cmd_reader_backup)
    s = sub.add_parser("reader-restore", help="replace a study's reader database with a "
                       "checked backup (what it replaces is kept)")
    s.add_argument("study")
    s.add_argument("backup")
    s.set_defaults(func=_cmd_reader_restore)

    s = sub.add_parser("dataset", help="describe a dataset (SPEC = name or config file)")
    s.add_argument("spec", help="dataset name (e.g. synthcxr, nih-cxr-lt) or a study config file")
    s.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="dataset option, e.g. -o label_dir=/data/nih -o image_root=/data/img")
    s.add_argument("--summary", action="store_true", help="print split, class and NaN counts")
    s.set_defaults(func=_cmd_dataset)

    for name, helptext in (("study", "run a study from a config file"),
                           ("demo", "run the SynthCXR demo study")):
        s = sub.add_parser(name, help=helptext)
        if name == "study":
            s.add_argument("--config", required=True)
        else:
            s.add_argument("--quick", action="store_true", help="tiny version (under a minute)")
        s.add_argument("--out", required=name == "demo", help="study folder")
        s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set train.epochs=5")
        s.add_argument("--no-progress", action="store_true", help="no progress bars")
        s.add_argument("--seeds", default=None, metavar="S,S,…",
                       help="run only these seeds of the config (spread a study over GPUs)")
        s.add_argument("--no-finalize", action="store_true",
                       help="skip analysis + manifest (another process finishes the study); "
                            "with --seeds, for schedulers without Ray (job arrays)")
        executors.add_arguments(s)
        s.set_defaults(func=_cmd_study)

    s = sub.add_parser("analyze", help="(re)compute all analysis tables of a study")
    s.add_argument("study")
    s.set_defaults(func=_cmd_analyze)

    s = sub.add_parser("report", help="summarise a study's analysis")
    s.add_argument("study")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_report)

    s = sub.add_parser("experiment", help="run a controlled experiment (docs/experiments.md)")
    ex = s.add_subparsers(dest="experiment", required=True)
    s = ex.add_parser("frequency", help="frequency vs visual difficulty: two SynthCXR studies "
                      "that differ only in which signature each label column gets")
    s.add_argument("--out", required=True, help="experiment folder (resumable)")
    s.add_argument("--quick", action="store_true", help="tiny version (tests, smoke runs)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of both arms, e.g. --set seeds=[0,1]")
    s.add_argument("--no-progress", action="store_true", help="no progress bars")
    s.add_argument("--partial", action="store_true", help="train nothing: tables from the "
                   "seeds both arms have finished so far (labelled partial)")
    s.add_argument("--jobs", type=int, default=2, help="units trained at once, each in its "
                   "own process on one thread (default 2; 1 = one after another)")
    s.set_defaults(func=_cmd_experiment)

    s = sub.add_parser("paper-check", help="which of the paper's findings hold in a study "
                                           "(F1–F7, 95%% bootstrap intervals, verdicts)")
    s.add_argument("study")
    s.add_argument("--method", default=None,
                   help="pruning method (default: l1_global if the study has it, else its first)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_paper_check)

    s = sub.add_parser("compare", help="are two studies' results byte-identical? (exit 0 "
                       "yes, 3 no; measurement files, *timings*, are not compared)")
    s.add_argument("a")
    s.add_argument("b")
    s.set_defaults(func=_cmd_compare)

    s = sub.add_parser("import-paper", help="import the paper's released prediction pickles")
    s.add_argument("pred_dir")
    s.add_argument("--labels", required=True, help="the test label CSV")
    s.add_argument("--dataset", default="nih-cxr-lt", choices=["nih-cxr-lt", "mimic-cxr-lt"])
    s.add_argument("--method", default=None, choices=["l1_global", "random"],
                   help="pruning method of the release (default: guessed from the folder name)")
    s.add_argument("--out", required=True)
    s.add_argument("--trust-pickles", action="store_true",
                   help="required: pickles can run code when read; only for files you trust")
    s.set_defaults(func=_cmd_import_paper)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command: `python -m core …` and the `prunelens` console command.

    Expected failures end in one line on stderr, never a traceback: a study that does not
    verify → exit 1 with every problem by file (as `verify`); bad input, a study in use by
    another coordinator, an OS error (disk full, permission denied, read-only folder: one
    line naming the path) → exit 2; Ctrl-C → exit 130, one line.

    Args:
        argv (list[str] | None): the arguments after the program name (None = sys.argv).

    Returns:
        int: the exit status (0 = done).

    Example:
        >>> main(["verify", "artifacts/demo", "--quick"])        # doctest: +SKIP
        ok
        0
    """
    # Lazy: the reader package is loaded only by the commands that use it.
    from core.reader.schema import ReaderDBError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:   # Ctrl-C: the with-blocks above released locks and temp files
        return interrupted()
    except StudyNotVerified as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, ValueError, StudyLockedError, StoreError, StudyError,
            ReaderDBError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:   # disk full, permission denied, read-only folder, missing file
        print(f"error: {os_error_text(exc)}", file=sys.stderr)
        return 2


INTERRUPTED = "interrupted; run the same command to resume"


def interrupted() -> int:
    """Ctrl-C: one line and exit 130 (128 + SIGINT, as a shell reports it).

    Every write is atomic and every unit marked only when whole, so the same command
    resumes.

    Returns:
        int: 130.
    """
    print(INTERRUPTED, file=sys.stderr)
    return 130


def os_error_text(exc: OSError) -> str:
    """'PATH: reason' from an OSError (the path the system call was about), else its text.

    Writes are atomic (core.store), so the failed file was not half-written: fix the cause and
    re-run the same command, which resumes.

    Args:
        exc (OSError): the error.

    Returns:
        str: one line.
    """
    if exc.filename is None:
        return str(exc)
    where = str(exc.filename) + (f" → {exc.filename2}" if exc.filename2 else "")
    return (f"{where}: {exc.strerror or exc} (fix that and re-run the same command: finished "
            "work is kept)")


if __name__ == "__main__":
    sys.exit(main())
