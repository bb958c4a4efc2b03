"""The Python face of `build`, `qgraph` and `run`: keywords checked and errors that name them.

The command line hands `pipetask_lite.run` (and the others) values argparse
has already typed and split.  A Python caller hands whatever it holds: a
bare ``str`` where a list is meant, `None` for "the default", a `Butler`, a
`Pipeline`, a task class, a graph object.  `python_api` wraps each public
function so that, before the function runs:

- a bare ``str`` for a list keyword means what the option means on the
  command line (``input="a,b"`` is ``-i a,b``), and `None` the default;
- each value is checked against its keyword's kind (`KINDS`), and a wrong
  one is a `~pipetask_lite.UsageError` naming the keyword, as typed, and the
  option it mirrors: ``input= (-i/--input): ...``;
- a caller's `~lsst.daf.butler.Butler` is lent to the function
  (`pipetask_lite._util.lend_butler`) in place of the repo's name;
- task and instrument classes in ``pipeline_actions`` become the names the
  command line would give.

Errors raised deeper name options (``-i/--input``), as the command line
shows them; from Python they are rewritten to name the keyword too.  The
command line calls the raw functions (``pipetask_lite._run.run``...), so
its behaviour and messages are unchanged.
"""

from __future__ import annotations

__all__ = ("KINDS", "keyword_of", "kinds_of", "option_of", "python_api")

import difflib
import functools
import inspect
import os
import re
from collections.abc import Callable, Iterable, Mapping

from .actions import ACTIONS, PipelineAction
from .errors import PipetaskLiteError, UsageError

KINDS: dict[str, str] = {
    # What each keyword of build, qgraph and run accepts (the checks are in _CHECKS),
    # where its default does not say it (`kinds_of`): a flag (default True or
    # False) is "bool", a text keyword (``str | None``, ``Literal[...] | None``)
    # with default None is "optional text", so a new option of either kind
    # needs no line here.
    # Objects, or their names:
    "butler_config": "repo",
    "pipeline": "pipeline",
    "pipeline_actions": "actions",
    "qgraph": "qgraph",
    "config": "config",
    "bind": "bind",
    "data_ids": "data_ids",
    "data_id_table": "tables",
    # A list of names; a bare str is split at commas, as the option does.
    "input": "names,",
    "skip_existing_in": "names,",
    "qgraph_node_id": "names,",
    "show": "names,",
    "unmocked_dataset_types": "names,",
    "cov_packages": "names,",
    # A list of values; a bare str is one value (the option is repeated, not split).
    "mock_failure": "names",
    # Text with a default ("" or "all"); None is that default.
    **dict.fromkeys(("data_query", "select_tasks", "dataset_query_constraint"), "text"),
    "memory_per_quantum": "memory",
    "prune_unanchored_quanta": "pair",
    **dict.fromkeys(("processes", "cores_per_quantum"), "int"),
    "timeout": "optional int",
    "resume_command": "callable",
}
"""The kind of the keywords of `build`, `qgraph` and `run` whose default does not say it (see `kinds_of`)."""


def kinds_of(function: Callable) -> dict[str, str]:
    """The kind of every keyword of ``function``: from `KINDS`, else from its default.

    Raises
    ------
    AssertionError
        Raised (on import of pipetask_lite: a bug, not a caller's mistake) for
        a keyword whose kind neither `KINDS` nor its default says.
    """
    kinds = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if name in KINDS:
            kinds[name] = KINDS[name]
        elif isinstance(parameter.default, bool):
            kinds[name] = "bool"
        elif parameter.default is None and re.fullmatch(r"(str|Literal\[[^]]*\])( \| [\w.]+)* \| None",
                                                        str(parameter.annotation)):
            kinds[name] = "optional text"
        else:
            raise AssertionError(f"no kind in pipetask_lite._api.KINDS for {name!r} of {function.__name__}()")
    return kinds


_ACTION_OPTIONS = "/".join(sorted((kind.flags[0] for kind in ACTIONS.values()), key=lambda flag: flag.startswith("--")))
"""The options of ``pipeline_actions``, short ones first: ``-t/-c/-C/--delete/--instrument``."""


