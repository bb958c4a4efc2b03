"""Where the supported LSST releases differ: every version-dependent call, here.

pipetask-lite is tested on two release lines (README, "Two release lines"):
lsst-pipe-base / lsst-ctrl-mpexec 30.2026.500 on Python 3.11 and
30.2026.4300 on Python 3.12.  Each difference between them is one entry
below, with a comment naming the release that changed it, so that the next
release is a change to this file alone.

Nothing here imports ``lsst`` at module level: `check_release` runs before
every subcommand and reads package metadata only.
"""

from __future__ import annotations

__all__ = (
    "MINIMUM_RELEASES",
    "NEW_BUILDER_OPTIONS",
    "builder_keywords",
    "builder_takes",
    "check_builder_options",
    "check_release",
    "disables_threading_before_build",
    "graph_metadata",
    "records_retained_dataset_types",
    "release_of",
)

import os
import re
import sys
from collections.abc import Mapping, Sequence

from .errors import PipetaskLiteError, UsageError

MINIMUM_RELEASES = {
    # The oldest release of each package that the test suite runs on (the
    # Python 3.11 line in constraints.txt).  Newer releases are accepted:
    # the weeklies change pipe_base's API rarely and additively, and what
    # does change is caught below, by feature, not by version number.
    "lsst-pipe-base": "30.2026.500",
    "lsst-ctrl-mpexec": "30.2026.500",
    "lsst-daf-butler": "30.2026.4300",
}
"""Oldest supported release of each LSST package pipetask-lite calls."""

NEW_BUILDER_OPTIONS = {
    # option: (QuantumGraphBuilder keyword, package, first release with it)
    # lsst-pipe-base 30.2026.2600 added QuantumGraphBuilder(retained_dataset_types=...)
    # (and lsst-ctrl-mpexec 30.2026.2600 the pipetask option).
    "--retained-dataset-types": ("retained_dataset_types", "lsst-pipe-base", "30.2026.2600"),
    # lsst-pipe-base 30.2026.2800 added QuantumGraphBuilder(prune_unanchored_quanta=...)
    # (and lsst-ctrl-mpexec 30.2026.2800 the pipetask option).
    "--prune-unanchored-quanta": ("prune_unanchored_quanta", "lsst-pipe-base", "30.2026.2800"),
}
"""Graph-building options that only newer pipe_base releases have."""

_RELEASE = re.compile(r"\d+(?:\.\d+)*")


def _parse(version: str) -> tuple[int, ...] | None:
    """``'30.2026.500'`` -> ``(30, 2026, 500)``; `None` for an EUPS git tag such as ``'g1a2b3c+4'``."""
    match = _RELEASE.match(version)
    return tuple(int(part) for part in match.group().split(".")) if match else None


def release_of(package: str) -> str | None:
    """Return the installed version of an LSST package, without importing it.

    pip-installed packages have metadata (``importlib.metadata``).  In an
    EUPS stack they usually have none, but each has the ``version.py`` that
    sconsUtils writes (``lsst/pipe/base/version.py``), found on `sys.path`
    and read as text.

    Returns
    -------
    version : `str` or `None`
        The version, or `None` if the package is not found either way.
    """
    import importlib.metadata  # here, not at the top: --help does not need it

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        pass
    relative = os.path.join(*package.split("-"), "version.py")  # lsst-pipe-base -> lsst/pipe/base/version.py
    for entry in sys.path:
        try:
            with open(os.path.join(entry or ".", relative)) as stream:
                text = stream.read()
        except (OSError, ValueError):
            continue
        if match := re.search(r"""__version__\s*=\s*["']([^"']+)["']""", text):
            return match.group(1)
    return None


def check_release(minimum: Mapping[str, str] = MINIMUM_RELEASES) -> None:
    """Refuse an LSST package older than the oldest supported release.

    Cheap: package metadata only, no ``lsst`` import.  A package that is not
    found, or whose version is not a release number (an EUPS build from a
    git commit), is let through: its import, or the feature checks here,
    will say more than a guess would.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised, naming the package and its version, for a release older
        than ``minimum``.
    """
    for package, oldest in minimum.items():
        found = release_of(package)
        parsed = _parse(found) if found is not None else None
        if parsed is not None and parsed < _parse(oldest):
            raise PipetaskLiteError(
                f"{package} {found} is older than the oldest release pipetask-lite supports ({oldest})",
                hint=f"install {package}>={oldest}, or pipetask-lite's pinned set (README, 'Install')",
            )


