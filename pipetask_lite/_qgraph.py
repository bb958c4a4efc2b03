"""`qgraph`: what ``pipetask qgraph`` does, and the graph step of ``run``.

`GraphOptions` holds the options that build a graph, checked once, with
what follows from them; `qgraph` and `pipetask_lite.run` make one from their
keywords, `make_quantum_graph` and ``--explain`` read it.  (Nothing at the
top of this module imports ``lsst``: ``--explain`` imports it.)
"""

from __future__ import annotations

__all__ = ("GraphOptions", "graph_option", "qgraph")

import contextlib
import dataclasses
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._build import build_pipeline
from ._collections import CollectionPlan, check_graph_output_run, plan_collections
from ._compat import builder_keywords, check_builder_options, graph_metadata
from ._rules import (
    PRUNE_CHOICES,
    KeywordOptions,
    check_collection_names,
    parse_prune_unanchored_quanta,
    read_retained_dataset_types,
)
from ._suggest import single_quotes_note
from ._util import blame, check_writable, file_errors, first_line, make_show, open_butler, open_for_writing, query_errors, warn_unhandled_show
from .actions import PipelineAction
from .errors import EmptyGraphError, OptionValueError, PipetaskLiteError, UsageError

if TYPE_CHECKING:
    from lsst.ctrl.mpexec import PipelineGraphFactory
    from lsst.ctrl.mpexec.showInfo import ShowInfo
    from lsst.daf.butler import Butler, DataCoordinate, DatasetRef
    from lsst.pex.config import Config
    from lsst.pipe.base import PipelineGraph
    from lsst.pipe.base.all_dimensions_quantum_graph_builder import DatasetQueryConstraintVariant
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph, PredictedQuantumGraphComponents

_LOG = logging.getLogger("lsst.pipetask_lite")


def is_given(value) -> bool:
    """An option whose default is `None` is in effect when it is not `None`."""
    return value is not None


def graph_option(
    default=dataclasses.MISSING, /, *, needs_builder: Callable[[Any], bool] | None, lsst_call: str,
    api_only: bool = False,
):
    """A `GraphOptions` field: its default, whether it needs the graph builder, its LSST call (for the docs).

    ``api_only`` fields are keywords of the Python functions that no option
    gives (objects such as ``bind=``): the command line leaves them at their
    default.
    """
    return dataclasses.field(
        default=default, metadata={"needs_builder": needs_builder, "lsst_call": lsst_call, "api_only": api_only}
    )


def _as_text(value):
    """A Python caller's object where the rules want the option's text: what the rule needs is whether it is given."""
    return value if value is None or isinstance(value, str) else f"<{type(value).__name__}>"


