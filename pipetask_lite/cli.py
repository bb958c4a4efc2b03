"""The ``pipetask-lite`` command line: one flat argparse parser.

Read this file top to bottom to see every option of ``pipetask run``, grouped
as in ``pipetask run --help``, then those of pipetask's other subcommands,
and, in the ``call_*`` functions, the keyword of `pipetask_lite.run` (or of
the subcommand's function) that each option becomes.  Nothing here imports
``lsst``: ``--help`` and usage errors answer without loading the LSST stack.
"""

from __future__ import annotations

__all__ = ("build_parser", "command_line", "parse_args", "resume_command", "subcommand_parser")

import argparse
import sys
from collections.abc import Sequence

from . import _argv
from ._argv import subcommand_parser
from ._compat import NEW_BUILDER_OPTIONS
from ._execution.parallel import START_METHODS
from ._redact import redact
from ._rules import PRUNE_CHOICES
from .actions import ACTIONS, parse_pipeline_action
from .errors import EXIT_USAGE, UsageError

PROG = "pipetask-lite"
EXPLAIN_DEPTHS = ("short", "full", "quantum")
"""The values of ``--explain``: the recipe, every step, one quantum's task call."""
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "VERBOSE", "DEBUG", "TRACE")


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
    """Make a type that parses one ``-t/--delete/-c/-C/--instrument`` value.

    A kind that takes several values (``-C LABEL:FILE[,LABEL:FILE...]``:
    pipetask splits this one at commas) gives a list.
    """

    def parse_one(text: str):
        try:
            return parse_pipeline_action(option, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    if ACTIONS[option].many:
        return lambda text: [parse_one(item) for item in comma_list(text)]
    return parse_one


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
# Options, in the sections of ``pipetask run --help``, then those of the other
# subcommands.  Each is declared once here; the functions after the
# declarations add fresh argparse actions made from them to a new parser, so
# that no two subcommands (nor two parsers) share an action.
# ---------------------------------------------------------------------------

DECLARED: dict[str, tuple[tuple[str, ...], dict]] = {}
"""Each declared option, by each of its spellings: its spellings and `add_argument`'s keywords."""


def declare(*flags: str, **kwargs) -> None:
    """Declare an option: its spellings (or a positional's name) and the keywords of ``add_argument``."""
    for flag in flags:
        DECLARED[flag] = (flags, kwargs)


def add(container, *names: str) -> None:
    """Add a fresh action for each declared option ``names`` (any spelling) to a parser or group, in this order."""
    for name in names:
        flags, kwargs = DECLARED[name]
        # A default list of its own for each action.
        container.add_argument(*flags, **{k: list(v) if isinstance(v, list) else v for k, v in kwargs.items()})


# Outside any section of pipetask's help: --debug, --show, -@.
declare(
    "--debug", action="store_true", help="Enable debugging output using lsstDebug facility (imports debug.py)."
)

declare(
    "--show", metavar="ITEM|ITEM=VALUE", action="extend", type=comma_list, default=[],
    help="Dump various info to standard output: config, config=[Task::]PATTERN[:NOIGNORECASE], "
    "history=FIELD, dump-config[=Task], pipeline, graph, workflow, tasks, subsets, uri, "
    "pipeline-graph, task-graph, inputs.",
)

# Pipeline build options
declare(
    "-p", "--pipeline", metavar="FILE",
    help="Location of a pipeline definition file in YAML format (FILE#label,... selects tasks or subsets).",
)
# -t, --delete, -c, -C and --instrument share one ordered list: pipetask applies
# them to the pipeline in command-line order.  Each is declared from its entry
# in pipetask_lite.actions.ACTIONS.
for _kind, _action in ACTIONS.items():
    declare(
        *_action.flags, dest="pipeline_actions", action="extend" if _action.many else "append",
        type=pipeline_action(_kind), metavar=_action.metavar, help=_action.help,
    )
del _kind, _action
declare(
    "-s", "--save-pipeline", metavar="FILE",
    help="Location for storing resulting pipeline definition in YAML format.",
)
declare(
    "--select-tasks", metavar="EXPR", default="",
    help="A string expression that filters the tasks to run from the pipeline.",
)
declare(
    "--pipeline-dot", metavar="FILE", help="Location for storing GraphViz DOT representation of a pipeline."
)
declare(
    "--pipeline-mermaid", metavar="FILE", help="Location for storing Mermaid representation of a pipeline."
)


def _needs(option: str) -> str:
    """Help text naming the release an option needs (pipetask_lite._compat says which)."""
    _, package, first = NEW_BUILDER_OPTIONS[option]
    return f"Needs {package} {first} or newer."


# Quantum graph building options
declare(
    "-g", "--qgraph", metavar="TEXT",
    help="Location for a serialized quantum graph definition. If given, no input data or "
    "pipeline-building options may be used. Can be a URI.",
)
declare(
    "--qgraph-id", metavar="TEXT",
    help="Quantum graph identifier; if given, must match the identifier of the graph loaded from a file.",
)
declare(
    "--qgraph-node-id", metavar="TEXT", action="extend", type=comma_list, default=[],
    help="Only load these nodes (UUIDs, comma-separated) when the graph is loaded from a file.",
)
declare(
    "--qgraph-datastore-records", action="store_true",
    help="Include datastore records into generated quantum graph, for a quantum-backed butler.",
)
declare(
    "--skip-existing-in", metavar="COLLECTION", action="extend", type=comma_list, default=[],
    help="If all Quantum outputs already exist in the specified list of collections then that Quantum "
    "will be excluded from the QuantumGraph.",
)
declare(
    "--skip-existing", action="store_true",
    help="Equivalent to --skip-existing-in with the name of the output RUN collection.",
)
declare(
    "--retained-dataset-types", metavar="PATH",
    help="Path to a YAML file listing dataset type names or glob-style wildcard patterns that should exist "
    "in --skip-existing-in when the producing task ran successfully. When a quantum should run, the builder "
    "propagates the must-run signal backward through non-retained input datasets, forcing the upstream "
    "quanta that need to regenerate those intermediates to also run. Has no effect without "
    f"--skip-existing-in. {_needs('--retained-dataset-types')}",
)
declare(
    "--prune-unanchored-quanta", metavar="SOURCE:ANCHOR",
    help="Remove source quanta that have no reachable anchor quantum downstream, along with their entire "
    "downstream chain. Specify as a colon-separated pair of task labels SOURCE:ANCHOR. "
    f"{_needs('--prune-unanchored-quanta')}",
)
declare(
    "-q", "--save-qgraph", metavar="TEXT", help="URI location for storing a serialized quantum graph."
)
declare(
    "--qgraph-dot", metavar="FILE", help="Location for storing GraphViz DOT representation of a quantum graph."
)
declare(
    "--qgraph-mermaid", metavar="FILE", help="Location for storing Mermaid representation of a quantum graph."
)
declare(
    "--dataset-query-constraint", metavar="TEXT", default="all",
    help="Constrain graph building by pre-existence of these dataset types: 'all' (default), 'off', "
    "or a comma-separated list of dataset type names.",
)
declare(
    "--data-id-table", metavar="URI", action="append", default=[],
    help="URI to table of data IDs to join as a constraint; any format astropy.table reads. "
    "May be passed multiple times.",
)
declare("--mock", action="store_true", help="Mock pipeline execution.")
declare(
    "--mock-failure", metavar="LABEL:EXCEPTION:WHERE", action="append", default=[],
    help="Tasks that should fail when mocking execution: LABEL:EXCEPTION:WHERE[:MEMORY].",
)
declare(
    "--unmocked-dataset-types", metavar="COLLECTION", action="extend", type=comma_list, default=[],
    help="Names of input dataset types that should not be mocked.",
)

# Data repository and selection options
declare(
    "-b", "--butler-config", metavar="TEXT",
    help="Location of the gen3 butler/registry config file. [required]",
)
declare(
    "-i", "--input", metavar="COLLECTION", action="extend", type=comma_list, default=[],
    help="Comma-separated names of the input collection(s).",
)
declare(
    "-o", "--output", metavar="COLL",
    help="Name of the output CHAINED collection: an existing one to use as both input and output "
    "(incompatible with --input), or a new one created to include all inputs (requires --input).",
)
declare(
    "--output-run", metavar="COLL",
    help="Name of the new output RUN collection. If not provided, --output must be, and the run is named "
    "OUTPUT/TIMESTAMP. If this collection already exists then --extend-run must be passed.",
)
declare(
    "--extend-run", action="store_true",
    help="Insert datasets into the existing run given by --output-run or the first child of --output. "
    "Also enables --skip-existing.",
)
declare(
    "--replace-run", action="store_true",
    help="Before creating a new RUN collection in an existing CHAINED collection, remove its first child "
    "(which must be a RUN). Requires --output.",
)
declare(
    "--prune-replaced", choices=PRUNE_CHOICES,
    help="Delete the datasets in the collection replaced by --replace-run, from the datastore only "
    "('unstore') or completely ('purge'). Requires --replace-run.",
)
declare("-d", "--data-query", metavar="QUERY", default="", help="User data selection expression.")
declare(
    "--rebase", action="store_true", help="Reset output collection chain if it is inconsistent with --input."
)

# Execution options
declare(
    "--clobber-outputs", action="store_true",
    help="Remove outputs of failed quanta from the output run when they would block new quanta with the "
    "same data ID (or assume that this will be done, if just building a graph). "
    "Does nothing without --extend-run.",
)
declare("--summary", metavar="FILE", help="Location for storing job summary (JSON file).")
declare(
    "--pdb", metavar="TEXT", nargs="?", const="pdb",
    help="Post-mortem debugger to launch for exceptions (defaults to pdb if unspecified; requires a tty).",
)
declare("--profile", metavar="FILE", help="Dump cProfile statistics to file name.")
declare(
    "-j", "--processes", metavar="INTEGER", type=int_at_least(1), default=1,
    help="Number of processes to use (default %(default)s).",
)
declare(
    "--start-method", choices=START_METHODS,
    help="Multiprocessing start method; 'fork' is no longer supported and spawn is used instead.",
)
declare(
    "--timeout", metavar="INTEGER", type=int_at_least(0),
    help="Timeout for multiprocessing; maximum wall time (sec).",
)
declare(
    "--fail-fast", action="store_true",
    help="Stop processing at first error, default is to process as many tasks as possible.",
)
declare(
    "--raise-on-partial-outputs", action=argparse.BooleanOptionalAction, default=True,
    help="Consider partial outputs from a task an error instead of a qualified success (default on).",
)
declare(
    "--graph-fixup", metavar="TEXT",
    help="Name of the class or factory method which makes an instance used for execution graph fixup.",
)
declare(
    "--enable-implicit-threading", action="store_true",
    help="Do not disable implicit threading use by third-party libraries (e.g. OpenBLAS).",
)
declare(
    "-n", "--cores-per-quantum", metavar="INTEGER", type=int_at_least(1), default=1,
    help="Number of cores available to each quantum when executing (default %(default)s).",
)
declare(
    "--memory-per-quantum", metavar="TEXT", default="",
    help="Memory allocated for each quantum (advisory). Plain integers are MB; '3GB', '3000MB' and '3000' "
    "are the same. Default is no limit.",
)

# Meta-information output options
declare(
    "--skip-init-writes", action="store_true",
    help="Do not write collection-wide 'init output' datasets (e.g. schemas).",
)
declare(
    "--init-only", action="store_true",
    help="Do not actually run; just register dataset types and/or save init outputs.",
)
declare(
    "--register-dataset-types", action="store_true",
    help="Register DatasetTypes that do not already exist in the Registry.",
)
declare("--no-versions", action="store_true", help="Do not save or check package versions.")

# Coverage options
declare("--coverage", action="store_true", help="Enable coverage output (requires coverage package).")
declare(
    "--cov-report", action=argparse.BooleanOptionalAction, default=True,
    help="If coverage is enabled, controls whether to produce an HTML coverage report.",
)
declare(
    "--cov-packages", metavar="TEXT", action="extend", type=comma_list, default=[],
    help="Python packages to restrict coverage to.",
)

declare(
    "-@", "--options-file", metavar="TEXT",
    help="URI to YAML file containing overrides of command line options, organized as a hierarchy with "
    "subcommand names at the top level and options for that subcommand below.",
)

# The other subcommands: batch execution on quantum-backed butlers (run-qbb,
# pre-exec-init-qbb, update-graph-run), reports, and tidying collections
# (cleanup, purge).  Options they share with run are the declarations above.

declare(
    "repo", metavar="REPO", help="Path or alias for the butler repository (its butler/registry config)."
)

declare("qgraph", metavar="QGRAPH", help="Path to a serialized quantum graph file.")

declare(
    "--config-search-path", metavar="PATH", action="extend", type=comma_list, default=[],
    help="Additional search paths for butler configuration.",
)

declare(
    "--no-existing-outputs", action="store_true",
    help="Assume that no predicted outputs already exist in the output run collection; skips the existence "
    "checks before each quantum.",
)

# Report options
declare(
    "--full-output-filename", metavar="TEXT", default="",
    help="Write the full report to this file: YAML for the default report on one graph, JSON with "
    "--force-v2 or several graphs, and for aggregate-reports.",
)
declare(
    "--brief", action="store_true",
    help="Only show counts in the report (counts are also printed with --full-output-filename).",
)

declare(
    "--collections", metavar="TEXT", action="extend", type=comma_list, default=[],
    help="Collections to search for the graphs' outputs, most recent first (default: the graphs' own); "
    "selects the QuantumProvenanceGraph report.",
)
declare(
    "--where", metavar="TEXT", default="",
    help="A string expression similar to a SQL WHERE clause, to constrain --collections; selects the "
    "QuantumProvenanceGraph report.",
)
declare(
    "--logs", action=argparse.BooleanOptionalAction, default=True,
    help="Read butler log datasets for error messages (default on).",
)
declare(
    "--curse-failed-logs", action="store_true",
    help="If log datasets are missing in the QuantumProvenanceGraph report, mark them as cursed.",
)
declare(
    "--force-v2", action="store_true",
    help="Use the QuantumProvenanceGraph report even for one graph (the QuantumGraphExecutionReport is "
    "used for one graph otherwise).",
)
declare(
    "--read-caveats", choices=("exhaustive", "lazy", "none"), type=str.lower, default="lazy",
    help="Which metadata datasets to read for success caveats: all, only for quanta with missing outputs "
    "(default), or none.",
)
declare(
    "--use-qbb", action=argparse.BooleanOptionalAction, default=True,
    help="Read metadata and logs through a quantum-backed butler (default on).",
)
declare(
    "--view-graph", action="store_true",
    help="Show the processing status as a pipeline graph instead of a plain-text summary.",
)

# Collection options
declare("collection", metavar="COLLECTION", help="Name of the CHAINED collection.")
declare(
    "--confirm", action=argparse.BooleanOptionalAction, default=True,
    help="Print what will be removed and ask before removing it (default); --no-confirm removes without "
    "asking.",
)


# ---------------------------------------------------------------------------
# Option groups: each adds fresh actions to a new parser, in the sections of
# ``pipetask run --help``.
# ---------------------------------------------------------------------------


def add_pipeline_build_options(parser: argparse.ArgumentParser):
    """Add the "Pipeline build options" section; return it."""
    group = parser.add_argument_group("Pipeline build options")
    add(group, "-p", "-t", "--delete", "-c", "-C", "-s", "--select-tasks", "--pipeline-dot", "--pipeline-mermaid")
    # --instrument, and any other kind of pipeline action, after the files written.
    add(group, *(kind.flags[0] for name, kind in ACTIONS.items()
                 if name not in ("task", "delete", "config", "config_file")))
    return group


def add_qgraph_options(parser: argparse.ArgumentParser):
    """Add the "Quantum graph building options" section; return it."""
    group = parser.add_argument_group("Quantum graph building options")
    add(
        group, "-g", "--qgraph-id", "--qgraph-node-id", "--qgraph-datastore-records", "--skip-existing-in",
        "--skip-existing", "--retained-dataset-types", "--prune-unanchored-quanta", "-q", "--qgraph-dot",
        "--qgraph-mermaid", "--dataset-query-constraint", "--data-id-table", "--mock", "--mock-failure",
        "--unmocked-dataset-types",
    )
    return group


def add_butler_options(parser: argparse.ArgumentParser) -> None:
    """Add the "Data repository and selection options" section."""
    group = parser.add_argument_group("Data repository and selection options")
    add(group, "-b", "-i", "-o", "--output-run")
    # On the parser, not in the section: --help lists these two under
    # "options", where it always has (argparse's parents= put them there).
    add(parser.add_mutually_exclusive_group(), "--extend-run", "--replace-run")
    add(group, "--prune-replaced", "-d", "--rebase")


def add_execution_options(parser: argparse.ArgumentParser) -> None:
    """Add the "Execution options" section of ``run``."""
    add(
        parser.add_argument_group("Execution options"),
        "--clobber-outputs", "--summary", "--pdb", "--profile", "-j", "--start-method", "--timeout", "--fail-fast",
        "--raise-on-partial-outputs", "--graph-fixup", "--enable-implicit-threading", "-n", "--memory-per-quantum",
    )


def add_meta_options(parser: argparse.ArgumentParser) -> None:
    """Add the "Meta-information output options" section."""
    add(
        parser.add_argument_group("Meta-information output options"),
        "--skip-init-writes", "--init-only", "--register-dataset-types", "--no-versions",
    )


def add_coverage_options(parser: argparse.ArgumentParser) -> None:
    """Add the "Coverage options" section."""
    add(parser.add_argument_group("Coverage options"), "--coverage", "--cov-report", "--cov-packages")


def add_qbb_options(parser: argparse.ArgumentParser, *names: str) -> None:
    """Add ``REPO QGRAPH`` and the "Quantum-backed butler options" section (``names``) of the qbb subcommands."""
    add(parser, "repo", "qgraph")
    add(parser.add_argument_group("Quantum-backed butler options"), *names)


def add_report_output_options(group) -> None:
    """Add the options of ``report`` and ``aggregate-reports`` that say where the report goes."""
    add(group, "--full-output-filename", "--brief")


def add_collection_options(parser: argparse.ArgumentParser):
    """Add ``COLLECTION`` and the "Collection options" section of cleanup and purge; return it."""
    group = parser.add_argument_group("Collection options")
    add(group, "-b")
    add(parser, "collection")
    add(group, "--confirm")
    return group


EPILOG = (
    ", ".join(kind.flags[-1] for kind in list(ACTIONS.values())[:-1]) + f", and {list(ACTIONS.values())[-1].flags[-1]} "
    "can appear multiple times; all values are used, in order left to right."
)


def build_parser() -> argparse.ArgumentParser:
    """Build a new ``pipetask-lite`` parser: global logging options, then subcommands.

    Each call makes new actions: nothing is shared with another parser.

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
        usage="%(prog)s [OPTIONS]",
        help="Build pipeline definition.",
        description="Build and optionally save pipeline definition. This does not require input data.",
        epilog=EPILOG,
    )
    add(build, "--show")
    pipeline_group = add_pipeline_build_options(build)
    add(build, "-@")
    pipeline_group.add_argument(
        "-b", "--butler-config", metavar="TEXT",
        help="Location of the gen3 butler/registry config file; only used to resolve dataset types for "
        "--show pipeline-graph, --show task-graph and --pipeline-dot.",
    )
    qgraph = subcommands.add_parser(
        "qgraph",
        usage="%(prog)s [OPTIONS]",
        help="Build and optionally save quantum graph.",
        description="Build and optionally save quantum graph.",
        epilog=EPILOG,
    )
    add(qgraph, "--show")
    add_pipeline_build_options(qgraph)
    qgraph_group = add_qgraph_options(qgraph)
    add_coverage_options(qgraph)
    add_butler_options(qgraph)
    add(qgraph, "-@")
    # qgraph has these two under graph building; run, under execution.
    add(qgraph_group, "--clobber-outputs", "--summary")
    run = subcommands.add_parser(
        "run",
        usage="%(prog)s [OPTIONS]",
        help="Build and execute pipeline and quantum graph.",
        description="Build and execute pipeline and quantum graph.",
        epilog=EPILOG,
    )
    add(run, "--debug", "--show")
    add_pipeline_build_options(run)
    add_qgraph_options(run)
    add_butler_options(run)
    add_execution_options(run)
    add_meta_options(run)
    add_coverage_options(run)
    add(run, "-@")
    run_qbb = subcommands.add_parser(
        "run-qbb",
        usage="%(prog)s [OPTIONS] REPO QGRAPH",
        help="Execute pipeline using Quantum-Backed Butler.",
        description="Execute the quanta of a saved graph with quantum-backed butlers: output files are "
        "written, but not registered (run 'butler transfer-from-graph QGRAPH REPO' for that).",
    )
    add_qbb_options(run_qbb, "--config-search-path", "--qgraph-id", "--qgraph-node-id")
    add(
        run_qbb.add_argument_group("Execution options"),
        "-j", "--pdb", "--profile", "--debug", "--start-method", "--timeout", "--fail-fast",
        "--raise-on-partial-outputs", "--summary", "--enable-implicit-threading", "-n", "--memory-per-quantum",
        "--no-existing-outputs",
    )
    add_coverage_options(run_qbb)
    pre_exec_init_qbb = subcommands.add_parser(
        "pre-exec-init-qbb",
        usage="%(prog)s [OPTIONS] REPO QGRAPH",
        help="Execute pre-exec-init on Quantum-Backed Butler.",
        description="Write the init-outputs, configs and package versions of a saved graph with a "
        "quantum-backed butler (files only, as run-qbb), before the first run-qbb.",
    )
    add_qbb_options(pre_exec_init_qbb, "--config-search-path", "--qgraph-id")
    add_coverage_options(pre_exec_init_qbb)
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
        usage="%(prog)s [OPTIONS] REPO [QGRAPHS ...]",
        help="Summarize the state of executed quantum graph(s).",
        description="Summarize the state of executed quantum graph(s): counts of succeeded, failed and "
        "blocked quanta and of their output datasets. One graph gets the QuantumGraphExecutionReport; "
        "several graphs (attempts at the same processing, first to last), --force-v2, --collections, "
        "--where or --curse-failed-logs get the QuantumProvenanceGraph report.",
    )
    add(report, "repo")
    report_group = report.add_argument_group("Report options")
    add(
        report_group, "--collections", "--where", "--logs", "--curse-failed-logs", "--force-v2", "--read-caveats",
        "--use-qbb", "--view-graph",
    )
    add_report_output_options(report_group)
    report.add_argument(
        "qgraphs", metavar="QGRAPHS", nargs="*", help="Executed quantum graph files, first to last executed."
    )
    add(report_group, "-j")
    aggregate_reports = subcommands.add_parser(
        "aggregate-reports",
        usage="%(prog)s [OPTIONS] [FILENAMES ...]",
        help="Aggregate pipetask report output on disjoint data-id groups into one Summary.",
        description="Aggregate the JSON reports (report --force-v2 --full-output-filename) of disjoint "
        "data-ID groups, run with the same pipeline, into one summary.",
    )
    add_report_output_options(aggregate_reports.add_argument_group("Report options"))
    aggregate_reports.add_argument(
        "filenames", metavar="FILENAMES", nargs="*", help="JSON files written by 'report --full-output-filename'."
    )
    cleanup = subcommands.add_parser(
        "cleanup",
        usage="%(prog)s [OPTIONS] COLLECTION",
        help="Remove non-members of CHAINED collections.",
        description="Remove the collections whose names start with the name of the CHAINED collection "
        "COLLECTION but that are not members of it.",
    )
    add_collection_options(cleanup)
    purge = subcommands.add_parser(
        "purge",
        usage="%(prog)s [OPTIONS] COLLECTION",
        help="Remove a CHAINED collection and its contained collections.",
        description="Remove the CHAINED collection COLLECTION, which must not be in another chain, and its "
        "members whose names start with its name (each must be in this chain only).",
    )
    add_collection_options(purge).add_argument(
        "--recursive", action="store_true",
        help="Also purge child CHAINED collections (whose names start with COLLECTION) and their members.",
    )
    return parser


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
        # Here, not at the top: --help needs none of it.  Making the options
        # object is the check: -j/-n/--timeout are ExecutionOptions' to check.
        from ._qgraph import GraphOptions
        from ._run import RunOptions

        (RunOptions if args.subcommand == "run" else GraphOptions).from_namespace(args)
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
    args = _argv.parse(parser, list(sys.argv[1:] if argv is None else argv), fresh=build_parser)
    check_options(subcommand_parser(parser, args.subcommand), args)
    return args


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


def command_line(args: argparse.Namespace) -> list[str]:
    """The command line (without the program name) that parses back to ``args``: `pipetask_lite._argv.command_line`."""
    parser = build_parser()
    return _argv.command_line(parser, subcommand_parser(parser, args.subcommand), args)


def resume_command(args: argparse.Namespace, *, output_run: str, cut: bool) -> str:
    """The command line that finishes an interrupted run: `pipetask_lite._argv.resume_command`."""
    parser = build_parser()
    return _argv.resume_command(parser, subcommand_parser(parser, args.subcommand), args, output_run=output_run,
                                cut=cut)
