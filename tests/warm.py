"""Warm interpreters: run ``python -m pipetask_lite``, ``pipetask`` and scripts without importing the stack again.

Most of the suite's time went into new interpreters importing the LSST stack:
a small ``run`` takes ~2 s, of which ~1.5 s is ``import lsst.pipe.base``
(``pipetask``: ~2.6 s, ~2 s of it Click and ctrl_mpexec).  `start` (a
`subprocess.Popen`) and `run` (a `subprocess.run`) start, once per test
process and program, a server that has imported what the program imports;
each command is then a ``fork`` of that server which takes the command's
standard streams, working directory, environment and ``argv``, and runs the
program's ``__main__`` as the interpreter would.  The server hides what it
holds from the garbage collector (``gc.freeze``), so that a fork's collections
do not copy it page by page, and computes once the installed distributions
that each ``run`` lists in its ``packages`` dataset (`_compute_once`): a
9-quantum ``run`` takes ~0.9 s so, ~1.6 s without either, ~2.5 s cold.  A
command is a real process (its own pid, exit status, signals, atexit, threads
joined at exit) whose parent is the server; `run` reads its output to the end
as `subprocess.run` does (a grandchild that keeps the streams open is waited
for).

Where the fork could differ from a new interpreter the command runs in a new
interpreter as before: a ``PYTHON*`` variable that differs from the server's
(``PYTHONWARNINGS``, say, is read at start-up), any other program, a server
that could not start, or ``PIPETASK_LITE_TESTS_COLD`` set.  What stays: the
modules the server imported are imported (the ``packages`` dataset lists
them, as the command does once it has imported them), a traceback starts with
the server's frames, and the hash seed is the server's.  Tests about start-up
itself (what ``--help`` imports, warnings at import) start their own
interpreter with `subprocess`.

A program that starts ``pipetask-lite`` itself from PATH (BPS's jobs) reaches
the server through a stand-in that `write_forwarder` writes.

Run as a script, this module is the server: ``python warm.py KIND SOCKET PARENT_PID``.
"""

from __future__ import annotations

__all__ = ["WarmProcess", "forward", "run", "start", "write_forwarder"]

import atexit
import contextlib
import io
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

# What each program imports before it parses its arguments (the rest it
# imports itself, as in a new interpreter).
_IMPORTS = {
    "lite": ("lsst.daf.butler", "lsst.pipe.base", "lsst.ctrl.mpexec", "pipetask_lite._main"),
    "pipetask": ("lsst.ctrl.mpexec.cli.pipetask",),
}
_STATUS = struct.Struct("=ii")  # (pid, _STARTED) once forked, then (pid, return code)
_STARTED = -(2**31)  # the status field of the message that gives the pid (no return code is this)
_START_TIMEOUT = 120.0


# ---------------------------------------------------------------------------
# The client: what harness._run calls.
# ---------------------------------------------------------------------------


def _program(cmd: Sequence[str]) -> str | None:
    """The server kind that can run ``cmd``, or `None`."""
    if len(cmd) >= 3 and cmd[0] == sys.executable and cmd[1:3] == ["-m", "pipetask_lite"]:
        return "lite"
    if len(cmd) >= 2 and cmd[0] == sys.executable and cmd[1].endswith(".py") and os.path.isfile(cmd[1]):
        return "lite"  # a script --explain printed: it imports the stack as the command does
    if cmd and Path(cmd[0]).name == "pipetask" and Path(cmd[0]).parent == Path(sys.executable).parent:
        return "pipetask"
    return None


class _Server:
    """One server process of this test process."""

    def __init__(self, kind: str, environ: Mapping[str, str]) -> None:
        self.directory = tempfile.mkdtemp(prefix=f"warm-{kind}-")
        self.address = os.path.join(self.directory, "socket")
        self.environ = dict(environ)
        self.log = open(os.path.join(self.directory, "log"), "w+b")  # noqa: SIM115 - kept for the server's life
        self.process = subprocess.Popen(
            [sys.executable, __file__, kind, self.address, str(os.getpid())], env=self.environ,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.ready = False

    def connect(self) -> socket.socket | None:
        """A connection to the server, waiting for it to start; `None` if it did not."""
        deadline = time.monotonic() + (0 if self.ready else _START_TIMEOUT)
        while True:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                conn.connect(self.address)
            except OSError:
                conn.close()
                if self.process.poll() is not None or time.monotonic() > deadline:
                    return None
                time.sleep(0.05)
            else:
                self.ready = True
                return conn

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.log.close()
        for name in ("socket", "log"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.directory, name))
        with contextlib.suppress(OSError):
            os.rmdir(self.directory)