@dataclass(frozen=True)
class GraphOptions(KeywordOptions):
    """The checked options that build (or load) a quantum graph: ``qgraph``, and ``run``'s first half.

    The fields are the keywords of `qgraph` (without ``summary``), described
    there; each says what it becomes in the LSST API (``lsst_call``, the
    docs table: docs/options.md) and whether the plain SimplePipelineExecutor
    recipe can express it (``needs_builder``: `None`, or when it needs the
    graph builder).  Constructing the object checks the rules between them
    (`check_rules`) and raises `pipetask_lite.UsageError` for the first one
    broken.  `qgraph` and `pipetask_lite.run` make it from their keywords,
    the command line from its options merged with ``-@``
    (`~pipetask_lite._rules.KeywordOptions`).

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

    butler_config: str = graph_option(
        needs_builder=None,
        lsst_call="`Butler.from_config(...)`; `SimplePipelineExecutor.prep_butler(...)`",
    )
    input: Sequence[str] = graph_option(
        (), needs_builder=None,
        lsst_call="`butler.collections.query(..., flatten_chains=True)`: graph builder `input_collections`, output chain",
    )
    output: str | None = graph_option(
        None, needs_builder=None,
        lsst_call="`SimplePipelineExecutor.prep_butler(output=...)` / `butler.collections.redefine_chain`",
    )
    output_run: str | None = graph_option(
        None, needs_builder=None,
        lsst_call="`prep_butler(output_run=...)`; graph builder `output_run`",
    )
    pipeline: str | None = graph_option(None, needs_builder=None, lsst_call="`Pipeline.from_uri(...)`")
    pipeline_actions: Sequence[Any] = graph_option((), needs_builder=None, lsst_call="see ACTION_CALLS")
    save_pipeline: str | None = graph_option(None, needs_builder=None, lsst_call="`Pipeline.write_to_uri(...)`")
    select_tasks: str = graph_option("", needs_builder=None, lsst_call="`PipelineGraph.select(...)`")
    pipeline_dot: str | None = graph_option(
        None, needs_builder=None,
        lsst_call="`pipeline_graph.visualization.show_dot(...)`",
    )
    pipeline_mermaid: str | None = graph_option(
        None, needs_builder=None,
        lsst_call="`pipeline_graph.visualization.show_mermaid(...)`",
    )
    data_query: str = graph_option(
        "", needs_builder=None,
        lsst_call="`SimplePipelineExecutor.from_pipeline_graph(where=...)` / `AllDimensionsQuantumGraphBuilder(where=...)`",
    )
    qgraph: str | None = graph_option(
        None, needs_builder=None,
        lsst_call="`PredictedQuantumGraph.open(...)` / `QuantumGraph.loadUri(...)`",
    )
    qgraph_id: str | None = graph_option(
        None, needs_builder=None,
        lsst_call="`QuantumGraph.loadUri(graphID=BuildId(...))`",
    )
    qgraph_node_id: Sequence[str] = graph_option(
        (), needs_builder=None,
        lsst_call="`reader.read_execution_quanta(quantum_ids)`",
    )
    qgraph_datastore_records: bool = graph_option(
        False, needs_builder=bool,
        lsst_call="`builder.finish(attach_datastore_records=True)`",
    )
    skip_existing_in: Sequence[str] = graph_option(
        (), needs_builder=bool,
        lsst_call="`AllDimensionsQuantumGraphBuilder(skip_existing_in=...)`; `SingleQuantumExecutor(skip_existing_in=...)`",
    )
    skip_existing: bool = graph_option(False, needs_builder=bool, lsst_call="`skip_existing_in` plus the output run")
    retained_dataset_types: str | None = graph_option(
        None, needs_builder=is_given,
        lsst_call="`AllDimensionsQuantumGraphBuilder(retained_dataset_types=yaml.safe_load(...))` (lsst-pipe-base 30.2026.2600 or newer)",
    )
    prune_unanchored_quanta: str | Sequence[str] | None = graph_option(
        None, needs_builder=is_given,
        lsst_call="`AllDimensionsQuantumGraphBuilder(prune_unanchored_quanta=(SOURCE, ANCHOR))` (lsst-pipe-base 30.2026.2800 or newer)",
    )
    save_qgraph: str | None = graph_option(  # the builder's components are what is written
        None, needs_builder=bool,
        lsst_call="`PredictedQuantumGraphComponents.write(...)`",
    )
    qgraph_dot: str | None = graph_option(
        None, needs_builder=None,
        lsst_call="`lsst.pipe.base.dot_tools.graph2dot(...)`",
    )
    qgraph_mermaid: str | None = graph_option(
        None, needs_builder=None,
        lsst_call="`lsst.pipe.base.mermaid_tools.graph2mermaid(...)`",
    )
    dataset_query_constraint: str = graph_option(
        "all", needs_builder=lambda value: value != "all",
        lsst_call="`AllDimensionsQuantumGraphBuilder(dataset_query_constraint=DatasetQueryConstraintVariant.fromExpression(...))`",
    )
    data_id_table: Sequence[str] = graph_option(
        (), needs_builder=bool,
        lsst_call="`astropy.table.Table.read(...)`; `AllDimensionsQuantumGraphBuilder(data_id_tables=...)`",
    )
    mock: bool = graph_option(
        False, needs_builder=None,
        lsst_call="`lsst.pipe.base.tests.mocks.mock_pipeline_graph(...)`",
    )
    mock_failure: Sequence[str] = graph_option(
        (), needs_builder=None,
        lsst_call="`mock_pipeline_graph(force_failures={label: ForcedFailure(...)})`",
    )
    unmocked_dataset_types: Sequence[str] = graph_option(
        (), needs_builder=None,
        lsst_call="`mock_pipeline_graph(unmocked_dataset_types=...)`",
    )
    extend_run: bool = graph_option(  # implies --skip-existing (skips_existing)
        False, needs_builder=bool,
        lsst_call="graph builder `skip_existing_in=[run]`; `SingleQuantumExecutor(skip_existing_in=...)`",
    )
    replace_run: bool = graph_option(
        False, needs_builder=None,
        lsst_call="`butler.collections.redefine_chain` without the replaced run",
    )
    prune_replaced: str | None = graph_option(
        None, needs_builder=None,
        lsst_call="`butler.pruneDatasets(..., unstore=True)` or `butler.removeRuns([...])`",
    )
    rebase: bool = graph_option(
        False, needs_builder=None,
        lsst_call="`butler.collections.redefine_chain` (reordered chain)",
    )
    clobber_outputs: bool = graph_option(
        False, needs_builder=bool,
        lsst_call="`AllDimensionsQuantumGraphBuilder(clobber=True)`; `SingleQuantumExecutor(clobber_outputs=True)`",
    )
    show: Sequence[str] = graph_option((), needs_builder=None, lsst_call="`lsst.ctrl.mpexec.showInfo.ShowInfo(...)`")
    # Keywords of the Python API only (pipetask_lite._api): objects no option can give.
    config: Any = graph_option(
        None, needs_builder=None, api_only=True,
        lsst_call="`pipeline.addConfigPython(label, config.saveToString())` (as `SimplePipelineExecutor.from_task_class(config=...)`)",
    )
    label: str | None = graph_option(
        None, needs_builder=None, api_only=True,
        lsst_call="`pipeline.addTask(task_class, label)` (as `SimplePipelineExecutor.from_task_class(label=...)`)",
    )
    bind: Any = graph_option(
        None, needs_builder=None, api_only=True,
        lsst_call="`SimplePipelineExecutor.from_pipeline_graph(bind=...)` / `AllDimensionsQuantumGraphBuilder(bind=...)`",
    )
    data_ids: Any = graph_option(
        None, needs_builder=is_given, api_only=True,
        lsst_call="`astropy.table.Table(rows=...)`; `AllDimensionsQuantumGraphBuilder(data_id_tables=[...])`",
    )
    # Derived, in __post_init__.
    skips_existing: bool = field(init=False)
    builder_reasons: tuple[str, ...] = field(init=False)
    uses_simple_executor: bool = field(init=False)

    def __post_init__(self) -> None:
        self.check_rules()
        if self.qgraph is not None:
            # The API-only keywords that build a graph; a graph given has been built.
            for name in ("config", "label", "bind", "data_ids"):
                if getattr(self, name) is not None:
                    raise UsageError("a quantum graph given is not built again; leave this out",
                                     option=f"{name}=")
            if not isinstance(self.qgraph, str) and (self.qgraph_id is not None or self.qgraph_node_id):
                raise UsageError("applies only to a graph read from a file; select quanta of a graph object "
                                 "before passing it", option="--qgraph-node-id" if self.qgraph_node_id
                                 else "--qgraph-id")
            if not isinstance(self.qgraph, str) and self.save_qgraph:
                raise UsageError("a graph object given is not saved again; save it when it is built",
                                 option="-q/--save-qgraph")
        # The options in effect that the plain recipe cannot express (each
        # field says whether it is one: graph_option's needs_builder).
        reasons = tuple(f.name for f in dataclasses.fields(self) if f.init
                        and (needs := f.metadata["needs_builder"]) is not None and needs(getattr(self, f.name)))
        # A frozen dataclass sets its own derived fields this way.
        # --extend-run implies --skip-existing (pipetask's script/qgraph.py
        # and script/run.py both say so).
        object.__setattr__(self, "skips_existing", bool(self.skip_existing or self.extend_run))
        object.__setattr__(self, "builder_reasons", reasons)
        object.__setattr__(self, "uses_simple_executor", not reasons)

    def skip_existing_in_for(self, output_run: str | None) -> tuple[str, ...]:
        """The collections searched for existing outputs, for the graph builder and the executor alike.

        ``--skip-existing-in``, then the output run if `skips_existing`.
        """
        extra = (output_run,) if output_run and self.skips_existing else ()
        return (*self.skip_existing_in, *extra)

    def check_rules(self) -> None:
        """Check the rules between the options, before any repo is opened.

        ``-b`` is not checked here: the functions require it, and the command
        line checks that one of the command line and ``-@`` gave it.  A
        Python caller's objects count as given.

        Raises
        ------
        pipetask_lite.UsageError
            Raised, naming the options, for the first rule broken.
        """
        if self.extend_run and self.replace_run:
            # pipetask's mutually exclusive group: --replace-run (and with it
            # --prune-replaced) would remove the very run --extend-run resumes.
            raise UsageError("not allowed with argument --extend-run", option="--replace-run")
        if self.prune_replaced is not None and self.prune_replaced not in PRUNE_CHOICES:
            raise UsageError(f"{self.prune_replaced!r} is not one of {', '.join(PRUNE_CHOICES)}",
                             option="--prune-replaced")
        # ctrl_mpexec checks these two in OutputCollectionsInfo.check, with ValueError: so do we (also).
        if self.prune_replaced and not self.replace_run:
            raise OptionValueError("--prune-replaced requires --replace-run")
        if self.replace_run and not self.output:
            raise OptionValueError("--replace-run requires -o/--output")
        pipeline = _as_text(self.pipeline)
        if _as_text(self.qgraph):
            building = [
                name for name, given in [
                    ("-p/--pipeline", pipeline),
                    ("-t/-c/-C/--delete/--instrument", self.pipeline_actions),
                    ("-s/--save-pipeline", self.save_pipeline), ("--select-tasks", self.select_tasks),
                    ("--pipeline-dot", self.pipeline_dot), ("--pipeline-mermaid", self.pipeline_mermaid),
                    ("-d/--data-query", self.data_query), ("--data-id-table", self.data_id_table),
                    ("--dataset-query-constraint", self.dataset_query_constraint != "all"),
                    ("--mock", self.mock), ("--retained-dataset-types", self.retained_dataset_types is not None),
                    ("--prune-unanchored-quanta", self.prune_unanchored_quanta is not None),
                ] if given
            ]
            if building:
                raise UsageError(
                    f"-g/--qgraph loads a saved graph; it cannot be combined with {', '.join(building)}"
                )
        else:
            if self.output is None and self.output_run is None:
                raise UsageError("at least one of -o/--output and --output-run is required")
            if not (pipeline or self.pipeline_actions):
                raise UsageError("a pipeline is required: give -p/--pipeline or -t/--task (or -g/--qgraph)")
            if self.qgraph_id or self.qgraph_node_id:
                raise UsageError("--qgraph-id and --qgraph-node-id apply only to a graph loaded with -g/--qgraph")
        if self.prune_unanchored_quanta is not None:
            parse_prune_unanchored_quanta(self.prune_unanchored_quanta)
        if self.retained_dataset_types is not None:
            if not (self.skip_existing_in or self.skip_existing or self.extend_run):
                # pipe_base's QuantumGraphBuilder raises ValueError for this.
                raise UsageError(
                    "--retained-dataset-types has no effect without --skip-existing-in, --skip-existing "
                    "or --extend-run"
                )
            if not isinstance(self.retained_dataset_types, str | os.PathLike):
                raise UsageError(f"expected the path of a YAML file, got {self.retained_dataset_types!r}",
                                 option="--retained-dataset-types")
            # The file is read when the graph is built (read_retained_dataset_types),
            # as -C files are when the pipeline is: --explain reads neither.
        if (self.mock_failure or self.unmocked_dataset_types) and not self.mock:
            raise UsageError("--mock-failure and --unmocked-dataset-types require --mock")
        check_collection_names(input=self.input, output=self.output, output_run=self.output_run,
                               skip_existing_in=self.skip_existing_in)


def qgraph(
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
    qgraph: str | None = None,
    qgraph_id: str | None = None,
    qgraph_node_id: Sequence[str] = (),
    qgraph_datastore_records: bool = False,
    skip_existing_in: Sequence[str] = (),
    skip_existing: bool = False,
    retained_dataset_types: str | None = None,
    prune_unanchored_quanta: str | tuple[str, str] | None = None,
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
    summary: str | None = None,
    show: Sequence[str] = (),
    config: Config | None = None,
    label: str | None = None,
    bind: Mapping[str, Any] | None = None,
    data_ids: Iterable[Mapping[str, Any] | DataCoordinate | DatasetRef] | None = None,
) -> PredictedQuantumGraph | None:
    """Build or load a quantum graph, optionally save and show it: ``pipetask qgraph``.

    Nothing is written to the repo.  The pipeline keywords are those of
    `pipetask_lite.build`; the collection keywords those of `pipetask_lite.run`.

    Parameters
    ----------
    butler_config : `str` or `lsst.daf.butler.Butler`
        ``-b``: the data repository, or (from Python) a butler opened on it,
        which is used as it is (a writeable one for `run`) and not closed.
    input, output, output_run : optional
        ``-i``, ``-o``, ``--output-run``: as for `pipetask_lite.run`; the
        graph is built for that output run.
    pipeline, pipeline_actions, save_pipeline, select_tasks, pipeline_dot, \
