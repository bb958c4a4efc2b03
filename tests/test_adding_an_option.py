"""Each place a new ``qgraph``/``run`` option must reach (CONTRIBUTING.md), checked: a forgotten one fails here, by name.

The walk in CONTRIBUTING.md adds an option in this order; each test below is
one step of it and its message says which file and what to add:

1. the parser (``cli.py``): the option, and ``name=args.name`` in ``call_qgraph``/``call_run``;
2. the function (``_qgraph.py`` for a graph option, and ``_run.py``): the
   keyword, its docstring line, its field in the options object next to it
   (`GraphOptions` / `RunOptions`: whether the plain SimplePipelineExecutor
   recipe can express it, and its LSST call for the docs table), and the
   keyword passed into that object;
3. the explainer (``_explain/full.py``): what it does to the script, in a comment naming it;
4. ``make docs``, which writes docs/options.md from the fields' LSST calls.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import pipetask_lite
from pipetask_lite import _explain, _options_doc, cli
from pipetask_lite._qgraph import GraphOptions
from pipetask_lite._run import RunOptions

SOURCE = Path(cli.__file__).resolve().parent
FUNCTIONS = {"qgraph": pipetask_lite.qgraph, "run": pipetask_lite.run}
MODULES = {"qgraph": "_qgraph.py", "run": "_run.py"}
# Read by the command line itself, not keywords of the function.
COMMAND_LINE_ONLY = {
    # -@ is merged into the other options; call_qgraph measures coverage of the call as a whole.
    "qgraph": {"options_file", "coverage", "cov_report", "cov_packages"},
    "run": {"options_file"},
}
# Keywords of the Python API that no option gives directly.
API_ONLY = {"progress", "resume_command", "config", "label", "bind", "data_ids"}


def init_fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.init}


def parser_dests(subcommand: str) -> dict[str, str]:
    """The subcommand's own options: ``dest`` -> the first spelling."""
    parser = cli.subcommand_parser(cli.build_parser(), subcommand)
    return {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings and a.dest != "help"}


def call_keywords(module: Path, function: str, callee: str) -> set[str]:
    """The keywords that ``function`` (in ``module``) passes to its call of ``callee``."""
    tree = ast.parse(module.read_text())
    body = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == function)
    calls = [node for node in ast.walk(body) if isinstance(node, ast.Call)
             and getattr(node.func, "id", getattr(node.func, "attr", None)) == callee]
    assert calls, f"{module.name}: {function}() does not call {callee}(...)"
    return {keyword.arg for call in calls for keyword in call.keywords if keyword.arg}


@pytest.mark.parametrize("subcommand", FUNCTIONS)
def test_1_every_option_of_the_parser_is_a_keyword_of_the_function(subcommand):
    keywords = set(inspect.signature(FUNCTIONS[subcommand]).parameters)
    for dest, flag in parser_dests(subcommand).items():
        if dest in COMMAND_LINE_ONLY[subcommand]:
            continue
        assert dest in keywords, (
            f"cli.py gives {subcommand} the option {flag}, but pipetask_lite.{subcommand} has no keyword "
            f"{dest!r}: add it (with the CLI's default) to {subcommand}() in pipetask_lite/{MODULES[subcommand]}"
        )


@pytest.mark.parametrize("subcommand", FUNCTIONS)
def test_1_the_command_line_passes_every_keyword(subcommand):
    passed = call_keywords(SOURCE / "cli.py", f"call_{subcommand}", subcommand)
    for name in inspect.signature(FUNCTIONS[subcommand]).parameters:
        if name in API_ONLY - {"resume_command"}:
            continue
        assert name in passed, f"cli.py: call_{subcommand}() does not pass {name}=args.{name} to {subcommand}()"


@pytest.mark.parametrize("subcommand", FUNCTIONS)
def test_2_every_keyword_is_documented(subcommand):
    function = FUNCTIONS[subcommand]
    doc = inspect.getdoc(function)
    for name in inspect.signature(function).parameters:
        assert re.search(rf"\b{name}\b", doc), (
            f"pipetask_lite/{MODULES[subcommand]}: {subcommand}()'s docstring does not describe {name!r} "
            "(Parameters: the option it comes from and what it does to the LSST call)"
        )


