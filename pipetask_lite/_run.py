"""`run`: what ``pipetask run`` does, as one function of the public LSST API.

Read `run` from top to bottom: the options checked once (`RunOptions`), then
the steps of LSST's `~lsst.pipe.base.separable_pipeline_executor.SeparablePipelineExecutor`
in its order: the pipeline (`build_pipeline`, as `pipetask_lite.build`), the
collections and the quantum graph (`make_quantum_graph`, as
`pipetask_lite.qgraph`), and only then, every check done, the writes: the
output collections (`make_output_butler`), the init-outputs
(`pre_execute_qgraph`) and the execution (`run_pipeline`).  The plain recipe
(``-b -i -o -p -d -c --register-dataset-types``) is the one from
`lsst.pipe.base.simple_pipeline_executor.SimplePipelineExecutor`; where that
class cannot express an option, the lower-level pipe_base classes it is made
of take over, and the code says why.
"""

from __future__ import annotations

__all__ = (
    "RunOptions",
    "RunResult",
    "check_before_writing",
    "make_output_butler",
    "pre_execute_qgraph",
    "run",
    "run_pipeline",
    "worker_setup",
    "write_init_outputs",
)

import contextlib
import functools
import logging
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ._build import build_pipeline
from ._collections import make_output_collections
from ._compat import disables_threading_before_build
from ._execution import (
    ExecutionOptions,
    RunResult,
    execute_to_the_end,
    import_graph_fixup,
    import_lsst_debug,
    make_executor,
    run_option,
)
from ._execution.interrupt import Terminated, stop_between_quanta
from ._execution.parallel import WorkerPool, WorkerSetup
from ._execution.registration import BatchRegistration
from ._execution.watch import start as start_watcher
from ._qgraph import GraphOptions, make_quantum_graph
from ._util import blame, given_butler, make_show, open_butler, warn_unhandled_show
from .actions import PipelineAction
from .errors import Interrupted, PipetaskLiteError

if TYPE_CHECKING:
    from lsst.daf.butler import Butler, DataCoordinate, DatasetRef
    from lsst.pex.config import Config
    from lsst.pipe.base import ExecutionResources
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph

    from ._collections import CollectionPlan

_LOG = logging.getLogger("lsst.pipetask_lite")


@dataclass(frozen=True, kw_only=True)
class RunOptions(ExecutionOptions):
    """The checked options of ``run``: its graph options, the execution options, and its own.

    The fields are the keywords of `run`, described there, each with what it
    becomes in the LSST API (``lsst_call``, for docs/options.md); the graph
    ones are in `graph`.  Made once by `run` from its keywords (and by the
    command line from its options merged with ``-@``); making it checks them
    (`GraphOptions`, then `ExecutionOptions`) and raises
    `pipetask_lite.UsageError`.

    Attributes
    ----------
    graph : `GraphOptions`
        The options that build or load the graph.
    resume_command : `~collections.abc.Callable` or `None`
        Given an output run, the command that resumes it; the command line
        passes it so that, at ``-j 1``, a watcher process can say it when a
        quantum takes the command down (`pipetask_lite._execution.watch`).
    clobbers : `bool`
        Whether the executor removes earlier outputs of a quantum it runs:
        ``--clobber-outputs`` only with ``--extend-run``, as pipetask's
        ``script/run.py`` (its graph builder, ``script/qgraph.py``, gets
        ``--clobber-outputs`` as given, and so does pipetask-lite's).
    """

    graph: GraphOptions
    register_dataset_types: bool = run_option(False, lsst_call="`pipeline_graph.register_dataset_types(butler)`")
    skip_init_writes: bool = run_option(
        False, lsst_call="skips `qg.write_init_outputs`, `qg.write_configs`, `qg.write_packages`",
    )
    init_only: bool = run_option(False, lsst_call="stops after `qg.write_init_outputs(...)`")
    no_versions: bool = run_option(False, lsst_call="skips `qg.write_packages(...)`")
    graph_fixup: str | None = run_option(None, lsst_call="`MPGraphExecutor(execution_graph_fixup=...)`")
    resume_command: Callable[[str], str] | None = run_option(None, lsst_call=None, api_only=True)

    @classmethod
    def from_keywords(cls, keywords: Mapping[str, Any], **given: Any) -> RunOptions:
        """`run`'s options from its keywords: the graph's first (`GraphOptions`), then the rest."""
        return super().from_keywords(keywords, graph=GraphOptions.from_keywords(keywords), **given)

    @classmethod
    def from_namespace(cls, args, **given: Any) -> RunOptions:
        """``run``'s options from its command line: the graph's first (`GraphOptions`), then the rest."""
        return super().from_namespace(args, graph=GraphOptions.from_namespace(args), **given)

    @property
    def clobbers(self) -> bool:
        """Whether the executor removes a quantum's earlier outputs: ``--clobber-outputs`` only with ``--extend-run``."""
        return bool(self.graph.clobber_outputs and self.graph.extend_run)

    @property
    def with_datastore_records(self) -> bool:
        """Whether a new graph carries its inputs' datastore records, for quantum-backed butlers.

        A run that exists does not get them at ``-j 1`` (full butlers find
        its earlier outputs); ``--show`` stops before execution and prints
        pipetask's graph, without records.
        """
        return (self.processes > 1 or not self.graph.extend_run) and not self.graph.show