def builder_takes(option: str) -> bool:
    """Whether the installed pipe_base's graph builder has what ``option`` needs.

    By release number when there is one (cheap, no import, so ``--explain``
    can ask too), else by the signature of
    `lsst.pipe.base.quantum_graph_builder.QuantumGraphBuilder` (an EUPS build
    from a git commit); with no pipe_base at all, as the newest release does.
    """
    keyword, package, first = NEW_BUILDER_OPTIONS[option]
    found = release_of(package)
    if found is not None and (parsed := _parse(found)) is not None:
        return parsed >= _parse(first)
    try:
        import inspect

        from lsst.pipe.base.quantum_graph_builder import QuantumGraphBuilder
    except ImportError:
        return True
    return keyword in inspect.signature(QuantumGraphBuilder.__init__).parameters


def check_builder_options(given: Mapping[str, object]) -> None:
    """Refuse the graph-building options that the installed pipe_base lacks.

    Parameters
    ----------
    given : `~collections.abc.Mapping` [`str`, `object`]
        Option (``--retained-dataset-types``) to its value; `None` for not given.

    Raises
    ------
    pipetask_lite.UsageError
        Raised, naming the option and the release it needs.
    """
    for option, value in given.items():
        if value is not None and not builder_takes(option):
            _, package, first = NEW_BUILDER_OPTIONS[option]
            raise UsageError(
                f"needs {package} {first} or newer, and {release_of(package) or 'an older one'} is installed "
                "(pipetask-lite's newer line: Python 3.12 with constraints-py312.txt)",
                option=option,
            )


def builder_keywords(
    *, retained_dataset_types: Sequence[str] | None, prune_unanchored_quanta: tuple[str, str] | None
) -> dict[str, object]:
    """The `QuantumGraphBuilder` keywords of the newer options, only when given.

    lsst-pipe-base older than 30.2026.2600 (2800 for ``prune_unanchored_quanta``)
    takes neither keyword, so nothing is passed unless the option was given
    (and `check_builder_options` has then made sure the builder takes it).
    """
    keywords: dict[str, object] = {}
    if retained_dataset_types is not None:
        keywords["retained_dataset_types"] = list(retained_dataset_types)
    if prune_unanchored_quanta is not None:
        keywords["prune_unanchored_quanta"] = tuple(prune_unanchored_quanta)
    return keywords


def records_retained_dataset_types() -> bool:
    """Whether pipetask of the installed release records ``retained_dataset_types`` in a graph's header.

    lsst-ctrl-mpexec 30.2026.2600, with the option, added the key (the
    ``--retained-dataset-types`` path, or `None`) to the metadata
    ``pipetask qgraph`` writes; it came with pipe_base's keyword of the
    same release, which is what is checked.
    """
    return builder_takes("--retained-dataset-types")


def graph_metadata(
    *, butler_argument: str, extend_run: bool, skip_existing_in: Sequence[str], skip_existing: bool,
    retained_dataset_types: str | None, data_query: str,
) -> dict[str, object]:
    """The header metadata pipetask records in a graph it builds, for this release.

    Older releases have no ``retained_dataset_types`` key (see
    `records_retained_dataset_types`), so neither does pipetask-lite on
    them: a saved graph is the same as pipetask's.
    """
    metadata: dict[str, object] = {
        "butler_argument": butler_argument, "extend_run": extend_run,
        "skip_existing_in": skip_existing_in, "skip_existing": skip_existing,
    }
    if records_retained_dataset_types():
        metadata["retained_dataset_types"] = retained_dataset_types
    metadata["data_query"] = data_query
    return metadata


def disables_threading_before_build() -> bool:
    """Whether ``pipetask run`` of the installed release turns implicit threading off before building.

    lsst-ctrl-mpexec 30.2026.3000 (w.2026.30, ctrl_mpexec commit dff2869,
    ``tests/test_cliCmdRun.py::test_disable_before_graph_building``) calls
    `lsst.utils.threads.disable_implicit_threading` in the ``run`` command,
    before the pipeline and the graph are built, so that thread pools made
    by task imports and graph generation are limited too; older releases
    do it only in ``script.run``, just before execution.  Decided by release
    number (the change is in the Click command, which pipetask-lite does not
    import); a version that is no release number counts as the newest.
    """
    found = release_of("lsst-ctrl-mpexec")
    parsed = _parse(found) if found is not None else None
    return parsed is None or parsed >= (30, 2026, 3000)
