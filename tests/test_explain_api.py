"""`pipetask_lite.explain`: the script of ``--explain``, from Python keywords.

Each test gives a command line (those of tests/test_explain.py and
tests/test_explain_quantum.py, or close to them) and the keywords of
`pipetask_lite.run`/`qgraph`/`build` that say the same thing: `explain`
must return exactly what ``python -m pipetask_lite --explain=DEPTH ...``
prints, run in a subprocess with the same working directory and environment
as the other tests (the quantum depth: in this process, see its test).
Every depth is compared at least once.  Bad subcommand,
depth, keyword and values are one `UsageError` naming the keyword; nothing is
written (the short and full depths need no repo; the quantum depth leaves the
repo's files byte for byte as they were).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import harness
import pytest
from harness import AddRepo, repo_digest

import pipetask_lite
from pipetask_lite import PipelineAction, PipetaskLiteError, UsageError
from pipetask_lite._main import main

# tests/test_explain.py's DECam command, without --long-log (a global option: no keyword of run()).
DECAM_ARGV = [
    "run", "--register-dataset-types", "-j", "12", "-b", "/nowhere/repo",
    "--instrument", "lsst.obs.decam.DarkEnergyCamera",
    "-i", "DECam/raw/all,DECam/calib/curated/19700101T000000Z,DECam/calib/unbounded",
    "-o", "DECam/calib/merian/bias-01", "-p", "/cp_pipe/pipelines/cpBias.yaml",
    "-d", "instrument='DECam' AND exposure IN (1,2)", "-c", "isr:overscan.fitType=MEDIAN_PER_ROW",
]
DECAM_KEYWORDS: dict[str, Any] = dict(
    register_dataset_types=True, processes=12, butler_config="/nowhere/repo",
    pipeline_actions=[("instrument", "lsst.obs.decam.DarkEnergyCamera"),
                      ("config", "isr:overscan.fitType=MEDIAN_PER_ROW")],
    input=["DECam/raw/all", "DECam/calib/curated/19700101T000000Z", "DECam/calib/unbounded"],
    output="DECam/calib/merian/bias-01", pipeline="/cp_pipe/pipelines/cpBias.yaml",
    data_query="instrument='DECam' AND exposure IN (1,2)",
)


def printed(argv: list[Any], cwd: Path, *, depth: str | None) -> str:
    """What ``pipetask-lite --explain[=DEPTH] ARGV`` prints (without print's final newline)."""
    flag = "--explain" if depth is None else f"--explain={depth}"
    result = harness.run_cli([flag, *argv], cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n")
    return result.stdout[:-1]


def test_decam_short_is_the_bare_explain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default depth is a bare ``--explain``; offline: no repo, no obs_decam, no lsst import."""
    monkeypatch.chdir(tmp_path)
    script = pipetask_lite.explain("run", **DECAM_KEYWORDS)
    assert script == printed(DECAM_ARGV, tmp_path, depth=None)
    assert "prep_butler" in script and "-j 12: the quanta run one at a time" in script
    # The same in a process of its own: explain() imports no lsst for the short and full depths.
    code = (
        "import sys, pipetask_lite\n"
        f"text = pipetask_lite.explain('run', depth='full', **{DECAM_KEYWORDS!r})\n"
        "assert not [m for m in sys.modules if m == 'lsst' or m.startswith('lsst.')], 'lsst imported'\n"
        "print(text)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=harness.env(), capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == printed(DECAM_ARGV, tmp_path, depth="full") + "\n"
    assert not (tmp_path / "nowhere").exists() and not Path("/nowhere").exists()


def test_full_run_with_many_kinds_of_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths, bare strings for list options, ints, ``--no-X``, ``--pdb`` bare, ordered actions of each kind."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "task1.py").write_text("config.addend = 7\n")
    argv = [
        "run", "-b", "repo", "-i", "test/chain,extra", "-o", "out", "--output-run", "out/run1", "-p", "p.yaml",
        "-t", "failing_tasks.FailOnDetectorTask:fail", "-c", "task0:addend=5", "--delete", "task2",
        "-C", "task1:task1.py", "--select-tasks", "<=task1", "-d", "detector IN (0, 2)",
        "--skip-existing-in", "old1", "--skip-existing-in", "old2", "--data-id-table", "ids.ecsv",
        "--dataset-query-constraint", "off", "-q", "g.qg", "--qgraph-dot", "g.dot",
        "-j", "2", "--timeout", "60", "-n", "2", "--memory-per-quantum", "2GB", "--fail-fast",
        "--no-raise-on-partial-outputs", "--pdb", "--summary", "summary.json", "--register-dataset-types",
        "--no-versions", "--clobber-outputs", "--mock", "--mock-failure", "task0::detector=0",
        "--unmocked-dataset-types", "add_dataset0",
    ]
    keywords: dict[str, Any] = dict(
        butler_config=Path("repo"), input="test/chain,extra", output="out", output_run="out/run1",
        pipeline=Path("p.yaml"),
        pipeline_actions=[
            PipelineAction("task", "fail", "failing_tasks.FailOnDetectorTask"), ("config", "task0:addend=5"),
            ("delete", "task2"), ("config_file", "task1:task1.py"),
        ],
        select_tasks="<=task1", data_query="detector IN (0, 2)", skip_existing_in=("old1", "old2"),
        data_id_table=[Path("ids.ecsv")], dataset_query_constraint="off", save_qgraph=tmp_path / "g.qg",
        qgraph_dot="g.dot", processes=2, timeout=60, cores_per_quantum=2, memory_per_quantum="2GB",
        fail_fast=True, raise_on_partial_outputs=False, pdb="pdb", summary="summary.json",
        register_dataset_types=True, no_versions=True, clobber_outputs=True, mock=True,
        mock_failure="task0::detector=0", unmocked_dataset_types=["add_dataset0"],
        # Defaults, and None for "the default", add nothing.
        debug=False, extend_run=False, prune_replaced=None, start_method=None, show=[],
    )
    argv[argv.index("g.qg")] = str(tmp_path / "g.qg")
    script = pipetask_lite.explain("run", depth="full", **keywords)
    assert script == printed(argv, tmp_path, depth="full")
    assert "-t failing_tasks.FailOnDetectorTask:fail" in script and "--no-raise-on-partial-outputs" in script
    assert not any(tmp_path.glob("*.qg")) and not (tmp_path / "summary.json").exists()


def test_qgraph_and_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """qgraph (short: the recipe or the full script, whichever the command line gets) and build (full)."""
    monkeypatch.chdir(tmp_path)
    argv = ["qgraph", "-b", "repo", "-i", "a", "-o", "b", "-p", "p.yaml", "-q", "g.qg",
            "--qgraph-datastore-records", "--show", "graph"]
    script = pipetask_lite.explain("qgraph", butler_config="repo", input=["a"], output="b", pipeline="p.yaml",
                                   save_qgraph="g.qg", qgraph_datastore_records=True, show="graph")
    assert script == printed(argv, tmp_path, depth=None)
    argv = ["build", "-p", "p.yaml", "--instrument", "pipetask_lite.demo.instrument.DemoCam", "-s", "out.yaml",
            "--pipeline-dot", "p.dot", "--show", "pipeline,tasks"]
    from pipetask_lite.demo.instrument import DemoCam

    # A class stands for its fully qualified name.
    script = pipetask_lite.explain("build", depth="full", pipeline="p.yaml", pipeline_actions=[("instrument", DemoCam)],
                                   save_pipeline="out.yaml", pipeline_dot="p.dot", show=["pipeline", "tasks"])
    assert script == printed(argv, tmp_path, depth="full")
    assert not (tmp_path / "out.yaml").exists() and not (tmp_path / "g.qg").exists()


def test_quantum_depth_leaves_the_repo_alone(add_repo: AddRepo) -> None:
    """``depth="quantum"`` opens the repo read-only and builds the graph; the same text, no file touched."""
    before = repo_digest(add_repo.root)
    argv = ["run", "-b", add_repo.root, "-i", "test/chain", "-o", "out", "-p", add_repo.pipeline,
            "--output-run", "out/run1", "-c", "task1:addend=5", "--register-dataset-types"]
    script = pipetask_lite.explain(
        "run", depth="quantum", butler_config=add_repo.root, input="test/chain", output="out", output_run="out/run1",
        pipeline=add_repo.pipeline, pipeline_actions=[("config", "task1:addend=5")], register_dataset_types=True,
    )
    assert script.count("task.run(input=input)") == 3 and "config.addend=5" in script
    # In this process: the order of a quantum's outputs in this script follows string hashing
    # (it differs between processes with another PYTHONHASHSEED), so a subprocess may differ.
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main(["--explain=quantum", *map(str, argv)]) == 0, stderr.getvalue()
    assert script + "\n" == stdout.getvalue()
    assert repo_digest(add_repo.root) == before
    # The quantum depth's own errors, in the caller's words.
    with pytest.raises(UsageError, match=r"^select_tasks= \(--select-tasks\): no task labelled 'nosuch'"):
        pipetask_lite.explain("run", depth="quantum", butler_config=add_repo.root, input="test/chain",
                              output="out", pipeline=add_repo.pipeline, select_tasks="nosuch")
    missing = add_repo.root.parent / "missing"
    with pytest.raises(PipetaskLiteError, match=r"^butler_config= \(-b/--butler-config\): no butler repo at"):
        pipetask_lite.explain("run", depth="quantum", butler_config=missing, input="test/chain", output="out",
                              pipeline=add_repo.pipeline)
    assert not missing.exists()
    with pytest.raises(UsageError, match=r"^depth= \(--explain=quantum\): is for run and qgraph"):
        pipetask_lite.explain("build", depth="quantum", pipeline=add_repo.pipeline)
    assert repo_digest(add_repo.root) == before


def test_python_only_keywords_are_comments() -> None:
    """``progress=`` and ``resume_command=`` have no option: a comment at the top, the script unchanged."""
    base = dict(butler_config="repo", input=["a"], output="b", pipeline="p.yaml")
    plain = pipetask_lite.explain("run", depth="full", **base)
    assert pipetask_lite.explain("run", depth="full", progress=True, resume_command=None, **base) == plain

    def resume(output_run: str) -> str:
        return output_run

    noted = pipetask_lite.explain("run", depth="full", progress=False, resume_command=resume, **base)
    lines = noted.splitlines()
    start = lines.index("# Given from Python, with no command-line option:") - 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    added = lines[start:end]
    assert added[0] == "#" and added[2].startswith("#   progress=False")
    assert "resume_command=test_python_only_keywords_are_comments.<locals>.resume" in " ".join(added[3:])
    # Only added after the header: the script itself is the one the command line gets.
    assert lines[:start] + lines[end:] == plain.splitlines() and not plain.splitlines()[start].startswith("#")
    compile(noted, "explained.py", "exec")


BASE = dict(butler_config="repo", input=["a"], output="b", pipeline="p.yaml")


def test_every_keyword_has_a_way_into_the_script() -> None:
    """Each keyword of run/qgraph/build is an option's dest, or has a hook in PYTHON_ONLY.

    A keyword added without either is refused by explain() (see the next test); this names it here
    first: give it an option, or a hook in pipetask_lite._explain.api.PYTHON_ONLY.
    """
    from pipetask_lite._explain import api as _explain_api
    from pipetask_lite.cli import build_parser, subcommand_parser

    parser = build_parser()
    for subcommand in ("run", "qgraph", "build"):
        dests = {action.dest for action in subcommand_parser(parser, subcommand)._actions}
        keywords = inspect.signature(getattr(pipetask_lite, subcommand)).parameters
        missing = set(keywords) - dests - set(_explain_api.PYTHON_ONLY)
        assert not missing, f"{subcommand}: {sorted(missing)}"


def test_a_keyword_with_no_option_and_no_hook_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a script that silently leaves out what the keyword does."""
    from pipetask_lite._explain import api as _explain_api

    def run(*, butler_config=None, input=(), output=None, pipeline=None, weights=None):  # a keyword of the future
        pass

    monkeypatch.setattr(_explain_api, "_function", lambda subcommand: run)
    with pytest.raises(UsageError, match=r"^weights=: the script of --explain cannot show what this keyword does"):
        pipetask_lite.explain("run", weights={"x": 1}, **BASE)
    assert pipetask_lite.explain("run", weights=None, **BASE) == pipetask_lite.explain("run", **BASE)


def test_resource_paths_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ResourcePath stands for its URI, as text would."""
    from lsst.resources import ResourcePath

    monkeypatch.chdir(tmp_path)
    repo = ResourcePath(tmp_path / "repo", forceDirectory=True)
    script = pipetask_lite.explain("qgraph", depth="full", butler_config=repo, input="a", output="b",
                                   pipeline=ResourcePath(tmp_path / "p.yaml"), data_id_table=[repo.join("t.ecsv")])
    argv = ["qgraph", "-b", str(repo), "-i", "a", "-o", "b", "-p", str(ResourcePath(tmp_path / "p.yaml")),
            "--data-id-table", str(repo.join("t.ecsv"))]
    assert script == printed(argv, tmp_path, depth="full")
    assert str(repo) in script and not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "subcommand, depth, keywords, message",
    [
        ("report", "short", {}, r"^subcommand: 'report' has no --explain"),
        ("run", "deep", BASE, r"^depth= \(--explain\): 'deep' is not one of short, full, quantum"),
        ("run", "full", {**BASE, "inptu": "a"}, r"^inptu=: pipetask_lite.run\(\) has no such keyword "
                                                r"\(did you mean input=\?\)"),
        ("qgraph", "full", {**BASE, "coverage": True}, r"^coverage=: pipetask_lite.qgraph\(\) has no such keyword"),
        ("run", "full", {**BASE, "processes": "2"}, r"^processes= \(-j/--processes\): expected an integer, not '2'"),
        ("run", "full", {**BASE, "processes": True}, r"^processes= \(-j/--processes\): expected an integer"),
        ("run", "full", {**BASE, "processes": 0}, r"^processes= \(-j/--processes\): 0 is smaller than the minimum 1"),
        ("run", "full", {**BASE, "input": 3}, r"^input= \(-i/--input\): expected a sequence of values, not 3"),
        ("run", "full", {**BASE, "input": [3]}, r"^input= \(-i/--input\): the script cannot name int 3"),
        ("run", "full", {**BASE, "output": ["b"]}, r"^output= \(-o/--output\): the script cannot name list"),
        ("run", "full", {**BASE, "mock": "yes"}, r"^mock= \(--mock\): expected True or False, not 'yes'"),
        ("run", "full", {**BASE, "progress": 1}, r"^progress=: expected True or False, not 1"),
        ("run", "full", {**BASE, "resume_command": "x"}, r"^resume_command=: expected a callable"),
        ("run", "full", {**BASE, "prune_replaced": "x"}, r"^prune_replaced= \(--prune-replaced\): invalid choice"),
        ("run", "full", {**BASE, "extend_run": True, "replace_run": True},
         r"^replace_run= \(--replace-run\): not allowed with extend_run= \(--extend-run\)"),
        ("run", "full", {**BASE, "show": "bogus"}, r"^show= \(--show\): Unknown value\(s\) for show: \{'bogus'\}"),
        ("run", "full", {**BASE, "pipeline_actions": [("config", "addend=3")]},
         r"^pipeline_actions= \(-c/--config\): expected LABEL:NAME=VALUE, got 'addend=3'"),
        ("run", "full", {**BASE, "pipeline_actions": [("bogus", "x")]}, r"^pipeline_actions=: unknown pipeline action"),
        ("run", "full", {**BASE, "pipeline_actions": [("config", dict)]}, r"^pipeline_actions=: \('config', "),
        ("run", "full", {**BASE, "pipeline_actions": "-c a:b=c"}, r"^pipeline_actions=: expected a list of"),
        ("run", "full", {k: v for k, v in BASE.items() if k != "butler_config"},
         r"required: butler_config= \(-b/--butler-config\)"),
        # None: the default, i.e. no -o
        ("run", "full", {**BASE, "output": None},
         r"output= \(-o/--output\) and output_run= \(--output-run\) is required"),
    ],
)
def test_bad_input(subcommand: str, depth: str, keywords: dict, message: str, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=message):
        pipetask_lite.explain(subcommand, depth=depth, **keywords)
    assert not any(tmp_path.iterdir())


def test_objects_are_named_or_noted(add_repo: AddRepo) -> None:
    """Objects the Python API takes (issue 27): a Butler is named by its repo and a task class by its -t
    word; a Pipeline, a graph and a config get a comment saying what was passed and how to carry it."""
    from lsst.daf.butler import Butler
    from lsst.pipe.base import Pipeline
    from lsst.pipe.base.tests.simpleQGraph import AddTask

    base = dict(input="test/chain", output="out")
    with Butler.from_config(str(add_repo.root)) as butler:
        lent = pipetask_lite.explain("run", butler_config=butler, pipeline=add_repo.pipeline, **base)
        repo = str(add_repo.root)
        plain = pipetask_lite.explain("run", butler_config=repo, pipeline=add_repo.pipeline, **base)
        # The script of the repo's path, and a comment saying a Butler was passed.
        note = lent.splitlines().index("# Given from Python, with no command-line option:")
        assert lent.splitlines()[:note - 1] == plain.splitlines()[:note - 1]
        assert lent.splitlines()[note + 3:] == plain.splitlines()[note - 1:]
        assert f"#   butler_config=<{type(butler).__name__}>: the Butler passed; the script opens its repo" in lent
        graph = pipetask_lite.qgraph(butler_config=butler, pipeline=add_repo.pipeline, **base)
    by_class = pipetask_lite.explain("run", butler_config=repo, pipeline=AddTask, label="add", **base)
    assert by_class == pipetask_lite.explain(
        "run", butler_config=repo, pipeline_actions=[("task", f"{AddTask.__module__}.AddTask:add")], **base)
    config = AddTask.ConfigClass()
    config.addend = 7
    noted = pipetask_lite.explain("run", butler_config=repo, pipeline=AddTask, config=config, **base)
    assert "-t lsst.pipe.base.tests.simpleQGraph.AddTask:add_task" in noted  # label: the class's _DefaultName
    assert "config=<AddTaskConfig>: passed from Python" in noted and "(config.addend=7)" in noted
    from_object = pipetask_lite.explain("run", butler_config=repo, pipeline=Pipeline.from_uri(add_repo.pipeline),
                                        **base)
    assert "pipetask-lite run -p pipeline.yaml" in from_object
    assert "pipeline.write_to_uri('pipeline.yaml')" in from_object
    saved = pipetask_lite.explain("run", butler_config=repo, qgraph=graph, **base)
    assert "pipetask-lite run -g graph.qg" in saved and "save_qgraph='graph.qg'" in saved
    assert "SimplePipelineExecutor(quantum_graph, butler" in saved  # the -g recipe
