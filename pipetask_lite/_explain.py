"""``pipetask-lite --explain``: print the Python script a command line amounts to.

`explain` turns a parsed command line into a self-contained script that uses
the public LSST API only (``lsst.daf.butler``, ``lsst.pipe.base`` and two
public classes of ``lsst.ctrl.mpexec``) and makes the calls that
`pipetask_lite.build`, `pipetask_lite.qgraph` and `pipetask_lite.run` make,
in the same order.  Only the code paths that the given options need are
written out; what depends on the repo (does ``-o`` exist already?) is checked
by the script when it runs, with pipetask's rules, as pipetask-lite does.

Nothing here imports ``lsst`` or opens the repo, so a command line for a repo
(or a camera package) that is not on this machine explains all the same.
That is the default depth, ``--explain`` (``"short"``: LSST's
SimplePipelineExecutor recipe, when it can say the command line) and
``--explain=full`` (every call, checks included).  ``--explain=quantum``, the
layer below (a task's own ``run()`` for one quantum), needs the graph, so it
opens the repo read-only: `pipetask_lite._explain_quantum`.

Every option given on the command line shows up in a comment of the script,
next to the statement it becomes (or saying why it changes nothing there);
`explain` checks this before returning, so an option it does not know about
is an error, not a silent gap.
"""

from __future__ import annotations

__all__ = ("Options", "explain")

import argparse
import contextlib
import os
import re
import uuid
from collections.abc import Iterator

from . import _argv
from ._argv import wrap_command as _wrap_command
from ._compat import check_builder_options, disables_threading_before_build, records_retained_dataset_types
from ._qgraph import GraphOptions
from ._rules import execution_timeout, executor_clobbers, parse_prune_unanchored_quanta, worker_start_method
from ._util import as_actions, check_writable
from .actions import ACTIONS, PipelineAction, action_text
from .cli import build_parser, subcommand_parser
from .errors import OptionValueError, PipetaskLiteError, UsageError

PROG = "pipetask-lite"

# lsst.ctrl.mpexec.showInfo.ShowInfo's items (kept here: --explain imports no lsst).
SHOW_PIPELINE_ITEMS = frozenset(
    {"pipeline", "config", "history", "tasks", "dump-config", "pipeline-graph", "task-graph", "subsets", "inputs"}
)
SHOW_GRAPH_ITEMS = frozenset({"graph", "workflow", "uri"})

WHY_NOT_SIMPLE_RUN = """\
# SimplePipelineExecutor.run would stop at the first failing quantum, in one
# process, after writing every init-output itself.  pipetask runs every
# quantum that no failure blocks, with -j/--fail-fast/--timeout and a report
# per quantum: that is MPGraphExecutor driving a SingleQuantumExecutor."""


def explain(args: argparse.Namespace) -> str:
    """Return a self-contained Python script doing what ``args`` asks for.

    Parameters
    ----------
    args : `argparse.Namespace`
        A parsed command line (`pipetask_lite.cli.parse_args`).  Its
        ``explain`` (``--explain``) picks the depth: ``"short"`` (or absent)
        gives the SimplePipelineExecutor recipe when it can express the
        command line (`_why_not_recipe` says when it cannot, and the script
        is then the full one, saying why); ``"full"`` gives every call
        pipetask-lite makes, its checks included.

    Returns
    -------
    script : `str`
        Python source using the public LSST API only.

    Raises
    ------
    pipetask_lite.UsageError
        Raised for the usage errors that ``run``/``qgraph``/``build`` find
        before opening the repo (unknown ``--show`` item, malformed
        ``--mock-failure`` or ``--qgraph-node-id``), with the same message.
    pipetask_lite.PipetaskLiteError
        Raised if a saved graph (``-g``) has an extension pipetask-lite cannot
        read, or (a bug) if an option given has no place in the script.
        A subcommand other than build, qgraph and run is a `UsageError`.
    """
    explainers = {"build": _explain_build, "qgraph": _explain_qgraph, "run": _explain_run}
    if args.subcommand not in explainers:
        raise UsageError(
            f"shows the Python of {', '.join(explainers)}; not of {args.subcommand!r} yet", option="--explain"
        )
    depth = getattr(args, "explain", None) or "short"
    if depth == "quantum":
        # The layer below: this one opens the repo (read-only) and builds the graph.
        from ._explain_quantum import explain_quantum

        return explain_quantum(args)
    options = Options(args)
    _check_usage(args)
    why_full = None
    if depth == "short":
        why_full = _why_not_recipe(options)
        if why_full is None:
            script = _Script(flat=True)
            _explain_recipe(script, options)
            text = script.render(options)
            _check_complete(script, options)
            return text
    script = _Script()
    _header(script, options, why_full=why_full)
    _logging(script, options)
    explainers[args.subcommand](script, options)
    text = script.render(options)
    _check_complete(script, options)
    return text


