import sys

try:  # Ctrl-C while the modules load is an interruption too, not a traceback
    from core.cli import main
except KeyboardInterrupt:
    print("interrupted; run the same command to resume", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