pipeline_mermaid : optional
        As for `pipetask_lite.build` (objects included).
    data_query : `str`, optional
        ``-d``: the ``where`` expression that selects data IDs.
    qgraph : `str` or `~lsst.pipe.base.quantum_graph.PredictedQuantumGraph`, optional
        ``-g``: load this saved graph (``.qg``, or legacy ``.qgraph``) instead
        of building one; no pipeline keywords then.  From Python also a
        graph object (see `pipetask_lite.run`).
    qgraph_id : `str`, optional
        ``--qgraph-id``: the loaded legacy graph must have this ID.
    qgraph_node_id : `~collections.abc.Sequence` [`str`], optional
        ``--qgraph-node-id``: load only these quanta (UUIDs).
    qgraph_datastore_records : `bool`, optional
        ``--qgraph-datastore-records``: put datastore records in the graph,
        for quantum-backed butlers.
    skip_existing_in : `~collections.abc.Sequence` [`str`], optional
        ``--skip-existing-in``: leave out quanta whose outputs all exist in
        these collections.
    skip_existing : `bool`, optional
        ``--skip-existing``: the same, in the output run.
    retained_dataset_types : `str`, optional
        ``--retained-dataset-types``: a YAML file listing the dataset types
        (names or glob patterns) that a successful quantum leaves in
        ``skip_existing_in``.  A quantum that must run then also makes the
        upstream quanta run whose other outputs it reads (the builder's
        ``retained_dataset_types``); needs ``skip_existing_in``,
        ``skip_existing`` or ``extend_run``, and lsst-pipe-base 30.2026.2600.
    prune_unanchored_quanta : `str` or `tuple` [`str`, `str`], optional
        ``--prune-unanchored-quanta``: ``"SOURCE:ANCHOR"`` task labels; the
        ``SOURCE`` quanta from which no ``ANCHOR`` quantum is reachable are
        left out with everything downstream of them (the builder's
        ``prune_unanchored_quanta``); needs lsst-pipe-base 30.2026.2800.
    save_qgraph : `str`, optional
        ``-q``: write the graph to this file (``.qg``).
    qgraph_dot, qgraph_mermaid : `str`, optional
        ``--qgraph-dot`` / ``--qgraph-mermaid``: write a picture of the graph.
    dataset_query_constraint : `str`, optional
        ``--dataset-query-constraint``: ``all``, ``off``, or dataset type
        names whose existence constrains the data IDs.
    data_id_table : `~collections.abc.Sequence` [`str` or `astropy.table.Table`], optional
        ``--data-id-table``: tables (any format astropy reads) of data IDs
        joined into the query; from Python also `~astropy.table.Table`
        objects.
    mock : `bool`, optional
        ``--mock``: build the graph for mock tasks
        (`lsst.pipe.base.tests.mocks.mock_pipeline_graph`).
    mock_failure : `~collections.abc.Sequence` [`str`], optional
        ``--mock-failure``: ``LABEL:EXCEPTION:WHERE[:MEMORY]`` failures for
        the mocked tasks.
    unmocked_dataset_types : `~collections.abc.Sequence` [`str`], optional
        ``--unmocked-dataset-types``: overall inputs read unmocked.
    extend_run, replace_run, prune_replaced, rebase, clobber_outputs : optional
        As for `pipetask_lite.run`; ``extend_run`` implies ``skip_existing``.
    summary : `str`, optional
        ``--summary``: write a JSON summary of the graph here.
    show : `~collections.abc.Sequence` [`str`], optional
        ``--show``: pipeline items (see `pipetask_lite.build`) stop before the
        graph is built; ``graph``, ``workflow`` and ``uri`` print the graph.
    config, label : optional
        Python only: as for `pipetask_lite.build`.
    bind : `~collections.abc.Mapping` [`str`, `object`], optional
        Python only: values for identifiers in ``data_query``, as
        ``Butler.query_datasets(where=..., bind=...)`` takes them.
    data_ids : `~collections.abc.Iterable`, optional
        Python only: data IDs (mappings or `lsst.daf.butler.DataCoordinate`)
        or `lsst.daf.butler.DatasetRef` values (their data IDs); they mean
        what a ``data_id_table`` with those rows means.  Their dimensions
        must be dimensions of the pipeline's tasks.

    Returns
    -------
    quantum_graph : `lsst.pipe.base.quantum_graph.PredictedQuantumGraph` or `None`
        The graph; `None` if ``show`` had only pipeline items.

    Raises
    ------
    pipetask_lite.errors.EmptyGraphError
        Raised if the graph has no quanta, where ctrl_mpexec's
        ``script.qgraph`` returns `None`; nothing is saved then.
    pipetask_lite.PipetaskLiteError
        Raised, naming the option, for bad input; the collection rules that
        pipetask checks with a `ValueError` raise one too.
    """
    # The options checked once (the command line's too, after -@ is merged),
    # with what follows from them; from here on, only `options` is read.
    options = GraphOptions.from_keywords(locals())
    check_writable(summary, "--summary")
    show_info = make_show(options.show)
    factory = None
    if options.qgraph is None:
        factory = build_pipeline(
            pipeline=options.pipeline, pipeline_actions=options.pipeline_actions,
            save_pipeline=options.save_pipeline, select_tasks=options.select_tasks,
            pipeline_dot=options.pipeline_dot, pipeline_mermaid=options.pipeline_mermaid,
            show_info=show_info, config=options.config, label=options.label,
        )
        if show_info.handled and not show_info.unhandled:
            print("No quantum graph generated. The --show option was given and all options were processed.",
                  file=sys.stderr)
            return None
    quantum_graph, _ = make_quantum_graph(factory, options, show_info=show_info, for_execution=summary is not None)
    if summary:
        from lsst.pipe.base.quantum_reports import Report

        # pipetask's summary of a graph; _make_summary is what pipe_base's own
        # executors call to fill in the same field.
        report = Report(qgraphSummary=quantum_graph._make_summary())
        with open_for_writing(summary, "--summary") as stream:
            stream.write(report.model_dump_json(exclude_none=True, indent=2))
    warn_unhandled_show(show_info, "qgraph")
    return quantum_graph


def make_quantum_graph(
    factory: PipelineGraphFactory | None,
    options: GraphOptions,
    *,
    show_info: ShowInfo,
    for_execution: bool,
    with_datastore_records: bool = False,
    allow_empty: bool = False,
) -> tuple[PredictedQuantumGraph, CollectionPlan]:
    """Do the work of `qgraph` after the pipeline is built; ``run`` calls it too.

    ``options`` are `qgraph`'s (or `pipetask_lite.run`'s graph options);
    ``factory`` is `None` with ``-g``.
    ``for_execution`` loads everything a saved graph needs to be executed;
    ``with_datastore_records`` attaches the inputs' datastore records to a new
    graph even without ``--qgraph-datastore-records`` (for quantum-backed
    butlers in ``run -j N``); ``allow_empty`` returns an empty graph rather
    than raise.

    Returns
    -------
    quantum_graph : `lsst.pipe.base.quantum_graph.PredictedQuantumGraph`
        The graph, never empty.
    plan : `pipetask_lite._collections.CollectionPlan`
        The collections it reads from and is to be written to.
    """
    from lsst.pipe.base.all_dimensions_quantum_graph_builder import DatasetQueryConstraintVariant
    from lsst.pipe.base.dot_tools import graph2dot
    from lsst.pipe.base.mermaid_tools import graph2mermaid
    from lsst.pipe.base.pipeline_graph import PipelineGraphError
    from lsst.pipe.base.quantum_graph_builder import OutputExistsError, QuantumGraphBuilderError
    from lsst.pipe.base.simple_pipeline_executor import SimplePipelineExecutor

    # Options that only newer pipe_base releases have: refused, naming the
    # release, before the repo is opened.
    check_builder_options({
        "--retained-dataset-types": options.retained_dataset_types,
        "--prune-unanchored-quanta": options.prune_unanchored_quanta,
    })
    retained_patterns = (
        read_retained_dataset_types(options.retained_dataset_types) if options.retained_dataset_types is not None else None
    )
    prune_pair = parse_prune_unanchored_quanta(options.prune_unanchored_quanta) if options.prune_unanchored_quanta else None
    with open_butler(options.butler_config) as read_butler:
        loaded = given = None
        if isinstance(options.qgraph, str):
            loaded = load_quantum_graph(
                options.qgraph, butler=read_butler, qgraph_id=options.qgraph_id, qgraph_node_id=options.qgraph_node_id,
                full=for_execution or bool(options.qgraph_dot or options.qgraph_mermaid or options.save_qgraph)
                or show_info.needs_full_qg, whole=bool(options.save_qgraph),
            )
        elif options.qgraph is not None:
            # A Python caller's graph object (pipetask_lite._api says which types).
            given = graph_object(options.qgraph)
            check_graph_repo(given, read_butler)
        if loaded is not None or given is not None:
            check_graph_output_run(options.output_run, (loaded or given).header.output_run)
        plan = plan_collections(
            read_butler, repo=str(options.butler_config), input=options.input, output=options.output,
            # A saved graph is executed into its own output run; one that is
            # only looked at writes nothing, so its run does not matter.
            output_run=(loaded or given).header.output_run if options.qgraph is not None and for_execution
            else options.output_run,
            extend_run=options.extend_run, replace_run=options.replace_run, rebase=options.rebase,
            writeable=for_execution or loaded is None,
            # The graph builder needs inputs; a saved graph has its own.
            require_inputs=options.qgraph is None, skip_existing_in=options.skip_existing_in,
        )
        # --skip-existing-in, and the output run with --skip-existing or --extend-run.
        skip_existing_in = options.skip_existing_in_for(plan.output_run)

        if loaded is not None:
            components = loaded
        elif given is not None:
            quantum_graph, components = given, None
        else:
            pipeline_graph = factory(resolve=False)
            if options.mock:
                from lsst.pipe.base.tests.mocks import mock_pipeline_graph

                force_failures = parse_mock_failures(options.mock_failure)
                with blame("--unmocked-dataset-types", ValueError):
                    pipeline_graph = mock_pipeline_graph(
                        pipeline_graph, unmocked_dataset_types=options.unmocked_dataset_types, force_failures=force_failures,
                    )
            tables = read_data_id_tables(options.data_id_table)
            if options.data_ids is not None:
                tables.append(data_ids_table(options.data_ids, pipeline_graph, read_butler))
            with blame("--dataset-query-constraint", ValueError):
                constraint = DatasetQueryConstraintVariant.fromExpression(options.dataset_query_constraint)
            graph_butler = read_butler.clone(collections=list(plan.search_path))
            with (
                # The pipeline as a whole is resolved here: two tasks writing
                # one dataset type, an input the repo has never heard of.
                blame("-p/--pipeline", PipelineGraphError, QuantumGraphBuilderError),
                # daf_butler asserts that a parsed expression is a predicate ("-d 1").
                blame("-d/--data-query", *query_errors(), *((AssertionError,) if options.data_query else ()),
                      note=single_quotes_note(options.data_query)),
                blame("--clobber-outputs", OutputExistsError,
                      hint="outputs of an earlier attempt are in the way: add --clobber-outputs to replace them"),
                # A connection's adjustQuantum fails the graph this way when
                # too few of its datasets were found: a prerequisite input (a
                # calibration, most often) that no -i collection holds.
                blame("-i/--input", FileNotFoundError,
                      hint="add the collection that holds it to -i (a calibration's: the instrument's "
                      "CALIBRATION collection)"),
            ):
                if options.uses_simple_executor:
                    # The SimplePipelineExecutor recipe: one quantum per task
                    # and data ID that -d selects, in the input collections.
                    quantum_graph = SimplePipelineExecutor.from_pipeline_graph(
                        pipeline_graph, where=options.data_query, bind=options.bind, butler=graph_butler,
                        output=options.output,
                        output_run=plan.output_run, attach_datastore_records=with_datastore_records,
                    ).predicted
                    components = None
                else:
                    components = build_quantum_graph(
                        pipeline_graph, graph_butler, where=options.data_query,
                        input_collections=list(plan.search_path), output_run=plan.output_run,
                        output=options.output, skip_existing_in=skip_existing_in, clobber=options.clobber_outputs,
                        dataset_query_constraint=constraint, data_id_tables=tables,
                        # What pipetask records in the graph's header (its keys depend on the release).
                        metadata=graph_metadata(
                            butler_argument=str(options.butler_config), extend_run=options.extend_run,
                            skip_existing_in=skip_existing_in, skip_existing=options.skips_existing,
                            retained_dataset_types=options.retained_dataset_types, data_query=options.data_query,
                        ),
                        attach_datastore_records=options.qgraph_datastore_records or with_datastore_records,
                        bind=options.bind,
                        **builder_keywords(retained_dataset_types=retained_patterns,
                                           prune_unanchored_quanta=prune_pair),
                    )
        if components is not None:
            quantum_graph = components.assemble()

    if not allow_empty:
        # Where ctrl_mpexec's script.qgraph returns None (docs/run-api.md, "Differences").
        check_graph_not_empty(
            quantum_graph, qgraph=options.qgraph if options.qgraph is None or isinstance(options.qgraph, str)
            else "the graph given", data_query=options.data_query, search_path=plan.search_path,
            skip_existing_in=skip_existing_in, with_data_ids=options.data_ids is not None,
        )
    _log_summary(quantum_graph)
    if options.save_qgraph:
        # RuntimeError: part of a saved graph (--qgraph-node-id) cannot be saved again.
        with blame("-q/--save-qgraph", OSError, ValueError, RuntimeError):
            components.write(options.save_qgraph)
    if options.qgraph_dot:
        with open_for_writing(options.qgraph_dot, "--qgraph-dot") as stream:
            graph2dot(quantum_graph, stream)
    if options.qgraph_mermaid:
        with open_for_writing(options.qgraph_mermaid, "--qgraph-mermaid") as stream:
            graph2mermaid(quantum_graph, stream)
    with blame("--show", ValueError, LookupError):  # ShowInfo's errors: no such task, field or value
        show_info.show_graph_info(quantum_graph, options.butler_config)
    sys.stdout.flush()
    return quantum_graph, plan


def check_graph_not_empty(
    quantum_graph: PredictedQuantumGraph, *, qgraph: str | None, data_query: str, search_path: Sequence[str],
    skip_existing_in: Sequence[str], with_data_ids: bool = False,
) -> None:
    """An empty graph is an error, raised before anything is written.

    ``qgraph`` names the saved graph (``-g``) it was read from; otherwise
    the message names the query, the collections searched and the
    pipeline's inputs.  ``--explain=full`` shows this function's source.
    """
    if len(quantum_graph) > 0:
        return
    if qgraph is not None:
        raise EmptyGraphError(f"no quanta in {qgraph!r}; nothing was written", option="-g/--qgraph")
    inputs = ", ".join(sorted(name for name, _ in quantum_graph.pipeline_graph.iter_overall_inputs()))
    raise EmptyGraphError(
        f"no quanta: query {data_query!r}"
        + (" with the data IDs of data_ids=" if with_data_ids else "")
        + f" selected no data in collections {list(search_path)} for the pipeline's inputs ({inputs})"
        + (f", or all outputs exist in {list(skip_existing_in)}" if skip_existing_in else "")
        + "; nothing was written",
        option="-d/--data-query",
        hint="check -i/--input and -d/--data-query; the log above names the empty query",
    )


def build_quantum_graph(
    pipeline_graph: PipelineGraph, butler: Butler, *, where: str, input_collections: Sequence[str], output_run: str,
    output: str | None, skip_existing_in: Sequence[str], clobber: bool,
    dataset_query_constraint: DatasetQueryConstraintVariant, data_id_tables: Sequence, metadata: Mapping[str, Any],
    attach_datastore_records: bool, **builder_options: Any,
) -> PredictedQuantumGraphComponents:
    """Build a graph with the builder SimplePipelineExecutor wraps: a step of ``qgraph`` and ``run``.

    Called directly for the options SimplePipelineExecutor does not take:
    ``--skip-existing-in`` (with the output run for ``--skip-existing`` and
    ``--extend-run``), ``--clobber-outputs``, ``--dataset-query-constraint``,
    ``--data-id-table``, ``--qgraph-datastore-records``.  ``metadata`` is
    recorded in the graph's header; ``builder_options`` are the builder's
    other keywords (``bind`` from Python, and the options of newer releases,
    ``--retained-dataset-types`` and ``--prune-unanchored-quanta``, only when
    given).  ``--explain=full`` shows this function's source.
    """
    from lsst.pipe.base.all_dimensions_quantum_graph_builder import AllDimensionsQuantumGraphBuilder

    builder = AllDimensionsQuantumGraphBuilder(
        pipeline_graph, butler, where=where, input_collections=input_collections, output_run=output_run,
        skip_existing_in=skip_existing_in, clobber=clobber, dataset_query_constraint=dataset_query_constraint,
        data_id_tables=data_id_tables, **builder_options,
    )
    return builder.finish(output, metadata=metadata, attach_datastore_records=attach_datastore_records)


def load_quantum_graph(
    uri: str, *, butler, qgraph_id: str | None, qgraph_node_id: Sequence[str], full: bool,
    init_only: bool = False, whole: bool = False, option: str = "-g/--qgraph",
):
    """Read a saved graph (``-g``): the current ``.qg`` format or the legacy ``.qgraph``.

    ``butler`` gives the dimension universe of a ``.qgraph`` file; without
    one (`None`, as in ``run-qbb``) the file's own is used.  ``init_only``
    reads only the init quanta of a ``.qg`` file (``pre-exec-init-qbb``);
    ``whole`` reads all of it (to save it again, ``-q``).
    ``option`` is the option or argument named in errors.

    Returns
    -------
    components : `lsst.pipe.base.quantum_graph.PredictedQuantumGraphComponents`
        What was read; ``components.assemble()`` gives the graph.
    """
    from lsst.pipe.base import BuildId, QuantumGraph
    from lsst.pipe.base.pipeline_graph import TaskImportMode
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph, PredictedQuantumGraphComponents
    from lsst.resources import ResourcePath

    try:
        node_ids = {uuid.UUID(str(q)) for q in qgraph_node_id} or None
    except ValueError as exc:
        raise UsageError(f"not a UUID: {exc}", option="--qgraph-node-id") from None
    path = ResourcePath(uri)
    if not path.exists():
        raise PipetaskLiteError(f"no such graph file: {uri!r}", option=option)
    message = f"cannot read {uri!r} as a quantum graph"
    match path.getExtension():
        case ".qgraph":
            with (
                blame(option, *file_errors(), message=message),
                blame("--qgraph-id", ValueError, message=f"{qgraph_id!r} is not the ID of graph {uri!r}")
                if qgraph_id is not None else contextlib.nullcontext(),
            ):
                old = QuantumGraph.loadUri(
                    path, butler.dimensions if butler is not None else None, nodes=node_ids,
                    graphID=BuildId(qgraph_id) if qgraph_id is not None else None,
                )
                components = PredictedQuantumGraphComponents.from_old_quantum_graph(old)
        case ".qg":
            if qgraph_id is not None:
                _LOG.warning("--qgraph-id is ignored when loading new '.qg' files.")
            import_mode = TaskImportMode.ASSUME_CONSISTENT_EDGES if full else TaskImportMode.DO_NOT_IMPORT
            with (
                blame(option, *file_errors(), message=message),
                PredictedQuantumGraph.open(path, import_mode=import_mode) as reader,
            ):
                if init_only:
                    reader.read_init_quanta()
                elif whole and not node_ids:
                    reader.read_all()
                elif full or node_ids:
                    try:
                        reader.read_execution_quanta(node_ids)
                    except LookupError:
                        # A node ID not in the file's address table; say which.
                        reader.read_thin_graph()
                        known = {q.quantum_id for qs in reader.components.thin_graph.quanta.values() for q in qs}
                        if not (missing := node_ids - known):
                            raise
                        raise PipetaskLiteError(
                            f"not in graph {uri!r}: {', '.join(sorted(map(str, missing)))}",
                            option="--qgraph-node-id",
                        ) from None
                else:
                    reader.read_thin_graph()
                components = reader.components
        case extension:
            raise PipetaskLiteError(
                f"{uri!r} has extension {extension!r}; expected '.qg' or '.qgraph'", option=option
            )
    if node_ids:
        found = set(components.assemble())
        if missing := node_ids - found:
            raise PipetaskLiteError(
                f"not in graph {uri!r}: {', '.join(sorted(map(str, missing)))}", option="--qgraph-node-id"
            )
    return components


def parse_mock_failures(entries: Sequence[str]) -> dict:
    """Parse ``--mock-failure LABEL:EXCEPTION:WHERE[:MEMORY]`` into pipe_base's `ForcedFailure` values."""
    from lsst.pipe.base.tests.mocks import ForcedFailure
    from lsst.utils.doImport import doImportType

    result = {}
    for entry in entries:
        parts = entry.split(":")
        if len(parts) not in (3, 4):
            raise UsageError(f"expected LABEL:EXCEPTION:WHERE[:MEMORY], got {entry!r}", option="--mock-failure")
        label, exception, where, *memory = parts
        with blame("--mock-failure", ImportError, TypeError, ValueError):
            result[label] = ForcedFailure(where, doImportType(exception) if exception else None, *memory)
    return result


