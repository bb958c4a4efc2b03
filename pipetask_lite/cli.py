"""The ``pipetask-lite`` command line: one flat argparse parser.

Read this file top to bottom to see every option of ``pipetask run``, grouped
as in ``pipetask run --help``, then those of pipetask's other subcommands,
and, in the ``call_*`` functions, the keyword of `pipetask_lite.run` (or of
the subcommand's function) that each option becomes.  Nothing here imports
``lsst``: ``--help`` and usage errors answer without loading the LSST stack.
"""

from __future__ import annotations

__all__ = ("build_parser", "main", "parse_args")

import argparse
import errno
import logging
import os
import shlex
import signal
import sys
import traceback
from collections.abc import Sequence

from ._compat import NEW_BUILDER_OPTIONS, check_release
from ._options_file import given_options, merge_options_file
from ._parallel import START_METHODS
from ._redact import RedactingFilter, redact
from ._rules import PRUNE_CHOICES, check_execution_numbers
from ._util import make_parents
from .actions import parse_pipeline_action
from .errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Interrupted,
    PipetaskLiteError,
    UsageError,
)

PROG = "pipetask-lite"
EXPLAIN_DEPTHS = ("short", "full", "quantum")
"""The values of ``--explain``: the recipe, every step, one quantum's task call."""
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "VERBOSE", "DEBUG", "TRACE")
PIPELINE_ACTION_OPTIONS = {
    "task": ("-t", "--task"),
    "delete": ("--delete",),
    "config": ("-c", "--config"),
    "config_file": ("-C", "--config-file"),
    "instrument": ("--instrument",),
}


# ---------------------------------------------------------------------------
# Value types: each turns one typed value into what the Python API takes, or
# raises ArgumentTypeError so argparse prints "argument -x: ..." and exits 2.
# ---------------------------------------------------------------------------


def comma_list(text: str) -> list[str]:
    """Split ``a,b`` into ``[a, b]``; with ``action="extend"``, ``-i a,b -i c`` gives ``[a, b, c]``."""
    return [item for item in text.split(",") if item]


