"""Exceptions and exit codes of pipetask-lite.

Every error a user can cause is raised as a `PipetaskLiteError` that names the
option and the value at fault.  The command line turns it into one line on
stderr (see `pipetask_lite._main.main`); Python callers get the exception.
Where ctrl_mpexec's calls raise `ValueError` or ``MPGraphExecutorError`` for
the same failure, pipetask-lite's exception is one of those too, so code
written against the LSST API keeps catching what it catches.
"""

from __future__ import annotations

__all__ = (
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "CollectionOptionError",
    "EmptyGraphError",
    "Interrupted",
    "OptionValueError",
    "PipetaskLiteError",
    "QuantaFailedError",
    "QuantaTimedOutError",
    "UsageError",
)

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lsst.pipe.base.mp_graph_executor import MPGraphExecutorError

    from ._execution import RunResult

EXIT_OK = 0
"""Everything asked for was done."""

EXIT_FAILURE = 1
"""The command line was valid but the work failed (bad repo content, failing quanta)."""

EXIT_USAGE = 2
"""The command line itself is wrong; argparse uses the same code."""

EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C (128 + SIGINT), the shell convention."""

EXIT_TERMINATED = 143
"""Stopped by SIGTERM (128 + SIGTERM)."""


class PipetaskLiteError(Exception):
    """A failure caused by the input, reported as one line.

    Parameters
    ----------
    message : `str`
        What went wrong, in words a user of pipetask understands.
    option : `str`, optional
        The command-line option at fault, e.g. ``"-i/--input"``.
    hint : `str`, optional
        What to do about it, printed on a second line.
    """

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, option: str | None = None, hint: str | None = None):
        from ._redact import redact

        # Messages quote the user's values, which may be URIs with credentials.
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.option = option
        self.hint = redact(hint) if hint else hint

    def __str__(self) -> str:
        return f"{self.option}: {self.message}" if self.option else self.message


class UsageError(PipetaskLiteError):
    """The options contradict each other or are not supported (exit 2)."""

    exit_code = EXIT_USAGE


class OptionValueError(UsageError, ValueError):
    """Options that contradict each other, where pipetask's own check raises `ValueError` (exit 2).

    ctrl_mpexec's ``OutputCollectionsInfo.check`` raises `ValueError` for the
    ``--replace-run`` and ``--prune-replaced`` rules, and ``ShowInfo`` for an
    unknown ``--show`` item; code written against those calls catches
    `ValueError`, and still can.
    """


class CollectionOptionError(PipetaskLiteError, ValueError):
    """The collection options do not fit the repo (exit 1): also a `ValueError`.

    These are the checks ctrl_mpexec's ``OutputCollectionsInfo`` makes, each a
    `ValueError` there (``-i`` that disagrees with an existing ``-o`` chain,
    an output run that exists without ``--extend-run``, ``--extend-run`` with
    nothing to extend, ``--rebase`` with a run outside the output).
    """


class EmptyGraphError(PipetaskLiteError):
    """The quantum graph has no quanta: nothing was written (exit 1).

    ctrl_mpexec's ``script.qgraph`` returns `None` here (and ``pipetask``
    turns that into an error); `pipetask_lite.qgraph` and `pipetask_lite.run`
    raise this instead, saying which query and collections came up empty,
    so that `None` from `pipetask_lite.qgraph` keeps meaning only
    "``--show`` was all there was to do".
    """


class Interrupted(PipetaskLiteError):
    """Execution was stopped by SIGINT or SIGTERM; what finished is registered.

    Parameters
    ----------
    message : `str`
        What was done and what was not.
    output_run : `str`
        The run to resume with ``--extend-run --skip-existing``.
    cut : `bool`
        Whether quanta were stopped half-way (resume with ``--clobber-outputs``).
    terminated : `bool`
        SIGTERM rather than SIGINT (exit 143 rather than 130).
    """

    def __init__(self, message: str, *, output_run: str, cut: bool, terminated: bool):
        super().__init__(message)
        self.output_run = output_run
        self.cut = cut
        self.exit_code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


def _make_quanta_failed_errors() -> dict[str, type[PipetaskLiteError]]:
    """Define `QuantaFailedError` and `QuantaTimedOutError`, importing the LSST classes they also are.

    They subclass pipe_base's `~lsst.pipe.base.mp_graph_executor.MPGraphExecutorError`
    and its `~lsst.pipe.base.mp_graph_executor.MPTimeoutError`
    (``lsst.ctrl.mpexec.MPGraphExecutorError`` is the same class on both
    release lines), which are what ctrl_mpexec's ``script.run`` raises when
    quanta fail or time out, so ``except MPGraphExecutorError`` keeps
    working.  That import takes most of a second, and ``--help`` imports
    this module: so the classes are made on first use (`__getattr__` below),
    never at import.
    """
    from lsst.pipe.base.mp_graph_executor import MPGraphExecutorError, MPTimeoutError

    class QuantaFailedError(PipetaskLiteError, MPGraphExecutorError):
        """Execution finished, but some quanta failed or were blocked by failures.

        Also an `lsst.pipe.base.mp_graph_executor.MPGraphExecutorError`, what
        pipetask raises then.

        Parameters
        ----------
        message : `str`
            Summary of the failure.
        result : `pipetask_lite.RunResult`
            What was run and how each quantum ended; ``result.failed`` lists the
            failures with their exceptions.
        """

        def __init__(self, message: str, *, result: RunResult):
            super().__init__(message)
            self.result = result

    class QuantaTimedOutError(QuantaFailedError, MPTimeoutError):
        """``--timeout`` stopped quanta that were still running: also an `~lsst.pipe.base.mp_graph_executor.MPTimeoutError`."""

    made = {"QuantaFailedError": QuantaFailedError, "QuantaTimedOutError": QuantaTimedOutError}
    for name, cls in made.items():
        # Named as if defined here, so that pickle and tracebacks find them
        # as pipetask_lite.errors.NAME (through __getattr__).
        cls.__module__, cls.__qualname__ = __name__, name
    return made


if TYPE_CHECKING:
    from lsst.pipe.base.mp_graph_executor import MPTimeoutError

    class QuantaFailedError(PipetaskLiteError, MPGraphExecutorError):  # what _make_quanta_failed_errors makes
        result: RunResult

        def __init__(self, message: str, *, result: RunResult): ...

    class QuantaTimedOutError(QuantaFailedError, MPTimeoutError): ...


def __getattr__(name: str) -> Any:
    """PEP 562: make `QuantaFailedError` and `QuantaTimedOutError` on first access (`_make_quanta_failed_errors`)."""
    if name in ("QuantaFailedError", "QuantaTimedOutError"):
        globals().update(_make_quanta_failed_errors())
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
