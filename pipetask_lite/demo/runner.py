"""Compose, run and report on the classic cpBias ``pipetask run`` command.

Kept separate from ``__main__`` so tests (and the real ``pipetask``) can use
exactly the same argument list the demo prints.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_OUTPUT",
    "default_runner",
    "describe_collections",
    "format_command",
    "run_args",
    "run_pipetask",
    "subprocess_env",
    "summarize",
]

import os
import re
import shlex
import site
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .repo import DemoRepo

#: Output CHAINED collection, as in ``cp_pipe``'s bias recipe.
DEFAULT_OUTPUT = "DemoCam/calib/bias"


def default_runner() -> list[str]:
    """Return the default runner command: ``python -m pipetask_lite``.

    Returns
    -------
    command : `list` [`str`]
        ``[sys.executable, "-m", "pipetask_lite"]``, so the same interpreter
        (and virtualenv) runs the pipeline.
    """
    return [sys.executable, "-m", "pipetask_lite"]


def run_args(
    repo: DemoRepo,
    *,
    output: str = DEFAULT_OUTPUT,
    pipeline: str | None = None,
    config: Mapping[str, str] | None = None,
    register_dataset_types: bool = True,
) -> list[str]:
    """Build the ``run`` sub-command arguments of the classic cpBias line.

    Parameters
    ----------
    repo : `DemoRepo`
        Repository made by `make_demo_repo`.
    output : `str`, optional
        Output CHAINED collection (``-o``).
    pipeline : `str`, optional
        Pipeline URI (``-p``), e.g. ``repo.pipeline + "#isrOnly"``; defaults
        to ``repo.pipeline``.
    config : `~collections.abc.Mapping` [`str`, `str`], optional
        ``-c`` overrides as ``{"label:field": value}``.  Defaults to
        ``{"isr:overscan.fitType": "MEDIAN_PER_ROW"}``; pass ``{}`` for none.
    register_dataset_types : `bool`, optional
        Whether to add ``--register-dataset-types``.

    Returns
    -------
    args : `list` [`str`]
        Arguments starting with ``"run"``, ready to append to a runner
        command such as ``["pipetask"]``.
    """
    if config is None:
        config = {"isr:overscan.fitType": "MEDIAN_PER_ROW"}
    args = [
        "run",
        "-b", repo.root,
        "--instrument", repo.instrument_class,
        "-i", ",".join(repo.input_collections),
        "-o", output,
        "-p", pipeline if pipeline is not None else repo.pipeline,
        "-d", repo.data_query,
    ]  # fmt: skip
    for key, value in config.items():
        # This is the argv the shell makes of ``-c isr:overscan.fitType='X'``:
        # pipetask parses the value itself, so no extra quoting is needed.
        args += ["-c", f"{key}={value}"]
    if register_dataset_types:
        args.append("--register-dataset-types")
    return args


_CONFIG_VALUE = re.compile(r"^([\w.:]+)=([A-Za-z_]\w*)$")


def format_command(argv: Sequence[str]) -> str:
    """Render an argument list as a copy-pasteable shell command.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`]
        Command and arguments.

    Returns
    -------
    line : `str`
        Shell-equivalent text in the style of the pipetask docs: data
        queries in double quotes, string config values in single quotes.
    """
    parts = []
    previous = ""
    for arg in argv:
        if previous == "-c" and (match := _CONFIG_VALUE.match(arg)):
            # ``key='VALUE'`` is what the docs show; the shell removes the
            # quotes, so it denotes exactly this argv element.
            parts.append(f"{match[1]}='{match[2]}'")
        elif shlex.quote(arg) == arg:
            parts.append(arg)
        elif not any(c in arg for c in '"$`\\!'):
            parts.append(f'"{arg}"')
        else:
            parts.append(shlex.quote(arg))
        previous = arg
    return " ".join(parts)


def subprocess_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return an environment in which a child process can import the demo.

    Parameters
    ----------
    base : `~collections.abc.Mapping` [`str`, `str`], optional
        Starting environment; defaults to `os.environ`.

    Returns
    -------
    env : `dict` [`str`, `str`]
        Copy of ``base`` with the directory containing ``pipetask_lite``
        prepended to ``PYTHONPATH`` unless it is a site-packages directory.

    Notes
    -----
    The pipeline names its tasks by import path, and ``pipetask`` (a console
    script) does not have the current directory on ``sys.path``; from a source
    checkout without an install it would otherwise fail to import them.
    """
    env = dict(os.environ if base is None else base)
    package_root = str(Path(__file__).absolute().parents[2])
    site_dirs = {str(Path(p).resolve()) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if package_root not in site_dirs:
        current = env.get("PYTHONPATH", "")
        paths = current.split(os.pathsep) if current else []
        if package_root not in paths:
            env["PYTHONPATH"] = os.pathsep.join([package_root, *paths])
    return env


def run_pipetask(
    runner: Sequence[str], args: Sequence[str], **kwargs: object
) -> subprocess.CompletedProcess:
    """Run ``runner + args`` in a subprocess with `subprocess_env`.

    Parameters
    ----------
    runner : `~collections.abc.Sequence` [`str`]
        Command prefix, e.g. ``["pipetask"]`` or `default_runner`.
    args : `~collections.abc.Sequence` [`str`]
        Arguments from `run_args`.
    **kwargs
        Passed to `subprocess.run` (e.g. ``capture_output=True``).

    Returns
    -------
    result : `subprocess.CompletedProcess`
        The finished process; its return code is not checked.
    """
    return subprocess.run([*runner, *args], env=subprocess_env(), check=False, **kwargs)


def summarize(root: str, output: str) -> dict[str, int]:
    """Count datasets per dataset type visible through a collection.

    Parameters
    ----------
    root : `str`
        Repository root.
    output : `str`
        Collection to summarize (usually the ``-o`` CHAINED collection,
        which also reaches the inputs).

    Returns
    -------
    counts : `dict` [`str`, `int`]
        Dataset type name -> number of datasets found (find-first).
    """
    from lsst.daf.butler import Butler

    butler = Butler.from_config(root)
    try:
        info = butler.collections.get_info(output, include_summary=True)
        counts = {}
        for name in sorted(info.dataset_types or ()):
            # explain=False: an empty result is a count of 0, not an error.
            refs = butler.query_datasets(name, collections=output, find_first=True, limit=None, explain=False)
            counts[name] = len(refs)
        return counts
    finally:
        butler.close()


def describe_collections(root: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """List the repository's collections.

    Parameters
    ----------
    root : `str`
        Repository root.

    Returns
    -------
    collections : `list` [`tuple`]
        ``(name, type name, children)`` sorted by name; children are only
        non-empty for CHAINED collections.
    """
    from lsst.daf.butler import Butler

    butler = Butler.from_config(root)
    try:
        infos = butler.collections.query_info("*", include_chains=True)
        return sorted((i.name, i.type.name, tuple(i.children)) for i in infos)
    finally:
        butler.close()
