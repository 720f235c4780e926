"""Start the dashboard warm: `python -m dashboard.serve [STREAMLIT OPTIONS] [-- APP ARGS]`.

The same arguments as `streamlit run dashboard/app.py [STREAMLIT OPTIONS] [-- APP ARGS]`
(e.g. `python -m dashboard.serve --server.port 8502 -- --roots /data/studies --reader-only`),
but imports and caches are prepared (dashboard/warm.py) before the server listens, so the
first reader of a just-started reading server does not wait for them. The server runs in
this process (Streamlit's own command line, called in-process), so its sessions use what
was warmed.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"


def split_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(Streamlit's options, the app's arguments): the app's come after `--`."""
    if "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1:]
    return argv, []


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    st_opts, app_args = split_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from dashboard.reader_study.reader_access import reader_only
    from dashboard.warm import warm

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    timings = warm(app_args, reader_only=reader_only(app_args))
    logging.getLogger("prunelens").info(
        "warm-up: imports %.1f s, %d stud%s %.1f s", timings["imports_s"],
        int(timings["studies"]), "y" if timings["studies"] == 1 else "ies",
        timings["studies_s"])
    from streamlit.web import cli as stcli

    sys.argv = ["streamlit", "run", str(APP), *st_opts, "--", *app_args]
    return stcli.main()


if __name__ == "__main__":
    sys.exit(main())
