"""A rich progress bar fed by the executor's own progress log record.

pipe_base's `~lsst.pipe.base.mp_graph_executor.MPGraphExecutor` (and
pipetask-lite's worker pool) log "Executed N quanta successfully, M failed
and K remain out of total T quanta." after every quantum, in the main process.  A logger filter
reads those numbers; the bar is drawn on a terminal, and in a Jupyter notebook
(where rich draws it as a widget).  Elsewhere the log line itself is the
progress report.
"""

from __future__ import annotations

__all__ = ("quantum_progress",)

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# pipe_base's executor (-j 1) and pipetask-lite's worker pool (-j N) log the same line.
EXECUTOR_LOGGERS = ("lsst.pipe.base.mp_graph_executor", "lsst.pipetask_lite.parallel")
PROGRESS_MESSAGE = "Executed %d quanta successfully"


def bar_wanted(enabled: bool) -> bool:
    """Whether `quantum_progress` will draw a bar: asked for, on a terminal or in a notebook."""
    return enabled and (sys.stderr.isatty() or in_notebook())


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel, whose stderr is no terminal but shows rich's widgets."""
    ipython = sys.modules.get("IPython")  # only ever imported by IPython itself here
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


@contextmanager
def quantum_progress(total: int, *, enabled: bool) -> Iterator[None]:
    """Show a progress bar of quanta done / total (and failed) while the body runs.

    Parameters
    ----------
    total : `int`
        Number of quanta in the graph.
    enabled : `bool`
        Draw the bar if stderr is a terminal or this is a notebook; `False`
        (``--no-log-tty``) or a pipe gives nothing beyond the executor's log
        lines.
    """
    if not bar_wanted(enabled):
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
    loggers = [logging.getLogger(name) for name in EXECUTOR_LOGGERS]
    shown_levels = {logger.name: logger.getEffectiveLevel() for logger in loggers}

    def on_record(record: logging.LogRecord) -> bool:
        # Progress records must reach this filter even when the user asked for
        # quieter logs; the filter then drops them if they would not be shown.
        if isinstance(record.msg, str) and record.msg.startswith(PROGRESS_MESSAGE):
            succeeded, failed, _remaining, _total = record.args
            progress.update(task, completed=succeeded + failed, failed=failed)
            return False
        return record.levelno >= shown_levels.get(record.name, logging.NOTSET)

    # Log handlers hold the stderr they were made with; while the bar is live,
    # point them at rich's stand-in for sys.stderr so lines print above the bar.
    handlers = [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    old_levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(min(shown_levels[logger.name], logging.INFO))
        logger.addFilter(on_record)
    with progress:
        old_streams = [h.setStream(sys.stderr) for h in handlers]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, old_streams):
                handler.setStream(stream)
            for logger, level in zip(loggers, old_levels):
                logger.removeFilter(on_record)
                logger.setLevel(level)