# ---------------------------------------------------------------------------
# The command line: which options were given, and how each one reads.
# ---------------------------------------------------------------------------


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


_Options = Options  # the narration below names it so


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


def _unmentioned(script: _Script, options: _Options) -> list[str]:
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


def _check_complete(script: _Script, options: _Options) -> None:
    """Fail loudly if an option given is not named in any comment of the script."""
    if missing := _unmentioned(script, options):
        raise PipetaskLiteError(
            f"cannot show the Python for {', '.join(missing)} yet (a bug: please report it)", option="--explain"
        )


def _not_reached(s: _Script, o: _Options, why: str) -> None:
    """Before an early ``return``: the options given that only matter after it."""
    if missing := _unmentioned(s, o):
        s(comment=f"{why}, so these change nothing: {', '.join(missing)}")


# ---------------------------------------------------------------------------
# The script being written.
# ---------------------------------------------------------------------------


def _clean(comment: str) -> str:
    """One line of comment text, whatever the option values hold."""
    return comment.replace("\r", "\\r").replace("\n", "\\n")


class _Script:
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

    def render(self, options: _Options) -> str:
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


# ---------------------------------------------------------------------------
# Parts shared by build, qgraph and run.
# ---------------------------------------------------------------------------


def _header(s: _Script, o: _Options, *, why_full: str | None = None) -> None:
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


def _coverage(s: _Script, o: _Options) -> None:
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


def _logging(s: _Script, o: _Options, *, note: bool = True) -> None:
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


def _constants(s: _Script, o: _Options) -> None:
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


def _pipeline(s: _Script, o: _Options, *, butler: str | None = None) -> str | None:
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


def _pipeline_actions(s: _Script, o: _Options) -> None:
    """``pipeline = ...``: -p, then the pipeline actions in command-line order."""
    s.use("lsst.pipe.base", "Pipeline")
    if o.pipeline:
        s(f"pipeline = Pipeline.from_uri({o.pipeline!r})", o.text("pipeline"))
    else:
        s("pipeline = Pipeline('anonymous')", "no -p: an empty pipeline for -t to fill")
    for action in o.pipeline_actions:
        comment = _action_text(action)
        match action.option:
            case "instrument":
                s(f"pipeline.addInstrument({action.value!r})", comment)
            case "task":
                s(f"pipeline.addTask({action.value!r}, {action.label!r})", comment)
            case "delete":
                s(f"pipeline.removeTask({action.label!r})", comment)
            case "config":
                name, _, value = action.value.partition("=")
                s(f"pipeline.addConfigOverride({action.label!r}, {name!r}, {value!r})", comment)
            case "config_file":
                s(f"pipeline.addConfigFile({action.label!r}, {action.value!r})", comment)


def _pipeline_outputs(s: _Script, o: _Options, *, butler: str | None) -> str | None:
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


def _show_items(o: _Options) -> set[str]:
    return {item.partition("=")[0] for item in o.show}


def _show_unhandled(s: _Script, o: _Options, handled: set[str]) -> None:
    """pipetask's warning for --show items this subcommand did not act on."""
    if unhandled := _show_items(o) - handled:
        message = (
            f"The following '--show' options were not known to the {o.subcommand} command: "
            f"{', '.join(sorted(unhandled))}"
        )
        s(f"print({message!r}, file=sys.stderr)", f"--show {','.join(sorted(unhandled))}")


# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------


def _explain_build(s: _Script, o: _Options) -> None:
    if o.butler_config:
        s.use("lsst.daf.butler", "Butler")
        _constants(s, o)
        with s.block("with Butler.from_config(REPO, writeable=False) as butler:",
                     f"{o.text('butler_config')}: read only, to resolve dataset types"):
            _build_body(s, o, butler="butler")
    else:
        _build_body(s, o, butler=None)
    s("return 0")


def _build_body(s: _Script, o: _Options, *, butler: str | None) -> None:
    _pipeline(s, o, butler=butler)
    _show_unhandled(s, o, SHOW_PIPELINE_ITEMS)
    if butler is not None:
        s("pipeline_graph = factory(resolve=True)", "-b: dataset types resolved against the repo")


