"""``--explain=full``: every call ``build``, ``qgraph`` and ``run`` make, checks included, in their order."""

from __future__ import annotations

import uuid

from .._compat import disables_threading_before_build, records_retained_dataset_types
from .._execution import mp_graph_executor
from .._execution.parallel import single_quantum_executor
from .._qgraph import build_quantum_graph, check_graph_not_empty
from .._rules import parse_prune_unanchored_quanta
from .._run import RunOptions, write_init_outputs
from .script import (
    SHOW_GRAPH_ITEMS,
    SHOW_PIPELINE_ITEMS,
    Options,
    Script,
    _constants,
    _graph_extension,
    _no_effect,
    _not_reached,
    _pipeline,
    _show_items,
    _show_unhandled,
)
from .short import WHY_NOT_SIMPLE_RUN


def _explain_build(s: Script, o: Options) -> None:
    if o.butler_config:
        s.use("lsst.daf.butler", "Butler")
        _constants(s, o)
        with s.block("with Butler.from_config(REPO, writeable=False) as butler:",
                     f"{o.text('butler_config')}: read only, to resolve dataset types"):
            _build_body(s, o, butler="butler")
    else:
        _build_body(s, o, butler=None)
    s("return 0")


def _build_body(s: Script, o: Options, *, butler: str | None) -> None:
    _pipeline(s, o, butler=butler)
    _show_unhandled(s, o, SHOW_PIPELINE_ITEMS)
    if butler is not None:
        s("pipeline_graph = factory(resolve=True)", "-b: dataset types resolved against the repo")


ERROR_STAND_IN = '''\
class PipetaskLiteError(SystemExit):
    """pipetask-lite's error, which stops the script as the command stops.

    The message is the command's error line without its ``pipetask-lite run: error:``
    prefix (the option at fault, then what went wrong), the hint on a second line; exit 1.
    """

    def __init__(self, message, *, option=None, hint=None):
        text = f"{option}: {message}" if option else message
        super().__init__(f"{text}\\nhint: {hint}" if hint else text)


class CollectionOptionError(PipetaskLiteError):
    """The rules pipetask checks with a ValueError (pipetask_lite.errors.CollectionOptionError)."""


class EmptyGraphError(PipetaskLiteError):
    """The quantum graph has no quanta (pipetask_lite.errors.EmptyGraphError)."""
'''


def collection_rules_source() -> list[str]:
    """The source of the collection rules the command runs, as the explained script holds them.

    The rules are written once, in `pipetask_lite._collections`; the script gets
    their source verbatim (never a copy kept by hand), after `ERROR_STAND_IN`.
    """
    import inspect

    from .. import _collections, _suggest

    return [inspect.getsource(rule) for rule in
            (_collections.CollectionPlan, _collections.plan_collections, _collections._contains_run_of,
             _collections.check_graph_output_run, _suggest.did_you_mean)]


BUTLER_STAND_IN = '''\
def butler_from_config(butler_config, *, writeable=False, **defaults):
    """Butler.from_config (pipetask_lite._util.butler_from_config also takes a butler lent from Python)."""
    return Butler.from_config(butler_config, writeable=writeable, **defaults)
'''


def _output_collections_source(s: Script) -> None:
    """Write `pipetask_lite._collections.make_output_collections` into the helpers section, by its source."""
    import inspect

    from .. import _collections

    s.use("lsst.daf.butler", "Butler")
    s.use("lsst.pipe.base", "PipelineGraph")  # of its signature
    with s.into("helpers"):
        s.raw("\n\n" + BUTLER_STAND_IN)
        s.note("pipetask's output collections: the source of pipetask_lite._collections, which the command runs.")
        s.raw(inspect.getsource(_collections.make_output_collections))


def _step_source(s: Script, step, *uses: tuple[str, str]) -> None:
    """Write the function ``step`` of pipetask-lite into the helpers section, by its source.

    ``uses`` are the ``(module, name)`` imports its signature needs.
    """
    import inspect

    for module, name in uses:
        s.use(module, name)
    with s.into("helpers"):
        s.raw(f"\n\n# A step of pipetask_lite.run: the source of {step.__module__}.{step.__name__}, "
              "which the command runs.\n" + inspect.getsource(step))


