"""Executing a quantum graph: what ``run`` and ``run-qbb`` share.

Both end the same way: an `MPGraphExecutor` (``-j 1``) or pipetask-lite's
worker pool (``-j N``, `pipetask_lite._execution.parallel`) runs the quanta under the
progress bar, ``--profile`` and the signal handlers of
`pipetask_lite._execution.interrupt`; the executor's report becomes a `RunResult`,
``--summary`` and, if quanta failed, a `~pipetask_lite.QuantaFailedError`.
The execution options both take (``-j``, ``-n``, ``--timeout``,
``--memory-per-quantum``, ``--debug``, ``--coverage``, ...) are one checked
object, `ExecutionOptions`; it and the steps both call (`make_executor`,
`execute_to_the_end`) are here.
"""

from __future__ import annotations

__all__ = (
    "ExecutionOptions",
    "RunResult",
    "StoppableExecutor",
    "coverage_enabled",
    "execute_to_the_end",
    "make_executor",
    "mp_graph_executor",
    "import_graph_fixup",
    "import_lsst_debug",
    "profiled",
    "run_option",
    "unwrap_registration_failure",
    "write_summary",
)

import contextlib
import dataclasses
import functools
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import errors
from .._redact import redact
from .._rules import MP_TIMEOUT, KeywordOptions, check_execution_numbers
from .._util import blame, check_writable, make_parents, open_for_writing
from ..errors import Interrupted, PipetaskLiteError, UsageError
from .interrupt import StoppedBetweenQuanta, StopRequest
from .parallel import START_METHODS, WorkerPool, WorkerSetup, make_quantum_executor
from .registration import BatchRegistration, QuantumBackedButlers

if TYPE_CHECKING:
    from lsst.daf.butler import Butler
    from lsst.pipe.base import ExecutionResources
    from lsst.pipe.base.execution_graph_fixup import ExecutionGraphFixup
    from lsst.pipe.base.mp_graph_executor import MPGraphExecutor
    from lsst.pipe.base.quantum_graph_executor import QuantumExecutor
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph
    from lsst.pipe.base.quantum_reports import QuantumReport, Report

    from .watch import Watcher

_LOG = logging.getLogger("lsst.pipetask_lite")


def run_option(default, /, *, lsst_call: str | None, api_only: bool = False):
    """An `ExecutionOptions` field: its default and its LSST call (for the docs; `None` for API-only keywords).

    ``api_only`` fields are keywords of the Python functions that no option
    gives: the command line leaves them at their default.
    """
    return dataclasses.field(default=default, metadata={"lsst_call": lsst_call, "api_only": api_only})


