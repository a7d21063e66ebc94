"""``python cli.py fit|validate|test|study|report ...``: the command line from a checkout.

The same command is installed as ``harsanyi-lightning``; the code is :mod:`harsanyi_lightning.cli`.
"""
import sys

from harsanyi_lightning.cli import run_from_command_line

__all__ = ["run_from_command_line"]

if __name__ == "__main__":
    sys.exit(run_from_command_line())