def run(
    *,
    butler_config: str,
    input: Sequence[str] = (),
    output: str | None = None,
    output_run: str | None = None,
    pipeline: str | None = None,
    pipeline_actions: Sequence[PipelineAction | tuple[str, str]] = (),
    save_pipeline: str | None = None,
    select_tasks: str = "",
    pipeline_dot: str | None = None,
    pipeline_mermaid: str | None = None,
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
    extend_run: bool = False,
    replace_run: bool = False,
    prune_replaced: Literal["unstore", "purge"] | None = None,
    rebase: bool = False,
    skip_existing_in: Sequence[str] = (),
    skip_existing: bool = False,
    retained_dataset_types: str | None = None,
    prune_unanchored_quanta: str | tuple[str, str] | None = None,
    clobber_outputs: bool = False,
    qgraph: str | None = None,
    qgraph_id: str | None = None,
    qgraph_node_id: Sequence[str] = (),
    qgraph_datastore_records: bool = False,
    save_qgraph: str | None = None,
    qgraph_dot: str | None = None,
    qgraph_mermaid: str | None = None,
    dataset_query_constraint: str = "all",
    data_id_table: Sequence[str] = (),
    mock: bool = False,
    mock_failure: Sequence[str] = (),
    unmocked_dataset_types: Sequence[str] = (),
    show: Sequence[str] = (),
    debug: bool = False,
    pdb: str | None = None,
    profile: str | None = None,
    graph_fixup: str | None = None,
    coverage: bool = False,
    cov_report: bool = True,
    cov_packages: Sequence[str] = (),
    progress: bool = True,
    resume_command: Callable[[str], str] | None = None,
    config: Config | None = None,
    label: str | None = None,
    bind: Mapping[str, Any] | None = None,
    data_ids: Iterable[Mapping[str, Any] | DataCoordinate | DatasetRef] | None = None,
) -> RunResult | None:
    """Build a pipeline and its quantum graph, then execute it: ``pipetask run``.

    Every keyword is named after the long form of the ``pipetask run`` option
    it comes from and has the same default.  The graph keywords are described
    in full in `pipetask_lite.qgraph`, the pipeline ones in `pipetask_lite.build`.

    Parameters
    ----------
    butler_config : `str` or `lsst.daf.butler.Butler`
        ``-b``: the data repository, or (from Python) a butler opened on it,
        which is used as it is (a writeable one for `run`) and not closed.
    input : `~collections.abc.Sequence` [`str`], optional
        ``-i``: input collections, searched in order; CHAINED collections are
        flattened into the new output chain, as pipetask does.
    output : `str`, optional
        ``-o``: output CHAINED collection, created as ``[output_run, *input]``
        or, if it exists, extended with ``output_run`` in front.
    output_run : `str`, optional
        ``--output-run``: the RUN collection for all outputs; by default
        ``OUTPUT/TIMESTAMP`` (with ``extend_run``: the first child of ``-o``).
    pipeline : `str`, `lsst.pipe.base.Pipeline`, `lsst.pipe.base.PipelineGraph` or `type`, optional
        ``-p``: pipeline YAML file; ``file.yaml#label1,subset2`` selects tasks
        (`lsst.pipe.base.Pipeline.from_uri`).  From Python also a `Pipeline`
        (copied, then edited by ``pipeline_actions``), a `PipelineGraph`
        (used as it is: no ``pipeline_actions``) or a `PipelineTask`
        subclass (with ``config`` and ``label``).
    pipeline_actions : `~collections.abc.Sequence`, optional
        ``-t``, ``--delete``, ``-c``, ``-C`` and ``--instrument``, applied in
        this order.  Each item is a `PipelineAction` or a pair
        ``(option, value)`` such as ``("config", "isr:overscan.fitType=MEDIAN")``
        or ``("instrument", "lsst.obs.decam.DarkEnergyCamera")``; from Python
        a task or instrument class (or instrument instance) may stand for
        its name.
    save_pipeline, select_tasks, pipeline_dot, pipeline_mermaid : optional
        ``-s``, ``--select-tasks``, ``--pipeline-dot``, ``--pipeline-mermaid``
        (see `pipetask_lite.build`).
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
        ``--no-versions``: do not write (or compare) the ``packages`` dataset.
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
    extend_run : `bool`, optional
        ``--extend-run``: write into the existing output run; implies
        ``skip_existing``.
    replace_run : `bool`, optional
        ``--replace-run``: take the first child out of the existing ``-o``
        chain and put a new run in its place.
    prune_replaced : `str`, optional
        ``--prune-replaced``: ``"unstore"`` the replaced run's task outputs
        or ``"purge"`` the whole run.
    rebase : `bool`, optional
        ``--rebase``: reorder an existing ``-o`` chain to agree with ``-i``.
    skip_existing_in : `~collections.abc.Sequence` [`str`], optional
        ``--skip-existing-in``: skip quanta whose outputs all exist there.
    skip_existing : `bool`, optional
        ``--skip-existing``: the same, in the output run.
    retained_dataset_types, prune_unanchored_quanta : optional
        ``--retained-dataset-types``, ``--prune-unanchored-quanta``: graph
        options of newer releases (see `pipetask_lite.qgraph`).
    clobber_outputs : `bool`, optional
        ``--clobber-outputs``: with ``extend_run``, remove a failed quantum's
        partial outputs before running it again.
    qgraph, qgraph_id, qgraph_node_id : optional
        ``-g``, ``--qgraph-id``, ``--qgraph-node-id``: execute a saved graph
        (or some of its quanta) instead of building one.  From Python
        ``qgraph`` may be the graph `pipetask_lite.qgraph` returned (a
        `~lsst.pipe.base.quantum_graph.PredictedQuantumGraph`, or an old
        `~lsst.pipe.base.QuantumGraph`), executed as it is, under the rules
        of ``-g`` (``qgraph_id`` and ``qgraph_node_id`` are for files).
    qgraph_datastore_records, save_qgraph, qgraph_dot, qgraph_mermaid, \
dataset_query_constraint, data_id_table, mock, mock_failure, \
unmocked_dataset_types : optional
        Graph options (see `pipetask_lite.qgraph`).
    show : `~collections.abc.Sequence` [`str`], optional
        ``--show``: pipeline items stop before the graph is built, graph items
        before execution (see `pipetask_lite.qgraph`).
    debug : `bool`, optional
        ``--debug``: import ``debug.py`` for lsstDebug in every quantum.
    pdb : `str`, optional
        ``--pdb``: debugger module for post-mortem on a failing quantum.
    profile : `str`, optional
        ``--profile``: write cProfile statistics of the execution here.
    graph_fixup : `str`, optional
        ``--graph-fixup``: class or factory of an
        `lsst.pipe.base.execution_graph_fixup.ExecutionGraphFixup`.
    coverage, cov_report, cov_packages : optional
        ``--coverage``, ``--[no-]cov-report``, ``--cov-packages``: measure
        code coverage (needs the coverage package).
    progress : `bool`, optional
        Draw a progress bar while quanta run, if stderr is a terminal or
        this is a Jupyter notebook.
    config, label : optional
        Python only: as for `pipetask_lite.build`.
    bind, data_ids : optional
        Python only: as for `pipetask_lite.qgraph`.
    resume_command : `~collections.abc.Callable` [[`str`], `str`], optional
        Given the output run, the command that resumes it.  With it (the
        command line gives it) a ``-j 1`` run starts a watcher process that
        says this command if a quantum takes the process down
        (`pipetask_lite._execution.watch`).

    Returns
    -------
    result : `RunResult` or `None`
        Output collections, the quantum graph, and how each quantum ended;
        `None` if ``show`` stopped before execution.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised, naming the option at fault, for bad input; nothing has been
        written to the repo then.
    pipetask_lite.QuantaFailedError
        Raised after execution if any quantum failed; ``exc.result`` is the
        `RunResult`.
    """
    # The options checked once (the command line's too, after -@ is merged),
    # with what follows from them; then the values that need no repo:
    # nothing is opened yet.  From here on, only `options` is read.
    options = RunOptions.from_keywords(locals())
    graph = options.graph
    show_info = make_show(graph.show)
    resources = options.resources()
    options.check_outputs()
    if not options.enable_implicit_threading and disables_threading_before_build():
        # As pipetask of this release: before the pipeline's task imports and
        # the graph builder make their thread pools (check_before_writing does it again,
        # as script.run does, which is all older releases do).
        from lsst.utils.threads import disable_implicit_threading

        disable_implicit_threading()
    with options.started() as pool:
        # 1. The pipeline (pipetask_lite.build): -p, then -t/--delete/-c/-C/
        #    --instrument in command-line order.  Nothing touches the repo yet.
        factory = None
        if graph.qgraph is None:
            factory = build_pipeline(
                pipeline=graph.pipeline, pipeline_actions=graph.pipeline_actions,
                save_pipeline=graph.save_pipeline, select_tasks=graph.select_tasks,
                pipeline_dot=graph.pipeline_dot, pipeline_mermaid=graph.pipeline_mermaid,
                show_info=show_info, config=graph.config, label=graph.label,
            )
            if show_info.handled and not show_info.unhandled:
                print("No quantum graph generated or pipeline executed. "
                      "The --show option was given and all options were processed.", file=sys.stderr)
                return None

        # 2. Collections and the quantum graph (pipetask_lite.qgraph), on a
        #    read-only butler: every check happens before the first write.
        #    (SimplePipelineExecutor.prep_butler would create the output
        #    collections first and check nothing.)
        build_graph = functools.partial(
            make_quantum_graph, factory, graph, show_info=show_info, for_execution=True,
            # For quantum-backed butlers (see run_pipeline).
            with_datastore_records=options.with_datastore_records,
        )
        # Quanta killed between their metadata and their log look finished
        # to the graph builder and the executor, and the log would be lost
        # for good (as with pipetask); they are run again instead.
        cut = _cut_quanta(graph.butler_config, factory(resolve=False), output=graph.output,
                          output_run=graph.output_run, clobber_outputs=graph.clobber_outputs,
                          ) if graph.extend_run and factory is not None else []
        # Every input is checked here (the graph may be empty only when the
        # cut quanta are all that is left to do).
        quantum_graph, plan = build_graph(allow_empty=bool(cut))
        if graph.extend_run and factory is None:
            # A saved graph (-g): those of its quanta that were cut short.
            in_graph = {(node["task_label"], node["data_id"].required_values)
                        for node in quantum_graph.quantum_only_xgraph.nodes.values()}
            cut = _cut_quanta(graph.butler_config, quantum_graph.pipeline_graph, output=graph.output,
                              output_run=plan.output_run, clobber_outputs=graph.clobber_outputs, only=in_graph)
        warn_unhandled_show(show_info, "run")
        if show_info.handled:
            print("No pipeline executed. The --show option was given and all options were processed.",
                  file=sys.stderr)
            return None
        if cut:
            # The first write: without their metadata they are incomplete
            # quanta, which --clobber-outputs redoes.  A new graph includes
            # them; a saved one has them already.
            with open_butler(graph.butler_config, writeable=True) as butler:
                butler.pruneDatasets(cut, disassociate=True, unstore=True, purge=True)
            _LOG.warning("Running %d quanta again that were cut short after writing their metadata.", len(cut))
            if factory is not None:
                quantum_graph, plan = build_graph()
        # 3. What needs no writing, checked before the first write.
        fixup = check_before_writing(quantum_graph, options)
        # 4. The first write: the output RUN and CHAINED collections.
        butler = make_output_butler(graph, plan, quantum_graph.pipeline_graph)
        setup = worker_setup(quantum_graph, plan, options, butler=butler, resources=resources)
        if pool is not None and setup.quantum_backed and not options.init_only:
            # Quantum-backed butlers read nothing from the registry, so the
            # workers can make theirs while step 5 writes.
            pool.prepare(setup)
        result = RunResult(output=graph.output, output_run=plan.output_run, quantum_graph=quantum_graph)
        with butler:
            # 5. Dataset types, init-outputs, configs and software versions.
            pre_execute_qgraph(quantum_graph, butler, options, output_run=plan.output_run)
            if options.init_only:
                return result
            # 6. Execution.
            return run_pipeline(quantum_graph, butler, options, setup, result=result, pool=pool,
                                execution_graph_fixup=fixup)