# ---------------------------------------------------------------------------
# qgraph and run: collections and the quantum graph.
# ---------------------------------------------------------------------------


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
'''
"""Stand-ins for `pipetask_lite.PipetaskLiteError` (and its `CollectionOptionError`), so that the rules' source
runs unchanged in the script."""


def collection_rules_source() -> list[str]:
    """The source of the collection rules the command runs, as the explained script holds them.

    The rules are written once, in `pipetask_lite._collections`; the script gets
    their source verbatim (never a copy kept by hand), after `ERROR_STAND_IN`.
    """
    import inspect

    from . import _collections, _suggest

    return [inspect.getsource(rule) for rule in
            (_collections.CollectionPlan, _collections.plan_collections, _collections._contains_run_of,
             _collections.check_graph_output_run, _suggest.did_you_mean)]


def _collection_rules(s: _Script) -> None:
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


def _plan_call(s: _Script, o: _Options, *, output_run: str, run_comment: str, writeable: bool,
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


def _skip_existing_in(o: _Options) -> tuple[str | None, str | None]:
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


def _graph(s: _Script, o: _Options, *, for_execution: bool) -> None:
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
            s.use("lsst.pipe.base.all_dimensions_quantum_graph_builder", "AllDimensionsQuantumGraphBuilder")
            why = [o.flag(d) for d in o.graph.builder_reasons]
            s.note(f"The graph builder SimplePipelineExecutor wraps, called directly for {', '.join(why)}.")
            with s.block("builder = AllDimensionsQuantumGraphBuilder("):
                s("pipeline_graph,")
                s("graph_butler,")
                s("where=DATA_QUERY,", o.text("data_query") if o.data_query else "no -d")
                s("input_collections=list(plan.search_path),")
                s("output_run=plan.output_run,", _run_comment(o))
                if skip_expr:
                    s("skip_existing_in=skip_existing_in,", skip_why)
                if o.clobber_outputs:
                    s("clobber=True,", "--clobber-outputs")
                if o.dataset_query_constraint != "all":
                    s.use("lsst.pipe.base.all_dimensions_quantum_graph_builder", "DatasetQueryConstraintVariant")
                    s(f"dataset_query_constraint=DatasetQueryConstraintVariant.fromExpression("
                      f"{o.dataset_query_constraint!r}),", o.text("dataset_query_constraint"))
                if tables:
                    s("data_id_tables=tables,", "--data-id-table")
                if o.retained_dataset_types is not None:
                    s("retained_dataset_types=retained_dataset_types,",
                      f"{o.text('retained_dataset_types')}: a quantum that must run makes its producers run too")
                if prune:
                    s(f"prune_unanchored_quanta={prune!r},",
                      f"{o.text('prune_unanchored_quanta')}: drop {prune[0]} quanta with no {prune[1]} downstream")
            s(")")
            with s.block("components = builder.finish("):
                s(f"{'OUTPUT' if o.output is not None else 'None'},")
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
            s(")")
            s("quantum_graph = components.assemble()")
    # An empty graph is an error, before anything is written.
    with s.block("if len(quantum_graph) == 0:"):
        if from_graph:
            s(f"sys.exit({('-g/--qgraph: no quanta in ' + repr(o.qgraph) + '; nothing was written')!r})")
        else:
            s('names = ", ".join(sorted(name for name, _ in quantum_graph.pipeline_graph.iter_overall_inputs()))')
            tail = ""
            if skip_expr:
                tail = ", or all outputs exist in {skip_existing_in}"
            s('sys.exit(f"-d/--data-query: no quanta: query {DATA_QUERY!r} selected no data in collections '
              f'{{list(plan.search_path)}} for the pipeline\'s inputs ({{names}}){tail}; nothing was written")')
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


def _pipeline_graph_comment(o: _Options) -> str:
    if o.qgraph is not None:
        return "-g: the pipeline the saved graph was built for"
    return "resolved against the repo by the graph builder"


def _run_comment(o: _Options) -> str:
    if o.output_run:
        return o.text("output_run")
    if o.extend_run:
        return "--extend-run: the first child of -o"
    return "no --output-run: OUTPUT/TIMESTAMP"


def _plan_comment(o: _Options) -> str:
    given = [o.flag(d) for d in ("input", "output", "output_run", "extend_run", "replace_run", "rebase") if o.given(d)]
    return f"{', '.join(given) or 'collections'}: pipetask's rules (see plan_collections above)"


def _load_graph(s: _Script, o: _Options, *, for_execution: bool, full: bool) -> None:
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


# ---------------------------------------------------------------------------
# qgraph
# ---------------------------------------------------------------------------


def _explain_qgraph(s: _Script, o: _Options) -> None:
    _constants(s, o)
    items = _show_items(o)
    if o.qgraph is None:
        _pipeline(s, o)
        if items and not items & SHOW_GRAPH_ITEMS:
            s('print("No quantum graph generated. The --show option was given and all options were processed.", '
              "file=sys.stderr)", "--show: pipeline items only")
            _not_reached(s, o, "--show with pipeline items only stops here")
            s("return 0")
            return
        s()
    elif o.show:
        s.use("lsst.ctrl.mpexec.showInfo", "ShowInfo")
        s(f"show_info = ShowInfo({list(o.show)!r})", o.text("show"))
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


def _write_json(s: _Script, o: _Options, report: str) -> None:
    """``--summary``: the report as JSON, its directory created as the command creates it."""
    s.use("os")
    s(f"os.makedirs(os.path.dirname(os.path.abspath({o.summary!r})), exist_ok=True)", o.text("summary"))
    with s.block(f"with open({o.summary!r}, 'w') as stream:"):
        s(f"stream.write({report}.model_dump_json(exclude_none=True, indent=2))")


def _no_effect(s: _Script, o: _Options) -> None:
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


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


def _explain_run(s: _Script, o: _Options) -> None:
    _constants(s, o)
    if not o.enable_implicit_threading and disables_threading_before_build():
        s.use("lsst.utils.threads", "disable_implicit_threading")
        s("disable_implicit_threading()",
          "pipetask's default, before task imports and graph building make thread pools (this release)")
    items = _show_items(o)
    from_graph = o.qgraph is not None
    if not from_graph:
        _pipeline(s, o)
        if items and not items & SHOW_GRAPH_ITEMS:
            s('print("No quantum graph generated or pipeline executed. '
              'The --show option was given and all options were processed.", file=sys.stderr)',
              "--show: pipeline items only")
            _not_reached(s, o, "--show with pipeline items only stops here")
            s("return 0")
            return
        s()
    elif o.show:
        s.use("lsst.ctrl.mpexec.showInfo", "ShowInfo")
        s(f"show_info = ShowInfo({list(o.show)!r})", o.text("show"))
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


def _execute(s: _Script, o: _Options) -> None:
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
    elif o.output is None:
        s.use("lsst.daf.butler", "Butler")
        s("butler = Butler.from_config(REPO, writeable=True, run=plan.output_run, "
          "collections=[plan.output_run, *plan.inputs])", "--output-run without -o: no chain, inputs from -i")
        s("butler.collections.register(plan.output_run)", "--output-run")
    else:
        s.use("lsst.daf.butler", "Butler", "CollectionType")
        s.use("lsst.daf.butler.registry", "RegistryDefaults")
        why = o.flag("extend_run") if o.extend_run else o.flag("replace_run")
        s.note(f"{why}: pipetask's rules, which SimplePipelineExecutor.prep_butler does not know.")
        s("butler = Butler.from_config(REPO, writeable=True)")
        if o.prune_replaced == "unstore":
            s.use("lsst.pipe.base.pipeline_graph", "NodeType")
            with s.block("with butler.transaction():",
                         "--prune-replaced unstore: the replaced run's task outputs leave the datastore"):
                with s.block("refs = ["):
                    s("ref")
                    s("for ref in butler.registry.queryDatasets(..., collections=plan.replaced)")
                    s("if (producer := pipeline_graph.producer_of(ref.datasetType.name)) is not None")
                    s("and producer.key.node_type is NodeType.TASK")
                s("]")
                s("butler.pruneDatasets(refs, unstore=True, disassociate=False)",
                  "init-outputs, configs and versions stay, as in pipetask")
        elif o.prune_replaced == "purge":
            with s.block("with butler.transaction():", "--prune-replaced purge: the replaced run is removed"):
                s("butler.collections.redefine_chain(OUTPUT, plan.chain)")
                s("butler.removeRuns([plan.replaced])")
        elif o.replace_run:
            s(comment="--replace-run without --prune-replaced: the replaced run stays in the repo")
        with s.block("if not plan.output_exists:"):
            s("butler.collections.register(OUTPUT, CollectionType.CHAINED)", "-o")
        if o.extend_run:
            s(comment="--extend-run: the run and the chain exist already; nothing new to register")
        else:
            s("butler.collections.register(plan.output_run, CollectionType.RUN)", "--replace-run: a new run")
            s("butler.collections.redefine_chain(OUTPUT, [plan.output_run, *plan.chain])",
              "--replace-run: ... in place of the replaced one")
        s("butler.registry.defaults = RegistryDefaults(run=plan.output_run, collections=[OUTPUT])")
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
            s(f"quantum_graph.write_init_outputs(butler, skip_existing={skip_existing!r})",
              ("--extend-run: " if ext else "--skip-existing: " if skip_existing else "") + "init-outputs"
              + (" (those already there are kept)" if skip_existing else ""))
            s(f"quantum_graph.write_configs(butler, compare_existing={ext!r})",
              "--extend-run: must match those already written" if ext else "the task configs")
            if o.no_versions:
                s(comment="--no-versions: no 'packages' dataset is written or compared")
            else:
                s(f"quantum_graph.write_packages(butler, compare_existing={ext!r})",
                  "software versions (--no-versions skips them)")
        if o.init_only:
            _not_reached(s, o, "--init-only stops before execution")
            s("return 0", "--init-only: stop before executing")
            return
        s()
        s.note("6. Execution.")
        s.raw(WHY_NOT_SIMPLE_RUN)
        s.use("lsst.pipe.base", "TaskFactory")
        s.use("lsst.pipe.base.single_quantum_executor", "SingleQuantumExecutor")
        s.use("lsst.pipe.base.mp_graph_executor", "MPGraphExecutor", "MPGraphExecutorError")
        if o.processes <= 1 and not o.extend_run:
            s.note(
                "A full butler's put registers each dataset in a transaction of its own.  For a new run",
                "(whose graph carries its inputs' datastore records) pipetask-lite executes the quanta on",
                "quantum-backed butlers and registers their outputs in batches, one transaction each (its",
                "own code, pipetask_lite/_registration.py), with the same outputs in the repo.",
            )
        with s.block("quantum_executor = SingleQuantumExecutor("):
            s("butler=butler,")
            s("task_factory=TaskFactory(),")
            if skip_expr:
                s("skip_existing_in=skip_existing_in,", skip_why)
            if o.clobber_outputs:
                clobbers = executor_clobbers(clobber_outputs=o.clobber_outputs, extend_run=o.extend_run)
                s(f"clobber_outputs={clobbers!r},",
                  "--clobber-outputs" + ("" if clobbers else ": does nothing without --extend-run"))
            if o.debug:
                s("enable_lsst_debug=True,", "--debug")
            s("resources=resources,", "-n, --memory-per-quantum")
            s(f"raise_on_partial_outputs={o.raise_on_partial_outputs!r},",
              o.text("raise_on_partial_outputs") if o.given("raise_on_partial_outputs")
              else "--raise-on-partial-outputs (default)")
        s(")")
        with s.block("graph_executor = MPGraphExecutor("):
            if o.processes > 1:
                s.note(
                    f"{o.text('processes')}: MPGraphExecutor starts a process per quantum, each importing the",
                    f"stack again; pipetask-lite keeps {o.processes} long-lived workers instead (its own code,",
                    "not LSST API), with the same outputs in the repo.",
                )
                s(f"num_proc={o.processes!r},", o.text("processes"))
            else:
                s("num_proc=1,", o.text("processes") if o.given("processes") else "-j 1 (default)")
            s(f"timeout={execution_timeout(o.timeout)!r},",
              "no --timeout: pipetask's 30 days" if o.timeout is None else o.text("timeout"))
            s("quantum_executor=quantum_executor,")
            if o.start_method:
                if worker_start_method(o.start_method) != o.start_method:
                    s(f"start_method={worker_start_method(o.start_method)!r},",
                      "--start-method fork: unsafe and no longer supported; pipetask uses spawn (and warns)")
                else:
                    s(f"start_method={o.start_method!r},", o.text("start_method"))
            s(f"fail_fast={o.fail_fast!r},", "--fail-fast" if o.fail_fast else "no --fail-fast: run all it can")
            if o.pdb:
                s(f"pdb={o.pdb!r},", o.text("pdb"))
            if o.graph_fixup:
                s("execution_graph_fixup=fixup,", "--graph-fixup")
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


# ---------------------------------------------------------------------------
# The short form: LSST's SimplePipelineExecutor recipe, when it can say it.
# ---------------------------------------------------------------------------

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
"""The options of ``run`` that SimplePipelineExecutor can express (the others need the full script)."""


def _why_not_recipe(o: _Options) -> str | None:
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


def _recipe_logging(s: _Script, o: _Options) -> None:
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


def _explain_recipe(s: _Script, o: _Options) -> None:
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