_servers: dict[str, _Server | None] = {}
_servers_lock = threading.Lock()


@atexit.register
def _stop_servers() -> None:
    for server in _servers.values():
        if server is not None:
            server.stop()


def _server(kind: str, environ: Mapping[str, str]) -> _Server | None:
    """This process's server of ``kind``, started the first time; `None` where the command needs its own."""
    with _servers_lock:  # tests start commands from threads too
        if kind not in _servers:
            _servers[kind] = _Server(kind, environ)
        server = _servers[kind]
    if server is None:
        return None
    if _python_vars(environ) != _python_vars(server.environ):
        return None
    return server


def _python_vars(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``PYTHON*`` variables of ``environ``: read at start-up, so a fork cannot take other values."""
    return {k: v for k, v in environ.items() if k.startswith("PYTHON")}


def _connect(kind: str, environ: Mapping[str, str]) -> tuple[_Server, socket.socket] | None:
    """This process's server of ``kind`` and a connection to it; `None` where commands with ``environ`` need their own interpreter."""
    server = None if os.environ.get("PIPETASK_LITE_TESTS_COLD") else _server(kind, environ)
    conn = None if server is None else server.connect()
    if conn is None:
        if server is not None:
            _servers[kind] = None  # it did not start: every command of this kind gets its own interpreter
            server.stop()
        return None
    return server, conn


def _fd(stream: int | IO[Any] | None, default: int) -> tuple[int, bool]:
    """The file descriptor a child gets for ``stream`` (as `subprocess` reads it), and whether to close it here."""
    if stream == subprocess.DEVNULL:
        return os.open(os.devnull, os.O_RDWR), True
    if stream is None:
        return default, False
    return (stream if isinstance(stream, int) else stream.fileno()), False


class WarmProcess:
    """A command forked from a warm interpreter, with `subprocess.Popen`'s ``pid``, ``poll``, ``wait`` and ``send_signal``."""

    def __init__(self, conn: socket.socket, args: list[str]) -> None:
        self.args = args
        self._conn = conn
        # The server answers with the pid as soon as it has forked.
        self.pid = self._receive(None)
        self.returncode: int | None = None

    def _receive(self, timeout: float | None) -> int | None:
        if not select.select([self._conn], [], [], timeout)[0]:
            return None
        message = self._conn.recv(_STATUS.size)
        if not message:
            raise RuntimeError(f"the warm interpreter ended before {self.args!r} did")
        pid, status = _STATUS.unpack(message)
        return pid if status == _STARTED else status

    def _wait(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            self.returncode = self._receive(timeout)
            if self.returncode is not None:
                self._conn.close()
        return self.returncode

    def poll(self) -> int | None:
        """The return code (negative for a signal), or `None` while the command runs."""
        return self._wait(0)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the command to end; `subprocess.TimeoutExpired` after ``timeout`` seconds."""
        if self._wait(timeout) is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the command, unless it has ended."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def start(
    cmd: list[str], *, cwd: str | None = None, env: Mapping[str, str], stdin: int | IO[Any] | None = None,
    stdout: int | IO[Any] | None = None, stderr: int | IO[Any] | None = None,
) -> WarmProcess | subprocess.Popen:
    """`subprocess.Popen` of ``cmd``, forked from a warm interpreter where it can be.

    ``[sys.executable, "-m", "pipetask_lite", ...]``, ``[sys.executable,
    "script.py", ...]`` and ``[PIPETASK, ...]`` start warm; anything else,
    or anything while ``PIPETASK_LITE_TESTS_COLD`` is set, in a new
    interpreter.  ``env`` is the whole environment; ``stdin``, ``stdout``
    and ``stderr`` are as for `subprocess.Popen` (no ``PIPE``).
    """
    kind = _program(cmd)
    connected = None if kind is None else _connect(kind, env)
    if connected is None:
        return subprocess.Popen(cmd, cwd=cwd, env=dict(env), stdin=stdin, stdout=stdout, stderr=stderr)
    _, conn = connected
    fds = [_fd(stdin, 0), _fd(stdout, 1), _fd(stderr, 2)]
    request = json.dumps({"argv": cmd, "cwd": os.path.abspath(cwd or os.getcwd()), "env": dict(env)}).encode()
    try:
        socket.send_fds(conn, [request], [fd for fd, _ in fds])
    finally:
        for fd, close in fds:
            if close:
                os.close(fd)
    return WarmProcess(conn, cmd)


def run(
    cmd: list[str], *, cwd: str | None, env: Mapping[str, str], stdin: int | IO[Any] | None, timeout: float,
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run` of ``cmd`` with text output captured, in a warm interpreter where it can be (`start`).

    Parameters
    ----------
    cmd : `list` [`str`]
        The command, as for `start`.
    cwd : `str` or `None`
        Working directory (`None`: this process's).
    env : `~collections.abc.Mapping`
        The whole environment.
    stdin : `int`, file object or `None`
        As for `subprocess.run`.
    timeout : `float`
        Seconds before the command is killed and `subprocess.TimeoutExpired` raised.

    Returns
    -------
    result : `subprocess.CompletedProcess`
        ``args``, ``returncode`` (negative for a signal), text ``stdout`` and ``stderr``.
    """
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = start(cmd, cwd=cwd, env=env, stdin=stdin, stdout=out_w, stderr=err_w)
    finally:
        os.close(out_w)
        os.close(err_w)
    # Read to the end of both streams, as subprocess.run does: a grandchild
    # that keeps them open (the -j 1 watcher) is waited for.
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    open_fds = {out_r, err_r}
    deadline = time.monotonic() + timeout
    try:
        while open_fds:
            left = deadline - time.monotonic()
            ready = select.select(list(open_fds), [], [], left)[0] if left > 0 else []
            if not ready:
                proc.kill()
                proc.wait()
                raise subprocess.TimeoutExpired(cmd, timeout, b"".join(chunks[out_r]), b"".join(chunks[err_r]))
            for fd in ready:
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    open_fds.discard(fd)
        try:
            returncode = proc.wait(max(deadline - time.monotonic(), 0.001))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    finally:
        os.close(out_r)
        os.close(err_r)
    return subprocess.CompletedProcess(cmd, returncode, _text(b"".join(chunks[out_r])), _text(b"".join(chunks[err_r])))


def _text(data: bytes) -> str:
    """``data`` as `subprocess.run` with ``text=True`` decodes it (locale encoding, universal newlines)."""
    return io.TextIOWrapper(io.BytesIO(data)).read()


def write_forwarder(path: Path, script: Path, environ: Mapping[str, str]) -> bool:
    """Write at ``path`` a stand-in for the console script ``script`` that runs it warm, for other programs to start.

    BPS's jobs start ``pipetask-lite`` themselves (Parsl runs each job's
    command line in bash), so `start` cannot fork them.  The stand-in, put
    before ``script`` on the jobs' PATH, is a small interpreter that imports
    only this module; its `forward` sends the command line, streams, working
    directory and environment to this test process's server, which forks
    ``script`` (the real console script, run as the interpreter would run
    it).  A job whose ``PYTHON*`` variables differ from ``environ``'s runs
    ``script`` itself.  Returns `False`, and writes nothing, where commands
    with ``environ`` get their own interpreter (`start`).
    """
    connected = _connect("lite", environ)  # waits until the server listens
    if connected is None:
        return False
    server, conn = connected
    conn.close()
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "import warm\n"
        f"warm.forward({server.address!r}, {str(script)!r}, {_python_vars(environ)!r})\n"
    )
    path.chmod(0o755)
    return True


def forward(address: str, script: str, python_vars: Mapping[str, str]) -> None:
    """Be ``script`` with this process's arguments, run as a fork of the server at ``address``; does not return.

    The process exits as the fork does (killed by the same signal, if it
    was) and passes SIGINT, SIGTERM and SIGHUP on to it (a SIGKILL, which it
    cannot pass on, leaves the fork running).  Where the fork could differ
    from a new interpreter (``PYTHON*`` variables other than ``python_vars``)
    or the server is gone, this process becomes ``script``.
    """
    argv = [script, *sys.argv[1:]]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    can_fork = _python_vars(os.environ) == dict(python_vars)
    if can_fork:
        try:
            conn.connect(address)
        except OSError:
            can_fork = False
    if not can_fork:
        conn.close()
        os.execv(script, argv)
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    socket.send_fds(conn, [request], [0, 1, 2])
    proc = WarmProcess(conn, argv)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, lambda received, _frame: proc.send_signal(received))
    code = proc.wait()
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


