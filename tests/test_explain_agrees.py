"""Every bad input of the test suite, through the command and through its explained script.

``pipetask-lite --explain=full ...`` prints a script that does what the
command does, checks included; its checks come from the same rules
(`pipetask_lite._options`, `pipetask_lite._rules`).  For each case of the
shared table (tests/bad_inputs.py) the command and the script must fail the
same way: the same exit code, and the script's message is the command's
error line without its ``pipetask-lite run: error:`` prefix.  Where
``--explain`` itself refuses the command line (a usage error), it must say
what the command says.

One repo per module; a case that writes to it (the script of one whose check
the script does not make would run quanta) gets a fresh copy afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import pstats
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import harness
import pytest
from bad_inputs import cases
from harness import repo_digest

from pipetask_lite._main import main

LSST_RAISES = {
    # Cases where the script leaves the check to the LSST call, which raises
    # this exception (its traceback ends the script, exit 1), while the
    # command catches it and names the option in its own words: the same
    # failure, a different message.  Each one here is a known difference,
    # not a drift; a check the script makes belongs in neither list.
    "repo path does not exist": "FileNotFoundError",
    "missing pipeline file": "FileNotFoundError",
    "`-g` file that is not a graph": "zipfile.BadZipFile",
    "`-g` file that does not exist": "FileNotFoundError",
    "unreadable `--data-id-table`": "FileNotFoundError",
    # The command reads -n and --memory-per-quantum before the pipeline; the
    # script makes its ExecutionResources in step 3, after the graph.
    "bad `--memory-per-quantum`": "ValueError",
    "bad `--memory-per-quantum`, dataset types not registered": "lsst.daf.butler._exceptions.MissingDatasetTypeError",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory, _template_add_repo):
    """A working copy of the template repo, scratch space and the table of cases for the module."""
    base = tmp_path_factory.mktemp("agree")
    repo = base / "repo"
    shutil.copytree(_template_add_repo.root, repo)
    table = cases("REPO", str(_template_add_repo.pipeline), base)

    def here(argv):
        return [str(repo) if a == "REPO" else a.replace("REPO", str(repo)) for a in argv]

    return {"template": _template_add_repo.root, "repo": repo, "base": base, "digest": repo_digest(repo),
            "pipeline": str(_template_add_repo.pipeline),
            "cases": {what: [here(argv) for argv in rest] for what, *rest in table}}


def in_process(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``main(argv)``: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def message(stderr: str) -> str:
    """What went wrong: the command's error line without its prefix, or the line ``sys.exit`` printed."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("hint:")]
    errors = [line.split(": error: ", 1)[1] for line in lines if ": error: " in line]
    if errors:
        return errors[-1]
    return lines[-1] if lines else ""


def raised(stderr: str) -> tuple[str, str] | None:
    """The type and message of the exception a script's traceback ends with, if it has one."""
    if "Traceback (most recent call last)" not in stderr:
        return None
    tail = stderr[stderr.rindex("Traceback (most recent call last)"):]
    found = re.findall(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|File)): (.*)$", tail, flags=re.MULTILINE)
    return found[-1] if found else None


def case_ids() -> list[str]:
    # The table's keys, without a repo: the paths in them do not matter here.
    with tempfile.TemporaryDirectory() as tmp:
        return [what for what, *_ in cases("REPO", "PIPE", Path(tmp))]


@pytest.mark.parametrize("what", case_ids())
def test_the_explained_script_fails_as_the_command_does(world, what):
    argv, *setup = world["cases"][what]
    repo, base = world["repo"], world["base"]
    for first in setup:
        assert in_process(first, base)[0] == 0
    command_code, _, command_err = in_process(argv, base)
    assert command_code in (0, 1, 2), command_err
    assert "Traceback" not in command_err, command_err
    explain_code, script, explain_err = in_process(["--explain=full", *argv], base)
    if explain_code:
        # Refused before any script is printed: the same usage error.
        got_code, got = explain_code, message(explain_err)
    else:
        path = base / "explained.py"
        path.write_text(script)
        proc = harness.run_script(path, cwd=base, timeout=300)
        got_code, got = proc.returncode, message(proc.stderr)
        exception = raised(proc.stderr)
        if exception is not None and exception[1] in message(command_err):
            # The script lets the LSST call raise where the command catches
            # the same exception and names the option in front of its message.
            got = message(command_err)
        elif what in LSST_RAISES:
            assert exception is not None and exception[0] == LSST_RAISES[what], proc.stderr[-2000:]
            got = message(command_err)
    if command_code == 0:
        # Not an error after all (the table also says what is accepted).
        got = message(command_err) if got_code == 0 else got
    try:
        assert (got_code, got) == (command_code, message(command_err))
    finally:
        if setup or repo_digest(repo) != world["digest"]:
            shutil.rmtree(repo)
            shutil.copytree(world["template"], repo)


def run_explained(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Print the script of ``argv`` with ``--explain=full`` and run it."""
    code, script, err = in_process(["--explain=full", *argv], cwd)
    assert code == 0, err
    path = cwd / "explained.py"
    path.write_text(script)
    return harness.run_script(path, cwd=cwd, timeout=300)


def test_qgraph_summary_is_the_same_from_the_command_and_the_script(world):
    """``qgraph --summary``: both write pipetask's summary of the graph (its ``_make_summary``), in a new directory."""
    repo, base = world["repo"], world["base"]
    argv = ["qgraph", "-b", str(repo), "-i", "test/in", "-o", "out", "-p", world["pipeline"]]
    code, _, err = in_process([*argv, "--summary", str(base / "lite" / "summary.json")], base)
    assert code == 0, err
    proc = run_explained([*argv, "--summary", str(base / "script" / "summary.json")], base)
    assert proc.returncode == 0, proc.stderr
    lite, script = (json.loads((base / who / "summary.json").read_text()) for who in ("lite", "script"))
    for summary in (lite, script):
        # Each process's own: its sys.argv, its time, the OUTPUT/TIMESTAMP run named from it.
        summary.pop("cmdLine")
        for key in ("cmdLine", "creationUTC", "outputRun"):
            summary["qgraphSummary"].pop(key)
    assert lite == script
    assert repo_digest(repo) == world["digest"]  # qgraph writes nothing


def test_run_profile_is_written_by_the_command_and_the_script_when_quanta_fail(world, tmp_path):
    """``--profile``: cProfile statistics, written also when quanta fail, into a new directory."""
    failing = str(harness.make_failing_pipeline(tmp_path / "fail.yaml"))
    try:
        for who, runner in (("lite", lambda argv: in_process(argv, tmp_path)[0]),
                            ("script", lambda argv: run_explained(argv, tmp_path).returncode)):
            argv = ["run", "-b", str(world["repo"]), "-i", "test/in", "-o", f"out_{who}", "-p", failing,
                    "--register-dataset-types", "--profile", str(tmp_path / who / "run.prof")]
            assert runner(argv) == 1, who
            pstats.Stats(str(tmp_path / who / "run.prof"))  # readable statistics
    finally:
        shutil.rmtree(world["repo"])
        shutil.copytree(world["template"], world["repo"])