def int_at_least(minimum: int):
    """Make a type for integers ``>= minimum`` (click's ``IntRange(min=...)``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is smaller than the minimum {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def pipeline_action(option: str):
    """Make a type that parses one ``-t/--delete/-c/-C/--instrument`` value."""

    def parse(text: str):
        try:
            return parse_pipeline_action(option, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def config_file_actions(text: str) -> list:
    """Parse ``-C LABEL:FILE[,LABEL:FILE...]``; pipetask splits this one at commas."""
    return [pipeline_action("config_file")(item) for item in comma_list(text)]


def log_levels(text: str) -> list[tuple[str | None, str]]:
    """Parse ``--log-level LEVEL`` or ``COMPONENT=LEVEL`` (comma-separated allowed)."""
    result = []
    for item in comma_list(text):
        component, _, level = item.rpartition("=")
        if level.upper() not in LOG_LEVELS:
            raise argparse.ArgumentTypeError(f"{level!r} is not one of {'|'.join(LOG_LEVELS)}")
        result.append((component or None, level.upper()))
    return result


def key_values(text: str) -> list[tuple[str, str]]:
    """Parse ``KEY=VALUE[,KEY=VALUE...]`` for ``--log-label``."""
    result = []
    for item in comma_list(text):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {item!r}")
        result.append((key, value))
    return result


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (plus a pointer to --help).

    Abbreviated long options are refused, as Click (pipetask) refuses them:
    ``--regist`` must not quietly mean ``--register-dataset-types``.
    """

    def __init__(self, *args, allow_abbrev: bool = False, **kwargs):
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)

    def error(self, message: str):
        """Print ``PROG: error: message`` and exit 2, without the long usage text."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nhint: see '{self.prog} --help'\n")


# ---------------------------------------------------------------------------
# Option groups, in the sections of ``pipetask run --help``.  Each is a parent
# parser so that later subcommands (build, qgraph) share the declarations.
# ---------------------------------------------------------------------------

debug_option = Parser(add_help=False)
debug_option.add_argument(
    "--debug", action="store_true", help="Enable debugging output using lsstDebug facility (imports debug.py)."
)

show_option = Parser(add_help=False)
show_option.add_argument(
    "--show", metavar="ITEM|ITEM=VALUE", action="extend", type=comma_list, default=[],
    help="Dump various info to standard output: config, config=[Task::]PATTERN[:NOIGNORECASE], "
    "history=FIELD, dump-config[=Task], pipeline, graph, workflow, tasks, subsets, uri, "
    "pipeline-graph, task-graph, inputs.",
)

pipeline_build_options = Parser(add_help=False)
group = pipeline_build_options.add_argument_group("Pipeline build options")
group.add_argument(
    "-p", "--pipeline", metavar="FILE",
    help="Location of a pipeline definition file in YAML format (FILE#label,... selects tasks or subsets).",
)
# -t, --delete, -c, -C and --instrument share one ordered list: pipetask applies
# them to the pipeline in command-line order.
group.add_argument(
    "-t", "--task", dest="pipeline_actions", action="append", type=pipeline_action("task"),
    metavar="TASK[:LABEL]",
    help="Task name to add to pipeline, must be a fully qualified task name. Task name can be followed by "
    "colon and label name; without a label the task's class name is used.",
)
group.add_argument(
    "--delete", dest="pipeline_actions", action="append", type=pipeline_action("delete"), metavar="LABEL",
    help="Delete task with given label from pipeline.",
)
group.add_argument(
    "-c", "--config", dest="pipeline_actions", action="append", type=pipeline_action("config"),
    metavar="LABEL:NAME=VALUE", help="Config override, as a key-value pair.",
)
group.add_argument(
    "-C", "--config-file", dest="pipeline_actions", action="extend", type=config_file_actions,
    metavar="LABEL:FILE", help="Configuration override file(s), applies to a task with a given label.",
)
group.add_argument(
    "-s", "--save-pipeline", metavar="FILE",
    help="Location for storing resulting pipeline definition in YAML format.",
)
group.add_argument(
    "--select-tasks", metavar="EXPR", default="",
    help="A string expression that filters the tasks to run from the pipeline.",
)
group.add_argument(
    "--pipeline-dot", metavar="FILE", help="Location for storing GraphViz DOT representation of a pipeline."
)
group.add_argument(
    "--pipeline-mermaid", metavar="FILE", help="Location for storing Mermaid representation of a pipeline."
)
group.add_argument(
    "--instrument", dest="pipeline_actions", action="append", type=pipeline_action("instrument"),
    metavar="instrument",
    help="Add an instrument which will be used to load config overrides when defining a pipeline. "
    "This must be the fully qualified class name.",
)



def _needs(option: str) -> str:
    """Help text naming the release an option needs (pipetask_lite._compat says which)."""
    _, package, first = NEW_BUILDER_OPTIONS[option]
    return f"Needs {package} {first} or newer."


qgraph_options = Parser(add_help=False)
group = qgraph_options.add_argument_group("Quantum graph building options")
group.add_argument(
    "-g", "--qgraph", metavar="TEXT",
    help="Location for a serialized quantum graph definition. If given, no input data or "
    "pipeline-building options may be used. Can be a URI.",
)
group.add_argument(
    "--qgraph-id", metavar="TEXT",
    help="Quantum graph identifier; if given, must match the identifier of the graph loaded from a file.",
)
group.add_argument(
    "--qgraph-node-id", metavar="TEXT", action="extend", type=comma_list, default=[],
    help="Only load these nodes (UUIDs, comma-separated) when the graph is loaded from a file.",
)
group.add_argument(
    "--qgraph-datastore-records", action="store_true",
    help="Include datastore records into generated quantum graph, for a quantum-backed butler.",
)
group.add_argument(
    "--skip-existing-in", metavar="COLLECTION", action="extend", type=comma_list, default=[],
    help="If all Quantum outputs already exist in the specified list of collections then that Quantum "
    "will be excluded from the QuantumGraph.",
)
group.add_argument(
    "--skip-existing", action="store_true",
    help="Equivalent to --skip-existing-in with the name of the output RUN collection.",
)
group.add_argument(
    "--retained-dataset-types", metavar="PATH",
    help="Path to a YAML file listing dataset type names or glob-style wildcard patterns that should exist "
    "in --skip-existing-in when the producing task ran successfully. When a quantum should run, the builder "
    "propagates the must-run signal backward through non-retained input datasets, forcing the upstream "
    "quanta that need to regenerate those intermediates to also run. Has no effect without "
    f"--skip-existing-in. {_needs('--retained-dataset-types')}",
)
group.add_argument(
    "--prune-unanchored-quanta", metavar="SOURCE:ANCHOR",
    help="Remove source quanta that have no reachable anchor quantum downstream, along with their entire "
    "downstream chain. Specify as a colon-separated pair of task labels SOURCE:ANCHOR. "
    f"{_needs('--prune-unanchored-quanta')}",
)
group.add_argument(
    "-q", "--save-qgraph", metavar="TEXT", help="URI location for storing a serialized quantum graph."
)
group.add_argument(
    "--qgraph-dot", metavar="FILE", help="Location for storing GraphViz DOT representation of a quantum graph."
)
group.add_argument(
    "--qgraph-mermaid", metavar="FILE", help="Location for storing Mermaid representation of a quantum graph."
)
group.add_argument(
    "--dataset-query-constraint", metavar="TEXT", default="all",
    help="Constrain graph building by pre-existence of these dataset types: 'all' (default), 'off', "
    "or a comma-separated list of dataset type names.",
)
group.add_argument(
    "--data-id-table", metavar="URI", action="append", default=[],
    help="URI to table of data IDs to join as a constraint; any format astropy.table reads. "
    "May be passed multiple times.",
)
group.add_argument("--mock", action="store_true", help="Mock pipeline execution.")
group.add_argument(
    "--mock-failure", metavar="LABEL:EXCEPTION:WHERE", action="append", default=[],
    help="Tasks that should fail when mocking execution: LABEL:EXCEPTION:WHERE[:MEMORY].",
)
group.add_argument(
    "--unmocked-dataset-types", metavar="COLLECTION", action="extend", type=comma_list, default=[],
    help="Names of input dataset types that should not be mocked.",
)

butler_options = Parser(add_help=False)
group = butler_options.add_argument_group("Data repository and selection options")
group.add_argument(
    "-b", "--butler-config", metavar="TEXT",
    help="Location of the gen3 butler/registry config file. [required]",
)
group.add_argument(
    "-i", "--input", metavar="COLLECTION", action="extend", type=comma_list, default=[],
    help="Comma-separated names of the input collection(s).",
)
group.add_argument(
    "-o", "--output", metavar="COLL",
    help="Name of the output CHAINED collection: an existing one to use as both input and output "
    "(incompatible with --input), or a new one created to include all inputs (requires --input).",
)
group.add_argument(
    "--output-run", metavar="COLL",
    help="Name of the new output RUN collection. If not provided, --output must be, and the run is named "
    "OUTPUT/TIMESTAMP. If this collection already exists then --extend-run must be passed.",
)
run_choice = group.add_mutually_exclusive_group()
run_choice.add_argument(
    "--extend-run", action="store_true",
    help="Insert datasets into the existing run given by --output-run or the first child of --output. "
    "Also enables --skip-existing.",
)
run_choice.add_argument(
    "--replace-run", action="store_true",
    help="Before creating a new RUN collection in an existing CHAINED collection, remove its first child "
    "(which must be a RUN). Requires --output.",
)
group.add_argument(
    "--prune-replaced", choices=PRUNE_CHOICES,
    help="Delete the datasets in the collection replaced by --replace-run, from the datastore only "
    "('unstore') or completely ('purge'). Requires --replace-run.",
)
group.add_argument("-d", "--data-query", metavar="QUERY", default="", help="User data selection expression.")
group.add_argument(
    "--rebase", action="store_true", help="Reset output collection chain if it is inconsistent with --input."
)



def add_clobber_outputs_and_summary(group) -> None:
    """Add --clobber-outputs and --summary: run has them under execution, qgraph under graph building."""
    group.add_argument(
        "--clobber-outputs", action="store_true",
        help="Remove outputs of failed quanta from the output run when they would block new quanta with the "
        "same data ID (or assume that this will be done, if just building a graph). "
        "Does nothing without --extend-run.",
    )
    group.add_argument(
        "--summary", metavar="FILE", help="Location for storing job summary (JSON file)."
    )


execution_options = Parser(add_help=False)
group = execution_options.add_argument_group("Execution options")
add_clobber_outputs_and_summary(group)
group.add_argument(
    "--pdb", metavar="TEXT", nargs="?", const="pdb",
    help="Post-mortem debugger to launch for exceptions (defaults to pdb if unspecified; requires a tty).",
)
group.add_argument("--profile", metavar="FILE", help="Dump cProfile statistics to file name.")
group.add_argument(
    "-j", "--processes", metavar="INTEGER", type=int_at_least(1), default=1,
    help="Number of processes to use (default %(default)s).",
)
group.add_argument(
    "--start-method", choices=START_METHODS,
    help="Multiprocessing start method; 'fork' is no longer supported and spawn is used instead.",
)
group.add_argument(
    "--timeout", metavar="INTEGER", type=int_at_least(0),
    help="Timeout for multiprocessing; maximum wall time (sec).",
)
group.add_argument(
    "--fail-fast", action="store_true",
    help="Stop processing at first error, default is to process as many tasks as possible.",
)
group.add_argument(
    "--raise-on-partial-outputs", action=argparse.BooleanOptionalAction, default=True,
    help="Consider partial outputs from a task an error instead of a qualified success (default on).",
)
group.add_argument(
    "--graph-fixup", metavar="TEXT",
    help="Name of the class or factory method which makes an instance used for execution graph fixup.",
)
group.add_argument(
    "--enable-implicit-threading", action="store_true",
    help="Do not disable implicit threading use by third-party libraries (e.g. OpenBLAS).",
)
group.add_argument(
    "-n", "--cores-per-quantum", metavar="INTEGER", type=int_at_least(1), default=1,
    help="Number of cores available to each quantum when executing (default %(default)s).",
)
group.add_argument(
    "--memory-per-quantum", metavar="TEXT", default="",
    help="Memory allocated for each quantum (advisory). Plain integers are MB; '3GB', '3000MB' and '3000' "
    "are the same. Default is no limit.",
)

meta_options = Parser(add_help=False)
group = meta_options.add_argument_group("Meta-information output options")
group.add_argument(
    "--skip-init-writes", action="store_true",
    help="Do not write collection-wide 'init output' datasets (e.g. schemas).",
)
group.add_argument(
    "--init-only", action="store_true",
    help="Do not actually run; just register dataset types and/or save init outputs.",
)
group.add_argument(
    "--register-dataset-types", action="store_true",
    help="Register DatasetTypes that do not already exist in the Registry.",
)
group.add_argument("--no-versions", action="store_true", help="Do not save or check package versions.")

coverage_options = Parser(add_help=False)
group = coverage_options.add_argument_group("Coverage options")
group.add_argument("--coverage", action="store_true", help="Enable coverage output (requires coverage package).")
group.add_argument(
    "--cov-report", action=argparse.BooleanOptionalAction, default=True,
    help="If coverage is enabled, controls whether to produce an HTML coverage report.",
)
group.add_argument(
    "--cov-packages", metavar="TEXT", action="extend", type=comma_list, default=[],
    help="Python packages to restrict coverage to.",
)

options_file_option = Parser(add_help=False)
options_file_option.add_argument(
    "-@", "--options-file", metavar="TEXT",
    help="URI to YAML file containing overrides of command line options, organized as a hierarchy with "
    "subcommand names at the top level and options for that subcommand below.",
)

EPILOG = (
    "--task, --delete, --config, --config-file, and --instrument can appear multiple times; all values are "
    "used, in order left to right."
)


# ---------------------------------------------------------------------------
# The other subcommands: batch execution on quantum-backed butlers (run-qbb,
# pre-exec-init-qbb, update-graph-run), reports, and tidying collections
# (cleanup, purge).  Options they share with run are the same declarations,
# taken from the groups above by `options_from`, so their help exists once.
# ---------------------------------------------------------------------------


def options_from(parents: Sequence[argparse.ArgumentParser], *options: str, title: str) -> argparse.ArgumentParser:
    """Make a parent parser with some options declared above, in this order, in one group ``title``."""
    by_option = {opt: action for parent in parents for action in parent._actions for opt in action.option_strings}
    subset = Parser(add_help=False)
    group = subset.add_argument_group(title)
    for option in options:
        group._add_action(by_option[option])
    return subset


repo_argument = Parser(add_help=False)
repo_argument.add_argument(
    "repo", metavar="REPO", help="Path or alias for the butler repository (its butler/registry config)."
)

qgraph_argument = Parser(add_help=False)
qgraph_argument.add_argument("qgraph", metavar="QGRAPH", help="Path to a serialized quantum graph file.")

config_search_path_option = Parser(add_help=False)
config_search_path_option.add_argument(
    "--config-search-path", metavar="PATH", action="extend", type=comma_list, default=[],
    help="Additional search paths for butler configuration.",
)

qbb_execution_options = options_from(
    [execution_options, debug_option],
    "-j", "--pdb", "--profile", "--debug", "--start-method", "--timeout", "--fail-fast",
    "--raise-on-partial-outputs", "--summary", "--enable-implicit-threading", "-n", "--memory-per-quantum",
    title="Execution options",
)
qbb_execution_options._action_groups[-1].add_argument(
    "--no-existing-outputs", action="store_true",
    help="Assume that no predicted outputs already exist in the output run collection; skips the existence "
    "checks before each quantum.",
)

report_output_options = Parser(add_help=False)
group = report_output_options.add_argument_group("Report options")
group.add_argument(
    "--full-output-filename", metavar="TEXT", default="",
    help="Write the full report to this file: YAML for the default report on one graph, JSON with "
    "--force-v2 or several graphs, and for aggregate-reports.",
)
group.add_argument(
    "--brief", action="store_true",
    help="Only show counts in the report (counts are also printed with --full-output-filename).",
)

report_options = Parser(add_help=False)
group = report_options.add_argument_group("Report options")
group.add_argument(
    "--collections", metavar="TEXT", action="extend", type=comma_list, default=[],
    help="Collections to search for the graphs' outputs, most recent first (default: the graphs' own); "
    "selects the QuantumProvenanceGraph report.",
)
group.add_argument(
    "--where", metavar="TEXT", default="",
    help="A string expression similar to a SQL WHERE clause, to constrain --collections; selects the "
    "QuantumProvenanceGraph report.",
)
group.add_argument(
    "--logs", action=argparse.BooleanOptionalAction, default=True,
    help="Read butler log datasets for error messages (default on).",
)
group.add_argument(
    "--curse-failed-logs", action="store_true",
    help="If log datasets are missing in the QuantumProvenanceGraph report, mark them as cursed.",
)
group.add_argument(
    "--force-v2", action="store_true",
    help="Use the QuantumProvenanceGraph report even for one graph (the QuantumGraphExecutionReport is "
    "used for one graph otherwise).",
)
group.add_argument(
    "--read-caveats", choices=("exhaustive", "lazy", "none"), type=str.lower, default="lazy",
    help="Which metadata datasets to read for success caveats: all, only for quanta with missing outputs "
    "(default), or none.",
)
group.add_argument(
    "--use-qbb", action=argparse.BooleanOptionalAction, default=True,
    help="Read metadata and logs through a quantum-backed butler (default on).",
)
group.add_argument(
    "--view-graph", action="store_true",
    help="Show the processing status as a pipeline graph instead of a plain-text summary.",
)

collection_options = options_from([butler_options], "-b", title="Collection options")
collection_options.add_argument("collection", metavar="COLLECTION", help="Name of the CHAINED collection.")
collection_options._action_groups[-1].add_argument(
    "--confirm", action=argparse.BooleanOptionalAction, default=True,
    help="Print what will be removed and ask before removing it (default); --no-confirm removes without "
    "asking.",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``pipetask-lite`` parser: global logging options, then subcommands.

    Returns
    -------
    parser : `argparse.ArgumentParser`
        The parser; ``parser.parse_args(["run", ...])`` gives the namespace
        that `main` hands to `pipetask_lite.run` keyword by keyword.
    """
    parser = Parser(
        prog=PROG, description="Run LSST Science Pipelines: a Click-free clone of pipetask."
    )
    parser.add_argument(
        "--log-level", metavar="LEVEL|COMPONENT=LEVEL", action="extend", type=log_levels, default=[],
        help="The logging level. Without a logger name, only affects the default root loggers (lsst); "
        "'.=LEVEL' sets the root logger. Levels: " + "|".join(LOG_LEVELS),
    )
    parser.add_argument("--long-log", action="store_true", help="Make log messages appear in long format.")
    parser.add_argument(
        "--log-file", metavar="FILE", action="extend", type=comma_list, default=[],
        help="File(s) to write log messages; '.json' files get JSON records. Appends to existing files.",
    )
    parser.add_argument(
        "--log-tty", action=argparse.BooleanOptionalAction, default=True,
        help="Log to terminal (default). If false logging to terminal is disabled.",
    )
    parser.add_argument(
        "--log-label", metavar="TEXT", action="extend", type=key_values, default=[],
        help="Keyword=value pairs to add to MDC of log records.",
    )
    parser.add_argument(
        "--traceback", action="store_true",
        help="Show the Python traceback of an error (pipetask-lite only; errors are one line otherwise).",
    )
    parser.add_argument(
        "--explain", nargs="?", const="short", choices=EXPLAIN_DEPTHS, metavar="{short,full,quantum}",
        help="Do not run anything: print the Python script, using the LSST API only, that does what the "
        "command line does (pipetask-lite only). 'short' (the default): the SimplePipelineExecutor recipe "
        "when it can express the command line; 'full': every call pipetask-lite makes, checks included "
        "(neither opens the repo); 'quantum' (run, qgraph): opens the repo read-only, builds the graph and "
        "prints, for one quantum of each task and the quanta upstream of it, the task's own call on "
        "in-memory inputs.",
    )
    subcommands = parser.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)
    build = subcommands.add_parser(
        "build",
        parents=[show_option, pipeline_build_options, options_file_option],
        usage="%(prog)s [OPTIONS]",
        help="Build pipeline definition.",
        description="Build and optionally save pipeline definition. This does not require input data.",
        epilog=EPILOG,
    )
    group_named(build, "Pipeline build options").add_argument(
        "-b", "--butler-config", metavar="TEXT",
        help="Location of the gen3 butler/registry config file; only used to resolve dataset types for "
        "--show pipeline-graph, --show task-graph and --pipeline-dot.",
    )
    qgraph = subcommands.add_parser(
        "qgraph",
        parents=[
            show_option, pipeline_build_options, qgraph_options, coverage_options, butler_options,
            options_file_option,
        ],
        usage="%(prog)s [OPTIONS]",
        help="Build and optionally save quantum graph.",
        description="Build and optionally save quantum graph.",
        epilog=EPILOG,
    )
    add_clobber_outputs_and_summary(group_named(qgraph, "Quantum graph building options"))
    subcommands.add_parser(
        "run",
        parents=[
            debug_option, show_option, pipeline_build_options, qgraph_options, butler_options,
            execution_options, meta_options, coverage_options, options_file_option,
        ],
        usage="%(prog)s [OPTIONS]",
        help="Build and execute pipeline and quantum graph.",
        description="Build and execute pipeline and quantum graph.",
        epilog=EPILOG,
    )
    subcommands.add_parser(
        "run-qbb",
        parents=[
            repo_argument, qgraph_argument,
            options_from(
                [config_search_path_option, qgraph_options], "--config-search-path", "--qgraph-id",
                "--qgraph-node-id", title="Quantum-backed butler options",
            ),
            qbb_execution_options, coverage_options,
        ],
        usage="%(prog)s [OPTIONS] REPO QGRAPH",
        help="Execute pipeline using Quantum-Backed Butler.",
        description="Execute the quanta of a saved graph with quantum-backed butlers: output files are "
        "written, but not registered (run 'butler transfer-from-graph QGRAPH REPO' for that).",
    )
    subcommands.add_parser(
        "pre-exec-init-qbb",
        parents=[
            repo_argument, qgraph_argument,
            options_from(
                [config_search_path_option, qgraph_options], "--config-search-path", "--qgraph-id",
                title="Quantum-backed butler options",
            ),
            coverage_options,
        ],
        usage="%(prog)s [OPTIONS] REPO QGRAPH",
        help="Execute pre-exec-init on Quantum-Backed Butler.",
        description="Write the init-outputs, configs and package versions of a saved graph with a "
        "quantum-backed butler (files only, as run-qbb), before the first run-qbb.",
    )
    update_graph_run = subcommands.add_parser(
        "update-graph-run",
        usage="%(prog)s [OPTIONS] QGRAPH RUN OUTPUT_QGRAPH",
        help="Update existing quantum graph with new output run name and re-generate output dataset IDs.",
        description="Update existing quantum graph with new output run name and re-generate output "
        "dataset IDs.",
    )
    update_graph_run.add_argument("qgraph", metavar="QGRAPH", help="URL of a serialized quantum graph file.")
    update_graph_run.add_argument("run", metavar="RUN", help="New RUN collection name for the output graph.")
    update_graph_run.add_argument(
        "output_qgraph", metavar="OUTPUT_QGRAPH", help="URL to store the updated quantum graph."
    )
    update_graph_run.add_argument(
        "--metadata-run-key", metavar="TEXT", default="output_run",
        help="Ignored, as by pipetask (the graph's header always holds the output run; default %(default)s).",
    )
    update_graph_run.add_argument(
        "--update-graph-id", action="store_true", help="Ignored, as by pipetask (graphs have no ID to update)."
    )
    report = subcommands.add_parser(
        "report",
        parents=[repo_argument, report_options, report_output_options],
        usage="%(prog)s [OPTIONS] REPO [QGRAPHS ...]",
        help="Summarize the state of executed quantum graph(s).",
        description="Summarize the state of executed quantum graph(s): counts of succeeded, failed and "
        "blocked quanta and of their output datasets. One graph gets the QuantumGraphExecutionReport; "
        "several graphs (attempts at the same processing, first to last), --force-v2, --collections, "
        "--where or --curse-failed-logs get the QuantumProvenanceGraph report.",
    )
    report.add_argument(
        "qgraphs", metavar="QGRAPHS", nargs="*", help="Executed quantum graph files, first to last executed."
    )
    group_named(report, "Report options")._add_action(
        next(action for action in execution_options._actions if "-j" in action.option_strings)
    )
    aggregate_reports = subcommands.add_parser(
        "aggregate-reports",
        parents=[report_output_options],
        usage="%(prog)s [OPTIONS] [FILENAMES ...]",
        help="Aggregate pipetask report output on disjoint data-id groups into one Summary.",
        description="Aggregate the JSON reports (report --force-v2 --full-output-filename) of disjoint "
        "data-ID groups, run with the same pipeline, into one summary.",
    )
    aggregate_reports.add_argument(
        "filenames", metavar="FILENAMES", nargs="*", help="JSON files written by 'report --full-output-filename'."
    )
    subcommands.add_parser(
        "cleanup",
        parents=[collection_options],
        usage="%(prog)s [OPTIONS] COLLECTION",
        help="Remove non-members of CHAINED collections.",
        description="Remove the collections whose names start with the name of the CHAINED collection "
        "COLLECTION but that are not members of it.",
    )
    purge = subcommands.add_parser(
        "purge",
        parents=[collection_options],
        usage="%(prog)s [OPTIONS] COLLECTION",
        help="Remove a CHAINED collection and its contained collections.",
        description="Remove the CHAINED collection COLLECTION, which must not be in another chain, and its "
        "members whose names start with its name (each must be in this chain only).",
    )
    group_named(purge, "Collection options").add_argument(
        "--recursive", action="store_true",
        help="Also purge child CHAINED collections (whose names start with COLLECTION) and their members.",
    )
    return parser


