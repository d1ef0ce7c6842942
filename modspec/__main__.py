"""``python -m modspec`` runs the command line."""

from modspec.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
