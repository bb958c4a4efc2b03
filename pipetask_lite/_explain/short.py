"""``--explain`` (``short``): LSST's SimplePipelineExecutor recipe, where it can say the command line."""

from __future__ import annotations

from .._argv import wrap_command as _wrap_command
from .script import Options, Script, _constants, _graph_extension, _pipeline_actions

WHY_NOT_SIMPLE_RUN = """\
# SimplePipelineExecutor.run would stop at the first failing quantum, in one
# process, after writing every init-output itself.  pipetask runs every
# quantum that no failure blocks, with -j/--fail-fast/--timeout and a report
# per quantum: that is MPGraphExecutor driving a SingleQuantumExecutor."""


RECIPE_DESTS = frozenset({
    # How the command logs: CliLog, as in the full script.
    "log_level", "long_log", "log_file", "log_tty", "log_label", "traceback", "options_file",
    # What the recipe takes: its keywords and the pipeline's calls.
    "butler_config", "input", "output", "output_run", "data_query", "pipeline", "pipeline_actions",
    "save_pipeline", "select_tasks", "register_dataset_types", "no_versions", "raise_on_partial_outputs",
    "cores_per_quantum", "memory_per_quantum",
    # How the command executes, not what it leaves in the repo: a comment each.
    "processes", "timeout", "fail_fast", "start_method", "enable_implicit_threading",
})


def _why_not_recipe(o: Options) -> str | None:
    """Why the SimplePipelineExecutor recipe cannot express this command line, or `None` if it can."""
    if o.subcommand == "build":
        return "`build` makes a pipeline only, with no executor to stand for it"
    if o.subcommand == "qgraph":
        return ("SimplePipelineExecutor builds a graph only on the butler prep_butler makes, after writing the "
                "output collections, and `qgraph` writes nothing to the repo")
    if o.qgraph is not None and _graph_extension(o.qgraph) != ".qg":
        return (f"-g {o.qgraph!r}: a legacy graph file; the recipe reads '.qg' files "
                "(PredictedQuantumGraph.read_execution_quanta)")
    # A saved graph (-g): SimplePipelineExecutor(quantum_graph, butler).
    takes = RECIPE_DESTS | ({"qgraph"} if o.qgraph is not None else set())
    if others := [o.flag(d) for d in o.sub_dests if o.given(d) and d not in takes]:
        return f"SimplePipelineExecutor has nothing for {', '.join(others)}"
    if o.output is None:
        return "no -o: SimplePipelineExecutor.prep_butler always makes an output CHAINED collection"
    if not o.input:
        return "no -i: the inputs are the existing -o chain's, and SimplePipelineExecutor.prep_butler would redefine it"
    if o.no_versions and o.register_dataset_types:
        return ("--no-versions with --register-dataset-types: SimplePipelineExecutor.run registers the 'packages' "
                "dataset type, which pipetask then leaves out")
    return None


def _recipe_logging(s: Script, o: Options) -> None:
    """``CliLog.initLog(...)`` on one line, naming the logging options given."""
    s.use("lsst.daf.butler.cli.cliLog", "CliLog")
    given = [o.text(d) for d in ("long_log", "log_tty", "log_file", "log_label") if o.given(d)]
    s(f"CliLog.initLog(longlog={o.long_log!r}, log_tty={o.log_tty!r}, log_file={tuple(o.log_file)!r}, "
      f"log_label={dict(o.log_label)!r})", ", ".join(given) or "pipetask's logging")
    if o.log_level:
        s(f"CliLog.setLogLevels({list(o.log_level)!r})", o.text("log_level"))
    if o.traceback:
        s(comment="--traceback: errors here raise with their traceback anyway")
    if o.given("options_file"):
        s(comment=f"{o.text('options_file')}: the options read from this file are written out here as if given")