def read_data_id_tables(uris: Sequence[str]) -> list:
    """Read ``--data-id-table`` files with astropy, which knows their format."""
    from astropy.table import Table
    from lsst.resources import ResourcePath

    tables = []
    for index, uri in enumerate(uris):
        if isinstance(uri, Table):
            # A Python caller's table: a copy, to name it in the builder's log.
            table = uri.copy()
            table.meta["filename"] = f"data_id_table[{index}]"
            tables.append(table)
            continue
        with blame("--data-id-table", *file_errors(), message=f"cannot read {uri!r} as a table"):
            with ResourcePath(uri).as_local() as local:
                table = Table.read(local.ospath)
        # The builder names the file in its log messages.
        table.meta["filename"] = uri
        tables.append(table)
    return tables


def data_ids_table(data_ids, pipeline_graph, butler):
    """The data-ID table of ``data_ids=``: mappings, `DataCoordinate` or `DatasetRef` values (their data IDs).

    Its columns are the data IDs' required dimensions, which must all be
    dimensions of the pipeline's tasks (a table of other dimensions would
    join unrelated rows into the query).

    Raises
    ------
    pipetask_lite.UsageError
        Raised, naming ``data_ids=``, for an empty iterable, data IDs of
        different or unknown dimensions, or dimensions the pipeline has not.
    """
    from astropy.table import Table
    from lsst.daf.butler import DataCoordinate, DatasetRef, DimensionNameError
    from lsst.pipe.base.pipeline_graph import PipelineGraphError

    universe = butler.dimensions
    rows = []
    for item in data_ids:
        if isinstance(item, DatasetRef):
            item = item.dataId
        if isinstance(item, DataCoordinate):
            item = dict(item.required)
        if not isinstance(item, Mapping):
            raise UsageError(f"a data ID is a mapping, a DataCoordinate or a DatasetRef, not {item!r}",
                             option="data_ids=")
        try:
            group = universe.conform(list(item))
        except (DimensionNameError, KeyError, TypeError) as exc:
            raise UsageError(f"{dict(item)!r}: {first_line(exc)}", option="data_ids=") from None
        if set(item) - set(group.names):
            raise UsageError(f"{dict(item)!r} has keys that are not dimensions", option="data_ids=")
        if missing := [name for name in group.required if name not in item]:
            raise UsageError(f"{dict(item)!r} lacks {', '.join(missing)}", option="data_ids=")
        rows.append({name: item[name] for name in group.required})
    if not rows:
        raise UsageError("no data IDs given", option="data_ids=")
    columns = list(rows[0])
    if any(list(row) != columns for row in rows):
        raise UsageError(f"all data IDs must have the same dimensions; {rows[0]} and "
                         f"{next(row for row in rows if list(row) != columns)} differ", option="data_ids=")
    with blame("-p/--pipeline", PipelineGraphError):
        pipeline_graph.resolve(butler.registry)
    pipeline_dimensions = universe.conform(
        [name for task in pipeline_graph.tasks.values() for name in task.dimensions.names]
    )
    if extra := set(columns) - set(pipeline_dimensions.names):
        raise UsageError(
            f"data IDs of dimensions {sorted(columns)}, but the pipeline's tasks have no "
            f"{', '.join(sorted(extra))} (their dimensions: {sorted(pipeline_dimensions.names)})",
            option="data_ids=",
        )
    return Table(rows=[[row[name] for name in columns] for row in rows], names=columns,
                 meta={"filename": "data_ids="})