def _collection_rules(s: Script) -> None:
    """Write the collection rules into the helpers section, by their source."""
    s.use("collections.abc", "Iterable")  # of did_you_mean's signature
    s.use("collections.abc", "Sequence")
    s.use("dataclasses", "dataclass")
    s.use("lsst.daf.butler", "Butler")
    with s.into("helpers"):
        s.note("pipetask's collection rules: the source of pipetask_lite._collections, which the command runs.")
        s.raw(ERROR_STAND_IN)
        for source in collection_rules_source():
            s.raw("\n\n" + source)


def _plan_call(s: Script, o: Options, *, output_run: str, run_comment: str, writeable: bool,
               require_inputs: bool) -> None:
    """Write ``plan = plan_collections(read_butler, ...)`` with the arguments the command passes."""
    def flag(dest: str) -> None:
        value = bool(getattr(o, dest))
        s(f"{dest}={value!r},", o.text(dest) if o.given(dest) else f"no {o.actions[dest].option_strings[0]}")

    with s.block("plan = plan_collections(", _plan_comment(o)):
        s("read_butler,")
        s("repo=REPO,", f"{o.text('butler_config')}: named in messages")
        s("input=INPUTS," if o.input else "input=[],", o.text("input") if o.input else "no -i")
        s("output=OUTPUT," if o.output is not None else "output=None,",
          o.text("output") if o.output is not None else "no -o: outputs go to the run alone")
        s(f"output_run={output_run},", run_comment)
        for dest in ("extend_run", "replace_run", "rebase"):
            flag(dest)
        s(f"writeable={writeable!r},", "an output run is required" if writeable
          else "-g, not executed: nothing is written, so an output run is optional")
        s(f"require_inputs={require_inputs!r},", "the graph builder needs inputs" if require_inputs
          else "-g: a saved graph has its own inputs")
        s(f"skip_existing_in={list(o.skip_existing_in)!r},",
          f"{o.text('skip_existing_in')}: must exist, as inputs must" if o.skip_existing_in
          else "no --skip-existing-in")
    s(")")


def _skip_existing_in(o: Options) -> tuple[str | None, str | None]:
    """The ``skip_existing_in`` expression and its comment, or (None, None)."""
    skip_existing = o.graph.skips_existing
    if not (o.skip_existing_in or skip_existing):
        return None, None
    parts, why = [], []
    if o.skip_existing_in:
        parts.append(f"*{list(o.skip_existing_in)!r}")
        why.append(o.text("skip_existing_in"))
    if skip_existing:
        parts.append("plan.output_run")
        why += [o.flag(d) for d in ("skip_existing", "extend_run") if o.given(d)]
        why[-1] += ": the output run too"
    return f"[{', '.join(parts)}]", ", ".join(why)


