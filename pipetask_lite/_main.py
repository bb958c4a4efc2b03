"""The ``pipetask-lite`` process: `main` (parse, run, one error boundary), logging and exit codes.

`pipetask_lite.cli` declares the options and hands each subcommand's keywords
to its function; this module runs that as a process: it sets up logging as
pipetask does, turns every error into one line and an exit code, and, when
a run is interrupted, prints the command that resumes it.
"""

from __future__ import annotations

__all__ = ("console_main", "main", "setup_logging")

import argparse
import errno
import logging
import os
import shlex
import signal
import sys
import traceback
from collections.abc import Sequence

from ._compat import check_release
from ._redact import RedactingFilter, redact
from ._util import make_parents
from .cli import CALLS, EXPLAINED, PROG, command_line, parse_args, resume_command
from .errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    Interrupted,
    PipetaskLiteError,
    UsageError,
)


def _on_sigterm(signum, frame) -> None:
    """SIGTERM: raise `pipetask_lite._interrupt.Terminated`, which ends the command as Ctrl-C does."""
    from ._interrupt import Terminated

    raise Terminated()


def setup_logging(args: argparse.Namespace) -> None:
    """Logging as pipetask sets it up: lsst.daf.butler's `CliLog`, which lets workers replay it too.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised, naming ``--log-file``, if a log file cannot be opened.
    """
    from lsst.daf.butler.cli.cliLog import CliLog

    for path in args.log_file:
        make_parents(path, "--log-file")  # logging.FileHandler would not
    try:
        CliLog.initLog(
            longlog=args.long_log, log_tty=args.log_tty, log_file=tuple(args.log_file),
            log_label=dict(args.log_label),
        )
    except OSError as exc:
        raise PipetaskLiteError(f"cannot write {exc.filename!r}: {exc.strerror}", option="--log-file") from exc
    if args.log_level:
        CliLog.setLogLevels(args.log_level)
    # Credentials in a repo URI must not reach the terminal or log files.
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pipetask-lite`` with ``argv``: parse it, call the subcommand, return the exit code.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`], optional
        The words after the program name; ``sys.argv[1:]`` if not given.

    Returns
    -------
    exit_code : `int`
        0 on success, 1 on failure, 2 on usage errors, 130 when interrupted.
    """
    args = parse_args(argv)
    # SIGTERM ends the command like Ctrl-C (cleanly, with exit 143), not
    # wherever it lands; during execution pipetask_lite._interrupt refines this.
    signal.signal(signal.SIGTERM, _on_sigterm)
    # The one error boundary: everything after parsing is inside it.
    try:
        # run -j N: the workers' forkserver imports the stack while this
        # process does.  (Not run-qbb: its workers inherit the datastore cache
        # it sets up.)
        if args.subcommand == "run" and args.processes > 1 and args.start_method in (None, "forkserver") and not (
            args.explain or args.coverage
        ):
            from ._parallel import start_forkserver

            start_forkserver()
        if not args.explain:
            # The lsst packages found (pip's, or an EUPS stack's) must be a
            # release pipetask-lite supports; package metadata only, cheap.
            check_release()
            setup_logging(args)
        if args.explain and args.subcommand not in EXPLAINED:
            raise UsageError(f"not available for '{args.subcommand}'; only for {', '.join(EXPLAINED)}",
                             option="--explain")
        if args.explain:
            from ._explain import explain

            print(redact(explain(args)))
        else:
            CALLS[args.subcommand](args)
    except KeyboardInterrupt as exc:
        # Before execution (and in pre-exec-init-qbb, whose files are
        # written again by a second try): nothing was registered yet.
        print(f"{PROG} {args.subcommand}: interrupted before anything was written to the repo"
              if args.subcommand != "pre-exec-init-qbb" else f"{PROG} {args.subcommand}: interrupted",
              file=sys.stderr)
        return EXIT_TERMINATED if type(exc).__name__ == "Terminated" else EXIT_INTERRUPTED
    except Interrupted as exc:
        print(f"{PROG} {args.subcommand}: {exc}", file=sys.stderr)
        # run-qbb skips the quanta whose outputs exist: the same command resumes.
        resume = (shlex.join([PROG, *command_line(args)]) if args.subcommand == "run-qbb"
                  else resume_command(args, output_run=exc.output_run, cut=exc.cut))
        print(redact(f"to resume: {resume}"), file=sys.stderr)
        return exc.exit_code
    except PipetaskLiteError as exc:
        # The one error boundary: one line naming the option, then a hint.
        if args.traceback:
            print(redact(traceback.format_exc()), end="", file=sys.stderr)
        print(f"{PROG} {args.subcommand}: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_gone():
            # The reader of stdout went away (``--explain ... | head``).
            return EXIT_FAILURE
        # Anything else is unexpected: still one line, but say how to see more.
        if args.traceback or os.environ.get("PIPETASK_LITE_TRACEBACK"):
            print(redact(traceback.format_exc()), end="", file=sys.stderr)
        first_line = (str(exc).strip().splitlines() or [""])[0]  # not the SQL that follows, say
        print(redact(f"{PROG} {args.subcommand}: error: {type(exc).__name__}: {first_line}"), file=sys.stderr)
        if (any(text in str(exc) for text in ("disk is full", "readonly database"))
                or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EROFS, errno.EACCES)):
            print("hint: the repo cannot be written (disk full or read-only); make room, then resume with "
                  "--extend-run --skip-existing --clobber-outputs", file=sys.stderr)
        elif not args.traceback:
            print(f"hint: run '{PROG} --traceback {args.subcommand} ...' to see the traceback", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _stdout_gone() -> bool:
    """Whether stdout is a pipe nobody reads any more; if so, it is pointed at /dev/null.

    (A pipe whose reader has gone polls as an error.)  Python flushes stdout
    at exit, which would fail again with a second BrokenPipeError message.
    """
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poll.poll(0))
    except (OSError, ValueError):  # stdout closed or not a file
        return False
    if gone:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return gone


def console_main() -> None:
    """The ``pipetask-lite`` command: `main`, then a quick exit.

    Tearing down the ~1,500 modules of the LSST stack at exit takes about
    0.5 s and does nothing useful here, so after the exit handlers (logging
    flush, multiprocessing clean-up) the process ends at once, unless a
    thread is still running (Python's usual exit waits for it) or a tracer
    or profiler is on (``coverage run``, ``python -m cProfile``: they save
    their results after the program returns).
    """
    import atexit
    import threading

    code = main()
    if (any(not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread())
            or sys.gettrace() is not None or sys.getprofile() is not None):
        sys.exit(code)
    atexit._run_exitfuncs()  # what Python's exit runs first, before the teardown skipped here
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (| head): nothing more can be said
            code = code or EXIT_FAILURE
    os._exit(code)
