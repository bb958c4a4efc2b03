"""Pytest fixtures shared by the pipetask-lite test suite.

Helpers live in ``tests/harness.py`` (import as ``harness``); this file only
makes them importable and wraps repo creation in fixtures.
"""

from __future__ import annotations

import collections
import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests explore at random on a developer's machine (a failure they
# find becomes a plain regression test), but in CI they draw the same
# examples every time: a suite that passes or fails by chance gates nothing.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

_TESTS_DIR = str(Path(__file__).resolve().parent)
# ``harness`` and ``failing_tasks`` are plain modules in tests/ (no package),
# and ``failing_tasks`` must import under that exact name because pipeline
# YAML refers to ``failing_tasks.FailOnDetectorTask``.
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from harness import AddRepo, Twins, copy_repo, make_add_repo, make_twins, restored_process_state  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _stack_out_of_the_collectors_sight() -> None:
    """Import the stack once, then keep what is alive out of the garbage collector's work.

    Each collection of the oldest generation traverses every object the
    process holds, the imported stack's included; tests that run commands
    in-process (the fuzzers, the API tests) spent ~17 % of their time so.
    What is alive now (modules, the collected tests) lives to the end anyway.
    """
    import lsst.daf.butler  # noqa: F401
    import lsst.pipe.base  # noqa: F401

    import pipetask_lite._main  # noqa: F401

    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Undo what an in-process ``pipetask_lite._main.main`` left (logging, SIGTERM).

    Under pytest-xdist a worker runs tests of many modules one after the
    other: none may see another's handlers or log levels.
    """
    with restored_process_state():
        yield


@pytest.fixture(scope="session")
def _template_add_repo(tmp_path_factory: pytest.TempPathFactory) -> AddRepo:
    """Build the default repo once per session; fixtures copy it.

    Copying a closed SQLite repo is cheaper than re-running
    ``Butler.makeRepo`` and the inserts for every test.
    """
    return make_add_repo(tmp_path_factory.mktemp("template") / "repo")


@pytest.fixture
def add_repo(tmp_path: Path, _template_add_repo: AddRepo) -> AddRepo:
    """Return a fresh default `harness.AddRepo` (3 detectors, 3 tasks).

    The repo is at ``tmp_path / "repo"``; the pipeline file is shared with
    the session template and must not be modified.
    """
    return _template_add_repo.with_root(copy_repo(_template_add_repo.root, tmp_path / "repo"))


@pytest.fixture
def twin_repos(tmp_path: Path, _template_add_repo: AddRepo) -> tuple[AddRepo, AddRepo]:
    """Return two identical default repos, for side-by-side runs.

    Typically the first is run with the real ``pipetask`` and the second
    with ``pipetask-lite``; their `harness.snapshot` results are then
    compared with `harness.diff_snapshots`.
    """
    return tuple(  # type: ignore[return-value]
        _template_add_repo.with_root(copy_repo(_template_add_repo.root, tmp_path / name))
        for name in ("twin_a", "twin_b")
    )


@pytest.fixture
def twins(tmp_path: Path, _template_add_repo: AddRepo) -> Twins:
    """Return `harness.Twins` of the default repo, one working directory per tool.

    They are ``tmp_path / "twins" / <tool>``, each holding ``repo``
    (instrument ``INSTR``, detectors 0-2), for `harness.run_both` and
    `harness.assert_same`.
    """
    return make_twins(tmp_path / "twins", _template_add_repo)


SLOW_GROUPS = ("pipetask", "postgres", "bps", "sigkill", "fuzz")
"""Markers (pyproject.toml) whose tests are also ``slow``: ``pytest -m "not slow"`` leaves them out."""


def _xdist_group(item: pytest.Item) -> str | None:
    """The pytest-xdist group of ``item`` (``make test`` runs ``--dist loadgroup``), or `None`.

    A session or module fixture is built once per worker process that needs
    it.  The tests on the PostgreSQL server (one server, its template repo)
    go to one worker; so do the tests of a module that share a module fixture
    which builds repos or runs commands (one that takes ``tmp_path_factory``).
    Everything else is spread test by test.
    """
    fixturedefs = getattr(item, "_fixtureinfo", None)
    if fixturedefs is None:
        return None
    defs = [d for ds in fixturedefs.name2fixturedefs.values() for d in ds]
    if any(d.argname == "pg_server" for d in defs):
        return "postgres"
    if any(d.scope == "module" and "tmp_path_factory" in d.argnames for d in defs):
        return item.nodeid.split("::", 1)[0]
    return None


def pytest_itemcollected(item: pytest.Item) -> None:
    # Marked as each test is collected, before any pytest_collection_modifyitems
    # runs: pytest-xdist reads the xdist_group marks in its own.  (It writes
    # the group into the test's id in a way pytest 9.2 ignores: constraints
    # pin pytest 9.1, else groups spread and their module fixtures run twice.)
    if any(item.get_closest_marker(group) for group in SLOW_GROUPS) and not item.get_closest_marker("slow"):
        item.add_marker(pytest.mark.slow)
    group = _xdist_group(item)
    if group is not None and not item.get_closest_marker("xdist_group"):
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # On a pytest-xdist worker, where the order is decided, --dist reads "no"
    # and xdist sets "loadgroup" instead.
    if getattr(config.option, "loadgroup", False) or config.getoption("dist", "no") == "loadgroup":
        # xdist hands out work in collection order, a group as one unit: the
        # biggest groups first, else one worker would end the run alone with
        # a big group while the other idles.  (A stable sort: the order of
        # the tests within a group, and of the rest, is kept.)
        groups = {id(item): mark.args[0] for item in items if (mark := item.get_closest_marker("xdist_group"))}
        sizes = collections.Counter(groups.values())
        items.sort(key=lambda item: -sizes[groups[id(item)]] if id(item) in groups else 0)