def _graph(s: Script, o: Options, *, for_execution: bool) -> None:
    """Step 2: collections and the quantum graph, on a read-only butler (open as ``read_butler``)."""
    s.use("lsst.daf.butler", "Butler")
    from_graph = o.qgraph is not None
    _collection_rules(s)
    s.note(
        "2. Collections and the quantum graph, on a read-only butler: every check happens",
        "before the first write (SimplePipelineExecutor.prep_butler would create the output",
        "collections first).",
    )
    s("with Butler.from_config(REPO, writeable=False) as read_butler:", f"{o.text('butler_config')}: read only")
    s.depth += 1
    skip_expr, skip_why = _skip_existing_in(o)
    if from_graph:
        _load_graph(s, o, for_execution=for_execution,
                    full=for_execution or bool(o.qgraph_dot or o.qgraph_mermaid or o.save_qgraph)
                    or bool(_show_items(o) & {"graph", "uri"}))
    else:
        _plan_call(s, o, output_run="OUTPUT_RUN" if o.output_run is not None else "None",
                   run_comment=_run_comment(o), writeable=True, require_inputs=True)
        if skip_expr:
            s(f"skip_existing_in = {skip_expr}", skip_why)
        s("graph_butler = read_butler.clone(collections=list(plan.search_path))",
          "the graph builder reads from the search path")
        if o.mock:
            s.use("lsst.pipe.base.tests.mocks", "mock_pipeline_graph")
            failures = []
            for entry in o.mock_failure:
                label, exception, where, *memory = entry.split(":")
                s.use("lsst.pipe.base.tests.mocks", "ForcedFailure")
                args = [repr(where)]
                if exception:
                    s.use("lsst.utils.doImport", "doImportType")
                    args.append(f"doImportType({exception!r})")
                else:
                    args.append("None")
                args += [repr(m) for m in memory]
                failures.append((label, f"ForcedFailure({', '.join(args)})", entry))
            with s.block("pipeline_graph = mock_pipeline_graph(", "--mock: mock tasks with the same connections"):
                s("pipeline_graph,")
                s(f"unmocked_dataset_types={list(o.unmocked_dataset_types)!r},",
                  o.text("unmocked_dataset_types") if o.unmocked_dataset_types else "no --unmocked-dataset-types")
                if failures:
                    with s.block("force_failures={"):
                        for label, call, entry in failures:
                            s(f"{label!r}: {call},", f"--mock-failure {entry}")
                    s("},")
                else:
                    s("force_failures={},", "no --mock-failure")
            s(")")
        tables = bool(o.data_id_table)
        if tables:
            s.use("astropy.table", "Table")
            s.use("lsst.resources", "ResourcePath")
            s("tables = []", o.text("data_id_table"))
            with s.block(f"for uri in {list(o.data_id_table)!r}:", "--data-id-table: any format astropy reads"):
                with s.block("with ResourcePath(uri).as_local() as local:"):
                    s("table = Table.read(local.ospath)")
                s('table.meta["filename"] = uri', "the builder names the file in its log")
                s("tables.append(table)")
        if o.retained_dataset_types is not None:
            s.use("yaml")
            with s.block(f"with open({o.retained_dataset_types!r}) as stream:",
                         "--retained-dataset-types: a YAML list of dataset type names or patterns"):
                s("retained_dataset_types = yaml.safe_load(stream)", o.text("retained_dataset_types"))
        prune = (parse_prune_unanchored_quanta(o.prune_unanchored_quanta)
                 if o.prune_unanchored_quanta is not None else None)
        attach = o.qgraph_datastore_records
        if o.graph.uses_simple_executor:
            s.use("lsst.pipe.base.simple_pipeline_executor", "SimplePipelineExecutor")
            s.note("The SimplePipelineExecutor recipe: one quantum per task and data ID that -d selects.")
            with s.block("quantum_graph = SimplePipelineExecutor.from_pipeline_graph("):
                s("pipeline_graph,")
                s("where=DATA_QUERY,", o.text("data_query") if o.data_query else "no -d")
                s("butler=graph_butler,")
                s(f"output={'OUTPUT' if o.output is not None else 'None'},",
                  o.text("output") if o.output is not None else "no -o")
                s("output_run=plan.output_run,", _run_comment(o))
            s(").predicted")
        else:
            s.use("lsst.pipe.base.all_dimensions_quantum_graph_builder", "DatasetQueryConstraintVariant")
            why = [o.flag(d) for d in o.graph.builder_reasons]
            # The command's own step, by its source (never re-told here).
            _step_source(s, build_quantum_graph, ("collections.abc", "Mapping"), ("collections.abc", "Sequence"),
                         ("typing", "Any"), ("lsst.daf.butler", "Butler"), ("lsst.pipe.base", "PipelineGraph"),
                         ("lsst.pipe.base.quantum_graph", "PredictedQuantumGraphComponents"))
            s.note(f"The graph builder SimplePipelineExecutor wraps, called directly for {', '.join(why)}.")
            with s.block("components = build_quantum_graph("):
                s("pipeline_graph,")
                s("graph_butler,")
                s("where=DATA_QUERY,", o.text("data_query") if o.data_query else "no -d")
                s("input_collections=list(plan.search_path),")
                s("output_run=plan.output_run,", _run_comment(o))
                s(f"output={'OUTPUT' if o.output is not None else 'None'},",
                  o.text("output") if o.output is not None else "no -o")
                s(f"skip_existing_in={'skip_existing_in' if skip_expr else '[]'},", skip_why or "no --skip-existing-in")
                s(f"clobber={o.clobber_outputs!r},", "--clobber-outputs" if o.clobber_outputs else "no --clobber-outputs")
                s(f"dataset_query_constraint=DatasetQueryConstraintVariant.fromExpression("
                  f"{o.dataset_query_constraint!r}),",
                  o.text("dataset_query_constraint") if o.given("dataset_query_constraint")
                  else "no --dataset-query-constraint: all")
                s(f"data_id_tables={'tables' if tables else '[]'},",
                  "--data-id-table" if tables else "no --data-id-table")
                with s.block("metadata={", "recorded in the graph's header"):
                    s("'butler_argument': REPO,")
                    s(f"'extend_run': {o.extend_run!r},")
                    s(f"'skip_existing_in': {'skip_existing_in' if skip_expr else '[]'},")
                    s(f"'skip_existing': {o.graph.skips_existing!r},")
                    if records_retained_dataset_types():
                        s(f"'retained_dataset_types': {o.retained_dataset_types!r},",
                          "pipetask records it from lsst-ctrl-mpexec 30.2026.2600 on")
                    s("'data_query': DATA_QUERY,")
                s("},")
                s(f"attach_datastore_records={attach!r},",
                  "--qgraph-datastore-records" if attach else "no --qgraph-datastore-records")
                if o.retained_dataset_types is not None:
                    s("retained_dataset_types=retained_dataset_types,",
                      f"{o.text('retained_dataset_types')}: a quantum that must run makes its producers run too")
                if prune:
                    s(f"prune_unanchored_quanta={prune!r},",
                      f"{o.text('prune_unanchored_quanta')}: drop {prune[0]} quanta with no {prune[1]} downstream")
            s(")")
            s("quantum_graph = components.assemble()")
    # The command's own step, by its source (never re-told here).
    _step_source(s, check_graph_not_empty, ("lsst.pipe.base.quantum_graph", "PredictedQuantumGraph"))
    with s.block("check_graph_not_empty(", "an empty graph is an error, before anything is written"):
        s("quantum_graph,")
        s(f"qgraph={o.qgraph!r},", o.text("qgraph") if from_graph else "no -g: a graph built here")
        s("data_query=DATA_QUERY," if not from_graph else "data_query='',")
        s("search_path=plan.search_path,")
        s(f"skip_existing_in={'skip_existing_in' if skip_expr else '[]'},", skip_why or "no --skip-existing-in")
    s(")")
    if o.save_qgraph:
        s(f"components.write({o.save_qgraph!r})", o.text("save_qgraph"))
    if o.qgraph_dot:
        s.use("lsst.pipe.base.dot_tools", "graph2dot")
        s(f"graph2dot(quantum_graph, {o.qgraph_dot!r})", o.text("qgraph_dot"))
    if o.qgraph_mermaid:
        s.use("lsst.pipe.base.mermaid_tools", "graph2mermaid")
        s(f"graph2mermaid(quantum_graph, {o.qgraph_mermaid!r})", o.text("qgraph_mermaid"))
    if _show_items(o) & SHOW_GRAPH_ITEMS:
        s("show_info.show_graph_info(quantum_graph, REPO)", "--show: the graph items")