def group_named(parser: argparse.ArgumentParser, title: str):
    """Return the option group of ``parser`` with this title (to add a subcommand's own options)."""
    return next(group for group in parser._action_groups if group.title == title)


def check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Enforce the rules that pipetask's help states in prose, before any repo is opened.

    Parameters
    ----------
    parser : `argparse.ArgumentParser`
        The subcommand's parser; its ``error`` prints the message and exits 2.
    args : `argparse.Namespace`
        Parsed options, after the options file was merged in.
    """
    if args.subcommand in ("cleanup", "purge") and not args.butler_config:
        # pipetask declares -b optional here, then fails without it.
        parser.error("the following arguments are required: -b/--butler-config")
    if args.subcommand == "report" and not args.qgraphs:
        parser.error("the following arguments are required: QGRAPHS (at least one executed quantum graph)")
    if args.subcommand not in ("qgraph", "run"):
        return
    # Checked here, not with required=True, because -@ may supply it.
    if not args.butler_config:
        parser.error("the following arguments are required: -b/--butler-config")
    try:
        # The same rules that pipetask_lite.qgraph and run apply to their
        # keywords, here on the command line merged with -@.
        from ._qgraph import GraphOptions  # here, not at the top: --help needs none of it

        GraphOptions.from_namespace(args)
        if args.subcommand == "run":
            check_execution_numbers(processes=args.processes, cores_per_quantum=args.cores_per_quantum,
                                    timeout=args.timeout)
    except UsageError as exc:
        where = f" (with -@/--options-file {args.options_file!r})" if args.options_file else ""
        parser.error(f"{exc}{where}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a command line completely: options file merged, rules checked.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`], optional
        Command-line arguments without the program name.

    Returns
    -------
    args : `argparse.Namespace`
        One attribute per option, named like the keyword it becomes.

    Raises
    ------
    SystemExit
        With code 2 and a one-line message, for a usage error.
    """
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    words = _bare_explain(words, commands.choices)
    known = {opt for action in parser._actions for opt in action.option_strings}
    for word in words[:next((i for i, w in enumerate(words) if w in commands.choices), len(words))]:
        # Before the subcommand, an unknown option would be taken for one
        # that takes the next word as its value.
        if word.startswith("--") and word.partition("=")[0] not in known:
            parser.error(f"unrecognized arguments: {word}{_did_you_mean(word, parser)}")
    args, unknown = parser.parse_known_args(words)
    subparser = subcommand_parser(parser, args.subcommand)
    if unknown:
        if unknown[0].partition("=")[0] in known:
            # A global option (--explain, --long-log, ...) after the subcommand, as
            # Click also refuses it; say where it goes.
            subparser.error(f"{unknown[0].partition('=')[0]} is an option of {PROG} itself: "
                            f"give it before '{args.subcommand}'")
        subparser.error(f"unrecognized arguments: {' '.join(unknown)}{_did_you_mean(unknown[0], parser, subparser)}")
    if getattr(args, "options_file", None):  # build, qgraph and run have -@
        fresh = build_parser()  # given_options changes its defaults for a moment
        given = given_options(fresh, subcommand_parser(fresh, args.subcommand), words)
        merge_options_file(subparser, args, args.subcommand, given=given)
    if hasattr(args, "pipeline_actions"):
        args.pipeline_actions = args.pipeline_actions or []
    check_options(subparser, args)
    return args


