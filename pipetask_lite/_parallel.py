"""``-j N``: quanta on N long-lived worker processes.

pipe_base's `~lsst.pipe.base.mp_graph_executor.MPGraphExecutor` starts a new
process for every quantum, and each one imports the LSST stack again (about
3 s), so on small quanta ``pipetask run -j 2`` is many times slower than
``-j 1``.  Here a `concurrent.futures.ProcessPoolExecutor` keeps N workers;
each imports the stack once (while the main process is still building the
graph), keeps its own butler and `~lsst.pipe.base.single_quantum_executor.
SingleQuantumExecutor`, and is fed quanta as their inputs become ready, in
the graph's dependency order (`lsst.pipe.base.graph_walker.GraphWalker`).
The per-quantum reports are the same as MPGraphExecutor's.

Workers writing through their own full butlers serialise on the SQLite
registry's lock, which undoes most of the gain on small quanta.  So for a new
output run the workers use quantum-backed butlers
(`lsst.daf.butler.QuantumBackedButler`), which write files only, and the main
process registers the outputs of finished quanta, in batches, from the
provenance they return (`pipetask_lite._registration`, which ``-j 1`` uses
too), as batch systems do with ``pipetask run-qbb`` and ``butler
transfer-from-graph``.
Resuming a run (``--extend-run``) may meet outputs already registered by an
earlier attempt, so there the workers keep full butlers.
"""

from __future__ import annotations

__all__ = ("START_METHODS", "WorkerPool", "WorkerSetup", "start_forkserver")

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
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._interrupt import StoppedBetweenQuanta
from ._registration import BatchRegistration, QuantumBackedButlers

if TYPE_CHECKING:
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph
    from lsst.pipe.base.quantum_reports import Report