def check_before_writing(quantum_graph: PredictedQuantumGraph, options: RunOptions):
    """What needs no writing: dataset types registered, the ``--graph-fixup``, threads.

    Returns
    -------
    fixup : `lsst.pipe.base.execution_graph_fixup.ExecutionGraphFixup` or `None`
        The ``--graph-fixup`` object.
    """
    from lsst.daf.butler import MissingDatasetTypeError
    from lsst.daf.butler.registry import ConflictingDefinitionError
    from lsst.utils.threads import disable_implicit_threading

    if not options.register_dataset_types:
        # pipetask finds unregistered dataset types only when it first
        # writes, after creating the output collections; check now.
        with open_butler(options.graph.butler_config) as read_butler, blame(
            "--register-dataset-types", MissingDatasetTypeError, ConflictingDefinitionError
        ):
            quantum_graph.pipeline_graph.check_dataset_type_registrations(
                read_butler, include_packages=not options.no_versions
            )
    fixup = import_graph_fixup(options.graph_fixup)
    if not options.enable_implicit_threading:
        disable_implicit_threading()
    return fixup


def make_output_butler(graph: GraphOptions, plan: CollectionPlan, pipeline_graph) -> Butler:
    """The first write: make the output RUN and CHAINED collections; return a writeable butler on them."""
    from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

    # (prep_butler opens the repo itself; a caller's own butler goes the other way.)
    if graph.output is not None and not graph.extend_run and not graph.replace_run and not given_butler(
        graph.butler_config
    ):
        # The SimplePipelineExecutor recipe, given pipetask's flattened chain.
        return SimplePipelineExecutor.prep_butler(
            graph.butler_config, inputs=plan.chain, output=graph.output, output_run=plan.output_run
        )
    # An existing run, a replaced run, or --output-run alone: pipetask's
    # rules, which prep_butler does not know.
    return make_output_collections(
        graph.butler_config, plan, pipeline_graph=pipeline_graph, extend_run=graph.extend_run,
        prune_replaced=graph.prune_replaced,
    )


