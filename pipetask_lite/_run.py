"""`run`: what ``pipetask run`` does, as one function of the public LSST API.

Read `run` from top to bottom: build the pipeline, check the collections,
build the quantum graph, and only then write to the repo and execute.  The
plain recipe (``-b -i -o -p -d -c --register-dataset-types``) is the one from
`lsst.pipe.base.simple_pipeline_executor.SimplePipelineExecutor`; where that
class cannot express an option, the lower-level pipe_base classes it is made
of take over, and the code says why.
"""

from __future__ import annotations

__all__ = ("RunResult", "run")

import contextlib
import inspect
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .actions import PipelineAction, parse_pipeline_action
from .errors import PipetaskLiteError, QuantaFailedError, UsageError

if TYPE_CHECKING:
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph
    from lsst.pipe.base.quantum_reports import QuantumReport, Report

_LOG = logging.getLogger("lsst.pipetask_lite")

MP_TIMEOUT = 3600 * 24 * 30
"""pipetask's default for ``--timeout``: 30 days, i.e. none in practice."""

ACTION_OPTIONS = {
    "task": "-t/--task",
    "delete": "--delete",
    "config": "-c/--config",
    "config_file": "-C/--config-file",
    "instrument": "--instrument",
}


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
    """

    output: str | None
    output_run: str
    quantum_graph: PredictedQuantumGraph
    report: Report | None = None
    succeeded: list[QuantumReport] = field(default_factory=list)
    failed: list[QuantumReport] = field(default_factory=list)
    blocked: list[QuantumReport] = field(default_factory=list)

    @property
    def n_quanta(self) -> int:
        """Number of quanta in the graph (`int`)."""
        return len(self.quantum_graph)


def run(
    *,
    butler_config: str,
    input: Sequence[str] = (),
    output: str | None = None,
    output_run: str | None = None,
    pipeline: str | None = None,
    pipeline_actions: Sequence[PipelineAction | tuple[str, str]] = (),
    save_pipeline: str | None = None,
    data_query: str = "",
    register_dataset_types: bool = False,
    skip_init_writes: bool = False,
    init_only: bool = False,
    no_versions: bool = False,
    processes: int = 1,
    timeout: int | None = None,
    start_method: Literal["spawn", "fork", "forkserver"] | None = None,
    fail_fast: bool = False,
    raise_on_partial_outputs: bool = True,
    cores_per_quantum: int = 1,
    memory_per_quantum: str = "",
    summary: str | None = None,
    enable_implicit_threading: bool = False,
    # Options pipetask has that pipetask-lite does not implement yet; giving
    # any of them raises UsageError rather than silently doing nothing.
    show: Sequence[str] = (),
    debug: bool = False,
    select_tasks: str = "",
    pipeline_dot: str | None = None,
    pipeline_mermaid: str | None = None,
    qgraph: str | None = None,
    qgraph_id: str | None = None,
    qgraph_node_id: Sequence[str] = (),
    qgraph_datastore_records: bool = False,
    skip_existing_in: Sequence[str] = (),
    skip_existing: bool = False,
    save_qgraph: str | None = None,
    qgraph_dot: str | None = None,
    qgraph_mermaid: str | None = None,
    dataset_query_constraint: str = "all",
    data_id_table: Sequence[str] = (),
    mock: bool = False,
    mock_failure: Sequence[str] = (),
    unmocked_dataset_types: Sequence[str] = (),
    extend_run: bool = False,
    replace_run: bool = False,
    prune_replaced: Literal["unstore", "purge"] | None = None,
    rebase: bool = False,
    clobber_outputs: bool = False,
    pdb: str | None = None,
    profile: str | None = None,
    graph_fixup: str | None = None,
    coverage: bool = False,
    cov_report: bool = True,
    cov_packages: Sequence[str] = (),
    progress: bool = True,
) -> RunResult:
    """Build a pipeline and its quantum graph, then execute it: ``pipetask run``.

    Every keyword is named after the long form of the ``pipetask run`` option
    it comes from and has the same default.

    Parameters
    ----------
    butler_config : `str`
        ``-b``: the data repository.
    input : `~collections.abc.Sequence` [`str`], optional
        ``-i``: input collections, searched in order; CHAINED collections are
        flattened into the new output chain, as pipetask does.
    output : `str`, optional
        ``-o``: output CHAINED collection, created as ``[output_run, *input]``
        or, if it exists, extended with ``output_run`` in front.
    output_run : `str`, optional
        ``--output-run``: the new RUN collection for all outputs; by default
        ``OUTPUT/TIMESTAMP``.  It must not exist yet.
    pipeline : `str`, optional
        ``-p``: pipeline YAML file; ``file.yaml#label1,subset2`` selects tasks
        (`lsst.pipe.base.Pipeline.from_uri`).
    pipeline_actions : `~collections.abc.Sequence`, optional
        ``-t``, ``--delete``, ``-c``, ``-C`` and ``--instrument``, applied in
        this order.  Each item is a `PipelineAction` or a pair
        ``(option, value)`` such as ``("config", "isr:overscan.fitType=MEDIAN")``
        or ``("instrument", "lsst.obs.decam.DarkEnergyCamera")``.
    save_pipeline : `str`, optional
        ``-s``: write the final pipeline (after the actions) to this YAML file.
    data_query : `str`, optional
        ``-d``: the ``where`` expression that selects data IDs.
    register_dataset_types : `bool`, optional
        ``--register-dataset-types``: register the pipeline's dataset types;
        otherwise they must already be registered.
    skip_init_writes : `bool`, optional
        ``--skip-init-writes``: do not write init-outputs, configs, packages.
    init_only : `bool`, optional
        ``--init-only``: stop after registering and writing init-outputs.
    no_versions : `bool`, optional
        ``--no-versions``: do not write the ``packages`` dataset.
    processes : `int`, optional
        ``-j``: number of processes executing quanta.
    timeout : `int`, optional
        ``--timeout``: wall-time limit in seconds for parallel execution.
    start_method : `str`, optional
        ``--start-method``: ``spawn`` or ``forkserver`` (``fork`` is replaced
        by ``spawn`` with a warning, as in pipetask).
    fail_fast : `bool`, optional
        ``--fail-fast``: stop at the first failing quantum.
    raise_on_partial_outputs : `bool`, optional
        ``--[no-]raise-on-partial-outputs``: treat partial outputs as failures.
    cores_per_quantum : `int`, optional
        ``-n``: cores given to each quantum (`lsst.pipe.base.ExecutionResources`).
    memory_per_quantum : `str`, optional
        ``--memory-per-quantum``: advisory memory per quantum (``"3GB"``;
        plain numbers are MB).
    summary : `str`, optional
        ``--summary``: write the execution report as JSON here.
    enable_implicit_threading : `bool`, optional
        ``--enable-implicit-threading``: leave OpenBLAS & co. multithreaded.
    show, debug, select_tasks, pipeline_dot, pipeline_mermaid, qgraph, \
