"""``run -j 1``: a watcher that speaks up when a quantum takes the whole command down.

With ``-j 1`` the quanta run in pipetask-lite's own process, as in pipetask,
so a task that ends the process (``os._exit``, a crash in compiled code) or
that gets killed (the out-of-memory killer, SIGKILL) takes the command with
it, and nothing is left to say what happened.  With ``-j N`` the main process
survives its workers and reports such a quantum as failed; at ``-j 1`` this
module starts a small watcher process instead (this file run as a
script, standard library only).  The command tells it, through a
pipe, which quantum starts and ends; if the pipe closes before the command
says it is done, the watcher prints which quantum was running, how many had
finished, and the command that resumes the run.  Their outputs are in the
repo: registered, or (those of the last few seconds, not yet registered in a
batch, see `pipetask_lite._execution.registration`) files that the resume writes again.

Only a caller that gives `pipetask_lite.run` a ``resume_command`` gets a
watcher; the command line does, since it knows the command.
"""

from __future__ import annotations

__all__ = ("Watcher", "start")

import logging
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable


def start(resume_command: Callable[[str], str] | None, output_run: str) -> Watcher | None:
    """A watcher for the execution of ``output_run``, if there is a resume command to say.

    ``resume_command`` (`pipetask_lite.run`'s keyword, which the command line
    gives) makes the command that resumes a given output run.
    """
    if resume_command is None:
        return None
    try:
        return Watcher(resume_command(output_run))
    except OSError as exc:  # no process to spare: run without one
        logging.getLogger("lsst.pipetask_lite").warning("No watcher process (%s); running without.", exc)
        return None


class Watcher:
    """The command's end of the pipe to a watcher process.

    Parameters
    ----------
    resume : `str`
        Command that resumes the run after a quantum was cut short.
    """

    def __init__(self, resume: str):
        read_end, write_end = os.pipe()
        try:
            self._process = subprocess.Popen(
                # This file as a script, not ``-m pipetask_lite._execution.watch``: the
                # package imports this module, so ``-m`` would run a second copy
                # of it (runpy warns so).  It needs only the standard library;
                # -P keeps this file's directory off sys.path.
                [sys.executable, "-P", __file__, str(read_end)],
                pass_fds=(read_end,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )
        except OSError:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        # Never wait on the watcher: if it stops reading, it is dropped (see _send).
        os.set_blocking(write_end, False)
        self._write_end: int | None = write_end
        self._send("resume", resume)

    def _send(self, kind: str, text: str = "") -> None:
        # One write per line: atomic on a pipe, so no half lines.  A watcher
        # that is gone (killed with the process group) must not fail a quantum.
        # A watcher that is behind (the pipe is full) misses this message,
        # but is kept: closing the pipe would make it report a death.
        if self._write_end is None:
            return
        try:
            os.write(self._write_end, f"{kind} {text}".replace("\n", " ").encode()[:4000] + b"\n")
        except BlockingIOError:
            pass
        except OSError:
            os.close(self._write_end)
            self._write_end = None

    def started(self, quantum: str) -> None:
        """A quantum starts."""
        self._send("start", quantum)

    def ended(self, *, ok: bool) -> None:
        """The quantum that started last has ended (whether it succeeded or not)."""
        self._send("end", "ok" if ok else "failed")

    def done(self) -> None:
        """Execution is over (or never went wrong this way): the watcher exits quietly."""
        # This message must arrive: wait (a little) for room in the pipe.
        if self._write_end is not None:
            select.select([], [self._write_end], [], 2.0)
        self._send("done")
        if self._write_end is not None:
            os.close(self._write_end)
            self._write_end = None
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:  # it ends on its own; just not waited for
            pass


def watch(read_end: int) -> str | None:
    """Read the command's messages until the pipe closes; return the report, if one is due.

    Parameters
    ----------
    read_end : `int`
        File descriptor of the pipe's read end.

    Returns
    -------
    report : `str` or `None`
        What to print, or `None` if the command said it was done.
    """
    resume, running, finished, failed = "", None, 0, 0
    with os.fdopen(read_end, "rb") as pipe:
        for line in pipe:
            kind, _, text = line.decode(errors="replace").rstrip("\n").partition(" ")
            match kind:
                case "resume":
                    resume = text
                case "start":
                    running = text
                case "end":
                    running = None
                    finished += 1
                    failed += text == "failed"
                case "done":
                    return None
    where = f"while running quantum {running}" if running else "between quanta"
    return (
        f"pipetask-lite run: the process ended {where} (a task ended it, or it was killed: out of memory, "
        f"SIGKILL); {finished} quanta had finished ({failed} failed), their outputs are in the repo "
        f"(those of the last few seconds unregistered: the resume runs them again)\n"
        f"to resume: {resume}\n"
    )


if __name__ == "__main__":
    # Ctrl-C and SIGTERM are for the command (they reach its whole process
    # group); the watcher ends when the command's end of the pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if (report := watch(int(sys.argv[1]))) is not None:
        # Start on a fresh line: a progress bar may have been half drawn.
        sys.stderr.write(("\n" if sys.stderr.isatty() else "") + report)
