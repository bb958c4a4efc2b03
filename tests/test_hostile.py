"""Hostile input: random option combinations, values and options files.

Whatever hypothesis throws at the command line: no traceback, exit 0, 1 or 2
with a message, and the repo byte for byte unchanged unless quanta ran.
"""

from __future__ import annotations

import contextlib
import io
import shutil

import pytest
from harness import repo_digest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipetask_lite._main import main
from pipetask_lite.cli import build_parser, subcommand_parser

pytestmark = [pytest.mark.fuzz]  # slow too (conftest.py)

SUBCOMMANDS = ("build", "qgraph", "run")


@pytest.fixture(scope="module")
def world(tmp_path_factory, _template_add_repo):
    """A pristine repo to copy, a working copy, a pipeline and an options file per test module."""
    base = tmp_path_factory.mktemp("hostile")
    work = base / "repo"
    shutil.copytree(_template_add_repo.root, work)
    return {"template": _template_add_repo.root, "repo": work, "pipeline": str(_template_add_repo.pipeline),
            "base": base, "digest": repo_digest(work)}


def option_strings(subcommand: str) -> list[str]:
    parser = build_parser()
    names = [o for a in subcommand_parser(parser, subcommand)._actions for o in a.option_strings]
    return [n for n in names if n not in ("-h", "--help")]


def values(world) -> st.SearchStrategy[str]:
    """Plausible and implausible option values."""
    return st.one_of(
        st.sampled_from([
            str(world["repo"]), world["pipeline"], world["pipeline"] + "#firstTwo", "test/in", "test/chain",
            "out", "out/run", "task0:addend=5", "task0:addend=x", "task0", "detector = 1", "detector = = 1",
            "detector IN (0, 2)", "0", "1", "-1", "2GB", "3XB", "all", "off", "spawn", "fork", "purge",
            "config", "config=task0::addend", "pipeline", "graph", "nope", "a:b:c", "a,b,,c", "", " ",
            "lsst.pipe.base.tests.simpleQGraph.AddTask:extra", "no.such.Module", "x.qg", "x.qgraph",
            str(world["base"] / "options.yaml"), "/dev/null", "'quoted'", "$HOME", "%s%d", "\\",
        ]),
        st.text(max_size=12),
    )


@st.composite
def command_lines(draw, world):
    subcommand = draw(st.sampled_from(SUBCOMMANDS))
    names = option_strings(subcommand)
    argv = []
    if draw(st.booleans()):
        argv += draw(st.sampled_from([["--long-log"], ["--no-log-tty"], ["--log-level", "WARNING"],
                                      ["--log-level", "LOUD"], ["--log-label", "novalue"]]))
    argv.append(subcommand)
    if subcommand != "build" and draw(st.integers(0, 3)):
        # Mostly a valid base, so that the random extras reach the repo.
        argv += ["-b", str(world["repo"]), "-i", "test/in", "-o", "out"]
    if draw(st.integers(0, 3)):
        argv += ["-p", world["pipeline"]]
    for _ in range(draw(st.integers(0, 4))):
        argv.append(draw(st.sampled_from(names)))
        if draw(st.integers(0, 4)):
            argv.append(draw(values(world)))
    if draw(st.integers(0, 5)) == 0:
        argv.append(draw(values(world)))  # a stray positional argument
    return argv


OPTIONS_FILES = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "run: {butler-config: REPO, input: test/in, output: o, pipeline: PIPE}",
        "run: {processes: zero}", "run: [1, 2]", "run: {no-such: 1}", "- a", "run:\n  config: [task9:addend=1]",
        "qgraph: {show: [pipeline]}", "{{{", "run: {input: {a: b}}",
    ]),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_command_lines(world, data):
    argv = data.draw(command_lines(world))
    if "-@" in argv or "--options-file" in argv:
        text = data.draw(OPTIONS_FILES).replace("REPO", str(world["repo"])).replace("PIPE", world["pipeline"])
        (world["base"] / "options.yaml").write_text(text)
    stderr = io.StringIO()
    # Random values of -s, -q, --summary, ... are file names: keep them in a scratch directory.
    with (contextlib.chdir(world["base"]), contextlib.redirect_stderr(stderr),
          contextlib.redirect_stdout(io.StringIO())):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own exits (usage errors, --help)
            code = exc.code
    err = stderr.getvalue()
    event(f"exit {code}")
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code:
        assert "error" in err, (argv, err)
    ran = code == 0 or "quanta failed" in err
    if ran:
        # It did what it was asked (a real run): start the next example from a fresh copy.
        shutil.rmtree(world["repo"])
        shutil.copytree(world["template"], world["repo"])
    else:
        assert repo_digest(world["repo"]) == world["digest"], (argv, err)