def _pipeline_graph_comment(o: Options) -> str:
    if o.qgraph is not None:
        return "-g: the pipeline the saved graph was built for"
    return "resolved against the repo by the graph builder"


def _run_comment(o: Options) -> str:
    if o.output_run:
        return o.text("output_run")
    if o.extend_run:
        return "--extend-run: the first child of -o"
    return "no --output-run: OUTPUT/TIMESTAMP"


def _plan_comment(o: Options) -> str:
    given = [o.flag(d) for d in ("input", "output", "output_run", "extend_run", "replace_run", "rebase") if o.given(d)]
    return f"{', '.join(given) or 'collections'}: pipetask's rules (see plan_collections above)"


def _load_graph(s: Script, o: Options, *, for_execution: bool, full: bool) -> None:
    """``-g``: read a saved graph (inside the read-only butler block)."""
    node_ids = [str(uuid.UUID(str(n))) for n in o.qgraph_node_id]
    ids = f"[uuid.UUID(n) for n in {node_ids!r}]" if node_ids else "None"
    if node_ids:
        s.use("uuid")
    if _graph_extension(o.qgraph) == ".qgraph":
        s.use("lsst.pipe.base", "QuantumGraph")
        s.use("lsst.pipe.base.quantum_graph", "PredictedQuantumGraphComponents")
        graph_id = "None"
        if o.qgraph_id is not None:
            s.use("lsst.pipe.base", "BuildId")
            graph_id = f"BuildId({o.qgraph_id!r})"
        with s.block("old = QuantumGraph.loadUri(", f"{o.text('qgraph')}: a legacy graph file"):
            s(f"{o.qgraph!r},")
            s("read_butler.dimensions,")
            s(f"nodes={ids},", o.text("qgraph_node_id") if node_ids else "no --qgraph-node-id: every quantum")
            s(f"graphID={graph_id},", o.text("qgraph_id") if o.qgraph_id else "no --qgraph-id")
        s(")")
        s("components = PredictedQuantumGraphComponents.from_old_quantum_graph(old)")
    else:
        s.use("lsst.pipe.base.quantum_graph", "PredictedQuantumGraph")
        s.use("lsst.pipe.base.pipeline_graph", "TaskImportMode")
        mode = "ASSUME_CONSISTENT_EDGES" if full else "DO_NOT_IMPORT"
        with s.block(f"with PredictedQuantumGraph.open({o.qgraph!r}, import_mode=TaskImportMode.{mode}) as reader:",
                     f"{o.text('qgraph')}: load the saved graph instead of building one"):
            if full or node_ids:
                s(f"reader.read_execution_quanta({ids if node_ids else ''})",
                  o.text("qgraph_node_id") if node_ids else "every quantum, ready to execute")
            else:
                s("reader.read_thin_graph()", "the quanta only: enough for what was asked")
            s("components = reader.components")
        if o.qgraph_id is not None:
            s(comment=f"{o.text('qgraph_id')}: ignored for '.qg' files (pipetask-lite warns)")
    if o.output_run is not None:
        s("check_graph_output_run(OUTPUT_RUN, components.header.output_run)", "--output-run must agree with the graph")
    if for_execution:
        run, why = "components.header.output_run", "-g: a saved graph is executed into its own output run"
    else:
        run = "OUTPUT_RUN" if o.output_run is not None else "None"
        why = (o.text("output_run") if o.output_run is not None else "no --output-run") + \
            ": -g only looked at, so its run does not matter"
    _plan_call(s, o, output_run=run, run_comment=why, writeable=for_execution, require_inputs=False)
    skip_expr, skip_why = _skip_existing_in(o)
    if skip_expr:
        s(f"skip_existing_in = {skip_expr}", skip_why)
    s("quantum_graph = components.assemble()")
    if node_ids:
        with s.block(f"if missing := {{uuid.UUID(n) for n in {node_ids!r}}} - set(quantum_graph):",
                     "--qgraph-node-id: every node must be in the graph"):
            prefix = f"--qgraph-node-id: not in graph {o.qgraph!r}: "
            s(f'sys.exit({prefix!r} + ", ".join(sorted(map(str, missing))))')