@functools.cache
def _options() -> dict[str, str]:
    """Keyword -> the option it mirrors (``"-i/--input"``), from the command line's own parser."""
    from . import cli
    from ._argv import keyword_options

    parser = cli.subcommand_parser(cli.build_parser(), "run")
    # --[no-]cov-report is named by its positive spelling; --no-versions is an option of its own.
    options = {keyword: "/".join(s for s in spellings if not (s.startswith("--no-") and f"--{s[5:]}" in spellings))
               for keyword, spellings in keyword_options(parser).items()}
    options["pipeline_actions"] = _ACTION_OPTIONS
    return options


@functools.cache
def _keywords() -> dict[str, str]:
    """Option (each spelling, and all of them joined by ``/``) -> keyword."""
    keywords = {}
    for keyword, option in _options().items():
        keywords[option] = keyword
        for spelling in option.split("/"):
            keywords.setdefault(spelling, keyword)
            keywords.setdefault(spelling.replace("--", "--no-", 1), keyword)
    keywords.update(dict.fromkeys((kind.option for kind in ACTIONS.values()), "pipeline_actions"))
    return keywords


def option_of(keyword: str) -> str | None:
    """The option a keyword mirrors (``"-i/--input"``), or `None` for a keyword of the Python API only."""
    return _options().get(keyword)


def keyword_of(option: str) -> str | None:
    """The keyword an option (``"-i/--input"`` or ``"--input"``) is given by from Python, or `None`."""
    return _keywords().get(option)


def _blame(keyword: str) -> str:
    """``input= (-i/--input)``: what an error from Python names."""
    option = option_of(keyword)
    return f"{keyword}= ({option})" if option else f"{keyword}="


def _wrong(keyword: str, expected: str, value) -> UsageError:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return UsageError(f"expected {expected}, got {type(value).__name__} {text}", option=_blame(keyword))


def _is_text(value) -> bool:
    return isinstance(value, str | os.PathLike) and isinstance(os.fspath(value), str)


def _text(keyword: str, value, expected: str = "a str"):
    if not _is_text(value):
        raise _wrong(keyword, expected, value)
    return os.fspath(value)


def _check_repo(keyword, value):
    if _is_text(value):
        return os.fspath(value)
    from lsst.daf.butler import Butler
    from lsst.resources import ResourcePath

    if isinstance(value, Butler | ResourcePath):
        return value if isinstance(value, Butler) else str(value)
    raise _wrong(keyword, "a repo path or URI, or a Butler", value)


def _check_pipeline(keyword, value):
    if _is_text(value):
        return os.fspath(value)
    from lsst.pipe.base import Pipeline, PipelineGraph, PipelineTask

    if isinstance(value, Pipeline | PipelineGraph) or (isinstance(value, type) and issubclass(value, PipelineTask)):
        return value
    raise _wrong(keyword, "a pipeline file, a Pipeline, a PipelineGraph or a PipelineTask subclass", value)


def _check_qgraph(keyword, value):
    if _is_text(value):
        return os.fspath(value)
    import lsst.pipe.base
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph
    from lsst.resources import ResourcePath

    if isinstance(value, ResourcePath):
        return str(value)
    # The older QuantumGraph class, where the release still has it.
    graph_types = (PredictedQuantumGraph,) + ((lsst.pipe.base.QuantumGraph,)
                                              if hasattr(lsst.pipe.base, "QuantumGraph") else ())
    if isinstance(value, graph_types):
        return value
    raise _wrong(keyword, "a graph file or the PredictedQuantumGraph that qgraph() returned", value)


def _class_name(option: str, cls: type) -> str:
    """The fully qualified name of a ``-t``/``--instrument`` class, which pipe_base imports it by.

    ``option`` is ``"task"`` or ``"instrument"``; the class must be a
    `PipelineTask` or `Instrument` subclass that imports back as itself.
    """
    from lsst.pipe.base import Instrument, PipelineTask
    from lsst.utils.doImport import doImportType
    from lsst.utils.introspection import get_full_type_name

    from ._util import ACTION_OPTIONS

    blamed = f"pipeline_actions= ({ACTION_OPTIONS[option]})"
    base = PipelineTask if option == "task" else Instrument
    if not issubclass(cls, base):
        raise UsageError(f"{cls.__qualname__} is not a subclass of {base.__name__}", option=blamed)
    name = get_full_type_name(cls)
    try:
        found = doImportType(name)
    except Exception:  # any import failure means the same thing here
        found = None
    if found is not cls:
        raise UsageError(
            f"class {cls.__qualname__} cannot be imported by its name {name!r} (is it defined in a function?); "
            "pipe_base imports task and instrument classes by name", option=blamed,
        )
    return name