def _bare_explain(words: list[str], subcommands: Sequence[str]) -> list[str]:
    """``--explain`` without a value, spelled ``--explain=short``.

    argparse would take the word after a bare ``--explain`` (the subcommand,
    usually) for its optional value; only a depth is one.
    """
    end = next((i for i, w in enumerate(words) if w in subcommands), len(words))
    return [
        "--explain=short" if word == "--explain" and (i + 1 >= len(words) or words[i + 1] not in EXPLAIN_DEPTHS)
        else word
        for i, word in enumerate(words[:end])
    ] + words[end:]


def _did_you_mean(word: str, *parsers: argparse.ArgumentParser) -> str:
    """`` (did you mean --x?)`` for an unknown option close to known ones, as Click says it."""
    import difflib

    if not word.startswith("--"):
        return ""
    known = [opt for parser in parsers for action in parser._actions for opt in action.option_strings
             if opt.startswith("--")]
    close = difflib.get_close_matches(word.partition("=")[0], known, n=3, cutoff=0.6)
    close += [opt for opt in known if opt.startswith(word.partition("=")[0]) and opt not in close]
    return f" (did you mean {' or '.join(close[:3])}?)" if close else ""


def subcommand_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """Return the parser of subcommand ``name`` (argparse keeps it in a private attribute)."""
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return subparsers.choices[name]