def _pipeline_or_show(s: Script, o: Options, nothing_done: str) -> bool:
    """Build the pipeline (without ``-g``), or make the graph's ``ShowInfo``; `True` if ``--show`` stops there.

    ``nothing_done`` is pipetask's first sentence when ``--show`` names pipeline items only.
    """
    if o.qgraph is None:
        _pipeline(s, o)
        if (items := _show_items(o)) and not items & SHOW_GRAPH_ITEMS:
            message = f"{nothing_done} The --show option was given and all options were processed."
            s(f'print("{message}", file=sys.stderr)', "--show: pipeline items only")
            _not_reached(s, o, "--show with pipeline items only stops here")
            s("return 0")
            return True
        s()
    elif o.show:
        s.use("lsst.ctrl.mpexec.showInfo", "ShowInfo")
        s(f"show_info = ShowInfo({list(o.show)!r})", o.text("show"))
    return False


def _explain_qgraph(s: Script, o: Options) -> None:
    _constants(s, o)
    if _pipeline_or_show(s, o, "No quantum graph generated."):
        return
    _graph(s, o, for_execution=o.summary is not None)
    s.depth -= 1
    if o.summary:
        s.use("lsst.pipe.base.quantum_reports", "Report")
        s("report = Report(qgraphSummary=quantum_graph._make_summary())",
          f"{o.text('summary')}: a summary of the graph, as pipetask's qgraph makes it")
        _write_json(s, o, "report")
    _show_unhandled(s, o, SHOW_GRAPH_ITEMS | (SHOW_PIPELINE_ITEMS if o.qgraph is None else set()))
    _no_effect(s, o)
    s("return 0")


def _write_json(s: Script, o: Options, report: str) -> None:
    """``--summary``: the report as JSON, its directory created as the command creates it."""
    s.use("os")
    s(f"os.makedirs(os.path.dirname(os.path.abspath({o.summary!r})), exist_ok=True)", o.text("summary"))
    with s.block(f"with open({o.summary!r}, 'w') as stream:"):
        s(f"stream.write({report}.model_dump_json(exclude_none=True, indent=2))")


