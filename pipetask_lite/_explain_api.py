"""`pipetask_lite.explain`: the script of ``--explain``, from Python keywords.

`explain` takes the keywords of `pipetask_lite.run`, `pipetask_lite.qgraph`
or `pipetask_lite.build` and returns the text that ``pipetask-lite
--explain=DEPTH SUBCOMMAND ...`` prints for the equivalent command line.  It
gets there through the command line itself: the keywords become the words of
that command line (each keyword is an argparse ``dest``; its option is found
in the parser, not in a table kept here), `pipetask_lite.cli.parse_args`
parses them with every check the command makes, and
`pipetask_lite._explain.explain` writes the script.  So the two can never
disagree, and nothing here knows what a script looks like.

A keyword the command line has no option for (``progress=`` and
``resume_command=`` of `run`) goes through a hook in `PYTHON_ONLY`, a value
that is a Python object rather than text through one in `OBJECT_WORDS`: the
hook says which command-line word stands for the object, if any, and what
comment the script carries about what the caller passed.
"""

from __future__ import annotations

__all__ = ("explain",)

import argparse
import contextlib
import difflib
import inspect
import io
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._redact import redact
from ._argv import keyword_options, options_of, takes_many
from .actions import ACTIONS, PipelineAction, action_text
from .errors import PipetaskLiteError, UsageError

def _progress_note(value: Any) -> str | None:
    if not isinstance(value, bool):
        raise UsageError(f"expected True or False, not {value!r}", option="progress=")
    # The script draws no progress bar either way; say so only when asked for none.
    return None if value else "progress=False: no progress bar (the script draws none anyway)"


def _resume_command_note(value: Any) -> str | None:
    if not callable(value):
        raise UsageError(f"expected a callable or None, not {value!r}", option="resume_command=")
    name = getattr(value, "__qualname__", type(value).__name__)
    return (f"resume_command={name}: pipetask_lite.run prints what it returns when a quantum ends the "
            "process; the script has no such watcher")


def _not_in_script(what: str) -> Callable[[Any], str | None]:
    """A hook for an object keyword of the Python API only (issue 27): the script says it was passed."""
    def note(value: Any) -> str | None:
        shown = repr(value) if isinstance(value, Mapping | str) else f"<{type(value).__name__}>"
        return f"{what}={shown[:60]}: passed from Python; the script does not carry it"

    return note


def _config_note(value: Any) -> str | None:
    """config= with a task class: the assignments it changes, which the script does not apply."""
    if not _instance_of(value, "lsst.pex.config", "Config"):
        return _not_in_script("config")(value)
    from ._build import _config_changes

    changes = [line for line in _config_changes(value, type(value)()).splitlines()
               if not line.startswith(("import ", "from "))]
    shown = "; ".join(changes[:5]) + ("; ..." if len(changes) > 5 else "")
    return (f"config=<{type(value).__name__}>: passed from Python; the script does not apply its changes from "
            f"the defaults ({shown or 'none'}): add them with -c or pipeline.addConfigOverride")


PYTHON_ONLY: dict[str, Callable[[Any], str | None]] = {
    "progress": _progress_note,
    "resume_command": _resume_command_note,
    # Objects only the Python API takes (pipetask_lite._api): a comment says what the caller passed.
    "config": _config_note,
    "label": _not_in_script("label"),
    "bind": _not_in_script("bind"),
    "data_ids": _not_in_script("data_ids"),
}
"""Keywords with no command-line option: each hook checks the value and returns
the comment the script gets about it (or `None` for none)."""


def _resource_path(value: Any) -> tuple[str, str | None] | None:
    # A ResourcePath exists only if lsst.resources was imported: no import here.
    resources = sys.modules.get("lsst.resources")
    if resources is not None and isinstance(value, resources.ResourcePath):
        return str(value), None
    return None


def _instance_of(value: Any, module: str, *names: str) -> bool:
    """Whether ``value`` is one of the named classes of an LSST module, without importing it.

    An object of that module exists only if the module was imported, so a
    module not in `sys.modules` answers no, and ``explain`` stays free of lsst
    imports for text keywords.
    """
    loaded = sys.modules.get(module)
    classes = tuple(getattr(loaded, name) for name in names if hasattr(loaded, name))
    return bool(classes) and isinstance(value, classes)


def _butler_word(value: Any) -> tuple[str, str | None] | None:
    """A Butler stands for its repo: the script opens the same repo by its location."""
    if not _instance_of(value, "lsst.daf.butler", "Butler"):
        return _resource_path(value)
    from ._api import _repo_of

    repo = _repo_of(value)
    return repo, f"butler_config=<{type(value).__name__}>: the Butler passed; the script opens its repo, {repo}"


PIPELINE_FILE = "pipeline.yaml"
"""The file a script reads a pipeline passed as an object from (a script cannot hold the object)."""