# ---------------------------------------------------------------------------
# One function per subcommand: every option handed over by keyword.
# ---------------------------------------------------------------------------


def call_build(args: argparse.Namespace) -> None:
    """``pipetask-lite build`` is `pipetask_lite.build`."""
    from ._build import build

    build(
        pipeline=args.pipeline,
        pipeline_actions=args.pipeline_actions,
        save_pipeline=args.save_pipeline,
        select_tasks=args.select_tasks,
        pipeline_dot=args.pipeline_dot,
        pipeline_mermaid=args.pipeline_mermaid,
        show=args.show,
        butler_config=args.butler_config,
    )


def call_qgraph(args: argparse.Namespace) -> None:
    """``pipetask-lite qgraph`` is `pipetask_lite.qgraph`."""
    from ._execution import coverage_enabled
    from ._qgraph import qgraph

    with coverage_enabled(args.coverage, cov_report=args.cov_report, cov_packages=args.cov_packages):
        qgraph(
            # Pipeline build options
            pipeline=args.pipeline,
            pipeline_actions=args.pipeline_actions,
            save_pipeline=args.save_pipeline,
            select_tasks=args.select_tasks,
            pipeline_dot=args.pipeline_dot,
            pipeline_mermaid=args.pipeline_mermaid,
            show=args.show,
            # Quantum graph building options
            qgraph=args.qgraph,
            qgraph_id=args.qgraph_id,
            qgraph_node_id=args.qgraph_node_id,
            qgraph_datastore_records=args.qgraph_datastore_records,
            skip_existing_in=args.skip_existing_in,
            skip_existing=args.skip_existing,
            retained_dataset_types=args.retained_dataset_types,
            prune_unanchored_quanta=args.prune_unanchored_quanta,
            save_qgraph=args.save_qgraph,
            qgraph_dot=args.qgraph_dot,
            qgraph_mermaid=args.qgraph_mermaid,
            dataset_query_constraint=args.dataset_query_constraint,
            data_id_table=args.data_id_table,
            mock=args.mock,
            mock_failure=args.mock_failure,
            unmocked_dataset_types=args.unmocked_dataset_types,
            clobber_outputs=args.clobber_outputs,
            summary=args.summary,
            # Data repository and selection options
            butler_config=args.butler_config,
            input=args.input,
            output=args.output,
            output_run=args.output_run,
            extend_run=args.extend_run,
            replace_run=args.replace_run,
            prune_replaced=args.prune_replaced,
            data_query=args.data_query,
            rebase=args.rebase,
        )