# ---------------------------------------------------------------------------
# The server.
# ---------------------------------------------------------------------------


def _serve(kind: str, address: str, parent: int) -> None:
    """Import what ``kind`` imports, then fork a command for each request until ``parent`` ends."""
    import gc
    import importlib

    for name in _IMPORTS[kind]:
        importlib.import_module(name)
    _compute_once()
    # Out of the collector's sight, what the server holds stays shared with
    # each fork: traversing it (the command's collections, and the
    # collections at its exit) would copy every page of it (~0.4 s a command).
    gc.freeze()
    if threading.active_count() != 1:
        # fork() copies only the calling thread: the client falls back to new interpreters.
        sys.exit(f"warm {kind}: the imports started threads")
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(address + ".new")
    listener.listen(64)
    os.rename(address + ".new", address)  # connectable only when listening
    waiting: dict[int, socket.socket] = {}
    while os.getppid() == parent:
        try:
            ready = select.select([listener, wake_r], [], [], 1.0)[0]
        except InterruptedError:
            ready = []
        if wake_r in ready:
            os.read(wake_r, 4096)
        while waiting:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = waiting.pop(pid)
            with contextlib.suppress(OSError):
                conn.send(_STATUS.pack(pid, os.waitstatus_to_exitcode(status)))
            conn.close()
        if listener in ready:
            conn, _ = listener.accept()
            message, fds, _, _ = socket.recv_fds(conn, 1 << 22, 3)
            if not message:  # a client that only waited for the server to listen (write_forwarder)
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                for fd in (wake_r, wake_w):
                    os.close(fd)
                # The command holds only its own streams, as a new interpreter would.
                for other in (listener, conn, *waiting.values()):
                    other.close()
                _become(json.loads(message), fds)  # does not return
            for fd in fds:
                os.close(fd)
            conn.send(_STATUS.pack(pid, _STARTED))
            waiting[pid] = conn


