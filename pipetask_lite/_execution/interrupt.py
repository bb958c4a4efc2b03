"""Ctrl-C and SIGTERM during execution: stop between quanta, not inside one.

pipetask stops (or not) wherever the signal lands; a quantum cut between its
metadata and its log counts as done on resume and its log is lost for good.
Here the first SIGINT or SIGTERM during execution asks to stop: running quanta
finish (for up to `GRACE` seconds), no new one starts, their outputs are
registered, and `run` raises `~pipetask_lite.errors.Interrupted` with what to
run to resume.  A second signal, or the end of the grace period, stops at once
(the resume command then clobbers what the cut quanta left).
"""

from __future__ import annotations

__all__ = ("GRACE", "StopRequest", "StoppedBetweenQuanta", "Terminated", "stop_between_quanta")

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOG = logging.getLogger("lsst.pipetask_lite")

GRACE = 5.0
"""Seconds the running quanta get to finish after the first signal."""


class Terminated(KeyboardInterrupt):
    """SIGTERM outside execution, raised where KeyboardInterrupt would be (see ``pipetask_lite.cli``)."""


class StoppedBetweenQuanta(KeyboardInterrupt):
    """Raised by an executor that stopped because it was asked to, with no quantum cut short."""


class StopRequest:
    """Whether (and by which signal) the user asked execution to stop."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.over = False
        """Set once execution has ended: later signals are ignored while the report is written."""

    @property
    def requested(self) -> bool:
        """`True` once a SIGINT or SIGTERM arrived (`bool`)."""
        return self.signal is not None


@contextmanager
def stop_between_quanta() -> Iterator[StopRequest]:
    """Handle SIGINT and SIGTERM as described in this module while the body runs.

    Yields
    ------
    request : `StopRequest`
        Executors poll ``request.requested`` before starting a quantum.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signals can only be handled in the main thread
        return

    def on_signal(signum, frame) -> None:
        if request.over:
            return
        if request.requested:
            raise KeyboardInterrupt()
        request.signal = signum
        _LOG.warning(
            "%s received: stopping after the running quanta (up to %g s); send it again to stop now.",
            signal.Signals(signum).name, GRACE,
        )
        signal.setitimer(signal.ITIMER_REAL, GRACE)

    def on_grace_over(signum, frame) -> None:
        if not request.over:
            raise KeyboardInterrupt()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, on_grace_over)
    try:
        yield request
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in previous.items():
            # Once stopping, a late second signal must not break the report
            # of what was done: the command is about to exit anyway.
            stopping = request.requested and signum != signal.SIGALRM
            signal.signal(signum, signal.SIG_IGN if stopping else handler)