def worker_setup(
    quantum_graph: PredictedQuantumGraph, plan: CollectionPlan, options: RunOptions, *, butler: Butler,
    resources: ExecutionResources,
) -> WorkerSetup:
    """How the executor of each quantum is made: by each ``-j N`` worker, and by step 6 at ``-j 1``.

    Quantum-backed butlers for a new run whose graph carries the inputs'
    datastore records, full butlers otherwise (see `run_pipeline`).
    """
    # Why quantum-backed butlers, and where not: see run_pipeline.
    quantum_backed = not plan.output_run_exists and _has_datastore_records(quantum_graph)
    pipeline_graph = quantum_graph.pipeline_graph
    return WorkerSetup(
        butler_config=str(options.graph.butler_config), run=plan.output_run,
        collections=tuple(butler.collections.defaults), resources=resources,
        raise_on_partial_outputs=options.raise_on_partial_outputs,
        # The executor skips quanta whose outputs exist here (--skip-existing-in,
        # and the output run with --skip-existing or --extend-run).
        skip_existing_in=options.graph.skip_existing_in_for(plan.output_run),
        clobber_outputs=options.clobbers, enable_lsst_debug=options.debug,
        quantum_backed=quantum_backed, assume_no_existing_outputs=quantum_backed,
        universe=pipeline_graph.universe,
        dataset_types={node.name: node.dataset_type for node in pipeline_graph.dataset_types.values()},
    )