def _check_actions(keyword, value):
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise _wrong(keyword, "a list of PipelineAction values or (option, value) pairs", value)
    actions = []
    for item in value:
        if isinstance(item, PipelineAction):
            option, label, action_value = item
        elif isinstance(item, tuple | list) and len(item) == 2:
            (option, action_value), label = item, None
        else:
            raise _wrong(keyword, "a PipelineAction or an (option, value) pair", item)
        if option in ("task", "instrument") and not isinstance(action_value, str):
            if option == "instrument" and not isinstance(action_value, type):
                from lsst.pipe.base import Instrument

                if isinstance(action_value, Instrument):
                    action_value = type(action_value)  # an instrument instance: its class
            if not isinstance(action_value, type):
                raise _wrong(keyword, f"a class or its name for {option!r}", action_value)
            # What -t/--instrument would name: checked as a name is, when the action is applied.
            actions.append(PipelineAction(option, label, _class_name(option, action_value)))
            continue
        actions.append(item)
    return actions


def _check_config(keyword, value):
    from lsst.pex.config import Config

    if value is not None and not isinstance(value, Config):
        raise _wrong(keyword, "a task config (lsst.pex.config.Config)", value)
    return value


def _check_bind(keyword, value):
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise _wrong(keyword, "a mapping of identifiers in data_query to values", value)
    return dict(value)


def _check_data_ids(keyword, value):
    if value is None:
        return None
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise _wrong(keyword, "an iterable of data IDs (mappings, DataCoordinates) or DatasetRefs", value)
    from lsst.daf.butler import DataCoordinate, DatasetRef

    items = list(value)
    for item in items:
        if not isinstance(item, Mapping | DataCoordinate | DatasetRef):
            raise _wrong(keyword, "a data ID (a mapping or a DataCoordinate) or a DatasetRef", item)
    return items


def _check_tables(keyword, value):
    if _is_text(value):
        return [os.fspath(value)]  # --data-id-table is repeated, never split
    from astropy.table import Table

    if isinstance(value, Table):
        return [value]
    if isinstance(value, bytes | Mapping) or not isinstance(value, Iterable):
        raise _wrong(keyword, "a list of table files or astropy Tables", value)
    items = list(value)
    for item in items:
        if not (_is_text(item) or isinstance(item, Table)):
            raise _wrong(keyword, "a table file or an astropy Table", item)
    return [os.fspath(item) if _is_text(item) else item for item in items]


def _names(split: bool):
    def check(keyword, value):
        if isinstance(value, str):
            # What the option does with one value: -i a,b is [a, b].
            return [item for item in value.split(",") if item] if split else [value]
        if isinstance(value, bytes | Mapping) or not isinstance(value, Iterable):
            raise _wrong(keyword, "a list of str (or one str)", value)
        items = list(value)
        for item in items:
            if not isinstance(item, str) and not (keyword == "qgraph_node_id" and _is_uuid(item)):
                raise _wrong(keyword, "a str in the list", item)
        return [str(item) for item in items]

    return check


def _is_uuid(value) -> bool:
    import uuid

    return isinstance(value, uuid.UUID)


def _check_pair(keyword, value):
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _wrong(keyword, "'SOURCE:ANCHOR' or a (source, anchor) pair of task labels", value)


