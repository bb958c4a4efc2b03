"""The options of ``qgraph`` and ``run``, checked once, with what follows from them.

`pipetask_lite.qgraph` and `pipetask_lite.run` take every option as an
explicit keyword (that is the API); the first thing each does is to put them
into one of these frozen objects, whose construction checks the rules between
them (`pipetask_lite._rules`) and computes, once, the values derived from
them: whether the output run is searched for existing outputs, whether the
executor clobbers, whether the plain `SimplePipelineExecutor` recipe builds
the graph.  The steps after that (`pipetask_lite._qgraph.make_quantum_graph`,
`pipetask_lite._execution`) take the object, and ``--explain`` builds the same
object from the parsed command line to decide what to print.

Nothing here imports ``lsst``: ``--explain`` and usage errors answer at once.
"""

from __future__ import annotations

__all__ = ("GraphOptions", "RunOptions")

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._rules import (
    check_execution_numbers,
    check_graph_options,
    executor_clobbers,
    graph_builder_reasons,
    skip_existing_collections,
    skips_existing,
)
from ._parallel import START_METHODS
from .errors import UsageError

MP_TIMEOUT = 3600 * 24 * 30
"""pipetask's default for ``--timeout``: 30 days, i.e. none in practice."""


@dataclass(frozen=True)
class GraphOptions:
    """The checked options that build (or load) a quantum graph: ``qgraph``, and ``run``'s first half.

    The fields are the keywords of `pipetask_lite.qgraph` (without
    ``summary``), described there; constructing the object checks the rules
    between them (`pipetask_lite._rules.check_graph_options`) and raises
    `pipetask_lite.UsageError` for the first one broken.

    Attributes
    ----------
    skips_existing : `bool`
        ``--skip-existing``, or ``--extend-run``, which implies it: the output
        run is searched for existing outputs too.
    builder_reasons : `tuple` [`str`, ...]
        The options (``dest`` names) that need pipe_base's
        `AllDimensionsQuantumGraphBuilder` rather than the plain recipe.
    uses_simple_executor : `bool`
        Whether a new graph is built by `SimplePipelineExecutor.from_pipeline_graph`.
    """

    butler_config: str
    input: Sequence[str] = ()
    output: str | None = None
    output_run: str | None = None
    pipeline: str | None = None
    pipeline_actions: Sequence[Any] = ()
    save_pipeline: str | None = None
    select_tasks: str = ""
    pipeline_dot: str | None = None
    pipeline_mermaid: str | None = None
    data_query: str = ""
    qgraph: str | None = None
    qgraph_id: str | None = None
    qgraph_node_id: Sequence[str] = ()
    qgraph_datastore_records: bool = False
    skip_existing_in: Sequence[str] = ()
    skip_existing: bool = False
    retained_dataset_types: str | None = None
    prune_unanchored_quanta: str | Sequence[str] | None = None
    save_qgraph: str | None = None
    qgraph_dot: str | None = None
    qgraph_mermaid: str | None = None
    dataset_query_constraint: str = "all"
    data_id_table: Sequence[str] = ()
    mock: bool = False
    mock_failure: Sequence[str] = ()
    unmocked_dataset_types: Sequence[str] = ()
    extend_run: bool = False
    replace_run: bool = False
    prune_replaced: str | None = None
    rebase: bool = False
    clobber_outputs: bool = False
    show: Sequence[str] = ()
    # Derived, in __post_init__.
    skips_existing: bool = field(init=False)
    builder_reasons: tuple[str, ...] = field(init=False)
    uses_simple_executor: bool = field(init=False)

    def __post_init__(self) -> None:
        check_graph_options(
            qgraph=self.qgraph, pipeline=self.pipeline, pipeline_actions=self.pipeline_actions,
            save_pipeline=self.save_pipeline, select_tasks=self.select_tasks, pipeline_dot=self.pipeline_dot,
            pipeline_mermaid=self.pipeline_mermaid, qgraph_id=self.qgraph_id, qgraph_node_id=self.qgraph_node_id,
            data_query=self.data_query, data_id_table=self.data_id_table,
            dataset_query_constraint=self.dataset_query_constraint, mock=self.mock, mock_failure=self.mock_failure,
            unmocked_dataset_types=self.unmocked_dataset_types, input=self.input, output=self.output,
            output_run=self.output_run, extend_run=self.extend_run, replace_run=self.replace_run,
            prune_replaced=self.prune_replaced, skip_existing_in=self.skip_existing_in,
            skip_existing=self.skip_existing, retained_dataset_types=self.retained_dataset_types,
            prune_unanchored_quanta=self.prune_unanchored_quanta,
        )
        reasons = graph_builder_reasons(self)
        # A frozen dataclass sets its own derived fields this way.
        object.__setattr__(self, "skips_existing",
                           skips_existing(skip_existing=self.skip_existing, extend_run=self.extend_run))
        object.__setattr__(self, "builder_reasons", reasons)
        object.__setattr__(self, "uses_simple_executor", not reasons)

    @classmethod
    def from_namespace(cls, args) -> GraphOptions:
        """The options of a parsed ``qgraph`` or ``run`` command line (for the checks and ``--explain``).

        The command itself passes each value to `pipetask_lite.qgraph` or
        `pipetask_lite.run` by its keyword; this only reads the same names.
        """
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.init})

    def skip_existing_in_for(self, output_run: str | None) -> tuple[str, ...]:
        """The collections searched for existing outputs, for the graph builder and the executor alike."""
        return skip_existing_collections(self.skip_existing_in, output_run, skip_existing=self.skip_existing,
                                         extend_run=self.extend_run)


