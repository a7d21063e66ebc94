"""``python -m harsanyi_lightning``: the same command line as ``harsanyi-lightning`` and ``python cli.py``."""
import sys

from harsanyi_lightning.cli import run_from_command_line

if __name__ == "__main__":
    sys.exit(run_from_command_line())