@dataclass(frozen=True, kw_only=True)
class ExecutionOptions(KeywordOptions):
    """The checked options that execute quanta, shared by ``run`` and ``run-qbb``.

    The fields are keywords of `pipetask_lite.run` and `pipetask_lite.run_qbb`,
    described there, each with what it becomes in the LSST API (``lsst_call``,
    for docs/options.md).  Constructing the object checks ``-j``, ``-n``,
    ``--timeout`` and ``--start-method`` and raises
    `pipetask_lite.UsageError`; nothing else checks them.

    Attributes
    ----------
    effective_timeout : `int`
        ``--timeout``, or pipetask's default (`~pipetask_lite._rules.MP_TIMEOUT`).
    """

    processes: int = run_option(
        1, lsst_call="`MPGraphExecutor(num_proc=1)` for 1; N long-lived worker processes, each fed through its own pipe, otherwise",
    )
    timeout: int | None = run_option(None, lsst_call="`MPGraphExecutor(timeout=...)` / worker pool deadline")
    start_method: str | None = run_option(None, lsst_call="`multiprocessing.get_context(...)` of the worker pool")
    fail_fast: bool = run_option(False, lsst_call="`MPGraphExecutor(fail_fast=True)` / worker pool stops submitting")
    raise_on_partial_outputs: bool = run_option(
        True, lsst_call="`SingleQuantumExecutor(raise_on_partial_outputs=...)`",
    )
    cores_per_quantum: int = run_option(1, lsst_call="`ExecutionResources(num_cores=...)`")
    memory_per_quantum: str = run_option("", lsst_call="`ExecutionResources(max_mem=..., default_mem_units=u.MB)`")
    summary: str | None = run_option(None, lsst_call="`MPGraphExecutor.getReport().model_dump_json(...)`")
    enable_implicit_threading: bool = run_option(
        False, lsst_call="skips `lsst.utils.threads.disable_implicit_threading()`",
    )
    debug: bool = run_option(False, lsst_call="`SingleQuantumExecutor(enable_lsst_debug=True)`; `import debug`")
    pdb: str | None = run_option(None, lsst_call="`MPGraphExecutor(pdb=...)`")
    profile: str | None = run_option(
        None, lsst_call="`cProfile.Profile()` around the execution; `profiler.dump_stats(...)`, also when quanta fail",
    )
    coverage: bool = run_option(False, lsst_call="`coverage.Coverage(...).start()`")
    cov_report: bool = run_option(True, lsst_call="`coverage.Coverage.html_report(...)`")
    cov_packages: Sequence[str] = run_option((), lsst_call="`coverage.Coverage` `source_pkgs`")
    progress: bool = run_option(True, lsst_call=None, api_only=True)
    # Derived, in __post_init__.
    effective_timeout: int = field(init=False)

    def __post_init__(self) -> None:
        check_execution_numbers(processes=self.processes, cores_per_quantum=self.cores_per_quantum,
                                timeout=self.timeout)
        if self.start_method is not None and self.start_method not in START_METHODS:
            raise UsageError(f"{self.start_method!r} is not one of {', '.join(map(repr, START_METHODS))}",
                             option="--start-method")
        # A frozen dataclass sets its own derived fields this way.
        object.__setattr__(self, "effective_timeout", MP_TIMEOUT if self.timeout is None else self.timeout)

    @property
    def worker_start_method(self) -> str | None:
        """``--start-method`` as the workers get it: ``fork`` is unsafe and replaced by ``spawn``, as pipetask does."""
        return "spawn" if self.start_method == "fork" else self.start_method

    def check_outputs(self) -> None:
        """Refuse a ``--summary`` or ``--profile`` path that cannot be written: they are written only after execution."""
        for path, option in ((self.summary, "--summary"), (self.profile, "--profile")):
            check_writable(path, option)

    def resources(self) -> ExecutionResources:
        """``-n`` and ``--memory-per-quantum`` as pipe_base's `~lsst.pipe.base.ExecutionResources`."""
        import astropy.units as u
        from lsst.pipe.base import ExecutionResources

        with blame(
            "--memory-per-quantum", ValueError, TypeError,
            message=f"cannot read {self.memory_per_quantum!r} as a memory size (examples: 3GB, 3000MB, 3000)",
        ):
            return ExecutionResources(
                num_cores=self.cores_per_quantum, max_mem=self.memory_per_quantum or None, default_mem_units=u.MB
            )

    @contextlib.contextmanager
    def started(self) -> Iterator[WorkerPool | None]:
        """Measure coverage (``--coverage``) and, with ``-j N`` (N > 1), start the workers.

        They start now, so that they import the stack while the graph is
        built or read; the pool is `None` at ``-j 1``.
        """
        if self.start_method == "fork":
            _LOG.warning("Option --start-method=fork is unsafe and no longer supported, using spawn instead.")
        with coverage_enabled(self.coverage, cov_report=self.cov_report, cov_packages=self.cov_packages):
            if self.processes <= 1:
                yield None
                return
            from .progress import bar_wanted

            with WorkerPool(self.processes, start_method=self.worker_start_method,
                            quiet_workers=bar_wanted(self.progress)) as pool:
                yield pool



