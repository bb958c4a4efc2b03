"""``-j N``: quanta on N long-lived worker processes.

pipe_base's `~lsst.pipe.base.mp_graph_executor.MPGraphExecutor` starts a new
process for every quantum, and each one imports the LSST stack again (about
3 s), so on small quanta ``pipetask run -j 2`` is many times slower than
``-j 1``.  Here N long-lived worker processes, each fed through a pipe of
its own, import the stack once (while the main process is still building the
graph), keep their own butler and `~lsst.pipe.base.single_quantum_executor.
SingleQuantumExecutor`, and are given quanta as their inputs become ready, in
the graph's dependency order (`lsst.pipe.base.graph_walker.GraphWalker`).
The per-quantum reports are the same as MPGraphExecutor's, and so is the
rule that a worker's death fails only the quantum it was running.

Workers writing through their own full butlers serialise on the SQLite
registry's lock, which undoes most of the gain on small quanta.  So for a new
output run the workers use quantum-backed butlers
(`lsst.daf.butler.QuantumBackedButler`), which write files only, and the main
process registers the outputs of finished quanta, in batches, from the
provenance they return (`pipetask_lite._execution.registration`, which ``-j 1`` uses
too), as batch systems do with ``pipetask run-qbb`` and ``butler
transfer-from-graph``.
Resuming a run (``--extend-run``) may meet outputs already registered by an
earlier attempt, so there the workers keep full butlers.
"""

from __future__ import annotations

__all__ = (
    "START_METHODS", "WorkerPool", "WorkerSetup", "make_quantum_executor", "single_quantum_executor", "start_forkserver",
)

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .interrupt import StoppedBetweenQuanta
from .registration import BatchRegistration, QuantumBackedButlers

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lsst.daf.butler import Butler
    from lsst.pipe.base import ExecutionResources
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph
    from lsst.pipe.base.single_quantum_executor import SingleQuantumExecutor
    from lsst.pipe.base.quantum_reports import Report

_LOG = logging.getLogger("lsst.pipetask_lite.parallel")
PROGRESS_MESSAGE = "Executed %d quanta successfully, %d failed and %d remain out of total %d quanta."
START_METHODS = ("spawn", "fork", "forkserver")
"""``--start-method`` values, as pipetask takes them (``fork`` then falls back to ``spawn``)."""
PRELOAD = (
    "lsst.daf.butler", "lsst.pipe.base.single_quantum_executor", "lsst.pipe.base.graph_walker",
    "pipetask_lite._execution.forkserver_exit",
)
"""Modules a worker needs; the default forkserver imports them once for all workers."""