def call_run(args: argparse.Namespace) -> None:
    """``pipetask-lite run`` is `pipetask_lite.run`."""
    from ._run import run

    run(
        # At -j 1 a quantum that ends the process would leave no word behind;
        # with this, a watcher process says how to resume (see _watch).
        resume_command=lambda output_run: redact(resume_command(args, output_run=output_run, cut=True)),
        debug=args.debug,
        show=args.show,
        # Pipeline build options
        pipeline=args.pipeline,
        pipeline_actions=args.pipeline_actions,
        save_pipeline=args.save_pipeline,
        select_tasks=args.select_tasks,
        pipeline_dot=args.pipeline_dot,
        pipeline_mermaid=args.pipeline_mermaid,
        # Quantum graph building options
        qgraph=args.qgraph,
        qgraph_id=args.qgraph_id,
        qgraph_node_id=args.qgraph_node_id,
        qgraph_datastore_records=args.qgraph_datastore_records,
        skip_existing_in=args.skip_existing_in,
        skip_existing=args.skip_existing,
        retained_dataset_types=args.retained_dataset_types,
        prune_unanchored_quanta=args.prune_unanchored_quanta,
        save_qgraph=args.save_qgraph,
        qgraph_dot=args.qgraph_dot,
        qgraph_mermaid=args.qgraph_mermaid,
        dataset_query_constraint=args.dataset_query_constraint,
        data_id_table=args.data_id_table,
        mock=args.mock,
        mock_failure=args.mock_failure,
        unmocked_dataset_types=args.unmocked_dataset_types,
        # Data repository and selection options
        butler_config=args.butler_config,
        input=args.input,
        output=args.output,
        output_run=args.output_run,
        extend_run=args.extend_run,
        replace_run=args.replace_run,
        prune_replaced=args.prune_replaced,
        data_query=args.data_query,
        rebase=args.rebase,
        # Execution options
        clobber_outputs=args.clobber_outputs,
        pdb=args.pdb,
        profile=args.profile,
        processes=args.processes,
        start_method=args.start_method,
        timeout=args.timeout,
        fail_fast=args.fail_fast,
        raise_on_partial_outputs=args.raise_on_partial_outputs,
        graph_fixup=args.graph_fixup,
        summary=args.summary,
        enable_implicit_threading=args.enable_implicit_threading,
        cores_per_quantum=args.cores_per_quantum,
        memory_per_quantum=args.memory_per_quantum,
        # Meta-information output options
        skip_init_writes=args.skip_init_writes,
        init_only=args.init_only,
        register_dataset_types=args.register_dataset_types,
        no_versions=args.no_versions,
        # Coverage options
        coverage=args.coverage,
        cov_report=args.cov_report,
        cov_packages=args.cov_packages,
        # Presentation
        progress=args.log_tty,
    )