@dataclass
class RunResult:
    """What a `run` did.

    Attributes
    ----------
    output : `str` or `None`
        The output CHAINED collection (``-o``).
    output_run : `str`
        The RUN collection that holds the new datasets.
    quantum_graph : `lsst.pipe.base.quantum_graph.PredictedQuantumGraph`
        The graph that was built and executed.
    report : `lsst.pipe.base.quantum_reports.Report` or `None`
        The executor's report, as written by ``--summary`` (`None` with
        ``--init-only``).
    succeeded : `list` [`lsst.pipe.base.quantum_reports.QuantumReport`]
        Quanta that ran successfully.
    failed : `list` [`lsst.pipe.base.quantum_reports.QuantumReport`]
        Quanta whose task raised (or timed out); ``exceptionInfo`` says why.
    blocked : `list` [`lsst.pipe.base.quantum_reports.QuantumReport`]
        Quanta not run because a quantum they depend on failed.
    outputs : `dict` [`str`, `list` [`lsst.daf.butler.DatasetRef`]]
        The outputs of the quanta that succeeded, by dataset type name, in
        ``output_run``: ``butler.get(result.outputs["name"][0])`` reads one.
        Computed when first read.
    """

    output: str | None
    output_run: str
    quantum_graph: PredictedQuantumGraph = field(repr=False)
    report: Report | None = field(default=None, repr=False)
    succeeded: list[QuantumReport] = field(default_factory=list, repr=False)
    failed: list[QuantumReport] = field(default_factory=list, repr=False)
    blocked: list[QuantumReport] = field(default_factory=list, repr=False)

    @property
    def n_quanta(self) -> int:
        """Number of quanta in the graph (`int`)."""
        return len(self.quantum_graph)

    @functools.cached_property
    def outputs(self) -> dict[str, list]:
        """The outputs of the quanta that succeeded, by dataset type name (see the class docstring)."""
        done = {report.quantumId for report in self.succeeded}
        # The graph's predicted outputs of those quanta (the refs pipe_base
        # wrote them with); build_execution_quanta makes them if not made yet.
        self.quantum_graph.build_execution_quanta()
        outputs: dict[str, list] = {}
        for quantum_id, node in self.quantum_graph.quantum_only_xgraph.nodes.items():
            if quantum_id in done:
                for dataset_type, refs in node["quantum"].outputs.items():
                    outputs.setdefault(dataset_type.name, []).extend(refs)
        return {name: sorted(refs, key=lambda ref: str(ref.dataId)) for name, refs in sorted(outputs.items())}

    def __repr__(self) -> str:
        """A few lines of counts, not the reports: what a notebook shows."""
        lines = [
            f"RunResult(output={self.output!r}, output_run={self.output_run!r}):",
            f"  quanta: {self.n_quanta} in the graph, {len(self.succeeded)} succeeded, {len(self.failed)} failed, "
            f"{len(self.blocked)} blocked",
        ]
        if self.succeeded:
            counts = ", ".join(f"{name} {len(refs)}" for name, refs in self.outputs.items())
            lines.append(f"  outputs: {counts}")
        return "\n".join(lines)



def execute_to_the_end(
    result: RunResult, execute, get_report, *, stop: StopRequest, summary: str | None, profile: str | None,
    progress: bool, kept: str,
) -> RunResult:
    """Run ``execute()`` under the progress bar and ``--profile``; fill in ``result``.

    Shared by ``run`` and ``run-qbb``.  ``get_report`` returns the executor's
    report (also after a failure, for ``--summary``); ``kept`` says where the
    finished quanta's outputs are, for the message of an interruption.

    Raises
    ------
    pipetask_lite.errors.Interrupted
        Raised when SIGINT or SIGTERM stopped the execution.
    pipetask_lite.QuantaFailedError
        Raised after execution if any quantum failed.
    """
    from lsst.pipe.base.mp_graph_executor import MPGraphExecutorError, MPTimeoutError

    from .progress import quantum_progress

    failure: MPGraphExecutorError | None = None
    try:
        try:
            with quantum_progress(len(result.quantum_graph), enabled=progress), profiled(profile):
                execute()
        except MPGraphExecutorError as exc:
            failure = exc
        finally:
            # From here on a signal stops nothing: no quantum runs any more,
            # and the report must be written whole.
            stop.over = True
            result.report = get_report()
            write_summary(summary, result.report)
    except KeyboardInterrupt as exc:
        # After the running quanta finished (StoppedBetweenQuanta), or at
        # once on a second signal or when the grace period ran out.
        result.report = get_report()
        _sort_quanta(result)
        raise Interrupted(
            f"interrupted: {len(result.succeeded)} of {result.n_quanta} quanta finished, {kept}",
            output_run=result.output_run, cut=not isinstance(exc, StoppedBetweenQuanta),
            terminated=stop.signal == signal.SIGTERM,
        ) from None
    _sort_quanta(result)
    if failure is not None or result.failed:
        # These classes are made on first use (they subclass pipe_base's
        # MPGraphExecutorError and MPTimeoutError, which the executor raised).
        error = errors.QuantaTimedOutError if isinstance(failure, MPTimeoutError) else errors.QuantaFailedError
        raise error(_failure_message(result, failure), result=result)
    return result