QGRAPH_FILE = "graph.qg"
"""The file a script reads a quantum graph passed as an object from."""


def _pipeline_word(value: Any) -> tuple[str, str | None] | None:
    """A Pipeline or PipelineGraph: the script reads it from `PIPELINE_FILE`, and says how to write that."""
    if _instance_of(value, "lsst.pipe.base", "Pipeline"):
        return PIPELINE_FILE, (f"pipeline=<Pipeline>: the Pipeline passed; the script reads it from "
                               f"{PIPELINE_FILE!r}: write it there first, pipeline.write_to_uri({PIPELINE_FILE!r})")
    if _instance_of(value, "lsst.pipe.base.pipeline_graph", "PipelineGraph"):
        return PIPELINE_FILE, (f"pipeline=<PipelineGraph>: the graph passed; the script reads a pipeline with "
                               f"the same tasks and configs from {PIPELINE_FILE!r} (a PipelineGraph is not "
                               "written as a pipeline file: keep the Pipeline it was made from)")
    return _resource_path(value)


def _qgraph_word(value: Any) -> tuple[str, str | None] | None:
    """A quantum graph object: the script reads it from `QGRAPH_FILE`, as ``-g`` does."""
    if _instance_of(value, "lsst.pipe.base.quantum_graph", "PredictedQuantumGraph") or _instance_of(
            value, "lsst.pipe.base", "QuantumGraph"):
        return QGRAPH_FILE, (f"qgraph=<{type(value).__name__}>: the graph passed; the script reads it from "
                             f"{QGRAPH_FILE!r}: save it there when making it, "
                             f"pipetask_lite.qgraph(..., save_qgraph={QGRAPH_FILE!r})")
    return _resource_path(value)


OBJECT_WORDS: dict[str, Callable[[Any], tuple[str, str | None] | None]] = {
    **{name: _resource_path
       for name in ("save_pipeline", "save_qgraph", "pipeline_dot", "pipeline_mermaid", "qgraph_dot",
                    "qgraph_mermaid", "data_id_table", "summary", "profile", "retained_dataset_types")},
    "butler_config": _butler_word,
    "pipeline": _pipeline_word,
    "qgraph": _qgraph_word,
}
"""Keywords whose value may be an object standing for an option's value (one
value of a list option): each hook returns `None` for an object it does not
take, else the command-line word for it and the comment the script gets about
what the caller passed (``"butler_config=<DirectButler>: ..."``, or `None` for none).  A Butler is
named by its repo; a Pipeline, a PipelineGraph or a quantum graph by a file the
script reads, with a comment saying how to write it.  (A task class for
``pipeline`` is a ``-t`` word, handled in `explain` itself.)"""


