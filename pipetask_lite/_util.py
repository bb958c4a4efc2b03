"""Small helpers shared by `build`, `qgraph` and `run`."""

from __future__ import annotations

__all__ = (
    "ACTION_OPTIONS", "as_actions", "blame", "check_writable", "make_show", "open_butler", "query_errors",
    "warn_unhandled_show",
)

import contextlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from .actions import PipelineAction, parse_pipeline_action
from .errors import PipetaskLiteError, UsageError

if TYPE_CHECKING:
    from lsst.ctrl.mpexec.showInfo import ShowInfo

ACTION_OPTIONS = {
    "task": "-t/--task",
    "delete": "--delete",
    "config": "-c/--config",
    "config_file": "-C/--config-file",
    "instrument": "--instrument",
}

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
    option: str, *exceptions: type[BaseException], message: str | None = None, hint: str | None = None
) -> Iterator[None]:
    """Turn the given exceptions raised in the body into a one-line error naming ``option``.

    The library's own message is kept (first line only) unless ``message``
    replaces it; the original exception stays chained for ``--traceback``.
    """
    try:
        yield
    except PipetaskLiteError:
        raise
    except exceptions as exc:
        text = str(exc).strip()
        raise PipetaskLiteError(
            message or (text.splitlines()[0] if text else type(exc).__name__), option=option, hint=hint
        ) from exc


def open_butler(butler_config: str, *, writeable: bool = False, option: str = "-b/--butler-config"):
    """`lsst.daf.butler.Butler.from_config`, with any failure blamed on ``option`` (``-b`` or ``REPO``)."""
    from lsst.daf.butler import Butler

    with (
        blame(option, Exception),  # not a repo config, a database that cannot be opened...
        blame(option, FileNotFoundError, message=f"no butler repo at {butler_config!r}"),
    ):
        return Butler.from_config(butler_config, writeable=writeable)


def check_writable(path: str | None, option: str) -> None:
    """Fail now, naming ``option``, if a file could not be written at ``path`` after execution."""
    if not path:
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(directory) or not os.access(directory, os.W_OK) or (
        os.path.exists(path) and not os.access(path, os.W_OK)
    ):
        raise PipetaskLiteError(f"cannot write {path!r}", option=option)


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
        raise UsageError(str(exc), option="--show") from None


def warn_unhandled_show(show_info: ShowInfo, subcommand: str) -> None:
    """Say which ``--show`` items this subcommand could not act on, as pipetask does."""
    if show_info.unhandled:
        print(
            f"The following '--show' options were not known to the {subcommand} command: "
            f"{', '.join(sorted(show_info.unhandled))}",
            file=sys.stderr,
        )