def pre_execute_qgraph(
    quantum_graph: PredictedQuantumGraph, butler: Butler, options: RunOptions, *, output_run: str
) -> None:
    """Register dataset types, write init-outputs, configs and software versions.

    What `SeparablePipelineExecutor.pre_execute_qgraph` does (and
    SimplePipelineExecutor.run first), split up here because
    ``--register-dataset-types``, ``--skip-init-writes``, ``--no-versions``
    and ``--extend-run`` change it.
    """
    from lsst.daf.butler.registry import ConflictingDefinitionError

    if options.debug:
        import_lsst_debug()
    graph = options.graph
    try:
        if options.register_dataset_types:
            quantum_graph.pipeline_graph.register_dataset_types(butler, include_packages=not options.no_versions)
        if not options.skip_init_writes:
            with blame("--extend-run", ConflictingDefinitionError, ValueError):
                write_init_outputs(quantum_graph, butler, skip_existing=graph.skips_existing,
                                   extend_run=graph.extend_run, include_packages=not options.no_versions)
    except KeyboardInterrupt as exc:
        # The output run exists now: say how to finish it (the resume
        # writes the missing init-outputs and checks those written).
        raise Interrupted(
            "interrupted while writing init-outputs; no quantum ran",
            output_run=output_run, cut=True, terminated=isinstance(exc, Terminated),
        ) from None