class StoppableExecutor:
    """A `SingleQuantumExecutor` that starts no quantum once a stop was requested.

    MPGraphExecutor treats an exception from a quantum as that quantum's
    failure and goes on; a KeyboardInterrupt is not an `Exception`, so it ends
    the execution instead, between two quanta.  (Duck-typed rather than a
    `~lsst.pipe.base.quantum_graph_executor.QuantumExecutor` subclass to keep
    the LSST import out of this module's top.)

    With ``butlers`` (the executor's quantum-backed butler factory), each
    quantum's outputs go to ``registration`` when it ends, succeeded or not.
    """

    def __init__(self, stop: StopRequest, executor, *, watcher: Watcher | None = None,
                 butlers: QuantumBackedButlers | None = None, registration: BatchRegistration | None = None):
        self._stop = stop
        self._watcher = watcher
        self._executor = executor
        self._butlers = butlers
        self._registration = registration

    def execute(self, task_node, /, quantum, quantum_id=None, *, log_records=None):
        """Execute one quantum, unless a stop was requested; tell the watcher, if any."""
        if self._stop.requested:
            raise StoppedBetweenQuanta()
        if self._watcher is not None:
            self._watcher.started(f"{task_node.label}@{quantum.dataId}")
        ok = False
        try:
            result = self._executor.execute(task_node, quantum, quantum_id=quantum_id, log_records=log_records)
            ok = True
            return result
        finally:
            if self._watcher is not None:
                self._watcher.ended(ok=ok)
            if self._butlers is not None and self._butlers.provenance is not None:
                self._registration.add(quantum, self._butlers.provenance)
                self._butlers.provenance = None
                try:
                    self._registration.register()
                except Exception as exc:
                    # The registry's failure, not this quantum's: MPGraphExecutor
                    # must not report it as one and go on (see _RegistrationFailed).
                    raise _RegistrationFailed() from exc


class _RegistrationFailed(BaseException):
    """A registration between quanta failed; `unwrap_registration_failure` raises its cause.

    Not an `Exception`, so that MPGraphExecutor, which takes every Exception
    from a quantum executor for the quantum's failure, lets it through.
    """


def unwrap_registration_failure(execute):
    """``execute()``, raising the registry's error itself when a registration failed (as at -j N)."""
    try:
        return execute()
    except _RegistrationFailed as wrapped:
        raise wrapped.__cause__ from None



def write_summary(summary: str | None, report: Report | None) -> None:
    """``--summary``: the executor's report as JSON, fields that are not set left out (as pipetask)."""
    if summary and report is not None:
        with open_for_writing(summary, "--summary") as stream:
            stream.write(redact(report.model_dump_json(exclude_none=True, indent=2)))


def make_executor(
    quantum_graph: PredictedQuantumGraph,
    options: ExecutionOptions,
    setup: WorkerSetup,
    *,
    pool: WorkerPool | None,
    stop: StopRequest,
    registration: BatchRegistration,
    butler: Butler | None = None,
    watcher: Watcher | None = None,
    execution_graph_fixup: Any = None,
):
    """Make the executor of ``run`` and ``run-qbb``: pipe_base's `MPGraphExecutor` at ``-j 1``, else the pool.

    At ``-j 1`` it drives the `SingleQuantumExecutor` that each ``-j N``
    worker makes from ``setup`` (`pipetask_lite._execution.parallel.make_quantum_executor`),
    here with the main process's ``butler`` (full butlers) and the signal
    handlers' ``stop``; ``registration`` registers the outputs of
    quantum-backed butlers (``BatchRegistration(None)``: not at all).
    ``watcher`` says, at ``-j 1``, which quantum took the process down.

    Returns
    -------
    execute : `~collections.abc.Callable` [[], `lsst.pipe.base.quantum_reports.Report`]
        Executes the graph.
    get_report : `~collections.abc.Callable` [[], `lsst.pipe.base.quantum_reports.Report`]
        The report, also after a failure.
    """
    if pool is not None:
        execute = functools.partial(
            pool.execute, quantum_graph, registration=registration, setup=setup, stop=stop,
            timeout=options.effective_timeout, fail_fast=options.fail_fast,
            execution_graph_fixup=execution_graph_fixup,
        )
        return execute, pool.get_report
    quantum_executor, butlers = make_quantum_executor(setup, butler=butler)
    graph_executor = mp_graph_executor(
        StoppableExecutor(stop, quantum_executor, watcher=watcher, butlers=butlers, registration=registration),
        num_proc=1, timeout=options.effective_timeout, fail_fast=options.fail_fast, pdb=options.pdb,
        execution_graph_fixup=execution_graph_fixup,
    )
    execute = functools.partial(unwrap_registration_failure, functools.partial(graph_executor.execute, quantum_graph))
    return execute, graph_executor.getReport