def graph_object(qgraph):
    """A Python caller's graph as a `PredictedQuantumGraph` (an old `QuantumGraph` converted)."""
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph, PredictedQuantumGraphComponents

    if isinstance(qgraph, PredictedQuantumGraph):
        return qgraph
    import lsst.pipe.base

    old_class = getattr(lsst.pipe.base, "QuantumGraph", None)
    if old_class is not None and isinstance(qgraph, old_class):
        return PredictedQuantumGraphComponents.from_old_quantum_graph(qgraph).assemble()
    raise UsageError(f"expected a file name or a PredictedQuantumGraph, not {type(qgraph).__name__}",
                     option="-g/--qgraph")


def check_graph_repo(quantum_graph, butler) -> None:
    """Refuse a graph object whose input datasets are not in ``butler``'s repo: it was made for another.

    A few of the graph's overall inputs are looked up by dataset ID; a graph
    built on this repo finds them all.
    """
    try:  # pipe_base's exception for a graph read in part (a RuntimeError); its module is private
        from lsst.pipe.base.quantum_graph._common import IncompleteQuantumGraphError as Incomplete
    except ImportError:
        Incomplete = RuntimeError
    overall = {name for name, _ in quantum_graph.pipeline_graph.iter_overall_inputs()}
    try:
        quantum_graph.build_execution_quanta()
    except Incomplete as exc:
        raise UsageError(
            f"the graph was read in part ({first_line(exc)}): qgraph(qgraph=FILE) reads only what it shows; "
            "pass the file itself", option="-g/--qgraph",
        ) from None
    refs = []
    for node in quantum_graph.quantum_only_xgraph.nodes.values():
        refs += [ref for dataset_type, some in node["quantum"].inputs.items() if dataset_type.name in overall
                 for ref in some]
        if len(refs) >= 5:
            break
    refs = refs[:5]
    if refs and all(butler.get_dataset(ref.id) is None for ref in refs):
        raise UsageError(
            f"the graph's input datasets (e.g. {refs[0]}) are not in this repo: it was made for another one",
            option="-b/--butler-config",
        )


def _log_summary(quantum_graph: PredictedQuantumGraph) -> None:
    """Log the number of quanta per task, in the words and table of pipetask's ``summarize_quantum_graph``."""
    from astropy.table import Table

    counts = {label: len(q) for label, q in quantum_graph.quanta_by_task.items() if q}
    n_quanta = sum(counts.values())
    if n_quanta == 0:
        _LOG.info("QuantumGraph contains no quanta.")
    elif _LOG.isEnabledFor(logging.INFO):
        table = "\n".join(Table({"Quanta": list(counts.values()), "Tasks": list(counts)}).pformat())
        _LOG.info(
            "QuantumGraph contains %d %s for %d task%s\n%s",
            n_quanta, "quantum" if n_quanta == 1 else "quanta", len(counts), "" if len(counts) == 1 else "s", table,
        )