def write_init_outputs(
    quantum_graph: PredictedQuantumGraph, butler: Butler, *, skip_existing: bool, extend_run: bool,
    include_packages: bool,
) -> None:
    """Write the graph's init-outputs, task configs and software versions (``packages``).

    ``skip_existing`` (``--skip-existing`` or ``--extend-run``) keeps the
    init-outputs already there; with ``extend_run`` the configs and versions
    already written must match; without ``include_packages``
    (``--no-versions``) no versions are written or compared.
    """
    quantum_graph.write_init_outputs(butler, skip_existing=skip_existing)
    quantum_graph.write_configs(butler, compare_existing=extend_run)
    if include_packages:
        quantum_graph.write_packages(butler, compare_existing=extend_run)


def run_pipeline(
    quantum_graph: PredictedQuantumGraph,
    butler: Butler,
    options: RunOptions,
    setup: WorkerSetup,
    *,
    result: RunResult,
    pool: WorkerPool | None,
    execution_graph_fixup=None,
) -> RunResult:
    """Execute the graph (`SeparablePipelineExecutor.run_pipeline`); return how each quantum ended.

    SimplePipelineExecutor.run stops at the first failing quantum and uses
    one process; pipetask runs every quantum not blocked by a failure,
    honours -j, --fail-fast and --timeout, and reports each quantum.  That is
    pipe_base's MPGraphExecutor driving a SingleQuantumExecutor, which is
    what runs here with -j 1.  With -j N, MPGraphExecutor would start (and
    import the stack in) one process per quantum; pipetask-lite's pool
    keeps N workers instead.

    A full butler's put registers each dataset in a transaction of its own,
    which is most of the time small quanta take.  So quanta of a new run
    are executed with quantum-backed butlers, which write files only, and
    their outputs registered in batches, one transaction each
    (pipetask_lite._execution.registration), at any -j.  Full butlers remain where a
    quantum-backed one cannot do the job:

    - a run that exists (--extend-run) may hold registered outputs of an
      earlier attempt, which --skip-existing must find and --clobber-outputs
      remove from the registry; a quantum-backed butler sees files only;
    - a saved graph (-g) without its inputs' datastore records gives a
      quantum-backed butler no way to find the input files.
    """
    with contextlib.ExitStack() as stack:
        stop = stack.enter_context(stop_between_quanta())
        # Entered after the signal handlers: its exit registers what is left
        # once execution is over, when signals no longer interrupt anything.
        registration = stack.enter_context(BatchRegistration(butler))
        watcher = None
        if pool is None and (watcher := start_watcher(options.resume_command, setup.run)) is not None:
            stack.callback(watcher.done)
        # At -j 1, with a quantum-backed butler (as the -j N workers and
        # run-qbb): a new run has no outputs yet, so nothing is looked for (as
        # `run-qbb --no-existing-outputs`): the existence checks were a fifth
        # of a small quantum's time.  A stray file an unregistered attempt
        # left is overwritten, as pipetask's put does.
        execute, get_report = make_executor(
            quantum_graph, options, setup, pool=pool, stop=stop, registration=registration, butler=butler,
            watcher=watcher, execution_graph_fixup=execution_graph_fixup,
        )
        # Worker processes must not share the parent's database connections.
        butler.registry.resetConnectionPool()
        return execute_to_the_end(
            result, execute, get_report, stop=stop, summary=options.summary, profile=options.profile,
            progress=options.progress,
            kept=f"their outputs are in {setup.run!r}",
        )