def explain(subcommand: str, depth: str = "short", **keywords: Any) -> str:
    """Return the Python script that ``pipetask-lite --explain`` prints for these keywords.

    Parameters
    ----------
    subcommand : `str`
        ``"run"``, ``"qgraph"`` or ``"build"``: the function whose keywords
        follow (`pipetask_lite.run`, `pipetask_lite.qgraph`,
        `pipetask_lite.build`).
    depth : `str`, optional
        As ``--explain=DEPTH``: ``"short"`` (LSST's SimplePipelineExecutor
        recipe, when it can say the call), ``"full"`` (every call, checks
        included) or ``"quantum"`` (``run``/``qgraph``: one quantum's task
        call; this one opens the repo read-only and builds the graph).
    **keywords
        Exactly the keywords of the subcommand's function, with the values it
        takes.  Each becomes the option it mirrors: text and paths (`str`,
        `os.PathLike`, `lsst.resources.ResourcePath`) as the option's
        value; `int` for ``processes``, ``timeout``,
        ``cores_per_quantum``; `bool` for flags; a sequence for a
        list option (a bare `str` means what the option means on the command
        line: ``input="a,b"`` is ``-i a,b``); ``pipeline_actions`` as
        `PipelineAction` values or ``(option, value)`` pairs, a class (or an
        instrument instance) standing for its fully qualified name.  `None`
        (or the function's default) leaves the option out.  Keywords with no
        option (``progress``, ``resume_command``) change nothing in the
        script; one that is not the default gets a comment at its top.

    Returns
    -------
    script : `str`
        The text ``--explain`` prints (without its final newline).  Its
        header shows the equivalent command line; credentials in URIs are
        hidden, as on the command line.

    Raises
    ------
    pipetask_lite.UsageError
        Raised for an unknown subcommand, depth or keyword (with a "did you
        mean"), a value of the wrong type, and every usage error the command
        line finds; the message names the keyword as typed (``input=``) and
        the option it mirrors.
    pipetask_lite.PipetaskLiteError
        Raised as ``--explain`` raises it (for ``depth="quantum"``: a repo
        that cannot be read, an empty graph).

    Notes
    -----
    A keyword added to ``run``/``qgraph``/``build`` whose name is the
    ``dest`` of an option needs nothing here.  One with no option needs a hook
    in `PYTHON_ONLY` (until it has one, `explain` refuses it, naming it: a
    script that silently leaves out what the keyword does would be wrong); a
    value that is an object standing for an option's value needs a hook in
    `OBJECT_WORDS` (the word, and a comment saying what the caller passed).
    """
    from . import cli

    if subcommand not in cli.EXPLAINED:
        raise UsageError(f"{subcommand!r} has no --explain; expected one of {', '.join(cli.EXPLAINED)}",
                         option="subcommand")
    if depth not in cli.EXPLAIN_DEPTHS:
        raise UsageError(f"{depth!r} is not one of {', '.join(cli.EXPLAIN_DEPTHS)}", option="depth= (--explain)")
    parser = cli.build_parser()
    subparser = cli.subcommand_parser(parser, subcommand)
    actions = {action.dest: action for action in options_of(subparser) if action.option_strings}
    parameters = inspect.signature(_function(subcommand)).parameters
    notes: list[str] = []
    words: list[str] = []
    first_words: list[str] = []
    for name, value in keywords.items():
        if name not in parameters:
            close = difflib.get_close_matches(name, list(parameters), n=3, cutoff=0.6)
            hint = f" (did you mean {' or '.join(f'{c}=' for c in close)}?)" if close else ""
            raise UsageError(f"pipetask_lite.{subcommand}() has no such keyword{hint}", option=f"{name}=")
        if value is None or _is_default(value, parameters[name]):
            continue
        if name == "pipeline" and _is_task_class(value):
            # A task class is the command line's -t CLASS:LABEL with no -p, ahead of the other actions.
            label = keywords.get("label") or value._DefaultName
            first_words.append(f"--task={value.__module__}.{value.__qualname__}:{label}")
        elif name == "label" and _is_task_class(keywords.get("pipeline")):
            continue  # in the -t word above
        elif name in PYTHON_ONLY:
            if (note := PYTHON_ONLY[name](value)) is not None:
                notes.append(note)
        elif name == "pipeline_actions":
            words += _action_words(value, notes)
        elif name in actions:
            words += _option_words(name, actions[name], value, notes)
        else:
            raise UsageError("the script of --explain cannot show what this keyword does yet; "
                             "leave it out to see the rest", option=f"{name}=")
    args = _parse(cli, parser, subparser, [f"--explain={depth}", subcommand, *first_words, *words])
    from ._explain import explain as explain_args

    try:
        text = explain_args(args)
    except PipetaskLiteError as exc:
        raise _in_python_terms(exc, subparser) from exc
    return redact(_with_notes(text, notes))


def _is_task_class(value: Any) -> bool:
    return isinstance(value, type) and any(
        cls.__name__ == "PipelineTask" and cls.__module__.startswith("lsst.pipe.base") for cls in value.__mro__)


def _function(subcommand: str) -> Callable[..., Any]:
    """The Python function of a subcommand, whose signature lists the keywords."""
    from ._build import build
    from ._qgraph import qgraph
    from ._run import run

    return {"build": build, "qgraph": qgraph, "run": run}[subcommand]


def _is_default(value: Any, parameter: inspect.Parameter) -> bool:
    default = parameter.default
    if default is inspect.Parameter.empty or type(value) is not type(default):
        return False  # 1 == True: a type that differs is checked as a value
    with contextlib.suppress(Exception):  # an object whose == fails is not the default
        return bool(value == default)
    return False


# ---------------------------------------------------------------------------
# Keyword values as command-line words.
# ---------------------------------------------------------------------------


def _option_words(name: str, action: argparse.Action, value: Any, notes: list[str]) -> list[str]:
    """The words of one option (``--long=VALUE``, so that a value starting with ``-`` stays one)."""
    option = f"{name}= ({'/'.join(action.option_strings)})"
    if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise UsageError(f"expected True or False, not {value!r}", option=option)
        if isinstance(action, argparse.BooleanOptionalAction):
            return [action.option_strings[0] if value else action.option_strings[-1]]
        return [action.option_strings[0]] if value else []
    long = action.option_strings[-1]
    if takes_many(action):
        items = [value] if isinstance(value, (str, os.PathLike)) else value
        if isinstance(items, Mapping) or not isinstance(items, Iterable):
            raise UsageError(f"expected a sequence of values, not {value!r}", option=option)
        return [f"{long}={_object_word(name, item, option, notes)}" for item in items]
    if getattr(action.type, "__name__", "").startswith("integer"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"expected an integer, not {value!r}", option=option)
        return [f"{long}={value}"]
    return [f"{long}={_object_word(name, value, option, notes)}"]


