"""Generate ``docs/options.md`` from the parser: every option, its keyword, its LSST call.

``make docs`` runs ``python -m pipetask_lite._options_doc > docs/options.md``;
a test fails when the committed file differs from what this prints.
"""

from __future__ import annotations

import argparse
import dataclasses

from ._qgraph import GraphOptions
from ._run import RunOptions
from .actions import ACTIONS
from .cli import build_parser, subcommand_parser

# What each keyword becomes in the LSST API (by the keyword, i.e. argparse's dest):
# for qgraph's and run's options, what their field in GraphOptions / RunOptions
# says (next to the keyword, in _qgraph.py and _run.py); for the others, here.
OTHER_CALLS = {
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


def _field_calls(options_class) -> dict[str, str]:
    """The ``lsst_call`` of each field of an options class (`GraphOptions`, `RunOptions`)."""
    return {f.name: f.metadata["lsst_call"] for f in dataclasses.fields(options_class)
            if f.init and f.metadata.get("lsst_call")}


LSST_CALLS = {**_field_calls(GraphOptions), **_field_calls(RunOptions), **OTHER_CALLS}
"""What each keyword (argparse's dest) becomes in the LSST API."""
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
    # By section, as --help lists them: argparse has no public way to list a
    # parser's sections or their options (its help formatter reads these too).
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
                # The pipeline actions share one keyword; each has its own call.
                next(kind.lsst_call for kind in ACTIONS.values() if kind.flags == tuple(action.option_strings))
                if action.dest == "pipeline_actions"
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
