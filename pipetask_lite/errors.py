"""Exceptions and exit codes of pipetask-lite.

Every error a user can cause is raised as a `PipetaskLiteError` that names the
option and the value at fault.  The command line turns it into one line on
stderr (see `pipetask_lite.cli.main`); Python callers get the exception.
"""

from __future__ import annotations

__all__ = (
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "Interrupted",
    "PipetaskLiteError",
    "QuantaFailedError",
    "UsageError",
)

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._run import RunResult

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


class QuantaFailedError(PipetaskLiteError):
    """Execution finished, but some quanta failed or were blocked by failures.

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