def find_cut_quanta(butler_config: str, pipeline_graph, *, output: str | None, output_run: str | None) -> list:
    """The metadata datasets, in the run that ``--extend-run`` extends, of quanta whose log is missing.

    pipe_base writes a quantum's outputs, then its metadata, then its log; a
    process killed between the last two leaves a quantum that looks finished
    (the metadata is what ``--skip-existing`` looks for) but has no log.
    The run is ``--output-run``, or the first child of ``-o``; if there is
    none, `plan_collections` says so later.
    """
    from lsst.daf.butler import CollectionType, MissingCollectionError, MissingDatasetTypeError

    cut = []
    with open_butler(butler_config) as butler:
        try:
            run = output_run
            if run is None and output is not None:
                run = next(iter(butler.collections.get_info(output).children), None)
            if run is None or butler.collections.get_info(run).type is not CollectionType.RUN:
                return []
        except MissingCollectionError:
            return []
        for task_node in pipeline_graph.tasks.values():
            if task_node.log_output is None:
                continue
            try:
                logs = {ref.dataId for ref in butler.query_datasets(
                    task_node.log_output.dataset_type_name, collections=run, explain=False, limit=None)}
                cut += [ref for ref in butler.query_datasets(
                    task_node.metadata_output.dataset_type_name, collections=run, explain=False, limit=None)
                    if ref.dataId not in logs]
            except MissingDatasetTypeError:  # never registered: nothing of this task was written
                continue
    return cut


def _cut_quanta(butler_config: str, pipeline_graph, *, output: str | None, output_run: str | None,
                clobber_outputs: bool, only: set | None = None) -> list:
    """`find_cut_quanta`, limited to the quanta ``only`` (``(label, data ID values)``) if given.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised, before anything is written, if there are any and
        ``--clobber-outputs`` was not given to run them again.
    """
    cut = [ref for ref in find_cut_quanta(butler_config, pipeline_graph, output=output, output_run=output_run)
           if only is None or (_label_of(ref), ref.dataId.required_values) in only]
    if cut and not clobber_outputs:
        raise PipetaskLiteError(
            f"{len(cut)} quanta of run {cut[0].run!r} were cut short after writing their metadata "
            f"(killed before their log was written): {', '.join(sorted(map(_describe_ref, cut))[:3])}"
            + (", ..." if len(cut) > 3 else ""),
            option="--extend-run", hint="add --clobber-outputs to run them again",
        )
    return cut


def _label_of(ref) -> str:
    """The task label of a ``LABEL_metadata`` dataset."""
    return ref.datasetType.name.removesuffix("_metadata")


def _describe_ref(ref) -> str:
    """``label@{detector=1}`` for a metadata dataset of a quantum."""
    return f"{_label_of(ref)}@{{{', '.join(f'{k}={v!r}' for k, v in ref.dataId.required.items())}}}"


def _has_datastore_records(quantum_graph: PredictedQuantumGraph) -> bool:
    """Whether the graph carries its inputs' datastore records (quantum-backed butlers need them)."""
    quantum_graph.build_execution_quanta()
    return any(node["quantum"].datastore_records for node in quantum_graph.quantum_only_xgraph.nodes.values())