def _explain_run(s: Script, o: Options) -> None:
    _constants(s, o)
    if not o.enable_implicit_threading and disables_threading_before_build():
        s.use("lsst.utils.threads", "disable_implicit_threading")
        s("disable_implicit_threading()",
          "pipetask's default, before task imports and graph building make thread pools (this release)")
    items = _show_items(o)
    from_graph = o.qgraph is not None
    if _pipeline_or_show(s, o, "No quantum graph generated or pipeline executed."):
        return
    _graph(s, o, for_execution=True)
    _show_unhandled(s, o, SHOW_GRAPH_ITEMS | (set() if from_graph else SHOW_PIPELINE_ITEMS))
    handled = (items & SHOW_GRAPH_ITEMS) or (not from_graph and items & SHOW_PIPELINE_ITEMS)
    if handled:
        s('print("No pipeline executed. The --show option was given and all options were processed.", '
          "file=sys.stderr)", "--show: stop before execution")
        _not_reached(s, o, "--show stops before execution")
        s("return 0")
        s.depth -= 1
        return
    include_packages = not o.no_versions
    if not o.register_dataset_types:
        s("pipeline_graph = quantum_graph.pipeline_graph", _pipeline_graph_comment(o))
        s(f"pipeline_graph.check_dataset_type_registrations(read_butler, include_packages={include_packages!r})",
          "no --register-dataset-types: every dataset type must be registered already")
    s.depth -= 1
    s()
    _execute(s, o)


