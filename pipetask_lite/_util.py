"""Small helpers shared by `build`, `qgraph` and `run`."""

from __future__ import annotations

__all__ = (
    "ACTION_OPTIONS", "as_actions", "blame", "butler_from_config", "check_writable", "file_errors", "first_line",
    "given_butler", "lend_butler", "make_parents", "make_show", "open_butler", "open_for_writing", "query_errors",
    "repo_errors", "warn_unhandled_show",
)

import contextlib
import contextvars
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING

from .actions import ACTIONS, PipelineAction, parse_pipeline_action
from .errors import OptionValueError, PipetaskLiteError, UsageError

if TYPE_CHECKING:
    from lsst.ctrl.mpexec.showInfo import ShowInfo

ACTION_OPTIONS = {name: kind.option for name, kind in ACTIONS.items()}
"""The option that gives each kind of pipeline action, as errors name it (``-t/--task``)."""

TASK_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a task label must look like to name dataset types (``LABEL_config``, ``LABEL_metadata``)."""


def as_actions(items: Sequence[PipelineAction | tuple[str, str]]) -> list[PipelineAction]:
    """Accept `PipelineAction` values or ``(option, value)`` pairs from Python callers."""
    actions = []
    for item in items:
        if not isinstance(item, PipelineAction) and not (isinstance(item, tuple | list) and len(item) == 2):
            raise UsageError(f"a pipeline action is a PipelineAction or an (option, value) pair, not {item!r}")
        option = item.option if isinstance(item, PipelineAction) else item[0]
        if option not in ACTION_OPTIONS:
            raise UsageError(f"unknown pipeline action {option!r}; expected one of {', '.join(ACTION_OPTIONS)}")
        if isinstance(item, PipelineAction):
            action = item
        else:
            try:
                action = parse_pipeline_action(option, item[1])
            except (TypeError, ValueError) as exc:  # TypeError: a value that is not text
                raise UsageError(str(exc), option=ACTION_OPTIONS[option]) from None
        # A new task's label names its dataset types (LABEL_config, ...).
        if action.option == "task" and action.label is not None and not TASK_LABEL.fullmatch(action.label):
            raise UsageError(f"task label {action.label!r} is not a name (letters, digits and _)",
                             option=ACTION_OPTIONS["task"])
        actions.append(action)
    return actions


@contextlib.contextmanager
def blame(
    option: str, *exceptions: type[BaseException], message: str | None = None, hint: str | None = None,
    note: str = "",
) -> Iterator[None]:
    """Turn the given exceptions raised in the body into a one-line error naming ``option``.

    The library's own message is kept (first line only) unless ``message``
    replaces it, and ``note`` is appended to it; the original exception stays
    chained for ``--traceback``.
    """
    try:
        yield
    except PipetaskLiteError:
        raise
    except exceptions as exc:
        raise PipetaskLiteError((message or first_line(exc)) + note, option=option, hint=hint) from exc


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (not the SQL or traceback that may follow), or its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def repo_errors() -> tuple[type[Exception], ...]:
    """What `lsst.daf.butler.Butler.from_config` raises for a repo config it cannot use.

    A missing or unreadable file (`OSError`), YAML that does not parse, a
    file that is not a repo config (`RuntimeError`, `ValueError`,
    `LookupError`), a database that cannot be opened or reached
    (SQLAlchemy's errors), an object store without credentials (botocore's).
    """
    import sqlalchemy.exc
    import yaml

    errors: tuple[type[Exception], ...] = (
        OSError, ValueError, LookupError, RuntimeError, yaml.YAMLError, sqlalchemy.exc.SQLAlchemyError
    )
    with contextlib.suppress(ImportError):
        from botocore.exceptions import BotoCoreError

        errors += (BotoCoreError,)
    return errors


def file_errors() -> tuple[type[Exception], ...]:
    """What reading a file that is not what it should be raises (a graph, a table, a report).

    The readers behind ``-g``, ``--data-id-table`` and ``report`` decode zip,
    zstd, lzma and pickle streams, JSON and pydantic models (`ValueError`),
    and astropy's table formats; a truncated or foreign file fails in any of
    those layers.  Other exceptions are not the file's fault.
    """
    import lzma
    import pickle
    import struct
    import zipfile
    import zlib

    errors: tuple[type[Exception], ...] = (
        OSError, ValueError, LookupError, EOFError, zipfile.BadZipFile, lzma.LZMAError, zlib.error,
        pickle.UnpicklingError, struct.error,
    )
    with contextlib.suppress(ImportError):
        from zstandard import ZstdError

        errors += (ZstdError,)
    with contextlib.suppress(ImportError):
        from astropy.io.registry import IORegistryError

        errors += (IORegistryError,)
    return errors


class _NotInstantiated(logging.Filter):
    """Drops daf_butler's "Failed to instantiate Butler" record: the error boundary reports the exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to instantiate Butler from config")


@contextlib.contextmanager
def _without_butler_error_log() -> Iterator[None]:
    """While a butler is opened: daf_butler logs its failure before raising it, a second error line."""
    logger = logging.getLogger("lsst.daf.butler.direct_butler._direct_butler")
    quiet = _NotInstantiated()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