def _explain_recipe(s: Script, o: Options) -> None:
    """``run`` as the SimplePipelineExecutor recipe: prep_butler, from_pipeline (or the saved graph), run."""
    graph = o.qgraph is not None
    s.intro += [
        "LSST's SimplePipelineExecutor recipe for this command (printed by `pipetask-lite --explain`):",
        *[f"    {line}" for line in _wrap_command(o.command_line(), width=96)],
        "It leaves the repo as the command does when that succeeds.  Not in it: the checks before",
        "the first write (bad -i" + ("" if graph else ", empty graph")
        + ": --explain=full, step 2) and pipetask's executor (step 6).",
    ]
    s.use("lsst.daf.butler", "Butler")
    s.use("lsst.pipe.base.simple_pipeline_executor", "SimplePipelineExecutor")
    _constants(s, o)
    _recipe_logging(s, o)
    if graph:
        s.use("lsst.pipe.base.quantum_graph", "PredictedQuantumGraph")
        s(f"quantum_graph = PredictedQuantumGraph.read_execution_quanta({o.qgraph!r})",
          f"{o.text('qgraph')}: the saved graph, every quantum ready to execute")
        if o.output_run is not None:
            with s.block("if quantum_graph.header.output_run != OUTPUT_RUN:",
                         f"{o.text('output_run')}: must be the saved graph's run"):
                s('raise SystemExit(f"--output-run: the graph\'s run is {quantum_graph.header.output_run!r}")')
    else:
        _pipeline_actions(s, o)
        if o.save_pipeline:
            s(f"pipeline.write_to_uri({o.save_pipeline!r})", o.text("save_pipeline"))
    with s.block("with Butler.from_config(REPO) as read_butler:", f"{o.text('butler_config')}: read only"):
        s("inputs = read_butler.collections.query(INPUTS, flatten_chains=True)",
          "-i: CHAINED inputs flattened, as pipetask does")
        with s.block('if OUTPUT in read_butler.collections.query("*"):',
                     "-o must be new: prep_butler would redefine an existing chain"):
            s('raise SystemExit(f"-o/--output: {OUTPUT!r} exists; see --explain=full")')
        if graph:
            with s.block('if quantum_graph.header.output_run in read_butler.collections.query("*"):',
                         "-g: the graph's run must be new (the command resumes one only with --extend-run)"):
                s('raise SystemExit(f"-g: the run {quantum_graph.header.output_run!r} exists; see --explain=full")')
    if graph:
        s("butler = SimplePipelineExecutor.prep_butler(REPO, inputs=inputs, output=OUTPUT, "
          "output_run=quantum_graph.header.output_run)",
          "-o, -g: the first write, the graph's run and the chain [run, *inputs]")
    else:
        run = ", output_run=OUTPUT_RUN" if o.output_run is not None else ""
        s(f"butler = SimplePipelineExecutor.prep_butler(REPO, inputs=inputs, output=OUTPUT{run})",
          ("-o, --output-run: " if run else "-o: ") + "the first write, the run"
          + ("" if run else " OUTPUT/TIMESTAMP") + " and the chain [run, *inputs]")
    keywords = ["butler=butler"] if graph else ["where=DATA_QUERY", "butler=butler"]
    why = [] if graph else [o.text("data_query") if o.data_query else "no -d: every data ID the inputs allow"]
    if o.given("cores_per_quantum") or o.memory_per_quantum:
        s.use("lsst.pipe.base", "ExecutionResources")
        if o.memory_per_quantum:
            s.use("astropy", "units as u")
            s(f"resources = ExecutionResources(num_cores={o.cores_per_quantum!r}, max_mem={o.memory_per_quantum!r}, "
              "default_mem_units=u.MB)", ", ".join(o.text(d) for d in ("cores_per_quantum", "memory_per_quantum")
                                                   if o.given(d)) + " (plain numbers are MB)")
        else:
            s(f"resources = ExecutionResources(num_cores={o.cores_per_quantum!r})", o.text("cores_per_quantum"))
        keywords.append("resources=resources")
    if o.given("raise_on_partial_outputs"):
        keywords.append(f"raise_on_partial_outputs={o.raise_on_partial_outputs!r}")
        why.append(o.text("raise_on_partial_outputs"))
    if graph:
        keywords = keywords[1:]  # the constructor takes the butler second, by position
        s(f"executor = SimplePipelineExecutor(quantum_graph, butler{''.join(', ' + k for k in keywords)})",
          ", ".join(why) or "-g: the saved graph, on the butler prep_butler made")
    elif o.select_tasks:
        s(f"pipeline_graph = pipeline.to_graph().select({o.select_tasks!r})", o.text("select_tasks"))
        s(f"executor = SimplePipelineExecutor.from_pipeline_graph(pipeline_graph, {', '.join(keywords)})",
          ", ".join(why))
    else:
        s(f"executor = SimplePipelineExecutor.from_pipeline(pipeline, {', '.join(keywords)})", ", ".join(why))
    # What the recipe does differently, option by option.
    if o.processes > 1:
        s(comment=f"{o.text('processes')}: the quanta run one at a time, in this process "
                  "(--explain=full, step 6: MPGraphExecutor)")
    elif o.given("processes"):
        s(comment=f"{o.text('processes')}: one at a time, as here")
    if o.given("timeout"):
        s(comment=f"{o.text('timeout')}: the recipe has no time limit")
    if o.given("fail_fast"):
        s(comment="--fail-fast: the recipe stops at the first failure anyway")
    if o.given("start_method"):
        s(comment=f"{o.text('start_method')}: the recipe starts no processes")
    if o.enable_implicit_threading:
        s(comment="--enable-implicit-threading: the recipe leaves threading alone too")
    arguments = [f"register_dataset_types={o.register_dataset_types!r}"]
    why = [o.flag("register_dataset_types") if o.register_dataset_types
           else "no --register-dataset-types: every dataset type must be registered already"]
    if o.no_versions:
        arguments.append("save_versions=False")
        why.append("--no-versions")
    s(f"executor.run({', '.join(arguments)})", ", ".join(why) + "; then init-outputs, configs, quanta")