def _check_int(keyword, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(keyword, "an int", value)
    return value


def _check_bool(keyword, value):
    if not isinstance(value, bool):
        raise _wrong(keyword, "True or False", value)
    return value


def _check_memory(keyword, value):
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # plain numbers are MB, as on the command line
    return _text(keyword, value, "a str such as '3GB' (or an int of MB)")


def _check_callable(keyword, value):
    if not callable(value):
        raise _wrong(keyword, "a callable", value)
    return value


_CHECKS: dict[str, Callable] = {
    "repo": _check_repo,
    "pipeline": _check_pipeline,
    "actions": _check_actions,
    "qgraph": _check_qgraph,
    "config": _check_config,
    "bind": _check_bind,
    "data_ids": _check_data_ids,
    "tables": _check_tables,
    "names,": _names(split=True),
    "names": _names(split=False),
    "optional text": _text,
    "text": _text,
    "memory": _check_memory,
    "pair": _check_pair,
    "int": _check_int,
    "optional int": _check_int,
    "callable": _check_callable,
    "bool": _check_bool,
}
"""Kind -> ``check(keyword, value)``, which returns the value the function takes or raises `UsageError`."""


def _checked(function_name: str, parameters: Mapping[str, inspect.Parameter], kinds: Mapping[str, str],
             keywords: dict) -> dict:
    """The keywords as the raw function takes them; `UsageError` for the first wrong one."""
    checked = {}
    for keyword, value in keywords.items():
        if keyword not in parameters:
            close = difflib.get_close_matches(keyword, parameters, n=1)
            raise UsageError(f"{function_name}() has no keyword {keyword!r}"
                             + (f"; did you mean {close[0]!r}?" if close else ""))
        default = parameters[keyword].default
        if value is None:
            if default is inspect.Parameter.empty:
                raise UsageError("is required", option=_blame(keyword))
            checked[keyword] = default
            continue
        checked[keyword] = _CHECKS[kinds[keyword]](keyword, value)
    missing = [name for name, p in parameters.items() if p.default is inspect.Parameter.empty and name not in keywords]
    if missing:
        raise UsageError("is required", option=_blame(missing[0]))
    return checked


_OPTION_WORD = re.compile(
    re.escape(_ACTION_OPTIONS)
    + r"|(?<![\w-])(?:-[A-Za-z@]/)?--[a-z][a-z-]*|(?<![\w-])-[A-Za-z@](?![\w-])"
)


def _speak_python(text: str) -> str:
    """Options in a message become keywords: ``input= (-i/--input)`` the first time, ``input=`` after."""
    seen = set()

    def keyword(match: re.Match) -> str:
        found = keyword_of(match.group(0))
        if found is None:
            return match.group(0)
        first = found not in seen
        seen.add(found)
        return f"{found}= ({match.group(0)})" if first else f"{found}="

    return _OPTION_WORD.sub(keyword, text)


def _rename(exc: PipetaskLiteError) -> None:
    """Make an error raised behind the API name keywords: ``input= (-i/--input): ...``."""
    if exc.option and not exc.option.endswith((")", "=")) and (found := keyword_of(exc.option)):
        exc.option = f"{found}= ({exc.option})"
    # QuantaFailedError's message quotes the tasks' exceptions; the class is
    # made on first use (it is also an LSST class), so it is known by name here.
    if "QuantaFailedError" not in {cls.__name__ for cls in type(exc).__mro__}:
        exc.message = _speak_python(exc.message)
        exc.args = (exc.message, *exc.args[1:])
    if exc.hint:
        exc.hint = _speak_python(exc.hint).replace("pipetask update-graph-run", "pipetask_lite.update_graph_run")


def python_api(function: Callable) -> Callable:
    """Wrap ``function`` (`build`, `qgraph` or `run`) for Python callers (see the module's docstring).

    The wrapper has the function's signature and docstring; the command line
    calls the function itself.
    """
    parameters = inspect.signature(function).parameters
    kinds = kinds_of(function)

    @functools.wraps(function)
    def wrapper(*args, **keywords):
        try:
            if args:
                raise UsageError(f"{function.__name__}() takes keywords only, such as butler_config=...")
            checked = _checked(function.__name__, parameters, kinds, keywords)
            butler = checked.get("butler_config")
            if butler is None or isinstance(butler, str):
                return function(**checked)
            return _with_butler(function, checked, butler)
        except PipetaskLiteError as exc:
            _rename(exc)
            raise

    return wrapper


def _with_butler(function: Callable, checked: dict, butler):
    """Call ``function`` with a caller's butler lent in place of its repo (`pipetask_lite._util.lend_butler`)."""
    from ._util import lend_butler

    if function.__name__ == "run" and not butler.isWriteable():
        raise UsageError("the butler given is read-only, and run writes; open it with "
                         "Butler.from_config(..., writeable=True)", option=_blame("butler_config"))
    repo = _repo_of(butler)
    with lend_butler(repo, butler):
        return function(**{**checked, "butler_config": repo})


def _repo_of(butler) -> str:
    """The repo a `Butler` was made from, as a string other processes can open (-j N workers, QBB).

    `Butler` has no public attribute for it; its config (``_config``, a
    `~lsst.daf.butler.ButlerConfig`) knows the directory it was read from.
    """
    config = butler._config
    root = getattr(config, "configDir", None)
    if root is None:
        raise UsageError("cannot tell which repo this Butler was made from; pass the repo's path",
                         option=_blame("butler_config"))
    # A local repo by its path, as the caller would name it (in messages too).
    return root.ospath.rstrip("/") if root.isLocal else str(root)