_LOG = logging.getLogger("lsst.pipetask_lite.parallel")
PROGRESS_MESSAGE = "Executed %d quanta successfully, %d failed and %d remain out of total %d quanta."
START_METHODS = ("spawn", "fork", "forkserver")
"""``--start-method`` values, as pipetask takes them (``fork`` then falls back to ``spawn``)."""
PRELOAD = (
    "lsst.daf.butler", "lsst.pipe.base.single_quantum_executor", "lsst.pipe.base.graph_walker",
    "pipetask_lite._forkserver_exit",
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


# Worker-process state: the executors (and their butlers), made on the first
# quantum, keyed by ``retry`` and remade only if the setup changes; and the
# task nodes, unpickled once per task (a node carries its task's config,
# whose unpickling was a twentieth of a small quantum's time).
_EXECUTORS: dict[bool, tuple[bytes, Any, QuantumBackedButlers | None]] = {}
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


def _warm_up() -> int:
    """A no-op task whose only purpose is to make the pool start a worker now."""
    return os.getpid()


def _execute_quantum(setup_pickle: bytes, task_node_pickle: bytes, quantum_pickle: bytes,
                     quantum_id: uuid.UUID, retry: bool):
    """Run one quantum in a worker.

    ``retry`` is set for a quantum whose worker was stopped by another
    worker's death: it may have left partial outputs, or even all of them
    (it finished, but its result was lost with the pool), which are clobbered
    and written again.

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
    made_for, executor, butlers = _EXECUTORS.get(retry, (None, None, None))
    if made_for != setup_pickle:
        from lsst.daf.butler import Butler
        from lsst.pipe.base import TaskFactory
        from lsst.pipe.base.single_quantum_executor import SingleQuantumExecutor

        setup: WorkerSetup = pickle.loads(setup_pickle)
        if setup.quantum_backed:
            # As pipetask run-qbb: files only; skip and clobber are judged
            # from what is on disk, unless nothing can be there (a new run of
            # `run`, run-qbb --no-existing-outputs): then nothing is looked
            # for and everything is written.  Never skip a retry: a quantum that
            # finished on the broken pool left files nobody registered, and a
            # skipped quantum's provenance lists no outputs, so they would stay
            # unregistered; clobbered and run again, they are.
            butlers = QuantumBackedButlers(
                setup.butler_config, universe=setup.universe, dataset_types=setup.dataset_types,
                search_paths=setup.search_paths,
            )
            executor = SingleQuantumExecutor(
                butler=None, task_factory=TaskFactory(), limited_butler_factory=butlers,
                skip_existing=not retry, clobber_outputs=True, enable_lsst_debug=setup.enable_lsst_debug,
                resources=setup.resources, raise_on_partial_outputs=setup.raise_on_partial_outputs,
                assume_no_existing_outputs=setup.assume_no_existing_outputs, job_metadata=setup.job_metadata,
            )
        else:
            butlers = None
            butler = Butler.from_config(
                setup.butler_config, writeable=True, run=setup.run, collections=list(setup.collections)
            )
            executor = SingleQuantumExecutor(
                butler=butler,
                task_factory=TaskFactory(),
                skip_existing_in=(*setup.skip_existing_in, setup.run) if retry else setup.skip_existing_in,
                clobber_outputs=setup.clobber_outputs or retry,
                enable_lsst_debug=setup.enable_lsst_debug,
                resources=setup.resources,
                raise_on_partial_outputs=setup.raise_on_partial_outputs,
            )
        _EXECUTORS[retry] = (setup_pickle, executor, butlers)
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
        # Started from a thread: the first worker waits for the forkserver's
        # imports, and the main thread has a graph to build meanwhile.
        self._starting = threading.Thread(target=self._start, name="pipetask-lite-workers", daemon=True)
        self._starting.start()

    def _start(self) -> None:
        self._started_pool = self._new_pool()

    @property
    def _pool(self) -> ProcessPoolExecutor:
        self._starting.join()
        return self._started_pool

    @_pool.setter
    def _pool(self, pool: ProcessPoolExecutor) -> None:
        self._started_pool = pool

    def _new_pool(self) -> ProcessPoolExecutor:
        from lsst.daf.butler.cli.cliLog import CliLog

        state = list(CliLog.configState)
        if self._quiet:
            # An initLog call is recorded as (initLog, longlog, log_tty, log_file, log_label).
            state = [(c[0], c[1], False, *c[3:]) if c[0] == CliLog.initLog else c for c in state]
        pool = ProcessPoolExecutor(
            max_workers=self.processes, mp_context=self._context, initializer=_start_worker, initargs=(state,)
        )
        # Start every worker now, so their imports overlap the graph building.
        for _ in range(self.processes):
            pool.submit(_warm_up)
        return pool

    def get_report(self) -> Report | None:
        """The report of the last `execute` (also after it raised), as MPGraphExecutor.getReport."""
        return self.report

    def close(self) -> None:
        """Stop the workers (cancelling queued quanta) and wait for them."""
        self._terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _terminate(self) -> None:
        """Kill the workers now (timeout, Ctrl-C); the pool is unusable afterwards."""
        for process in list(getattr(self._pool, "_processes", {}).values()):
            if process.is_alive():
                process.terminate()

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
        registration : `pipetask_lite._registration.BatchRegistration`
            With quantum-backed workers, registers their outputs in batches
            (with the main process's butler; or not at all, for ``run-qbb``).
        setup : `WorkerSetup`
            Butler and executor settings for the workers.
        stop : `pipetask_lite._interrupt.StopRequest`
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

        setup_pickle = pickle.dumps(setup)
        task_node_pickles = {label: pickle.dumps(node) for label, node in quantum_graph.pipeline_graph.tasks.items()}
        running: dict[Future, tuple[uuid.UUID, bool]] = {}
        retries: list[uuid.UUID] = []  # stopped by another worker's death; run again, one at a time
        ready: list[uuid.UUID] = []
        stopping = False
        deadline = time.monotonic() + timeout
        try:
            while True:
                ready.extend(sorted(next(walker, frozenset()), key=sort_key))
                # No more quanta than workers: one queued in the pool would
                # start even after a failure (--fail-fast) or Ctrl-C.  While a
                # worker death is being sorted out, quanta that were on the
                # broken pool run alone, so a second death names its quantum.
                while (not (stopping or stop.requested) and (retries or ready) and len(running) < self.processes
                       and (not retries or not running)):
                    quantum_id, retry = (retries.pop(0), True) if retries else (ready.pop(0), False)
                    node = nodes[quantum_id]
                    future = self._pool.submit(
                        _execute_quantum, setup_pickle, task_node_pickles[node["task_label"]],
                        pickle.dumps(node["quantum"]), quantum_id, retry,
                    )
                    running[future] = (quantum_id, retry)
                    if retry:
                        break
                # Once the workers have their next quanta, in a thread, so
                # that they do not wait for the registry; at once when they
                # are idle, since nothing is gained by waiting.
                registration.register(now=not running, wait=not running)
                if not running:
                    if stop.requested:
                        raise StoppedBetweenQuanta()
                    break
                done, _ = wait(running, timeout=max(0.0, min(1.0, deadline - time.monotonic())),
                               return_when=FIRST_COMPLETED)
                broken = [f for f in done if isinstance(f.exception(), BrokenProcessPool)]
                for future in done:
                    if future in broken:
                        continue
                    quantum_id, _ = running.pop(future)
                    if (exc := future.exception()) is not None:  # the pool could not run it at all
                        error = (exc, "".join(traceback.format_exception(exc)))
                        quantum_report = provenance = None
                    else:
                        quantum_report, provenance, error = future.result()
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
                            exception=exc, dataId=nodes[quantum_id]["data_id"], taskLabel=nodes[quantum_id]["task_label"]
                        ))
                        stopping = stopping or fail_fast
                    _LOG.info(PROGRESS_MESSAGE, succeeded, failed, total - succeeded - failed, total)
                if broken:
                    # A worker died (killed, out of memory, os._exit); the pool
                    # stops all of them.  Quanta that ran alone are the culprits;
                    # others run again, alone, on a new pool.
                    lost = [running.pop(f) for f in list(running)]
                    self._pool.shutdown(wait=True, cancel_futures=True)
                    self._pool = self._new_pool()
                    alone = len(lost) == 1
                    for quantum_id, retry in lost:
                        if alone or retry:
                            _LOG.error("%s failed: its worker process died.", describe(quantum_id))
                            fail(quantum_id, QuantumReport(
                                status=ExecutionStatus.FAILURE, dataId=nodes[quantum_id]["data_id"],
                                taskLabel=nodes[quantum_id]["task_label"], exitCode=-1,
                            ))
                            stopping = stopping or fail_fast
                        else:
                            retries.append(quantum_id)
                    _LOG.info(PROGRESS_MESSAGE, succeeded, failed, total - succeeded - failed, total)
                if running and time.monotonic() >= deadline:
                    for quantum_id, _ in running.values():
                        _LOG.error("Timeout (%s sec) for %s; stopping it.", timeout, describe(quantum_id))
                        report.quantaReports.append(QuantumReport(
                            status=ExecutionStatus.TIMEOUT, dataId=nodes[quantum_id]["data_id"],
                            taskLabel=nodes[quantum_id]["task_label"],
                        ))
                    self._terminate()
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