def _compute_once() -> None:
    """Compute here what every command would compute again from files that the suite never changes.

    Each ``run`` writes a ``packages`` dataset, for which lsst.utils maps each
    top-level module name to its distributions by reading every installed
    distribution's file list (``importlib.metadata.packages_distributions``):
    ~0.3 s of a 9-quantum run's ~1.1 s, the same answer every time.  The forks
    inherit the answer; the dataset they write is the same.
    """
    import functools

    import lsst.utils.packages

    lsst.utils.packages.packages_distributions = functools.cache(lsst.utils.packages.packages_distributions)
    lsst.utils.packages.packages_distributions()


def _become(request: dict, fds: list[int]) -> None:
    """Be the command of ``request``, as a new interpreter would run it: on return or raise, the process ends."""
    import runpy

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds):
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]
    if argv[1:3] == ["-m", "pipetask_lite"]:
        # ``python -m``: sys.path[0] is the working directory; runpy sets argv[0].
        sys.path[0] = os.getcwd()
        sys.argv = ["-m", *argv[3:]]
        runpy.run_module("pipetask_lite", run_name="__main__", alter_sys=True)
    else:
        # ``python script.py`` or a console script: sys.path[0] is the script's directory.
        script_argv = argv[1:] if argv[0] == sys.executable else argv
        sys.path[0] = os.path.dirname(os.path.abspath(script_argv[0]))
        sys.argv = list(script_argv)
        runpy.run_path(script_argv[0], run_name="__main__")
    sys.exit(0)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