def _execute(s: Script, o: Options) -> None:
    # What the command derives from the options, derived by the same object.
    run_options = RunOptions.from_namespace(o)
    include_packages = not o.no_versions
    s.note("3. What needs no writing: resources, the graph fixup, threads.")
    _no_effect(s, o)
    if o.register_dataset_types:
        s("pipeline_graph = quantum_graph.pipeline_graph", _pipeline_graph_comment(o))
    s.use("lsst.pipe.base", "ExecutionResources")
    mem_comment = o.text("memory_per_quantum") if o.memory_per_quantum else "no --memory-per-quantum: no limit"
    cores_comment = o.text("cores_per_quantum") if o.given("cores_per_quantum") else "-n 1 (default)"
    if o.memory_per_quantum:
        s.use("astropy", "units as u")
        s(f"resources = ExecutionResources(num_cores={o.cores_per_quantum!r}, max_mem={o.memory_per_quantum!r}, "
          "default_mem_units=u.MB)", f"{cores_comment}, {mem_comment} (plain numbers are MB)")
    else:
        s(f"resources = ExecutionResources(num_cores={o.cores_per_quantum!r}, max_mem=None)",
          f"{cores_comment}, {mem_comment}")
    if o.graph_fixup:
        s.use("lsst.utils.doImport", "doImportType")
        s(f"fixup = doImportType({o.graph_fixup!r})()", o.text("graph_fixup"))
    if o.enable_implicit_threading:
        s(comment="--enable-implicit-threading: OpenBLAS & co. keep their threads")
    else:
        s.use("lsst.utils.threads", "disable_implicit_threading")
        s("disable_implicit_threading()", "pipetask's default (--enable-implicit-threading keeps the threads)")
    s()
    s.note("4. The first write: the output RUN and CHAINED collections.")
    if o.output is not None and not o.extend_run and not o.replace_run:
        s.use("lsst.pipe.base.simple_pipeline_executor", "SimplePipelineExecutor")
        s.note("The SimplePipelineExecutor recipe, given pipetask's chain: [new run, *chain].")
        s("butler = SimplePipelineExecutor.prep_butler(REPO, inputs=plan.chain, output=OUTPUT, "
          "output_run=plan.output_run)", "-o, --output-run, -i (flattened; or the existing -o's children)"
          if o.output_run else "-o, -i (flattened; or the existing -o's children)")
    else:
        # The command's own step, by its source (never re-told here).
        _output_collections_source(s)
        if o.output is None:
            why = "--output-run without -o: no chain, inputs from -i"
        else:
            why = f"{o.flag('extend_run') if o.extend_run else o.flag('replace_run')}: pipetask's rules, " \
                "which SimplePipelineExecutor.prep_butler does not know"
        with s.block("butler = make_output_collections(", why):
            s("REPO,")
            s("plan,", _plan_comment(o))
            s("pipeline_graph=pipeline_graph,", "the pipeline, for --prune-replaced unstore" if
              o.prune_replaced == "unstore" else None)
            s(f"extend_run={o.extend_run!r},",
              "--extend-run: the run and the chain exist already; nothing new to register" if o.extend_run
              else "no --extend-run" + (": a new run in place of the replaced one" if o.replace_run else ""))
            if o.prune_replaced == "unstore":
                prune_why = "--prune-replaced unstore: the replaced run's task outputs leave the datastore " \
                    "(init-outputs, configs and versions stay, as in pipetask)"
            elif o.prune_replaced == "purge":
                prune_why = "--prune-replaced purge: the replaced run is removed"
            elif o.replace_run:
                prune_why = "--replace-run without --prune-replaced: the replaced run stays in the repo"
            else:
                prune_why = "no --prune-replaced"
            s(f"prune_replaced={o.prune_replaced!r},", prune_why)
        s(")")
    skip_expr, skip_why = _skip_existing_in(o)
    skip_existing = o.graph.skips_existing
    with s.block("with butler:"):
        if o.debug:
            s.use("logging")
            with s.block("try:", "--debug: lsstDebug reads the user's debug.py"):
                s("import debug  # noqa: F401")
            with s.block("except ImportError:"):
                s("logging.getLogger('lsst.pipetask').warning(\"No 'debug' module found.\")")
        s.note("5. Init-outputs, configs and software versions: what SimplePipelineExecutor.run writes",
               "first, split up here because --skip-init-writes, --no-versions and --extend-run change it.")
        if o.register_dataset_types:
            s(f"pipeline_graph.register_dataset_types(butler, include_packages={include_packages!r})",
              "--register-dataset-types" + (", --no-versions: without 'packages'" if o.no_versions else ""))
        if o.skip_init_writes:
            s(comment="--skip-init-writes: no init-outputs, configs or software versions are written")
        else:
            ext = o.extend_run
            # The command's own step, by its source (never re-told here).
            _step_source(s, write_init_outputs, ("lsst.daf.butler", "Butler"),
                         ("lsst.pipe.base.quantum_graph", "PredictedQuantumGraph"))
            with s.block("write_init_outputs(", "init-outputs, task configs and software versions"):
                s("quantum_graph,")
                s("butler,")
                s(f"skip_existing={skip_existing!r},",
                  ("--extend-run: " if ext else "--skip-existing: " if skip_existing else "no --skip-existing: ")
                  + ("the init-outputs already there are kept" if skip_existing else "write every init-output"))
                s(f"extend_run={ext!r},",
                  "--extend-run: configs and versions must match those already written" if ext
                  else "no --extend-run: nothing to compare with")
                s(f"include_packages={include_packages!r},",
                  "--no-versions: no 'packages' dataset is written or compared" if o.no_versions
                  else "software versions (--no-versions skips them)")
            s(")")
        if o.init_only:
            _not_reached(s, o, "--init-only stops before execution")
            s("return 0", "--init-only: stop before executing")
            return
        s()
        s.note("6. Execution.")
        s.raw(WHY_NOT_SIMPLE_RUN)
        s.use("lsst.pipe.base.mp_graph_executor", "MPGraphExecutorError")
        if o.processes <= 1 and not o.extend_run:
            s.note(
                "A full butler's put registers each dataset in a transaction of its own.  For a new run",
                "(whose graph carries its inputs' datastore records) pipetask-lite executes the quanta on",
                "quantum-backed butlers and registers their outputs in batches, one transaction each (its",
                "own code, pipetask_lite/_registration.py), with the same outputs in the repo.",
            )
        # The command's own steps, by their source (never re-told here).
        _step_source(s, single_quantum_executor, ("collections.abc", "Sequence"), ("lsst.daf.butler", "Butler"),
                     ("lsst.pipe.base", "ExecutionResources"),
                     ("lsst.pipe.base.single_quantum_executor", "SingleQuantumExecutor"))
        with s.block("quantum_executor = single_quantum_executor("):
            s("butler,")
            s(f"skip_existing_in={'skip_existing_in' if skip_expr else '[]'},", skip_why or "no --skip-existing-in")
            clobbers = run_options.clobbers
            s(f"clobber_outputs={clobbers!r},",
              "--clobber-outputs" + ("" if clobbers else ": does nothing without --extend-run")
              if o.clobber_outputs else "no --clobber-outputs")
            s(f"enable_lsst_debug={o.debug!r},", "--debug" if o.debug else "no --debug")
            s("resources=resources,", "-n, --memory-per-quantum")
            s(f"raise_on_partial_outputs={o.raise_on_partial_outputs!r},",
              o.text("raise_on_partial_outputs") if o.given("raise_on_partial_outputs")
              else "--raise-on-partial-outputs (default)")
        s(")")
        _step_source(s, mp_graph_executor, ("lsst.pipe.base.quantum_graph_executor", "QuantumExecutor"),
                     ("lsst.pipe.base.execution_graph_fixup", "ExecutionGraphFixup"),
                     ("lsst.pipe.base.mp_graph_executor", "MPGraphExecutor"))
        with s.block("graph_executor = mp_graph_executor("):
            s("quantum_executor,")
            if o.processes > 1:
                s.note(
                    f"{o.text('processes')}: MPGraphExecutor starts a process per quantum, each importing the",
                    f"stack again; pipetask-lite keeps {o.processes} long-lived workers instead (its own code,",
                    "not LSST API), with the same outputs in the repo.",
                )
                s(f"num_proc={o.processes!r},", o.text("processes"))
            else:
                s("num_proc=1,", o.text("processes") if o.given("processes") else "-j 1 (default)")
            s(f"timeout={run_options.effective_timeout!r},",
              "no --timeout: pipetask's 30 days" if o.timeout is None else o.text("timeout"))
            s(f"fail_fast={o.fail_fast!r},", "--fail-fast" if o.fail_fast else "no --fail-fast: run all it can")
            s(f"pdb={o.pdb!r},", o.text("pdb") if o.pdb else "no --pdb")
            s(f"execution_graph_fixup={'fixup' if o.graph_fixup else 'None'},",
              "--graph-fixup" if o.graph_fixup else "no --graph-fixup")
            if o.start_method:
                if run_options.worker_start_method != o.start_method:
                    s(f"start_method={run_options.worker_start_method!r},",
                      "--start-method fork: unsafe and no longer supported; pipetask uses spawn (and warns)")
                else:
                    s(f"start_method={o.start_method!r},", o.text("start_method"))
        s(")")
        s("butler.registry.resetConnectionPool()", "worker processes must not share database connections")
        s("failure = None")
        with s.block("try:"):
            if o.profile:
                # As the command (pipetask_lite._execution.profiled), not
                # lsst.utils.timer.profile, which writes nothing when quanta fail.
                s.use("cProfile")
                s("profiler = cProfile.Profile()", f"{o.text('profile')}: cProfile statistics of the execution")
                s("profiler.enable()")
                with s.block("try:"):
                    s("graph_executor.execute(quantum_graph)")
                with s.block("finally:", "written also when quanta fail"):
                    s("profiler.disable()")
                    s.use("os")
                    s(f"os.makedirs(os.path.dirname(os.path.abspath({o.profile!r})), exist_ok=True)")
                    s(f"profiler.dump_stats({o.profile!r})")
            else:
                s("graph_executor.execute(quantum_graph)")
        with s.block("except MPGraphExecutorError as exc:", "failed quanta are reported below"):
            s("failure = exc")
        s("report = graph_executor.getReport()")
        if o.summary:
            _write_json(s, o, "report")
    s()
    s.use("lsst.pipe.base.quantum_reports", "ExecutionStatus")
    s.note("How each quantum ended; any failure makes the exit status 1, as with pipetask-lite.")
    s("succeeded = [q for q in report.quantaReports if q.status is ExecutionStatus.SUCCESS]")
    s("blocked = [q for q in report.quantaReports if q.status is ExecutionStatus.SKIPPED]")
    s("failed = [q for q in report.quantaReports if q.status not in (ExecutionStatus.SUCCESS, "
      "ExecutionStatus.SKIPPED)]")
    with s.block("if failure is not None or failed:"):
        s('print(f"{len(failed)} of {len(quantum_graph)} quanta failed, {len(blocked)} blocked by failures '
          'upstream; {len(succeeded)} succeeded (outputs in {plan.output_run!r})", file=sys.stderr)')
        with s.block("for q in failed:"):
            s('data_id = ", ".join(f"{k}={v!r}" for k, v in q.dataId.items())')
            s("why = f\"{q.exceptionInfo.className}: {q.exceptionInfo.message}\" if q.exceptionInfo "
              "else q.status.name")
            s('print(f"  {q.taskLabel}@{{{data_id}}}: {why}", file=sys.stderr)')
        with s.block("if failure is not None and not failed:", "e.g. a timeout"):
            s('print(f"  {failure}", file=sys.stderr)')
        s("return 1")
    s("return 0")
