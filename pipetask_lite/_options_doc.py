"""Generate ``docs/options.md`` from the parser: every option, its keyword, its LSST call.

``make docs`` runs ``python -m pipetask_lite._options_doc > docs/options.md``;
a test fails when the committed file differs from what this prints.
"""

from __future__ import annotations

import argparse

from .cli import build_parser, subcommand_parser

# What each keyword becomes in the LSST API (by the keyword, i.e. argparse's dest).
LSST_CALLS = {
    "butler_config": "`Butler.from_config(...)`; `SimplePipelineExecutor.prep_butler(...)`",
    "input": "`butler.collections.query(..., flatten_chains=True)`: graph builder `input_collections`, output chain",
    "output": "`SimplePipelineExecutor.prep_butler(output=...)` / `butler.collections.redefine_chain`",
    "output_run": "`prep_butler(output_run=...)`; graph builder `output_run`",
    "extend_run": "graph builder `skip_existing_in=[run]`; `SingleQuantumExecutor(skip_existing_in=...)`",
    "replace_run": "`butler.collections.redefine_chain` without the replaced run",
    "prune_replaced": "`butler.pruneDatasets(..., unstore=True)` or `butler.removeRuns([...])`",
    "data_query": "`SimplePipelineExecutor.from_pipeline_graph(where=...)` / `AllDimensionsQuantumGraphBuilder(where=...)`",
    "rebase": "`butler.collections.redefine_chain` (reordered chain)",
    "pipeline": "`Pipeline.from_uri(...)`",
    "pipeline_actions": "see ACTION_CALLS",
    "save_pipeline": "`Pipeline.write_to_uri(...)`",
    "select_tasks": "`PipelineGraph.select(...)`",
    "pipeline_dot": "`pipeline_graph.visualization.show_dot(...)`",
    "pipeline_mermaid": "`pipeline_graph.visualization.show_mermaid(...)`",
    "show": "`lsst.ctrl.mpexec.showInfo.ShowInfo(...)`",
    "debug": "`SingleQuantumExecutor(enable_lsst_debug=True)`; `import debug`",
    "qgraph": "`PredictedQuantumGraph.open(...)` / `QuantumGraph.loadUri(...)`",
    "qgraph_id": "`QuantumGraph.loadUri(graphID=BuildId(...))`",
    "qgraph_node_id": "`reader.read_execution_quanta(quantum_ids)`",
    "qgraph_datastore_records": "`builder.finish(attach_datastore_records=True)`",
    "skip_existing_in": "`AllDimensionsQuantumGraphBuilder(skip_existing_in=...)`; `SingleQuantumExecutor(skip_existing_in=...)`",
    "skip_existing": "`skip_existing_in` plus the output run",
    "retained_dataset_types": "`AllDimensionsQuantumGraphBuilder(retained_dataset_types=yaml.safe_load(...))` (lsst-pipe-base 30.2026.2600 or newer)",
    "prune_unanchored_quanta": "`AllDimensionsQuantumGraphBuilder(prune_unanchored_quanta=(SOURCE, ANCHOR))` (lsst-pipe-base 30.2026.2800 or newer)",
    "save_qgraph": "`PredictedQuantumGraphComponents.write(...)`",
    "qgraph_dot": "`lsst.pipe.base.dot_tools.graph2dot(...)`",
    "qgraph_mermaid": "`lsst.pipe.base.mermaid_tools.graph2mermaid(...)`",
    "dataset_query_constraint": "`AllDimensionsQuantumGraphBuilder(dataset_query_constraint=DatasetQueryConstraintVariant.fromExpression(...))`",
    "data_id_table": "`astropy.table.Table.read(...)`; `AllDimensionsQuantumGraphBuilder(data_id_tables=...)`",
    "mock": "`lsst.pipe.base.tests.mocks.mock_pipeline_graph(...)`",
    "mock_failure": "`mock_pipeline_graph(force_failures={label: ForcedFailure(...)})`",
    "unmocked_dataset_types": "`mock_pipeline_graph(unmocked_dataset_types=...)`",
    "clobber_outputs": "`AllDimensionsQuantumGraphBuilder(clobber=True)`; `SingleQuantumExecutor(clobber_outputs=True)`",
    "summary": "`MPGraphExecutor.getReport().model_dump_json(...)`",
    "pdb": "`MPGraphExecutor(pdb=...)`",
    "profile": "`cProfile.Profile()` around the execution; `profiler.dump_stats(...)`, also when quanta fail",
    "processes": "`MPGraphExecutor(num_proc=1)` for 1; N long-lived workers (`concurrent.futures.ProcessPoolExecutor`) otherwise",
    "start_method": "`multiprocessing.get_context(...)` of the worker pool",
    "timeout": "`MPGraphExecutor(timeout=...)` / worker pool deadline",
    "fail_fast": "`MPGraphExecutor(fail_fast=True)` / worker pool stops submitting",
    "raise_on_partial_outputs": "`SingleQuantumExecutor(raise_on_partial_outputs=...)`",
    "graph_fixup": "`MPGraphExecutor(execution_graph_fixup=...)`",
    "enable_implicit_threading": "skips `lsst.utils.threads.disable_implicit_threading()`",
    "cores_per_quantum": "`ExecutionResources(num_cores=...)`",
    "memory_per_quantum": "`ExecutionResources(max_mem=..., default_mem_units=u.MB)`",
    "skip_init_writes": "skips `qg.write_init_outputs`, `qg.write_configs`, `qg.write_packages`",
    "init_only": "stops after `qg.write_init_outputs(...)`",
    "register_dataset_types": "`pipeline_graph.register_dataset_types(butler)`",
    "no_versions": "skips `qg.write_packages(...)`",
    "coverage": "`coverage.Coverage(...).start()`",
    "cov_report": "`coverage.Coverage.html_report(...)`",
    "cov_packages": "`coverage.Coverage` `source_pkgs`",
    "config_search_path": "`QuantumBackedButler.initialize(search_paths=...)` / `qg.make_init_qbb(config_search_paths=...)`",
    "no_existing_outputs": "`SingleQuantumExecutor(assume_no_existing_outputs=True)`",
    "metadata_run_key": "ignored (warning), as by pipetask",
    "update_graph_id": "ignored (warning), as by pipetask",
    "collections": "`QuantumProvenanceGraph(collections=...)`",
    "where": "`QuantumProvenanceGraph(where=...)`",
    "full_output_filename": "`report.write_summary_yaml(...)` / `summary.model_dump_json()`",
    "logs": "`report.to_summary_dict(butler, logs)` / `qpg.to_summary(do_store_logs=...)`",
    "brief": "`summary.pprint(brief=True)`; no error listing",
    "curse_failed_logs": "`QuantumProvenanceGraph(curse_failed_logs=True)`",
    "force_v2": "`QuantumProvenanceGraph` instead of `QuantumGraphExecutionReport`",
    "read_caveats": "`QuantumProvenanceGraph(read_caveats=...)`",
    "use_qbb": "`QuantumProvenanceGraph(use_qbb=...)`",
    "view_graph": "`pipeline_graph.visualization.show(status_annotator=QuantumProvenanceGraphStatusAnnotator(...))`",
    "confirm": "prints the removals and asks `Continue? [y/N]` before `butler.removeRuns(...)`",
    "recursive": "member CHAINED collections purged in turn",
    "options_file": "read by the command line (YAML defaults for the options)",
    "log_level": "`CliLog.setLogLevels(...)`",
    "long_log": "`CliLog.initLog(longlog=True)`",
    "log_file": "`CliLog.initLog(log_file=...)`",
    "log_tty": "`CliLog.initLog(log_tty=...)`",
    "log_label": "`CliLog.initLog(log_label=...)`",
    "traceback": "(pipetask-lite only) print the traceback of an error",
    "explain": (
        "(pipetask-lite only) print the equivalent Python script: `--explain` (`short`) the "
        "`SimplePipelineExecutor` recipe (`prep_butler`, `from_pipeline`, `run`) when it can say the command "
        "line; `--explain=full` every call, checks included; `--explain=quantum` (run, qgraph) one quantum's "
        "`task.run(...)` on inputs fetched with `butler.get(...)`"
    ),
}
# The five pipeline actions share one keyword; each has its own call.
ACTION_CALLS = {
    "--task": "`Pipeline.addTask(task, label)`",
    "--delete": "`Pipeline.removeTask(label)`",
    "--config": "`Pipeline.addConfigOverride(label, name, value)`",
    "--config-file": "`Pipeline.addConfigFile(label, file)`",
    "--instrument": "`Pipeline.addInstrument(instrument)`",
}
FUNCTIONS = {
    "build": "pipetask_lite.build",
    "qgraph": "pipetask_lite.qgraph",
    "run": "pipetask_lite.run",
    "run-qbb": "pipetask_lite.run_qbb",
    "pre-exec-init-qbb": "pipetask_lite.pre_exec_init_qbb",
    "update-graph-run": "pipetask_lite.update_graph_run",
    "report": "pipetask_lite.report",
    "aggregate-reports": "pipetask_lite.aggregate_reports",
    "cleanup": "pipetask_lite.cleanup",
    "purge": "pipetask_lite.purge",
}
# Where a keyword means something else in a subcommand.
SUBCOMMAND_CALLS = {
    ("run-qbb", "processes"): "`MPGraphExecutor(num_proc=1)` for 1; N long-lived workers with quantum-backed butlers otherwise",
    ("run-qbb", "qgraph_node_id"): "`PredictedQuantumGraph.open(...).read_execution_quanta(quantum_ids)`",
    ("report", "processes"): "`QuantumProvenanceGraph(n_cores=...)`",
    ("report", "full_output_filename"): "`report.write_summary_yaml(...)` (one graph) / `summary.model_dump_json()`",
    ("aggregate-reports", "full_output_filename"): "`Summary.aggregate(...).model_dump_json()`",
    ("cleanup", "butler_config"): "`Butler.from_config(...)`",
    ("purge", "butler_config"): "`Butler.from_config(...)`",
}
CLI_ONLY = {"options_file", "log_level", "long_log", "log_file", "log_tty", "log_label", "traceback", "explain"}