def call_run_qbb(args: argparse.Namespace) -> None:
    """``pipetask-lite run-qbb`` is `pipetask_lite.run_qbb`."""
    from ._qbb import run_qbb

    run_qbb(
        repo=args.repo,
        qgraph=args.qgraph,
        # Quantum-backed butler options
        config_search_path=args.config_search_path,
        qgraph_id=args.qgraph_id,
        qgraph_node_id=args.qgraph_node_id,
        # Execution options
        processes=args.processes,
        pdb=args.pdb,
        profile=args.profile,
        debug=args.debug,
        start_method=args.start_method,
        timeout=args.timeout,
        fail_fast=args.fail_fast,
        raise_on_partial_outputs=args.raise_on_partial_outputs,
        summary=args.summary,
        enable_implicit_threading=args.enable_implicit_threading,
        cores_per_quantum=args.cores_per_quantum,
        memory_per_quantum=args.memory_per_quantum,
        no_existing_outputs=args.no_existing_outputs,
        # Coverage options
        coverage=args.coverage,
        cov_report=args.cov_report,
        cov_packages=args.cov_packages,
        # Presentation
        progress=args.log_tty,
    )


def call_pre_exec_init_qbb(args: argparse.Namespace) -> None:
    """``pipetask-lite pre-exec-init-qbb`` is `pipetask_lite.pre_exec_init_qbb`."""
    from ._qbb import pre_exec_init_qbb

    pre_exec_init_qbb(
        repo=args.repo,
        qgraph=args.qgraph,
        config_search_path=args.config_search_path,
        qgraph_id=args.qgraph_id,
        coverage=args.coverage,
        cov_report=args.cov_report,
        cov_packages=args.cov_packages,
    )


def call_update_graph_run(args: argparse.Namespace) -> None:
    """``pipetask-lite update-graph-run`` is `pipetask_lite.update_graph_run`."""
    from ._qbb import update_graph_run

    update_graph_run(
        qgraph=args.qgraph,
        run=args.run,
        output_qgraph=args.output_qgraph,
        metadata_run_key=args.metadata_run_key,
        update_graph_id=args.update_graph_id,
    )


def call_report(args: argparse.Namespace) -> None:
    """``pipetask-lite report`` is `pipetask_lite.report`."""
    from ._report import report

    report(
        repo=args.repo,
        qgraphs=args.qgraphs,
        collections=args.collections,
        where=args.where,
        full_output_filename=args.full_output_filename,
        logs=args.logs,
        brief=args.brief,
        curse_failed_logs=args.curse_failed_logs,
        force_v2=args.force_v2,
        read_caveats=args.read_caveats,
        use_qbb=args.use_qbb,
        view_graph=args.view_graph,
        processes=args.processes,
    )


def call_aggregate_reports(args: argparse.Namespace) -> None:
    """``pipetask-lite aggregate-reports`` is `pipetask_lite.aggregate_reports`."""
    from ._report import aggregate_reports

    aggregate_reports(
        filenames=args.filenames, full_output_filename=args.full_output_filename, brief=args.brief
    )


def call_cleanup(args: argparse.Namespace) -> None:
    """``pipetask-lite cleanup`` is `pipetask_lite.cleanup`."""
    from ._cleanup import cleanup

    cleanup(collection=args.collection, butler_config=args.butler_config, confirm=args.confirm)


def call_purge(args: argparse.Namespace) -> None:
    """``pipetask-lite purge`` is `pipetask_lite.purge`."""
    from ._cleanup import purge

    purge(
        collection=args.collection, butler_config=args.butler_config, confirm=args.confirm,
        recursive=args.recursive,
    )


CALLS = {
    "build": call_build,
    "qgraph": call_qgraph,
    "run": call_run,
    "run-qbb": call_run_qbb,
    "pre-exec-init-qbb": call_pre_exec_init_qbb,
    "update-graph-run": call_update_graph_run,
    "report": call_report,
    "aggregate-reports": call_aggregate_reports,
    "cleanup": call_cleanup,
    "purge": call_purge,
}
"""The function of each subcommand."""

EXPLAINED = ("build", "qgraph", "run")
"""Subcommands that ``--explain`` knows."""


def _on_sigterm(signum, frame) -> None:
    from ._interrupt import Terminated

    raise Terminated()


def command_line(args: argparse.Namespace) -> list[str]:
    """The command line (without the program name) that parses back to ``args``, with no ``-@``.

    Built from the parsed options, the options file already merged in: every
    option whose value differs from its default, as typed in the classic
    command lines (``-i VALUE``; ``--input=VALUE`` for a value starting with
    ``-``, so that it stays a value), pipeline actions in their order, then
    positional arguments.
    """
    parser = build_parser()
    return [*_option_words(parser, args), args.subcommand, *_option_words(subcommand_parser(parser, args.subcommand), args)]