def mp_graph_executor(
    quantum_executor: QuantumExecutor, *, num_proc: int, timeout: float, fail_fast: bool, pdb: str | None,
    execution_graph_fixup: ExecutionGraphFixup | None, start_method: str | None = None,
) -> MPGraphExecutor:
    """pipetask's executor of a quantum graph: a step of ``run``, as ``--explain=full`` shows it.

    ``quantum_executor`` executes each quantum; ``num_proc`` is ``-j`` (the
    command calls this at ``-j 1`` only: its own workers run ``-j N``),
    ``timeout`` the effective ``--timeout``, then ``--fail-fast``,
    ``--pdb``, the ``--graph-fixup`` object and ``--start-method``.
    """
    from lsst.pipe.base.mp_graph_executor import MPGraphExecutor

    return MPGraphExecutor(
        num_proc=num_proc, timeout=timeout, quantum_executor=quantum_executor, start_method=start_method,
        fail_fast=fail_fast, pdb=pdb, execution_graph_fixup=execution_graph_fixup,
    )


def import_graph_fixup(graph_fixup: str | None):
    """Import and make the ``--graph-fixup`` object, as pipetask does."""
    if not graph_fixup:
        return None
    from lsst.pipe.base.execution_graph_fixup import ExecutionGraphFixup
    from lsst.utils.doImport import doImportType

    with blame("--graph-fixup", ImportError, TypeError, message=f"cannot import {graph_fixup!r}"):
        factory = doImportType(graph_fixup)
    # The factory is the user's code: whatever it raises is the option's fault.
    with blame("--graph-fixup", Exception):
        fixup = factory()
    if not isinstance(fixup, ExecutionGraphFixup):
        raise PipetaskLiteError(f"{graph_fixup!r} does not make an ExecutionGraphFixup", option="--graph-fixup")
    return fixup


def import_lsst_debug() -> None:
    """``--debug``: import the user's ``debug.py`` so lsstDebug sees it, as pipetask does."""
    try:
        import debug  # noqa: F401
    except ImportError:
        _LOG.warning("No 'debug' module found.")


@contextlib.contextmanager
def coverage_enabled(enabled: bool, *, cov_report: bool, cov_packages: Sequence[str]) -> Iterator[None]:
    """``--coverage``: measure coverage of the whole command, as pipetask does."""
    if not enabled:
        yield
        return
    try:
        import coverage
    except ModuleNotFoundError:
        raise PipetaskLiteError("the coverage package is not installed", option="--coverage") from None
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".coveragerc") as rcfile:
        rcfile.write("[run]\nbranch = True\nconcurrency = multiprocessing\n")
        if cov_packages:
            rcfile.write(f"source_pkgs = {','.join(cov_packages)}\n")
        rcfile.flush()
        cov = coverage.Coverage(config_file=rcfile.name)
        cov.start()
        try:
            yield
        finally:
            cov.stop()
            cov.save()
            if cov_report:
                cov.html_report(directory="./covhtml")
                print("Coverage report written to ./covhtml.", file=sys.stderr)


@contextlib.contextmanager
def profiled(filename: str | None) -> Iterator[None]:
    """``--profile``: cProfile statistics of the block, written also when it raises.

    (`lsst.utils.timer.profile`, which pipetask uses, leaves the profiler
    running and writes nothing when quanta fail.)
    """
    if not filename:
        yield
        return
    import cProfile

    profiler = cProfile.Profile()
    _LOG.info("Enabling cProfile profiling")
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        make_parents(filename, "--profile")
        with blame("--profile", OSError):
            profiler.dump_stats(filename)
        _LOG.info("cProfile stats written to %s", filename)


def _sort_quanta(result: RunResult) -> None:
    """Split the executor's per-quantum reports into succeeded, failed and blocked."""
    from lsst.pipe.base.quantum_reports import ExecutionStatus

    for report in result.report.quantaReports if result.report else []:
        match report.status:
            case ExecutionStatus.SUCCESS:
                result.succeeded.append(report)
            case ExecutionStatus.SKIPPED:
                result.blocked.append(report)
            case _:
                result.failed.append(report)


def _failure_message(result: RunResult, failure: Exception | None) -> str:
    """Say how many quanta failed and, for each failure, where and why."""
    lines = [
        f"{len(result.failed)} of {result.n_quanta} quanta failed"
        + (f", {len(result.blocked)} blocked by failures upstream" if result.blocked else "")
        + f"; {len(result.succeeded)} succeeded (outputs in {result.output_run!r})"
    ]
    for report in result.failed:
        data_id = ", ".join(f"{k}={v!r}" for k, v in report.dataId.items())
        why = (
            f"{report.exceptionInfo.className}: {report.exceptionInfo.message}"
            if report.exceptionInfo
            else report.status.name
        )
        lines.append(f"  {report.taskLabel}@{{{data_id}}}: {why}")
    if failure is not None and (not result.failed or "One or more tasks failed" not in str(failure)):
        lines.append(f"  {failure}")  # e.g. a timeout, which also says what did not finish
    return "\n".join(lines)