def _rows(parser: argparse.ArgumentParser, function: str | None, subcommand: str | None = None) -> list[str]:
    rows = []
    for group in parser._action_groups:
        for action in group._group_actions:
            if not action.option_strings or action.dest == "help":
                continue
            options = ", ".join(f"`{o}`" for o in action.option_strings)
            if action.nargs == "?" and action.choices:
                # An optional value from a few choices (--explain): each form, the bare one first.
                options += "".join(f", `{action.option_strings[-1]}={c}`" for c in action.choices if c != action.const)
            keyword = "(command line only)" if action.dest in CLI_ONLY or function is None else f"`{action.dest}`"
            call = (
                ACTION_CALLS[action.option_strings[-1]] if action.dest == "pipeline_actions"
                else SUBCOMMAND_CALLS.get((subcommand, action.dest), LSST_CALLS[action.dest])
            )
            section = "general" if group.title in (None, "options", "optional arguments") else group.title
            rows.append(f"| {options} | {section} | {keyword} | {call} |")
    return rows


def render() -> str:
    """Return the Markdown of ``docs/options.md``."""
    parser = build_parser()
    lines = [
        "# Options, keywords and LSST calls",
        "",
        "Generated from the parser by `make docs` (`python -m pipetask_lite._options_doc`); do not edit.",
        "Each option becomes the keyword of the subcommand's function; the last column is the LSST call",
        "that keyword ends up in. `-t`, `--delete`, `-c`, `-C` and `--instrument` share one ordered",
        "keyword, `pipeline_actions`, because pipetask applies them in command-line order.",
        "",
        "## Global options (before the subcommand)",
        "",
        "| option | section | keyword | LSST call |",
        "| --- | --- | --- | --- |",
        *_rows(parser, None),
    ]
    for name, function in FUNCTIONS.items():
        lines += [
            "",
            f"## `pipetask-lite {name}`: `{function}(...)`",
            "",
            "| option | section | keyword | LSST call |",
            "| --- | --- | --- | --- |",
            *_rows(subcommand_parser(parser, name), function, name),
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