def _option_words(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The words of `command_line` for the options (and positionals) of one parser."""
    words: list[str] = []
    positionals: list[str] = []
    # -b -i -o --output-run first, as in the classic command lines.
    first = ("butler_config", "input", "output", "output_run")
    for action in sorted(parser._actions, key=lambda action: action.dest not in first):
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.dest in (
            "options_file", "subcommand"
        ):
            continue
        value = getattr(args, action.dest, action.default)
        if not action.option_strings:
            positionals += value if isinstance(value, list) else [value]
            continue
        if action.dest == "pipeline_actions":
            if action.option_strings[0] == "-t":  # five options share this list: write it once
                for item in value or []:
                    words += _option_value(PIPELINE_ACTION_OPTIONS[item.option], action_text(item))
            continue
        if value == action.default:
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            words.append(action.option_strings[0] if value else action.option_strings[1])
        elif action.nargs == 0:
            words.append(action.option_strings[0])
        elif isinstance(action, (argparse._AppendAction, argparse._ExtendAction)):
            for item in value:
                words += _option_value(action.option_strings, _word(item))
        else:
            words += _option_value(action.option_strings, str(value))
    return words + (["--", *positionals] if positionals else [])


def _option_value(option_strings: Sequence[str], value: str) -> list[str]:
    """``[-x, VALUE]``, or ``[--long=VALUE]`` when the value would look like an option."""
    return [f"{option_strings[-1]}={value}"] if value.startswith("-") else [option_strings[0], value]


def _word(item) -> str:
    """One value of a list option: ``COMPONENT=LEVEL`` and ``KEY=VALUE`` pairs are tuples once parsed."""
    if isinstance(item, tuple):
        key, value = item
        return f"{key}={value}" if key is not None else value
    return str(item)


def action_text(action) -> str:
    """The value of the option that gives this `PipelineAction` (the inverse of `parse_pipeline_action`)."""
    match action.option:
        case "task":
            return action.value if action.label is None else f"{action.value}:{action.label}"
        case "delete":
            return action.label
        case "instrument":
            return action.value
        case _:
            return f"{action.label}:{action.value}"


def resume_command(args: argparse.Namespace, *, output_run: str, cut: bool) -> str:
    """The command line that finishes an interrupted run: the same options, extending its run.

    Built from the parsed options with ``-@`` merged in, so it repeats exactly
    what this run used: ``--replace-run`` and ``--prune-replaced`` are dropped
    (the new run is the one to extend; replacing again would remove it),
    ``--output-run`` names the run, and ``--extend-run --skip-existing`` (plus
    ``--clobber-outputs`` if quanta were cut short) are added.
    """
    resumed = argparse.Namespace(**vars(args))
    resumed.replace_run, resumed.prune_replaced = False, None
    resumed.output_run, resumed.extend_run, resumed.skip_existing = output_run, True, True
    resumed.clobber_outputs = args.clobber_outputs or cut
    return shlex.join([PROG, *command_line(resumed)])


def setup_logging(args: argparse.Namespace) -> None:
    """Logging as pipetask sets it up: lsst.daf.butler's `CliLog`, which lets workers replay it too.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised, naming ``--log-file``, if a log file cannot be opened.
    """
    from lsst.daf.butler.cli.cliLog import CliLog

    for path in args.log_file:
        make_parents(path, "--log-file")  # logging.FileHandler would not
    try:
        CliLog.initLog(
            longlog=args.long_log, log_tty=args.log_tty, log_file=tuple(args.log_file),
            log_label=dict(args.log_label),
        )
    except OSError as exc:
        raise PipetaskLiteError(f"cannot write {exc.filename!r}: {exc.strerror}", option="--log-file") from exc
    if args.log_level:
        CliLog.setLogLevels(args.log_level)
    # Credentials in a repo URI must not reach the terminal or log files.
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pipetask-lite`` with ``argv`` (default: ``sys.argv[1:]``).

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`], optional
        Command-line arguments without the program name.

    Returns
    -------
    exit_code : `int`
        0 on success, 1 on failure, 2 on usage errors, 130 when interrupted.
    """
    args = parse_args(argv)
    # SIGTERM ends the command like Ctrl-C (cleanly, with exit 143), not
    # wherever it lands; during execution pipetask_lite._interrupt refines this.
    signal.signal(signal.SIGTERM, _on_sigterm)
    # The one error boundary: everything after parsing is inside it.
    try:
        # run -j N: the workers' forkserver imports the stack while this
        # process does.  (Not run-qbb: its workers inherit the datastore cache
        # it sets up.)
        if args.subcommand == "run" and args.processes > 1 and args.start_method in (None, "forkserver") and not (
            args.explain or args.coverage
        ):
            from ._parallel import start_forkserver

            start_forkserver()
        if not args.explain:
            # The lsst packages found (pip's, or an EUPS stack's) must be a
            # release pipetask-lite supports; package metadata only, cheap.
            check_release()
            setup_logging(args)
        if args.explain and args.subcommand not in EXPLAINED:
            raise UsageError(f"not available for '{args.subcommand}'; only for {', '.join(EXPLAINED)}",
                             option="--explain")
        if args.explain:
            from ._explain import explain

            print(redact(explain(args)))
        else:
            CALLS[args.subcommand](args)
    except KeyboardInterrupt as exc:
        # Before execution (and in pre-exec-init-qbb, whose files are
        # written again by a second try): nothing was registered yet.
        print(f"{PROG} {args.subcommand}: interrupted before anything was written to the repo"
              if args.subcommand != "pre-exec-init-qbb" else f"{PROG} {args.subcommand}: interrupted",
              file=sys.stderr)
        return EXIT_TERMINATED if type(exc).__name__ == "Terminated" else EXIT_INTERRUPTED
    except Interrupted as exc:
        print(f"{PROG} {args.subcommand}: {exc}", file=sys.stderr)
        # run-qbb skips the quanta whose outputs exist: the same command resumes.
        resume = (shlex.join([PROG, *command_line(args)]) if args.subcommand == "run-qbb"
                  else resume_command(args, output_run=exc.output_run, cut=exc.cut))
        print(redact(f"to resume: {resume}"), file=sys.stderr)
        return exc.exit_code
    except PipetaskLiteError as exc:
        # The one error boundary: one line naming the option, then a hint.
        if args.traceback:
            print(redact(traceback.format_exc()), end="", file=sys.stderr)
        print(f"{PROG} {args.subcommand}: error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_gone():
            # The reader of stdout went away (``--explain ... | head``).
            return EXIT_FAILURE
        # Anything else is unexpected: still one line, but say how to see more.
        if args.traceback or os.environ.get("PIPETASK_LITE_TRACEBACK"):
            print(redact(traceback.format_exc()), end="", file=sys.stderr)
        first_line = (str(exc).strip().splitlines() or [""])[0]  # not the SQL that follows, say
        print(redact(f"{PROG} {args.subcommand}: error: {type(exc).__name__}: {first_line}"), file=sys.stderr)
        if (any(text in str(exc) for text in ("disk is full", "readonly database"))
                or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EROFS, errno.EACCES)):
            print("hint: the repo cannot be written (disk full or read-only); make room, then resume with "
                  "--extend-run --skip-existing --clobber-outputs", file=sys.stderr)
        elif not args.traceback:
            print(f"hint: run '{PROG} --traceback {args.subcommand} ...' to see the traceback", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _stdout_gone() -> bool:
    """Whether stdout is a pipe nobody reads any more; if so, it is pointed at /dev/null.

    (A pipe whose reader has gone polls as an error.)  Python flushes stdout
    at exit, which would fail again with a second BrokenPipeError message.
    """
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poll.poll(0))
    except (OSError, ValueError):  # stdout closed or not a file
        return False
    if gone:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return gone


def console_main() -> None:
    """The ``pipetask-lite`` command: `main`, then a quick exit.

    Tearing down the ~1,500 modules of the LSST stack at exit takes about
    0.5 s and does nothing useful here, so after the exit handlers (logging
    flush, multiprocessing clean-up) the process ends at once, unless a
    thread is still running (Python's usual exit waits for it) or a tracer
    or profiler is on (``coverage run``, ``python -m cProfile``: they save
    their results after the program returns).
    """
    import atexit
    import threading

    code = main()
    if (any(not thread.daemon for thread in threading.enumerate() if thread is not threading.main_thread())
            or sys.gettrace() is not None or sys.getprofile() is not None):
        sys.exit(code)
    atexit._run_exitfuncs()  # what Python's exit runs first, before the teardown skipped here
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (| head): nothing more can be said
            code = code or EXIT_FAILURE
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console_main()