def start_forkserver() -> None:
    """Start the default workers' forkserver now; it imports the stack while the caller does too.

    The command line calls this before it imports anything from LSST, so on
    two cores the forkserver's imports cost no wall time; `WorkerPool` later
    forks its workers from this same server.
    """
    import multiprocessing.forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(PRELOAD))
    multiprocessing.forkserver.ensure_running()


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to execute quanta; sent pickled with each quantum, used once per worker.

    Attributes mirror the arguments of `~lsst.daf.butler.Butler.from_config`,
    `~lsst.daf.butler.QuantumBackedButler.initialize` and
    `~lsst.pipe.base.single_quantum_executor.SingleQuantumExecutor`.
    ``quantum_backed`` chooses quantum-backed butlers (with ``universe``,
    ``dataset_types`` and ``search_paths``) over full ones (with ``run`` and
    ``collections``); ``assume_no_existing_outputs`` (``run-qbb
    --no-existing-outputs``) and ``job_metadata`` go to their executor.
    """

    butler_config: str
    run: str
    collections: tuple[str, ...]
    resources: Any
    raise_on_partial_outputs: bool
    skip_existing_in: tuple[str, ...]
    clobber_outputs: bool
    enable_lsst_debug: bool
    quantum_backed: bool = False
    universe: Any = None
    dataset_types: Any = None
    search_paths: tuple[str, ...] = ()
    assume_no_existing_outputs: bool = False
    job_metadata: Any = None


def make_quantum_executor(setup: WorkerSetup, *, butler=None):
    """The `SingleQuantumExecutor` of ``setup``: each worker's, and the main process's at ``-j 1``.

    Parameters
    ----------
    setup : `WorkerSetup`
        Butler and executor settings.
    butler : `lsst.daf.butler.Butler`, optional
        The full butler to use (the main process's at ``-j 1``); by default
        one is made from ``setup``.  Not used with quantum-backed butlers.

    Returns
    -------
    executor : `lsst.pipe.base.single_quantum_executor.SingleQuantumExecutor`
        The executor.
    butlers : `pipetask_lite._execution.registration.QuantumBackedButlers` or `None`
        Its quantum-backed butler factory, whose provenance is to be
        registered; `None` with full butlers.
    """
    from lsst.daf.butler import Butler
    from lsst.pipe.base import TaskFactory
    from lsst.pipe.base.single_quantum_executor import SingleQuantumExecutor

    if setup.quantum_backed:
        # As pipetask run-qbb: files only; skip and clobber are judged from
        # what is on disk, unless nothing can be there (a new run of `run`,
        # run-qbb --no-existing-outputs): then nothing is looked for and
        # everything is written.
        butlers = QuantumBackedButlers(
            setup.butler_config, universe=setup.universe, dataset_types=setup.dataset_types,
            search_paths=setup.search_paths,
        )
        return SingleQuantumExecutor(
            butler=None, task_factory=TaskFactory(), limited_butler_factory=butlers,
            skip_existing=True, clobber_outputs=True, enable_lsst_debug=setup.enable_lsst_debug,
            resources=setup.resources, raise_on_partial_outputs=setup.raise_on_partial_outputs,
            assume_no_existing_outputs=setup.assume_no_existing_outputs, job_metadata=setup.job_metadata,
        ), butlers
    if butler is None:
        butler = Butler.from_config(
            setup.butler_config, writeable=True, run=setup.run, collections=list(setup.collections)
        )
    return single_quantum_executor(
        butler, skip_existing_in=setup.skip_existing_in, clobber_outputs=setup.clobber_outputs,
        enable_lsst_debug=setup.enable_lsst_debug, resources=setup.resources,
        raise_on_partial_outputs=setup.raise_on_partial_outputs,
    ), None


def single_quantum_executor(
    butler: Butler, *, skip_existing_in: Sequence[str], clobber_outputs: bool, enable_lsst_debug: bool,
    resources: ExecutionResources, raise_on_partial_outputs: bool,
) -> SingleQuantumExecutor:
    """pipetask's executor of one quantum on a full butler: a step of ``run``, as ``--explain=full`` shows it.

    ``skip_existing_in`` (``--skip-existing-in``, and the output run with
    ``--skip-existing`` or ``--extend-run``) skips a quantum whose outputs
    all exist there; ``clobber_outputs`` (``--clobber-outputs`` with
    ``--extend-run``) removes a failed attempt's partial outputs first;
    ``enable_lsst_debug`` is ``--debug``; ``resources`` are ``-n`` and
    ``--memory-per-quantum``.
    """
    from lsst.pipe.base import TaskFactory
    from lsst.pipe.base.single_quantum_executor import SingleQuantumExecutor

    return SingleQuantumExecutor(
        butler=butler, task_factory=TaskFactory(), skip_existing_in=skip_existing_in, clobber_outputs=clobber_outputs,
        enable_lsst_debug=enable_lsst_debug, resources=resources, raise_on_partial_outputs=raise_on_partial_outputs,
    )


# Worker-process state: the executor (and its butlers), made on the first
# quantum and remade only if the setup changes; and the task nodes, unpickled
# once per task (a node carries its task's config, whose unpickling was a
# twentieth of a small quantum's time).
_EXECUTOR: list = [None, None, None]
_TASK_NODES: dict[bytes, Any] = {}


def _start_worker(log_config_state: list) -> None:
    """Pool initializer: set up logging like the main process and import the stack once."""
    from lsst.daf.butler.cli.cliLog import CliLog

    if log_config_state and not CliLog.configState:
        CliLog.replayConfigState(log_config_state)
    # Ctrl-C goes to the whole process group; the main process decides what
    # stops, so workers ignore it and finish or get terminated.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A main process that is killed (SIGKILL, out of memory) cannot stop its
    # workers, and they would wait for quanta forever; they go with it.
    if (parent := multiprocessing.parent_process()) is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), name="exit-with-parent", daemon=True).start()
    import lsst.daf.butler  # noqa: F401
    import lsst.pipe.base.single_quantum_executor  # noqa: F401
    from lsst.utils.threads import disable_implicit_threading

    # As MPGraphExecutor does for its processes, whatever
    # --enable-implicit-threading says: N workers must not each use every core.
    disable_implicit_threading()


def _exit_with(sentinel: int) -> None:
    """End this worker as soon as ``sentinel`` (its main process's) is ready: that process has ended."""
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _executor_for(setup_pickle: bytes):
    """This worker's executor and quantum-backed butlers (or `None`) for ``setup_pickle``, made once."""
    made_for, executor, butlers = _EXECUTOR
    if made_for == setup_pickle:
        return executor, butlers
    setup: WorkerSetup = pickle.loads(setup_pickle)
    executor, butlers = make_quantum_executor(setup)
    if butlers is not None:
        butlers.prepare()
    _EXECUTOR[:] = [setup_pickle, executor, butlers]
    _TASK_NODES.clear()
    return executor, butlers


def _execute_quantum(setup_pickle: bytes, task_node_pickle: bytes, quantum_pickle: bytes, quantum_id: uuid.UUID):
    """Run one quantum in a worker.

    Returns
    -------
    report : `lsst.pipe.base.quantum_reports.QuantumReport` or `None`
        The executor's report of a success.
    provenance : `lsst.daf.butler.QuantumProvenanceData` or `None`
        With quantum-backed butlers: the outputs written, to be registered by
        the main process (also after a failure, for its log).
    error : `tuple` [`Exception`, `str`] or `None`
        The exception of a failure and its formatted traceback.
    """
    executor, butlers = _executor_for(setup_pickle)
    if (task_node := _TASK_NODES.get(task_node_pickle)) is None:
        task_node = _TASK_NODES[task_node_pickle] = pickle.loads(task_node_pickle)
    quantum = pickle.loads(quantum_pickle)
    # Log records name the process; pipetask's one-process-per-quantum names
    # it after the quantum, so do the same.
    multiprocessing.current_process().name = f"task-{quantum.dataId}"
    report = error = None
    try:
        report = executor.execute(task_node, quantum, quantum_id=quantum_id).report
    except Exception as exc:
        error = (exc, traceback.format_exc())
    return report, butlers.provenance if butlers is not None else None, error


def _serve(conn: multiprocessing.connection.Connection, log_config_state: list) -> None:
    """A worker's life: take quanta from ``conn`` and send back each one's result, until told to stop.

    A message is ``(setup, label, task_node, quantum, quantum_id)``, where
    ``setup``, ``task_node`` and ``quantum`` are pickles; ``setup`` and
    ``task_node`` are `None` for "as in the last message" (the main process
    sends each only once per worker).  A message with no ``quantum`` only
    prepares the executor for ``setup``, and is not answered.  `None` ends
    the worker.
    """
    _start_worker(log_config_state)
    setup = task_nodes = None
    while (message := conn.recv()) is not None:
        new_setup, label, task_node, quantum, quantum_id = message
        if new_setup is not None:
            setup, task_nodes = new_setup, {}
        if quantum is None:
            # A failure here is met again, and reported, with the first quantum.
            with contextlib.suppress(Exception):
                _executor_for(setup)
            continue
        if task_node is not None:
            task_nodes[label] = task_node
        try:
            result = _execute_quantum(setup, task_nodes[label], quantum, quantum_id)
        except Exception as exc:  # making the butler or executor, unpickling
            result = (None, None, (exc, traceback.format_exc()))
        try:
            conn.send(result)
        except Exception:
            # An exception that does not pickle still fails its quantum, by name.
            report, provenance, (exc, text) = result
            conn.send((report, provenance, (RuntimeError(f"{type(exc).__name__}: {exc}"), text)))


class _Worker:
    """One worker process, the pipe it is fed through, and what it was sent."""

    def __init__(self, context: multiprocessing.context.BaseContext, log_config_state: list):
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=_serve, args=(child_end, log_config_state), daemon=True)
        self.process.start()
        child_end.close()
        self.setup: bytes | None = None
        self.task_labels: set[str] = set()
        self.quantum: uuid.UUID | None = None  # the ID of the quantum it is running

    def _post(self, message: tuple | None) -> None:
        """Send ``message``; a broken pipe (the worker died) is left to the worker's sentinel to report."""
        with contextlib.suppress(OSError):
            self.conn.send(message)

    def _new_setup(self, setup: bytes) -> bytes | None:
        """``setup``, or `None` if this worker has it already."""
        if self.setup == setup:
            return None
        self.setup, self.task_labels = setup, set()
        return setup

    def prepare(self, setup: bytes) -> None:
        """Have this worker make its butler and executor for ``setup`` now, before its first quantum."""
        if (new_setup := self._new_setup(setup)) is not None:
            self._post((new_setup, None, None, None, None))  # a dead one is replaced before its first quantum

    def send(self, setup: bytes, label: str, task_node: bytes, quantum: bytes, quantum_id: uuid.UUID) -> None:
        """Give this worker a quantum, with its setup and task node unless it has them already.

        A worker that died since it was last seen alive (its pipe is broken)
        still counts as running the quantum: its death is then found as any
        other, and fails that quantum only.
        """
        new_setup = self._new_setup(setup)
        new_node = None if label in self.task_labels else task_node
        self.task_labels.add(label)
        self.quantum = quantum_id
        self._post((new_setup, label, new_node, quantum, quantum_id))

    def stop(self) -> None:
        """Ask an idle worker to end; kill a busy one."""
        if self.quantum is None and self.process.is_alive():
            self._post(None)
        else:
            self.process.terminate()


class WorkerPool:
    """N worker processes that execute quanta, started as soon as this is made.

    Parameters
    ----------
    processes : `int`
        Number of workers (``-j``).
    start_method : `str` or `None`
        ``--start-method``: ``spawn``, or ``forkserver`` (also for `None`),
        whose server imports the stack before forking workers.
    quiet_workers : `bool`
        Keep workers' log records off the terminal (a progress bar is drawn);
        they still reach ``--log-file`` and each quantum's log dataset.

    Notes
    -----
    Each worker has a pipe of its own and at most one quantum at a time.
    `concurrent.futures.ProcessPoolExecutor` did the same job with two
    threads between the main process and its workers, which cost a
    millisecond a quantum, and a worker's death broke the whole pool.
    """

    def __init__(self, processes: int, *, start_method: str | None, quiet_workers: bool):
        self.processes = processes
        # By default a forkserver that imports the stack once, and workers
        # forked from it: N workers for the price of one import instead of N.
        self._context = multiprocessing.get_context(start_method or "forkserver")
        if start_method in (None, "forkserver"):
            self._context.set_forkserver_preload(list(PRELOAD))
        self._quiet = quiet_workers
        self.report: Report | None = None
        self._started: list[_Worker] = []
        # Started from a thread: the first worker waits for the forkserver's
        # imports, and the main thread has a graph to build meanwhile.
        self._starting = threading.Thread(target=self._start, name="pipetask-lite-workers", daemon=True)
        self._starting.start()

    def _start(self) -> None:
        from lsst.daf.butler.cli.cliLog import CliLog

        state = list(CliLog.configState)
        if self._quiet:
            # An initLog call is recorded as (initLog, longlog, log_tty, log_file, log_label).
            state = [(c[0], c[1], False, *c[3:]) if c[0] == CliLog.initLog else c for c in state]
        self._log_config_state = state
        for _ in range(self.processes):
            self._started.append(_Worker(self._context, state))

    @property
    def _workers(self) -> list[_Worker]:
        self._starting.join()
        return self._started

    def prepare(self, setup: WorkerSetup) -> None:
        """Have the workers make their butlers and executors now, while the caller writes init-outputs.

        Making a quantum-backed butler's datastore takes tens of
        milliseconds; done here, the workers' first quanta do not wait for it.
        Nothing is written.
        """
        setup_pickle = pickle.dumps(setup)
        for worker in self._workers:
            worker.prepare(setup_pickle)

    def get_report(self) -> Report | None:
        """The report of the last `execute` (also after it raised), as MPGraphExecutor.getReport."""
        return self.report

    def close(self) -> None:
        """Stop the workers (killing those still busy) and wait for them."""
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(
        self,
        quantum_graph: PredictedQuantumGraph,
        *,
        registration: BatchRegistration,
        setup: WorkerSetup,
        stop,
        timeout: float,
        fail_fast: bool,
        execution_graph_fixup: Any = None,
    ) -> Report:
        """Execute every quantum of the graph; return pipe_base's `Report`.

        Parameters
        ----------
        quantum_graph : `lsst.pipe.base.quantum_graph.PredictedQuantumGraph`
            The graph, with datasets for execution.
        registration : `pipetask_lite._execution.registration.BatchRegistration`
            With quantum-backed workers, registers their outputs in batches
            (with the main process's butler; or not at all, for ``run-qbb``).
        setup : `WorkerSetup`
            Butler and executor settings for the workers.
        stop : `pipetask_lite._execution.interrupt.StopRequest`
            Once requested (Ctrl-C, SIGTERM), no quantum is submitted; the
            running ones finish, then `StoppedBetweenQuanta` is raised.
        timeout : `float`
            Seconds for the whole execution (``--timeout``).
        fail_fast : `bool`
            Stop submitting quanta after the first failure (``--fail-fast``).
        execution_graph_fixup : `~lsst.pipe.base.execution_graph_fixup.ExecutionGraphFixup`, optional
            Extra ordering constraints (``--graph-fixup``).

        Raises
        ------
        lsst.pipe.base.mp_graph_executor.MPGraphExecutorError
            Raised after execution if any quantum failed, was blocked or timed
            out; the report is then available from `get_report`.
        """
        import networkx
        from lsst.pipe.base.graph_walker import GraphWalker
        from lsst.pipe.base.mp_graph_executor import MPGraphExecutorError, MPTimeoutError
        from lsst.pipe.base.quantum_reports import ExecutionStatus, QuantumReport, Report

        quantum_graph.build_execution_quanta()
        xgraph = quantum_graph.quantum_only_xgraph.copy()
        if execution_graph_fixup is not None:
            execution_graph_fixup.fixup_graph(xgraph, quantum_graph.quanta_by_task)
            if networkx.dag.has_cycle(xgraph):
                raise MPGraphExecutorError("Updated execution graph has dependency cycle.")
        self.report = report = Report(qgraphSummary=quantum_graph._make_summary())
        nodes = xgraph.nodes
        walker: GraphWalker[uuid.UUID] = GraphWalker(xgraph.copy())
        total, succeeded, failed = len(nodes), 0, 0

        def describe(quantum_id: uuid.UUID) -> str:
            return f"{quantum_id} ({nodes[quantum_id]['task_label']}@{nodes[quantum_id]['data_id']})"

        def fail(quantum_id: uuid.UUID, quantum_report: QuantumReport) -> None:
            nonlocal failed
            report.quantaReports.append(quantum_report)
            failed += 1
            for blocked in walker.fail(quantum_id):
                _LOG.error("Upstream job failed for task %s, skipping this quantum.", describe(blocked))
                report.quantaReports.append(
                    QuantumReport(status=ExecutionStatus.SKIPPED, dataId=nodes[blocked]["data_id"],
                                  taskLabel=nodes[blocked]["task_label"])
                )
                failed += 1

        def sort_key(quantum_id: uuid.UUID) -> tuple:
            return (nodes[quantum_id]["task_label"], *nodes[quantum_id]["data_id"].required_values)

        workers = self._workers
        setup_pickle = pickle.dumps(setup)
        task_node_pickles = {label: pickle.dumps(node) for label, node in quantum_graph.pipeline_graph.tasks.items()}
        ready: list[uuid.UUID] = []
        stopping = False
        deadline = time.monotonic() + timeout
        try:
            while True:
                ready.extend(sorted(next(walker, frozenset()), key=sort_key))
                # No more quanta than workers: a queued one would start even
                # after a failure (--fail-fast) or Ctrl-C.
                for index, worker in enumerate(workers):
                    if stopping or stop.requested or not ready:
                        break
                    if worker.quantum is None:
                        if not worker.process.is_alive():  # died idle: replaced before it loses a quantum
                            worker.conn.close()
                            worker = workers[index] = _Worker(self._context, self._log_config_state)
                        quantum_id = ready.pop(0)
                        label = nodes[quantum_id]["task_label"]
                        worker.send(setup_pickle, label, task_node_pickles[label],
                                    pickle.dumps(nodes[quantum_id]["quantum"]), quantum_id)
                running = [worker for worker in workers if worker.quantum is not None]
                # Once the workers have their next quanta, in a thread, so
                # that they do not wait for the registry; at once when they
                # are idle, since nothing is gained by waiting.
                registration.register(now=not running, wait=not running)
                if not running:
                    if stop.requested:
                        raise StoppedBetweenQuanta()
                    break
                # A result, or a worker's death (its process sentinel).
                woken = multiprocessing.connection.wait(
                    [w.conn for w in running] + [w.process.sentinel for w in running],
                    timeout=max(0.0, min(1.0, deadline - time.monotonic())),
                )
                for index, worker in enumerate(workers):
                    if worker.quantum is None or (worker.conn not in woken and worker.process.sentinel not in woken):
                        continue
                    quantum_id = worker.quantum
                    try:
                        # A result sent just before the worker died is still read.
                        result = worker.conn.recv() if worker.conn.poll() else None
                    except (EOFError, OSError):
                        result = None
                    worker.quantum = None
                    if result is None:
                        # Killed, out of memory, os._exit: its quantum fails,
                        # as a process of MPGraphExecutor would, and a new
                        # worker takes its place; the others go on.
                        worker.process.join()
                        _LOG.error("%s failed: its worker process died.", describe(quantum_id))
                        fail(quantum_id, QuantumReport(
                            status=ExecutionStatus.FAILURE, dataId=nodes[quantum_id]["data_id"],
                            taskLabel=nodes[quantum_id]["task_label"], exitCode=worker.process.exitcode,
                        ))
                        stopping = stopping or fail_fast
                        worker.conn.close()
                        workers[index] = _Worker(self._context, self._log_config_state)
                    else:
                        quantum_report, provenance, error = result
                        if provenance is not None:
                            registration.add(nodes[quantum_id]["quantum"], provenance)
                        if error is None:
                            if quantum_report is not None:
                                report.quantaReports.append(quantum_report)
                            succeeded += 1
                            walker.finish(quantum_id)
                        else:
                            exc, text = error
                            _LOG.error("%s failed; processing will continue for remaining tasks.\n%s",
                                       describe(quantum_id), text.rstrip())
                            fail(quantum_id, QuantumReport.from_exception(
                                exception=exc, dataId=nodes[quantum_id]["data_id"],
                                taskLabel=nodes[quantum_id]["task_label"],
                            ))
                            stopping = stopping or fail_fast
                    _LOG.info(PROGRESS_MESSAGE, succeeded, failed, total - succeeded - failed, total)
                running = [worker for worker in workers if worker.quantum is not None]
                if running and time.monotonic() >= deadline:
                    for worker in running:
                        quantum_id = worker.quantum
                        _LOG.error("Timeout (%s sec) for %s; stopping it.", timeout, describe(quantum_id))
                        report.quantaReports.append(QuantumReport(
                            status=ExecutionStatus.TIMEOUT, dataId=nodes[quantum_id]["data_id"],
                            taskLabel=nodes[quantum_id]["task_label"],
                        ))
                        worker.process.terminate()
                    report.status = ExecutionStatus.TIMEOUT
                    raise MPTimeoutError(f"Timeout ({timeout} sec) for {len(running)} running quanta; "
                                         f"{total - succeeded - failed} quanta did not finish.")
        finally:
            # Whatever stopped the loop, outputs already written get registered.
            registration.register(now=True)
        if failed or stopping or total - succeeded - failed:
            report.status = ExecutionStatus.FAILURE
            raise MPGraphExecutorError("One or more tasks failed during execution.")
        return report
