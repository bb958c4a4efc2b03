"""The script writer of ``--explain``: the parsed options as the script reads them, and the pieces every depth prints."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import uuid
from collections.abc import Iterator

from .. import _argv
from .._argv import wrap_command as _wrap_command
from .._compat import check_builder_options
from .._qgraph import GraphOptions
from .._util import as_actions, check_writable
from ..actions import ACTIONS, PipelineAction, action_text, pipeline_call
from ..cli import build_parser, subcommand_parser
from ..errors import OptionValueError, PipetaskLiteError, UsageError

PROG = "pipetask-lite"


# lsst.ctrl.mpexec.showInfo.ShowInfo's items (kept here: --explain imports no lsst).
SHOW_PIPELINE_ITEMS = frozenset(
    {"pipeline", "config", "history", "tasks", "dump-config", "pipeline-graph", "task-graph", "subsets", "inputs"}
)


SHOW_GRAPH_ITEMS = frozenset({"graph", "workflow", "uri"})


class Options:
    """The parsed options, with their spelling on the command line (`pipetask_lite._argv` says how)."""

    def __init__(self, args: argparse.Namespace):
        self.parser = build_parser()
        self.subparser = subcommand_parser(self.parser, args.subcommand)
        self.args = args
        # The command's own checked options, with what follows from them
        # (skip-existing, the graph builder or the plain recipe): what the
        # script does is decided by the same rules as what the command does.
        self.graph = GraphOptions.from_namespace(args) if args.subcommand in ("qgraph", "run") else None
        self.actions, self.global_dests, self.sub_dests = _argv.shown_options(self.parser, self.subparser)

    def __getattr__(self, dest: str):
        return getattr(self.args, dest)

    def given(self, dest: str) -> bool:
        """Whether ``dest`` was given (on the command line, or by ``-@``): `pipetask_lite._argv.given`."""
        action = self.actions.get(dest)
        return action is not None and _argv.given(action, getattr(self.args, dest, None))

    def flag(self, dest: str) -> str:
        """The option's name: its first spelling, or ``--no-X`` for a false ``--[no-]X``."""
        return _argv.flag(self.actions[dest], getattr(self.args, dest))

    def tokens(self, dest: str) -> list[str]:
        """The option as command-line arguments."""
        if dest == "pipeline_actions":
            return [token for action in self.args.pipeline_actions for token in _action_tokens(action)]
        values = _argv.shown_values(self.actions[dest], getattr(self.args, dest))
        if not values:
            return [self.flag(dest)]
        return [token for value in values for token in (self.flag(dest), value)]

    def text(self, dest: str) -> str:
        """The option as it reads on the command line, unquoted (for comments)."""
        return " ".join(self.tokens(dest))

    def command_line(self) -> list[str]:
        """The whole command line, rebuilt from the parsed options: one shell word per option."""
        return _argv.shown_command_line(self.parser, self.subparser, self.args)

    def words(self, dest: str) -> list[str]:
        """The option (if given) as shell words, each flag with its value, quoted."""
        return _argv.shown_words(self.actions[dest], getattr(self.args, dest))




def _action_tokens(action: PipelineAction) -> list[str]:
    return [ACTIONS[action.option].flags[0], action_text(action)]


def _action_text(action: PipelineAction) -> str:
    return " ".join(_action_tokens(action))