@pytest.mark.parametrize("subcommand", FUNCTIONS)
def test_2_every_keyword_is_a_field_of_the_options_object(subcommand):
    fields = init_fields(GraphOptions) | (init_fields(RunOptions) - {"graph"} if subcommand == "run" else set())
    for name in inspect.signature(FUNCTIONS[subcommand]).parameters:
        if subcommand == "qgraph" and name == "summary":
            continue  # qgraph's own output, written after the graph
        assert name in fields, (
            f"{subcommand}'s keyword {name!r} is not a field of GraphOptions (pipetask_lite/_qgraph.py)"
            + (" or RunOptions (pipetask_lite/_run.py)" if subcommand == "run" else "")
        )


@pytest.mark.parametrize("subcommand", FUNCTIONS)
def test_2_the_function_puts_every_keyword_into_its_options_object(subcommand):
    # The one construction path: the function's first statement makes its
    # options object from its keywords (KeywordOptions.from_keywords), which
    # takes each field from the keyword of its name.
    module = SOURCE / MODULES[subcommand]
    cls = RunOptions if subcommand == "run" else GraphOptions
    tree = ast.parse(module.read_text())
    body = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == subcommand)
    first = next(node for node in body.body if not (isinstance(node, ast.Expr)
                                                    and isinstance(node.value, ast.Constant)))
    assert ast.unparse(first) == f"options = {cls.__name__}.from_keywords(locals())", (
        f"pipetask_lite/{MODULES[subcommand]}: {subcommand}() must begin with "
        f"options = {cls.__name__}.from_keywords(locals())"
    )
    keywords = set(inspect.signature(FUNCTIONS[subcommand]).parameters)
    for each in (GraphOptions, RunOptions) if subcommand == "run" else (GraphOptions,):
        for name in init_fields(each) - {"graph"} - keywords:
            raise AssertionError(
                f"pipetask_lite/{MODULES[subcommand]}: {each.__name__}.{name} is not a keyword of {subcommand}()"
            )


def test_2_every_field_says_its_lsst_call_and_whether_the_plain_recipe_takes_it():
    for cls, helper, keys in ((GraphOptions, "graph_option", ("needs_builder", "lsst_call")),
                              (RunOptions, "run_option", ("lsst_call",))):
        module = "_qgraph.py" if cls is GraphOptions else "_run.py"
        for field in dataclasses.fields(cls):
            if field.init and field.name != "graph":
                assert all(key in field.metadata for key in keys), (
                    f"pipetask_lite/{module}: {cls.__name__}.{field.name} = {helper}(DEFAULT, "
                    f"{', '.join(f'{key}=...' for key in keys)}): say "
                    + ("whether SimplePipelineExecutor.from_pipeline_graph can express it (needs_builder=None) "
                       "or when it needs the graph builder, and " if cls is GraphOptions else "")
                    + "what it becomes in the LSST API"
                )


@pytest.mark.parametrize("subcommand", FUNCTIONS)
def test_3_every_option_is_explained(subcommand):
    # The explainer is a package (script writer, short, full, quantum depths).
    source = "\n".join(path.read_text() for path in sorted(Path(_explain.__file__).parent.glob("*.py")))
    for dest, flag in parser_dests(subcommand).items():
        # o.dest, o.given("dest"), o.text("dest"): the explainer reads it somewhere.
        assert re.search(rf"\bo\.{dest}\b|[\"']{dest}[\"']", source), (
            f"pipetask_lite/_explain/ never reads {flag} ({dest!r}): write what it does to the script, "
            "with a comment naming it (--explain refuses a command line whose options no comment names)"
        )


def test_4_every_option_has_its_lsst_call_in_the_docs_table():
    for subcommand in FUNCTIONS:
        for dest, flag in parser_dests(subcommand).items():
            assert dest in _options_doc.LSST_CALLS, (
                f"no LSST call for {flag} ({dest!r}): give its GraphOptions/RunOptions field lsst_call=... "
                "(or, for an option of neither, an entry in pipetask_lite/_options_doc.OTHER_CALLS), then "
                "run 'make docs'"
            )