@dataclass(frozen=True)
class RunOptions:
    """The checked options of ``run``: its graph options and its execution options.

    The execution fields are the keywords of `pipetask_lite.run`, described
    there; constructing the object checks them (``-j``, ``-n``,
    ``--timeout``, ``--start-method``) and raises `pipetask_lite.UsageError`.

    Attributes
    ----------
    graph : `GraphOptions`
        The options that build or load the graph.
    resume_command : `~collections.abc.Callable` or `None`
        Given an output run, the command that resumes it; the command line
        passes it so that, at ``-j 1``, a watcher process can say it when a
        quantum takes the command down (`pipetask_lite._watch`).
    clobbers : `bool`
        Whether the executor removes earlier outputs of a quantum it runs:
        ``--clobber-outputs`` only with ``--extend-run``, as pipetask.
    effective_start_method : `str` or `None`
        ``--start-method``, with ``fork`` replaced by ``spawn``.
    effective_timeout : `int`
        ``--timeout``, or pipetask's default.
    """

    graph: GraphOptions
    register_dataset_types: bool = False
    skip_init_writes: bool = False
    init_only: bool = False
    no_versions: bool = False
    processes: int = 1
    timeout: int | None = None
    start_method: str | None = None
    fail_fast: bool = False
    raise_on_partial_outputs: bool = True
    cores_per_quantum: int = 1
    memory_per_quantum: str = ""
    summary: str | None = None
    enable_implicit_threading: bool = False
    debug: bool = False
    pdb: str | None = None
    profile: str | None = None
    graph_fixup: str | None = None
    coverage: bool = False
    cov_report: bool = True
    cov_packages: Sequence[str] = ()
    progress: bool = True
    resume_command: Callable[[str], str] | None = None
    # Derived, in __post_init__.
    clobbers: bool = field(init=False)
    effective_start_method: str | None = field(init=False)
    effective_timeout: int = field(init=False)

    def __post_init__(self) -> None:
        check_execution_numbers(processes=self.processes, cores_per_quantum=self.cores_per_quantum,
                                timeout=self.timeout)
        if self.start_method is not None and self.start_method not in START_METHODS:
            raise UsageError(f"{self.start_method!r} is not one of {', '.join(map(repr, START_METHODS))}",
                             option="--start-method")
        object.__setattr__(self, "clobbers", executor_clobbers(clobber_outputs=self.graph.clobber_outputs,
                                                               extend_run=self.graph.extend_run))
        object.__setattr__(self, "effective_start_method", "spawn" if self.start_method == "fork" else self.start_method)
        object.__setattr__(self, "effective_timeout", MP_TIMEOUT if self.timeout is None else self.timeout)

    @property
    def with_datastore_records(self) -> bool:
        """Whether a new graph carries its inputs' datastore records, for quantum-backed butlers.

        A run that exists does not get them at ``-j 1`` (full butlers find
        its earlier outputs); ``--show`` stops before execution and prints
        pipetask's graph, without records.
        """
        return (self.processes > 1 or not self.graph.extend_run) and not self.graph.show