def _check_usage(args: argparse.Namespace) -> None:
    """Raise the usage errors pipetask-lite finds before opening the repo, with the same messages."""
    # The command's own checks, in its order, by the same functions: its
    # log files (set up first), the pipeline actions, the files written last.
    for path in args.log_file:
        check_writable(path, "--log-file")
    as_actions(getattr(args, "pipeline_actions", ()))
    for dest, option in (("summary", "--summary"), ("profile", "--profile")):
        check_writable(getattr(args, dest, None), option)
    if args.show:
        commands = {item.partition("=")[0] for item in args.show}
        known = SHOW_PIPELINE_ITEMS | SHOW_GRAPH_ITEMS
        if unknown := commands - known:
            raise OptionValueError(
                f"Unknown value(s) for show: {unknown} (choose from '{', '.join(sorted(known))}')", option="--show"
            )
    if args.subcommand == "build":
        return
    if args.mock:
        for entry in args.mock_failure:
            if len(entry.split(":")) not in (3, 4):
                raise UsageError(f"expected LABEL:EXCEPTION:WHERE[:MEMORY], got {entry!r}", option="--mock-failure")
    if args.qgraph:
        for node in args.qgraph_node_id:
            try:
                uuid.UUID(str(node))
            except ValueError as exc:
                raise UsageError(f"not a UUID: {exc}", option="--qgraph-node-id") from None
        extension = _graph_extension(args.qgraph)
        if extension not in (".qg", ".qgraph"):
            raise PipetaskLiteError(
                f"{args.qgraph!r} has extension {extension!r}; expected '.qg' or '.qgraph'", option="-g/--qgraph"
            )
    # The options of newer releases, refused on older ones as the command refuses them.
    check_builder_options({
        "--retained-dataset-types": args.retained_dataset_types,
        "--prune-unanchored-quanta": args.prune_unanchored_quanta,
    })


def _graph_extension(uri: str) -> str:
    path = uri.split("?", 1)[0].split("#", 1)[0]
    return os.path.splitext(path)[1]


