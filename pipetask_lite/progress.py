"""A rich progress bar fed by the executor's own progress log record.

pipe_base's `~lsst.pipe.base.mp_graph_executor.MPGraphExecutor` logs
"Executed N quanta successfully, M failed and K remain out of total T quanta."
after every quantum, in the main process, serial or parallel.  A logger filter
reads those numbers; the bar is drawn only on a terminal.  Elsewhere the log
line itself is the progress report.
"""

from __future__ import annotations

__all__ = ("quantum_progress",)

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

EXECUTOR_LOGGER = "lsst.pipe.base.mp_graph_executor"
PROGRESS_MESSAGE = "Executed %d quanta successfully"


@contextmanager
def quantum_progress(total: int, *, enabled: bool) -> Iterator[None]:
    """Show a progress bar of quanta done / total (and failed) while the body runs.

    Parameters
    ----------
    total : `int`
        Number of quanta in the graph.
    enabled : `bool`
        Draw the bar if stderr is a terminal; `False` (``--no-log-tty``) or a
        pipe gives nothing beyond the executor's log lines.
    """
    if not enabled or not sys.stderr.isatty():
        yield
        return

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("quanta"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        transient=False,
        redirect_stderr=True,
    )
    task = progress.add_task("quanta", total=total, failed=0)
    logger = logging.getLogger(EXECUTOR_LOGGER)
    shown_level = logger.getEffectiveLevel()

    def on_record(record: logging.LogRecord) -> bool:
        # Progress records must reach this filter even when the user asked for
        # quieter logs; the filter then drops them if they would not be shown.
        if isinstance(record.msg, str) and record.msg.startswith(PROGRESS_MESSAGE):
            succeeded, failed, _remaining, _total = record.args
            progress.update(task, completed=succeeded + failed, failed=failed)
            return False
        return record.levelno >= shown_level

    # Log handlers hold the stderr they were made with; while the bar is live,
    # point them at rich's stand-in for sys.stderr so lines print above the bar.
    handlers = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    old_level = logger.level
    logger.setLevel(min(shown_level, logging.INFO))
    logger.addFilter(on_record)
    with progress, _workers_log_off_terminal():
        old_streams = [h.setStream(sys.stderr) for h in handlers]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, old_streams):
                handler.setStream(stream)
            logger.removeFilter(on_record)
            logger.setLevel(old_level)


@contextmanager
def _workers_log_off_terminal() -> Iterator[None]:
    """Keep ``-j`` worker processes from writing log lines through the bar.

    Workers set up their logging by replaying ``CliLog.configState``; they
    write to the terminal directly, past rich.  While the bar is drawn they
    replay it with the terminal switched off: their records still go to
    ``--log-file`` and to each quantum's ``*_log`` dataset, and failures are
    reported by the main process.
    """
    from lsst.daf.butler.cli.cliLog import CliLog

    saved = list(CliLog.configState)
    # An initLog call is recorded as (initLog, longlog, log_tty, log_file, log_label).
    CliLog.configState[:] = [
        (call[0], call[1], False, *call[3:]) if call[0] == CliLog.initLog else call for call in saved
    ]
    try:
        yield
    finally:
        CliLog.configState[:] = saved