_LENT_BUTLERS: contextvars.ContextVar[dict] = contextvars.ContextVar("lent_butlers", default={})
"""Butlers a Python caller handed over (``butler_config=butler``), by the repo string used in their place."""


@contextlib.contextmanager
def lend_butler(repo: str, butler) -> Iterator[None]:
    """While in the body, `open_butler` (and `given_butler`) answer ``repo`` with clones of ``butler``.

    The functions behind the command line open the repo by its string in
    several places; a Python caller's own `~lsst.daf.butler.Butler` is used
    in its place so that there is no second connection and what is written
    is seen through it.  A clone shares its registry's connection pool and
    caches, and closing it leaves the caller's butler open.
    """
    token = _LENT_BUTLERS.set({**_LENT_BUTLERS.get(), repo: butler})
    try:
        yield
    finally:
        _LENT_BUTLERS.reset(token)


def given_butler(butler_config):
    """The caller's own butler lent for ``butler_config`` (see `lend_butler`), or `None`."""
    return _LENT_BUTLERS.get().get(str(butler_config)) if butler_config is not None else None


def butler_from_config(butler_config: str, *, writeable: bool = False, **defaults):
    """`lsst.daf.butler.Butler.from_config`, or a clone of the butler lent for ``butler_config``."""
    from lsst.daf.butler import Butler

    if (lent := given_butler(butler_config)) is not None:
        if writeable and not lent.isWriteable():
            raise UsageError("the butler given is read-only; open it with writeable=True",
                             option="-b/--butler-config")
        return lent.clone(**defaults)
    return Butler.from_config(butler_config, writeable=writeable, **defaults)


def open_butler(butler_config: str, *, writeable: bool = False, option: str = "-b/--butler-config"):
    """`lsst.daf.butler.Butler.from_config`, with a repo it cannot open blamed on ``option`` (``-b`` or ``REPO``).

    A SQLite registry left with a hot journal by a killed writer (SIGKILL in
    the middle of a transaction) cannot be opened read-only: SQLite must roll
    the journal back first, which needs a writeable connection.  So that one
    failure is met by opening the repo writeable once, which is SQLite's own
    recovery (what any writer does first), then read-only again.
    """
    from lsst.daf.butler import Butler

    if given_butler(butler_config) is not None:
        return butler_from_config(butler_config, writeable=writeable)
    with (
        _without_butler_error_log(),
        blame(option, *repo_errors()),
        blame(option, FileNotFoundError, message=f"no butler repo at {butler_config!r}"),
    ):
        try:
            return Butler.from_config(butler_config, writeable=writeable)
        except Exception as exc:
            if writeable or "attempt to write a readonly database" not in str(exc):
                raise
        Butler.from_config(butler_config, writeable=True).close()
        return Butler.from_config(butler_config, writeable=False)


def check_writable(path: str | None, option: str) -> None:
    """Fail now, naming ``option``, if a file could not be written at ``path`` later.

    Missing parent directories are fine: `open_for_writing` creates them, as
    lsst.resources does for ``-q`` and ``-s``.  What fails is a path that is
    a directory, or whose nearest existing parent is a file or not writable.
    Only local paths are checked (an ``s3://`` URI is the store's business).
    """
    if not path or ("://" in path and not path.startswith("file://")):
        return
    target = os.path.abspath(path.removeprefix("file://"))
    if os.path.isdir(target):
        raise PipetaskLiteError(f"cannot write {path!r}: it is a directory", option=option)
    parent = os.path.dirname(target)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise PipetaskLiteError(f"cannot write {path!r}: {parent!r} is not a directory", option=option)
    if not os.access(parent, os.W_OK) or (os.path.exists(target) and not os.access(target, os.W_OK)):
        raise PipetaskLiteError(f"cannot write {path!r}: permission denied", option=option)


def make_parents(path: str, option: str) -> None:
    """Create the missing parent directories of ``path``, to write it (after `check_writable`)."""
    check_writable(path, option)
    with blame(option, OSError):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


@contextlib.contextmanager
def open_for_writing(path: str, option: str, mode: str = "w") -> Iterator[IO]:
    """`open` ``path`` for writing, creating its parent directories; any `OSError` is blamed on ``option``."""
    make_parents(path, option)
    with blame(option, OSError), open(path, mode) as stream:
        yield stream


def query_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean the ``-d`` expression itself is wrong."""
    from lsst.daf.butler import InvalidQueryError
    from lsst.daf.butler.registry import UserExpressionError

    return (InvalidQueryError, UserExpressionError)


def make_show(show: Sequence[str]) -> ShowInfo:
    """Parse ``--show`` items with pipetask's own `lsst.ctrl.mpexec.showInfo.ShowInfo`."""
    from lsst.ctrl.mpexec.showInfo import ShowInfo

    try:
        return ShowInfo(list(show))
    except ValueError as exc:
        raise OptionValueError(str(exc), option="--show") from None


def warn_unhandled_show(show_info: ShowInfo, subcommand: str) -> None:
    """Say which ``--show`` items this subcommand could not act on, as pipetask does."""
    if show_info.unhandled:
        print(
            f"The following '--show' options were not known to the {subcommand} command: "
            f"{', '.join(sorted(show_info.unhandled))}",
            file=sys.stderr,
        )