def _unmentioned(script: Script, options: Options) -> list[str]:
    """The options given (as typed) that no comment of the script names yet."""
    comments = "\n".join(script.comments)
    missing = []
    for dest in options.global_dests + options.sub_dests:
        if not options.given(dest):
            continue
        if dest == "pipeline_actions":
            missing += [_action_text(a) for a in options.pipeline_actions if _action_text(a) not in comments]
            continue
        spellings = options.actions[dest].option_strings
        if not any(re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", comments) for s in spellings):
            missing.append(options.text(dest))
    return missing


def _check_complete(script: Script, options: Options) -> None:
    """Fail loudly if an option given is not named in any comment of the script."""
    if missing := _unmentioned(script, options):
        raise PipetaskLiteError(
            f"cannot show the Python for {', '.join(missing)} yet (a bug: please report it)", option="--explain"
        )


def _not_reached(s: Script, o: Options, why: str) -> None:
    """Before an early ``return``: the options given that only matter after it."""
    if missing := _unmentioned(s, o):
        s(comment=f"{why}, so these change nothing: {', '.join(missing)}")


def _clean(comment: str) -> str:
    """One line of comment text, whatever the option values hold."""
    return comment.replace("\r", "\\r").replace("\n", "\\n")


class Script:
    """Lines of Python in sections, with the imports they need and their comments."""

    SECTIONS = ("constants", "helpers", "main", "guard")

    def __init__(self, *, flat: bool = False):
        self.sections: dict[str, list[str]] = {name: [] for name in self.SECTIONS}
        self.section = "main"
        self.flat = flat
        """Whether the statements run at module level (the short recipe) rather than in ``main()``."""
        self.depth = 0 if flat else 1
        self.from_imports: dict[str, set[str]] = {}
        self.imports: set[str] = set() if flat else {"sys"}
        self.comments: list[str] = []
        """Comments saying where a statement comes from (what `_check_complete` reads)."""
        self.intro: list[str] = []

    def use(self, module: str, *names: str) -> None:
        """Import ``names`` from ``module`` (or ``module`` itself)."""
        if names:
            self.from_imports.setdefault(module, set()).update(names)
        else:
            self.imports.add(module)

    @contextlib.contextmanager
    def into(self, section: str, depth: int = 0) -> Iterator[None]:
        """Write into another section for a while."""
        saved = self.section, self.depth
        self.section, self.depth = section, depth
        try:
            yield
        finally:
            self.section, self.depth = saved

    def __call__(self, code: str = "", comment: str | None = None) -> None:
        """Write one line of code, with a comment naming where it comes from."""
        lines = self.sections[self.section]
        prefix = "    " * self.depth
        if comment:
            self.comments.append(comment)
        if not code and not comment:
            lines.append("")
        elif not code:
            lines.append(f"{prefix}# {_clean(comment)}")
        else:
            lines.append(f"{prefix}{code}" + (f"  # {_clean(comment)}" if comment else ""))

    def note(self, *comments: str) -> None:
        """Write explanatory comment lines.

        Unlike the comment of a statement (or ``self(comment=...)``, which
        says what an option does here), these do not count as showing an
        option: `_check_complete` ignores them.
        """
        prefix = "    " * self.depth
        self.sections[self.section].extend(f"{prefix}# {_clean(comment)}" for comment in comments)

    def raw(self, text: str) -> None:
        """Write a block of lines (already indented relative to the current depth); not counted either."""
        prefix = "    " * self.depth
        self.sections[self.section].extend(prefix + line if line else "" for line in text.splitlines())

    @contextlib.contextmanager
    def block(self, header: str, comment: str | None = None) -> Iterator[None]:
        """Write ``header`` (``with ...:``, ``if ...:``) and indent what follows."""
        self(header, comment)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def render(self, options: Options) -> str:
        out = ["#!/usr/bin/env python"]
        out += [f"# {_clean(line)}" if line else "#" for line in self.intro]
        out.append("")
        def group(module: str) -> int:
            top = module.partition(".")[0]
            return 0 if top in ("sys", "types", "uuid", "logging", "tempfile") else 2 if top == "lsst" else 1

        previous = None
        for module in sorted(self.imports, key=lambda m: (group(m), m)):
            if previous is not None and group(module) != previous:
                out.append("")
            out.append(f"import {module}")
            previous = group(module)
        for module in sorted(self.from_imports, key=lambda m: (group(m), m)):
            if previous is not None and group(module) != previous:
                out.append("")
            out.append(f"from {module} import {', '.join(sorted(self.from_imports[module]))}")
            previous = group(module)
        out.append("")
        if self.sections["constants"]:
            out += self.sections["constants"] + [""]
        if self.sections["helpers"]:
            out += [""] + self.sections["helpers"] + [""]
        if self.flat:
            return "\n".join(out + self.sections["main"]).rstrip() + "\n"
        docstring = f'    """Do what `{PROG} {options.subcommand} ...` does; return its exit code."""'
        out += ["", "def main() -> int:", docstring]
        out += self.sections["main"]
        out += ["", ""] + self.sections["guard"]
        return "\n".join(out).rstrip() + "\n"


def _header(s: Script, o: Options, *, why_full: str | None = None) -> None:
    if why_full is not None:
        s.intro += [
            f"The full script: {why_full}.",
            "",
        ]
    s.intro += [
        f"What `{PROG} {o.subcommand}` does on this command line, in Python, with the public LSST",
        "API only (printed by `pipetask-lite --explain`):",
        "",
        *[f"    {line}" for line in _wrap_command(o.command_line())],
        "",
        "Each statement names the option it comes from.  The calls are the ones pipetask-lite",
        "makes, in its order: the pipeline first; then the collections are checked and the",
        "quantum graph is built on a read-only butler; only then is anything written.",
    ]
    if o.subcommand == "build":
        s.intro[-2:] = ["makes, in its order."]
    with s.into("guard"):
        if o.subcommand != "build" and o.coverage:
            _coverage(s, o)
        else:
            s("if __name__ == \"__main__\":")
            s("    sys.exit(main())")


def _coverage(s: Script, o: Options) -> None:
    s.use("tempfile")
    s.use("coverage")
    s('if __name__ == "__main__":')
    s.depth += 1
    s.note("--coverage: measure the coverage of the whole command, as pipetask does.")
    with s.block('with tempfile.NamedTemporaryFile("w", suffix=".coveragerc") as rcfile:'):
        s('rcfile.write("[run]\\nbranch = True\\nconcurrency = multiprocessing\\n")', "--coverage")
        if o.cov_packages:
            s(f"rcfile.write({('source_pkgs = ' + ','.join(o.cov_packages) + chr(10))!r})", o.text("cov_packages"))
        s("rcfile.flush()")
        s("cov = coverage.Coverage(config_file=rcfile.name)")
        s("cov.start()")
        with s.block("try:"):
            s("exit_code = main()")
        with s.block("finally:"):
            s("cov.stop()")
            s("cov.save()")
            if o.cov_report:
                s('cov.html_report(directory="./covhtml")', "--cov-report (default): an HTML report")
                s('print("Coverage report written to ./covhtml.", file=sys.stderr)')
            else:
                s(comment=f"{o.flag('cov_report')}: no HTML report, only the coverage data file")
    s("sys.exit(exit_code)")
    s.depth -= 1


def _logging(s: Script, o: Options, *, note: bool = True) -> None:
    s.use("lsst.daf.butler.cli.cliLog", "CliLog")
    if note:
        s.note(
            "Logging as pipetask sets it up: lsst.daf.butler's CliLog, INFO for the lsst loggers",
            "(worker processes replay it).  In a notebook, logging.basicConfig(level=logging.INFO) does.",
        )
    logging_dests = ("long_log", "log_tty", "log_file", "log_label")
    if not any(o.given(d) for d in logging_dests):
        s("CliLog.initLog(longlog=False, log_tty=True, log_file=(), log_label={})",
          "no --long-log, --log-file, --log-label: pipetask's defaults")
    else:
        with s.block("CliLog.initLog("):
            s(f"longlog={o.long_log!r},", "--long-log" if o.long_log else "no --long-log: short format")
            s(f"log_tty={o.log_tty!r},", o.text("log_tty") if o.given("log_tty") else "--log-tty (default)")
            s(f"log_file={tuple(o.log_file)!r},", o.text("log_file") if o.log_file else "no --log-file")
            s(f"log_label={dict(o.log_label)!r},", o.text("log_label") if o.log_label else "no --log-label")
        s(")")
    if o.log_level:
        s(f"CliLog.setLogLevels({list(o.log_level)!r})", o.text("log_level"))
    if o.traceback:
        s(comment="--traceback: pipetask-lite then prints tracebacks; errors here raise with theirs anyway")
    if o.given("options_file"):
        s(comment=f"{o.text('options_file')}: the options read from this file are written out below as if given")
    if note:
        s()


def _constants(s: Script, o: Options) -> None:
    """The data repository and selection options, as module constants."""
    with s.into("constants"):
        s(f"REPO = {o.butler_config!r}", o.text("butler_config"))
        if o.subcommand == "build":
            return
        if o.input:
            s(f"INPUTS = {list(o.input)!r}", o.text("input"))
        if o.output is not None:
            s(f"OUTPUT = {o.output!r}", o.text("output"))
        if o.output_run is not None:
            s(f"OUTPUT_RUN = {o.output_run!r}", o.text("output_run"))
        if o.qgraph is None:
            s(f"DATA_QUERY = {o.data_query!r}", o.text("data_query") if o.data_query
              else "no -d: every data ID the inputs allow")


def _pipeline(s: Script, o: Options, *, butler: str | None = None) -> str | None:
    """Step 1: the pipeline and its graph; returns the name of the factory variable, if one is made."""
    s.use("lsst.pipe.base", "Pipeline")
    s.note("1. The pipeline: -p, then -t/--delete/-c/-C/--instrument in command-line order.")
    _pipeline_actions(s, o)
    if o.save_pipeline:
        s(f"pipeline.write_to_uri({o.save_pipeline!r})", o.text("save_pipeline"))
    s("pipeline_graph = pipeline.to_graph()", "builds and validates every task config")
    if o.select_tasks:
        s(f"pipeline_graph = pipeline_graph.select({o.select_tasks!r})", o.text("select_tasks"))
        with s.block("if not pipeline_graph.tasks:"):
            s(f"sys.exit({('--select-tasks: ' + repr(o.select_tasks) + ' selects no tasks')!r})")
    return _pipeline_outputs(s, o, butler=butler)


def _pipeline_actions(s: Script, o: Options) -> None:
    """``pipeline = ...``: -p, then the pipeline actions in command-line order."""
    s.use("lsst.pipe.base", "Pipeline")
    if o.pipeline:
        s(f"pipeline = Pipeline.from_uri({o.pipeline!r})", o.text("pipeline"))
    else:
        s("pipeline = Pipeline('anonymous')", "no -p: an empty pipeline for -t to fill")
    for action in o.pipeline_actions:
        comment = _action_text(action)
        method, arguments = pipeline_call(action)
        s(f"pipeline.{method}({', '.join(map(repr, arguments))})", comment)


def _pipeline_outputs(s: Script, o: Options, *, butler: str | None) -> str | None:
    """What -p's pipeline is shown or saved as (--show, --pipeline-dot, ...); the factory's name, if made."""
    factory = None
    if _show_items(o) & SHOW_PIPELINE_ITEMS or o.pipeline_dot or o.pipeline_mermaid or butler is not None:
        s.use("lsst.ctrl.mpexec", "PipelineGraphFactory")
        factory = "factory"
        why = [o.flag(d) for d in ("pipeline_dot", "pipeline_mermaid") if o.given(d)]
        if _show_items(o) & SHOW_PIPELINE_ITEMS:
            why.insert(0, "--show")
        if butler is not None:
            why.append("-b")
        s(f"factory = PipelineGraphFactory(pipeline, {butler or 'None'}, pipeline_graph=pipeline_graph)",
          f"pipetask's holder of the pipeline, for {', '.join(why)}")
    if o.pipeline_dot:
        s.use("lsst.pipe.base.pipeline_graph", "visualization")
        with s.block(f"with open({o.pipeline_dot!r}, 'w') as stream:", o.text("pipeline_dot")):
            s("visualization.show_dot(factory(visualization_only=True), stream, dataset_types=True, "
              "task_classes='full')")
    if o.pipeline_mermaid:
        s.use("lsst.pipe.base.pipeline_graph", "visualization")
        path = o.pipeline_mermaid
        fmt = path.rpartition(".")[2] if path.endswith((".svg", ".png")) else "mmd"
        mode = "w" if fmt == "mmd" else "wb"
        width = "None" if fmt == "mmd" else "4500"
        with s.block(f"with open({path!r}, {mode!r}) as stream:", o.text("pipeline_mermaid")):
            s(f"visualization.show_mermaid(factory(visualization_only=True), stream, output_format={fmt!r}, "
              f"width={width}, dataset_types=True, task_classes='full')")
    if o.show:
        s.use("lsst.ctrl.mpexec.showInfo", "ShowInfo")
        s(f"show_info = ShowInfo({list(o.show)!r})", o.text("show"))
        if _show_items(o) & SHOW_PIPELINE_ITEMS:
            s("show_info.show_pipeline_info(factory)", "--show: the pipeline items")
    return factory


def _show_items(o: Options) -> set[str]:
    return {item.partition("=")[0] for item in o.show}


def _show_unhandled(s: Script, o: Options, handled: set[str]) -> None:
    """pipetask's warning for --show items this subcommand did not act on."""
    if unhandled := _show_items(o) - handled:
        message = (
            f"The following '--show' options were not known to the {o.subcommand} command: "
            f"{', '.join(sorted(unhandled))}"
        )
        s(f"print({message!r}, file=sys.stderr)", f"--show {','.join(sorted(unhandled))}")


def _no_effect(s: Script, o: Options) -> None:
    """Comments for the options given that change nothing in this script, saying why."""
    notes = []
    if o.subcommand != "build" and not o.coverage:
        for dest in ("cov_report", "cov_packages"):
            if o.given(dest):
                notes.append(f"{o.text(dest)}: no effect without --coverage")
    if o.subcommand != "build" and o.qgraph is not None:
        if o.qgraph_datastore_records:
            notes.append("--qgraph-datastore-records: no effect, the graph is loaded (-g), not built")
        if o.clobber_outputs and o.subcommand == "qgraph":
            notes.append("--clobber-outputs: no effect, the graph is loaded (-g), not built")
    if o.subcommand == "qgraph" and o.prune_replaced:
        notes.append(f"{o.text('prune_replaced')}: no effect, qgraph writes nothing to the repo")
    for note in notes:
        s(comment=note)
