"""``pipetask-lite --explain``: print the Python script a command line amounts to."""

from __future__ import annotations

__all__ = ("explain",)

import argparse

from .errors import UsageError


def explain(args: argparse.Namespace) -> str:
    """Return a self-contained Python script doing what ``args`` asks for.

    Parameters
    ----------
    args : `argparse.Namespace`
        A parsed command line (`pipetask_lite.cli.parse_args`).

    Returns
    -------
    script : `str`
        Python source using the public LSST API only.
    """
    raise UsageError("--explain is not implemented yet", option="--explain")