qgraph_id, qgraph_node_id, qgraph_datastore_records, skip_existing_in, \
skip_existing, save_qgraph, qgraph_dot, qgraph_mermaid, \
dataset_query_constraint, data_id_table, mock, mock_failure, \
unmocked_dataset_types, extend_run, replace_run, prune_replaced, rebase, \
clobber_outputs, pdb, profile, graph_fixup, coverage, cov_report, \
cov_packages : optional
        The pipetask options of the same names.  Not implemented yet: any
        value other than the default raises `UsageError`.
    progress : `bool`, optional
        Draw a progress bar while quanta run, if stderr is a terminal.

    Returns
    -------
    result : `RunResult`
        Output collections, the quantum graph, and how each quantum ended.

    Raises
    ------
    pipetask_lite.UsageError
        Raised for an option that is not implemented yet.
    pipetask_lite.PipetaskLiteError
        Raised, naming the option at fault, for bad input; nothing has been
        written to the repo then.
    pipetask_lite.QuantaFailedError
        Raised after execution if any quantum failed; ``exc.result`` is the
        `RunResult`.
    """
    _refuse_not_implemented(
        show=show, debug=debug, select_tasks=select_tasks, pipeline_dot=pipeline_dot,
        pipeline_mermaid=pipeline_mermaid, qgraph=qgraph, qgraph_id=qgraph_id, qgraph_node_id=qgraph_node_id,
        qgraph_datastore_records=qgraph_datastore_records, skip_existing_in=skip_existing_in,
        skip_existing=skip_existing, save_qgraph=save_qgraph, qgraph_dot=qgraph_dot,
        qgraph_mermaid=qgraph_mermaid, dataset_query_constraint=dataset_query_constraint,
        data_id_table=data_id_table, mock=mock, mock_failure=mock_failure,
        unmocked_dataset_types=unmocked_dataset_types, extend_run=extend_run, replace_run=replace_run,
        prune_replaced=prune_replaced, rebase=rebase, clobber_outputs=clobber_outputs, pdb=pdb,
        profile=profile, graph_fixup=graph_fixup, coverage=coverage, cov_report=cov_report,
        cov_packages=cov_packages,
    )
    if output is None and output_run is None:
        raise UsageError("at least one of -o/--output and --output-run is required")
    if pipeline is None and not pipeline_actions:
        raise UsageError("a pipeline is required: give -p/--pipeline or -t/--task")

    import astropy.units as u
    from lsst.daf.butler import Butler, MissingDatasetTypeError
    from lsst.daf.butler.registry import ConflictingDefinitionError
    from lsst.pipe.base import ExecutionResources, Pipeline, TaskFactory
    from lsst.pipe.base.mp_graph_executor import MPGraphExecutor, MPGraphExecutorError
    from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor
    from lsst.pipe.base.single_quantum_executor import SingleQuantumExecutor
    from lsst.utils.threads import disable_implicit_threading

    from ._collections import plan_collections
    from .progress import quantum_progress

    if start_method == "fork":
        _LOG.warning("Option --start-method=fork is unsafe and no longer supported, using spawn instead.")
        start_method = "spawn"
    if not enable_implicit_threading:
        disable_implicit_threading()

    # 1. The pipeline: read -p, then apply -t/--delete/-c/-C/--instrument in
    #    command-line order.  Nothing touches the repo yet.
    with (
        _blame("-p/--pipeline", ValueError, KeyError),
        _blame("-p/--pipeline", FileNotFoundError, message=f"no such pipeline file: {pipeline!r}"),
    ):
        pipe = Pipeline.from_uri(pipeline) if pipeline else Pipeline("anonymous")
    for action in _as_actions(pipeline_actions):
        with _blame(ACTION_OPTIONS[action.option], Exception):
            match action.option:
                case "instrument":
                    pipe.addInstrument(action.value)
                case "task":
                    pipe.addTask(action.value, action.label)
                case "delete":
                    pipe.removeTask(action.label)
                case "config":
                    name, _, value = action.value.partition("=")
                    pipe.addConfigOverride(action.label, name, value)
                case "config_file":
                    pipe.addConfigFile(action.label, action.value)
    if save_pipeline:
        with _blame("-s/--save-pipeline", OSError):
            pipe.write_to_uri(save_pipeline)
    # Task configs are built and validated here, so a bad -c/-C surfaces now.
    config_option = "-c/--config" if any(a.option in ("config", "config_file") for a in
                                          _as_actions(pipeline_actions)) else "-p/--pipeline"
    with _blame(config_option, Exception):
        pipeline_graph = pipe.to_graph()

    # 2. The collections, on a read-only butler: pipetask's rules, all checked
    #    before the first write.  (SimplePipelineExecutor.prep_butler would
    #    create the output collections first and check nothing.)
    with _blame("-b/--butler-config", FileNotFoundError, message=f"no butler repo at {butler_config!r}"):
        read_butler = Butler.from_config(butler_config, writeable=False)
    with read_butler:
        plan = plan_collections(
            read_butler, repo=str(butler_config), input=input, output=output, output_run=output_run
        )
        if not register_dataset_types:
            # pipetask finds unregistered dataset types only when it first
            # writes, after creating the output collections; check now.
            pipeline_graph.resolve(read_butler.registry)
            with _blame("--register-dataset-types", MissingDatasetTypeError, ConflictingDefinitionError):
                pipeline_graph.check_dataset_type_registrations(read_butler, include_packages=not no_versions)
        with _blame(
            "--memory-per-quantum", ValueError, TypeError,
            message=f"cannot read {memory_per_quantum!r} as a memory size (examples: 3GB, 3000MB, 3000)",
        ):
            resources = ExecutionResources(
                num_cores=cores_per_quantum, max_mem=memory_per_quantum or None, default_mem_units=u.MB
            )

        # 3. The quantum graph, the plain recipe: one quantum per task and
        #    data ID that -d selects, reading from the input collections.
        graph_butler = read_butler.clone(collections=list(plan.search_path))
        with _blame("-d/--data-query", *_query_errors()):
            executor = SimplePipelineExecutor.from_pipeline_graph(
                pipeline_graph,
                where=data_query,
                butler=graph_butler,
                output=output,
                output_run=plan.output_run,
                resources=resources,
                raise_on_partial_outputs=raise_on_partial_outputs,
            )
        quantum_graph = executor.predicted
    if len(quantum_graph) == 0:
        raise PipetaskLiteError(
            f"no quanta: query {data_query!r} selected no data in collections {list(plan.search_path)} "
            f"for the pipeline's inputs ({', '.join(sorted(_overall_inputs(pipeline_graph)))}); "
            "nothing was written",
            option="-d/--data-query",
            hint="check -i/--input and -d/--data-query; the log above names the empty query",
        )

    # 4. First write: the output RUN and CHAINED collections.
    if output is not None:
        butler = SimplePipelineExecutor.prep_butler(
            butler_config, inputs=plan.chain, output=output, output_run=plan.output_run
        )
    else:
        # prep_butler needs a CHAINED output; with only --output-run, pipetask
        # reads from the inputs directly and writes to the run.
        butler = Butler.from_config(
            butler_config, writeable=True, run=plan.output_run, collections=[plan.output_run, *plan.inputs]
        )
        butler.collections.register(plan.output_run)
    result = RunResult(output=output, output_run=plan.output_run, quantum_graph=quantum_graph)
    with butler:
        # 5. Init-outputs, configs and software versions: what
        #    SimplePipelineExecutor.run writes first, split up here because
        #    --skip-init-writes and --no-versions switch parts of it off.
        if register_dataset_types:
            quantum_graph.pipeline_graph.register_dataset_types(butler, include_packages=not no_versions)
        if not skip_init_writes:
            quantum_graph.write_init_outputs(butler, skip_existing=False)
            quantum_graph.write_configs(butler, compare_existing=False)
            if not no_versions:
                quantum_graph.write_packages(butler, compare_existing=False)
        if init_only:
            return result

        # 6. Execution.  SimplePipelineExecutor.run stops at the first failing
        #    quantum and uses one process; pipetask runs every quantum not
        #    blocked by a failure, honours -j, --fail-fast and --timeout, and
        #    reports each quantum.  That is pipe_base's MPGraphExecutor driving
        #    a SingleQuantumExecutor, which is what runs here.
        quantum_executor = SingleQuantumExecutor(
            butler=butler,
            task_factory=TaskFactory(),
            resources=resources,
            raise_on_partial_outputs=raise_on_partial_outputs,
        )
        graph_executor = MPGraphExecutor(
            num_proc=processes,
            timeout=MP_TIMEOUT if timeout is None else timeout,
            start_method=start_method,
            quantum_executor=quantum_executor,
            fail_fast=fail_fast,
        )
        # Worker processes must not share the parent's database connections.
        butler.registry.resetConnectionPool()
        failure: MPGraphExecutorError | None = None
        try:
            with quantum_progress(len(quantum_graph), enabled=progress):
                graph_executor.execute(quantum_graph)
        except MPGraphExecutorError as exc:
            failure = exc
        finally:
            result.report = graph_executor.getReport()
            if summary and result.report is not None:
                with _blame("--summary", OSError), open(summary, "w") as stream:
                    stream.write(result.report.model_dump_json(exclude_none=True, indent=2))
    _sort_quanta(result)
    if failure is not None or result.failed:
        raise QuantaFailedError(_failure_message(result, failure), result=result)
    return result


def _refuse_not_implemented(**given: Any) -> None:
    """Raise `UsageError` naming the first option given that is not implemented yet."""
    defaults = inspect.signature(run).parameters
    for name, value in given.items():
        default = defaults[name].default
        if value != default and not (not value and not default):
            option = "--" + name.replace("_", "-")
            raise UsageError(f"{option} is not implemented yet in pipetask-lite", option=option)


def _as_actions(items: Sequence[PipelineAction | tuple[str, str]]) -> list[PipelineAction]:
    """Accept `PipelineAction` values or ``(option, value)`` pairs from Python callers."""
    actions = []
    for item in items:
        if isinstance(item, PipelineAction):
            actions.append(item)
            continue
        option, text = item
        if option not in ACTION_OPTIONS:
            raise UsageError(f"unknown pipeline action {option!r}; expected one of {', '.join(ACTION_OPTIONS)}")
        try:
            actions.append(parse_pipeline_action(option, text))
        except ValueError as exc:
            raise UsageError(str(exc), option=ACTION_OPTIONS[option]) from None
    return actions


@contextlib.contextmanager
def _blame(
    option: str, *exceptions: type[BaseException], message: str | None = None
) -> Iterator[None]:
    """Turn the given exceptions raised in the body into a one-line error naming ``option``.

    The library's own message is kept (first line only) unless ``message``
    replaces it; the original exception stays chained for ``--traceback``.
    """
    try:
        yield
    except PipetaskLiteError:
        raise
    except exceptions as exc:
        text = str(exc).strip()
        raise PipetaskLiteError(
            message or (text.splitlines()[0] if text else type(exc).__name__), option=option
        ) from exc


def _query_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean the ``-d`` expression itself is wrong."""
    from lsst.daf.butler import InvalidQueryError
    from lsst.daf.butler.registry import UserExpressionError

    return (InvalidQueryError, UserExpressionError)


def _overall_inputs(pipeline_graph) -> list[str]:
    """Names of the dataset types the pipeline reads but does not produce."""
    return [name for name, _ in pipeline_graph.iter_overall_inputs()]


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
    if not result.failed and failure is not None:
        lines.append(f"  {failure}")
    return "\n".join(lines)