def _object_word(name: str, value: Any, option: str, notes: list[str]) -> str:
    """One value as a command-line word: text, a path, or an object with a hook in `OBJECT_WORDS`."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        return value
    if name in OBJECT_WORDS and (found := OBJECT_WORDS[name](value)) is not None:
        word, note = found
        if note is not None:
            notes.append(note)
        return word
    raise UsageError(f"the script cannot name {type(value).__name__} {_short(value)}; expected text or a path",
                     option=option)


def _action_words(value: Any, notes: list[str]) -> list[str]:
    """``pipeline_actions`` as ``-t``/``--delete``/``-c``/``-C``/``--instrument`` words, in order."""
    from ._util import as_actions

    if isinstance(value, (str, PipelineAction)) or not isinstance(value, Iterable):
        raise UsageError(f"expected a list of PipelineAction values or (option, value) pairs, not {_short(value)}",
                         option="pipeline_actions=")
    items = []
    for item in value:
        if isinstance(item, (tuple, list)) and len(item) == 2 and not isinstance(item[1], str):
            item = (item[0], _qualified_name(item[1], item[0]))
        items.append(item)
    try:
        actions = as_actions(items)
    except PipetaskLiteError as exc:
        raise type(exc)(exc.message, option=f"pipeline_actions= ({exc.option})" if exc.option
                        else "pipeline_actions=", hint=exc.hint) from None
    return [f"{ACTIONS[a.option].flags[-1]}={action_text(a)}" for a in actions]


def _qualified_name(value: Any, option: Any) -> str:
    """A class (or an instance: an instrument) as the name ``-t``/``--instrument`` take."""
    cls = value if isinstance(value, type) else type(value)
    if option not in ("task", "instrument") or cls.__module__ == "builtins":
        raise UsageError(f"({option!r}, {_short(value)}): the value is text, or (for 'task' and 'instrument') "
                         "a class", option="pipeline_actions=")
    return f"{cls.__module__}.{cls.__qualname__}"


def _short(value: Any, width: int = 60) -> str:
    text = repr(value).splitlines()[0] if repr(value) else ""
    return text if len(text) <= width else text[: width - 3] + "..."


# ---------------------------------------------------------------------------
# Parsing, and errors in the caller's words.
# ---------------------------------------------------------------------------


def _parse(cli: Any, parser: argparse.ArgumentParser, subparser: argparse.ArgumentParser,
           argv: list[str]) -> argparse.Namespace:
    """`pipetask_lite.cli.parse_args`, its usage errors (printed, exit 2) raised as `UsageError`."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return cli.parse_args(argv)
    except SystemExit:
        pass
    text = stderr.getvalue()
    message = next((line.partition(": error: ")[2] for line in text.splitlines() if ": error: " in line), text)
    raise UsageError(_rename(message, subparser)) from None


def _spellings(subparser: argparse.ArgumentParser) -> dict[str, str]:
    """Each way an option is named in a message (``-i/--input``, ``--input``) -> its keyword."""
    names = {}
    for keyword, spellings in keyword_options(subparser).items():
        if keyword == "options_file":
            continue
        names["/".join(spellings)] = keyword
        for spelling in spellings:
            names.setdefault(spelling, keyword)
    for kind in ACTIONS.values():
        for spelling in (kind.option, *kind.flags):
            names[spelling] = "pipeline_actions"
    return names


def _rename(message: str, subparser: argparse.ArgumentParser) -> str:
    """A command-line message in Python terms: ``-i/--input`` becomes ``input= (-i/--input)``."""
    names = _spellings(subparser)
    pattern = re.compile(
        r"(?:argument )?(?<![\w-])(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")(?![\w-])"
    )
    return pattern.sub(lambda m: f"{names[m.group(1)]}= ({m.group(1)})", message)


def _in_python_terms(exc: PipetaskLiteError, subparser: argparse.ArgumentParser) -> PipetaskLiteError:
    """The same error, its option named as the keyword (``--explain`` is ``depth=``)."""
    if exc.option is None:
        return exc
    option = f"depth= ({exc.option})" if exc.option.startswith("--explain") else _rename(exc.option, subparser)
    try:
        return type(exc)(_rename(exc.message, subparser), option=option, hint=exc.hint)
    except TypeError:  # a subclass with other arguments: as it is
        return exc


def _with_notes(text: str, notes: list[str]) -> str:
    """The script with a comment on what the caller passed that no option says, after its header."""
    if not notes:
        return text
    lines = text.split("\n")
    end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    added = ["#", "# Given from Python, with no command-line option:"]
    for note in notes:
        added += textwrap.wrap(note, width=100, initial_indent="#   ", subsequent_indent="#       ")
    return "\n".join(lines[:end] + added + lines[end:])
