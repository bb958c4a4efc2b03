"""The subcommands beyond build/qgraph/run, side by side with pipetask, and as a batch system runs them.

- `test_batch_system_flow`: what ctrl_bps does on one machine, with
  pipetask-lite in place of pipetask (``qgraph --qgraph-datastore-records``,
  ``pre-exec-init-qbb``, two concurrent ``run-qbb`` jobs on disjoint groups of
  quanta, ``butler transfer-from-graph``), next to the same flow with pipetask
  (one job) and next to ``pipetask-lite run -g`` on the same graph: all three
  repos end equal, and neither ``pre-exec-init-qbb`` nor ``run-qbb`` registers
  anything (both tools write the same files);
- `test_update_graph_run`, `test_report_counts`, `test_cleanup_and_purge`:
  each subcommand with both tools, same exit class and same effect;
- `test_bad_input_*`: one line naming the argument, exit 1 or 2, repo untouched.

Both tools of a pair run at once (two cores); each has its own repo.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import harness
import pytest
import yaml
from harness import AddRepo, copy_repo, diff_snapshots, make_failing_pipeline, run_cli, run_pipetask, snapshot

from pipetask_lite.cli import parse_args

pytestmark = [pytest.mark.pipetask]  # slow too (conftest.py)

BUTLER = harness.PIPETASK.parent / "butler"
OUTPUT = "out"


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Call each function in its own thread (each starts a subprocess); return their results in order."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def tool(name: str, argv: Sequence[Any], *, cwd: Path | None = None, stdin: str | None = None):
    """Run ``pipetask``, ``pipetask-lite`` or ``butler`` with ``argv``; ``stdin`` answers prompts."""
    if stdin is None and name != "butler":
        return (run_pipetask if name == "pipetask" else run_cli)(argv, cwd=cwd)
    program = {"pipetask": [str(harness.PIPETASK)], "lite": [sys.executable, "-m", "pipetask_lite"],
               "butler": [str(BUTLER)]}[name]
    return subprocess.run(
        [*program, *map(str, argv)], cwd=cwd, env=harness.env(), input=stdin or "", capture_output=True,
        text=True, timeout=300, check=False,
    )


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{' '.join(proc.args)}\nexit {proc.returncode}\n{proc.stderr[-3000:]}"
    return proc


def files(root: Path) -> set[str]:
    """The datastore's files (relative paths), i.e. what quantum-backed butlers write."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != "gen3.sqlite3"}


def same_repo(a: Path, b: Path, names: tuple[str, str]) -> None:
    """Assert equal snapshots (registry content and dataset digests)."""
    assert diff_snapshots(snapshot(a), snapshot(b), names=names) == ""


def quanta_by_detector(graph: Path) -> dict[int, list[str]]:
    """Node IDs of a graph's quanta, grouped by detector: groups that do not depend on each other."""
    from lsst.pipe.base.pipeline_graph import TaskImportMode
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph

    groups: dict[int, list[str]] = defaultdict(list)
    with PredictedQuantumGraph.open(graph, import_mode=TaskImportMode.DO_NOT_IMPORT) as reader:
        reader.read_thin_graph()
        for quanta in reader.finish().quanta_by_task.values():
            for data_id, quantum_id in quanta.items():
                groups[data_id["detector"]].append(str(quantum_id))
    return groups


@pytest.fixture(scope="module")
def saved_graph(tmp_path_factory: pytest.TempPathFactory, _template_add_repo: AddRepo) -> Path:
    """A graph of the 3-task pipeline on the template repo, with datastore records, as ctrl_bps makes it."""
    graph = tmp_path_factory.mktemp("graph") / "G.qg"
    ok(run_cli(["qgraph", "-b", _template_add_repo.root, "-i", "test/chain", "-o", OUTPUT, "-p",
                _template_add_repo.pipeline, "--qgraph-datastore-records", "-q", graph]))
    return graph


# ---------------------------------------------------------------------------
# The batch system's command lines
# ---------------------------------------------------------------------------


def test_ctrl_bps_command_lines_parse():
    """The lines ctrl_bps writes into its jobs, with pipetask-lite in place of pipetask."""
    args = parse_args(["--long-log", "--log-level=VERBOSE", "run-qbb", "REPO", "G.qg", "--qgraph-node-id",
                       "ID1,ID2"])
    assert (args.subcommand, args.repo, args.qgraph, args.qgraph_node_id) == ("run-qbb", "REPO", "G.qg",
                                                                               ["ID1", "ID2"])
    assert args.long_log and args.log_level == [(None, "VERBOSE")]
    args = parse_args(["pre-exec-init-qbb", "REPO", "G.qg"])
    assert (args.subcommand, args.repo, args.qgraph) == ("pre-exec-init-qbb", "REPO", "G.qg")
    args = parse_args(["update-graph-run", "G.qg", "RUN", "G2.qg"])
    assert (args.qgraph, args.run, args.output_qgraph, args.metadata_run_key) == ("G.qg", "RUN", "G2.qg",
                                                                                   "output_run")


def test_batch_system_flow(tmp_path: Path, twin_repos: tuple[AddRepo, AddRepo], add_repo: AddRepo,
                           saved_graph: Path):
    pipetask_repo, lite_repo = (repo.root for repo in twin_repos)
    run_repo = add_repo.root
    before, before_files = snapshot(lite_repo), files(lite_repo)
    groups = quanta_by_detector(saved_graph)
    assert sorted(groups) == [0, 1, 2] and all(len(ids) == 3 for ids in groups.values())

    # 1. Init-outputs (files only) with each tool; pipetask-lite run on the same graph elsewhere.
    concurrently(
        lambda: ok(tool("pipetask", ["pre-exec-init-qbb", pipetask_repo, saved_graph])),
        lambda: ok(tool("lite", ["pre-exec-init-qbb", lite_repo, saved_graph])),
        lambda: ok(tool("lite", ["run", "-b", run_repo, "-g", saved_graph, "-i", "test/chain", "-o", OUTPUT,
                                 "--register-dataset-types"])),
    )
    assert files(pipetask_repo) == files(lite_repo) > before_files  # configs, packages, init-outputs
    assert diff_snapshots(before, snapshot(lite_repo), names=("before", "after")) == ""

    # 2. Quanta: pipetask in one job; pipetask-lite in two concurrent jobs on
    #    disjoint groups (detector 0; detectors 1 and 2 with -j 2), the first
    #    with the exact options ctrl_bps gives.
    concurrently(
        lambda: ok(tool("pipetask", ["run-qbb", pipetask_repo, saved_graph])),
        lambda: ok(tool("lite", ["--long-log", "--log-level=VERBOSE", "run-qbb", lite_repo, saved_graph,
                                 "--qgraph-node-id", ",".join(groups[0])])),
        lambda: ok(tool("lite", ["run-qbb", lite_repo, saved_graph, "-j", "2",
                                 "--qgraph-node-id", ",".join(groups[1] + groups[2])])),
    )
    assert files(pipetask_repo) == files(lite_repo)
    assert diff_snapshots(before, snapshot(lite_repo), names=("before", "after")) == "", "run-qbb registered"

    # 3. The butler registers what the jobs wrote.
    concurrently(*(
        lambda root=root: ok(tool("butler", ["transfer-from-graph", saved_graph, root, "--register-dataset-types",
                                             "--update-output-chain"]))
        for root in (pipetask_repo, lite_repo)
    ))
    lite = snapshot(lite_repo)
    assert diff_snapshots(snapshot(run_repo), lite, names=("run -g", "run-qbb")) == ""
    assert diff_snapshots(snapshot(pipetask_repo), lite, names=("pipetask", "lite")) == ""
    assert {d["dataset_type"] for d in lite["datasets"]} >= {"add_dataset3", "task2_config", "packages"}
    assert [c["children"] for c in lite["collections"] if c["name"] == OUTPUT][0][1:] == ["test/in"]


def test_update_graph_run(tmp_path: Path, saved_graph: Path):
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph

    outputs = {name: tmp_path / f"{name}.qg" for name in ("pipetask", "lite")}
    concurrently(*(
        lambda name=name: ok(tool(name, ["update-graph-run", saved_graph, "out/rerun", outputs[name]]))
        for name in outputs
    ))

    def quanta(graph: Path) -> tuple[str, dict]:
        with PredictedQuantumGraph.open(graph) as reader:
            reader.read_thin_graph()
            qg = reader.finish()
        return qg.header.output_run, {
            (label, tuple(data_id.required_values)): quantum_id
            for label, by_data_id in qg.quanta_by_task.items() for data_id, quantum_id in by_data_id.items()
        }

    original_run, original = quanta(saved_graph)
    for name, graph in outputs.items():
        run, updated = quanta(graph)
        assert run == "out/rerun" != original_run, name
        assert updated.keys() == original.keys(), name
        assert not set(updated.values()) & set(original.values()), f"{name}: quantum IDs not regenerated"


# ---------------------------------------------------------------------------
# Reports on a run with a failure
# ---------------------------------------------------------------------------


def test_report_counts(tmp_path: Path, add_repo: AddRepo):
    """Both report forms (and aggregate-reports) count the same succeeded, failed and blocked quanta."""
    graph, pipeline = tmp_path / "F.qg", make_failing_pipeline(tmp_path / "failing.yaml")
    ok(run_cli(["qgraph", "-b", add_repo.root, "-i", "test/chain", "-o", OUTPUT, "-p", pipeline, "-q", graph]))
    failed = run_cli(["run", "-b", add_repo.root, "-g", graph, "-i", "test/chain", "-o", OUTPUT,
                      "--register-dataset-types"])
    assert failed.returncode == 1, failed.stderr
    before = snapshot(add_repo.root)

    def report(name: str, *argv: Any):
        return ok(tool(name, ["report", add_repo.root, graph, *argv], cwd=tmp_path))

    results = {}
    for name in ("pipetask", "lite"):
        results[name] = concurrently(
            lambda name=name: report(name),
            lambda name=name: report(name, "--full-output-filename", f"{name}.yaml"),
            lambda name=name: report(name, "--force-v2", "--full-output-filename", f"{name}.json"),
        )
    # The default report's tables (and errors) are printed identically.
    assert results["lite"][0].stdout == results["pipetask"][0].stdout
    assert results["lite"][2].stdout == results["pipetask"][2].stdout  # v2 counts
    expected = {"task0": (3, 0, 0), "task1": (2, 1, 0), "task2": (2, 0, 1)}  # succeeded, failed, blocked
    for name in ("pipetask", "lite"):
        v1 = yaml.safe_load((tmp_path / f"{name}.yaml").read_text())
        assert {task: (s["n_succeeded"], len(s["failed_quanta"]), s["n_quanta_blocked"])
                for task, s in v1.items()} == expected, name
        v2 = json.loads((tmp_path / f"{name}.json").read_text())
        assert {task: (s["n_successful"], s["n_failed"], s["n_blocked"])
                for task, s in v2["tasks"].items()} == expected, name

    aggregated = concurrently(*(
        lambda name=name: ok(tool(name, ["aggregate-reports", "pipetask.json", "lite.json", "--full-output-filename",
                                         f"{name}-all.json"], cwd=tmp_path))
        for name in ("pipetask", "lite")
    ))
    assert aggregated[0].stdout == aggregated[1].stdout
    assert [json.loads((tmp_path / f"{name}-all.json").read_text())["tasks"]["task1"]["n_failed"]
            for name in ("pipetask", "lite")] == [2, 2]
    assert diff_snapshots(before, snapshot(add_repo.root), names=("before", "after")) == ""


# ---------------------------------------------------------------------------
# cleanup and purge
# ---------------------------------------------------------------------------


def add_leftovers(root: Path) -> None:
    """Collections as runs leave them: ``out`` = [out/new, test/in]; out/old and out/tagged outside it."""
    from lsst.daf.butler import Butler, CollectionType

    with Butler.from_config(str(root), writeable=True) as butler:
        for run in ("out/old", "out/new"):
            butler.collections.register(run, CollectionType.RUN)
            butler.put(harness.input_array(7), "add_dataset0", run=run, instrument="INSTR", detector=0)
        butler.collections.register("out/tagged", CollectionType.TAGGED)
        butler.collections.register(OUTPUT, CollectionType.CHAINED)
        butler.collections.redefine_chain(OUTPUT, ["out/new", "test/in"])


def removal_lines(stdout: str) -> list[tuple[str, list[str]]]:
    """The 'runs: a, b' lines of the confirmation text, names sorted (pipetask's order is a set's)."""
    lines = []
    for line in stdout.splitlines():
        key, sep, names = line.strip().partition(": ")
        lines.append((key, sorted(names.split(", "))) if sep else (line.strip(), []))
    return lines


@pytest.mark.parametrize("subcommand", ["cleanup", "purge"])
@pytest.mark.parametrize("answer", ["--no-confirm", "y", "n"])
def test_cleanup_and_purge(tmp_path: Path, add_repo: AddRepo, subcommand: str, answer: str):
    add_leftovers(add_repo.root)
    roots = {name: copy_repo(add_repo.root, tmp_path / name) for name in ("pipetask", "lite")}
    before = snapshot(add_repo.root)
    argv = [subcommand, "-b", "REPO", OUTPUT] + (["--no-confirm"] if answer == "--no-confirm" else [])
    results = dict(zip(roots, concurrently(*(
        lambda name=name: tool(name, [roots[name] if a == "REPO" else a for a in argv],
                               stdin=None if answer == "--no-confirm" else f"{answer}\n")
        for name in roots
    ))))
    for proc in results.values():
        ok(proc)
    assert removal_lines(results["lite"].stdout) == removal_lines(results["pipetask"].stdout)
    same_repo(roots["pipetask"], roots["lite"], names=("pipetask", "lite"))
    after = snapshot(roots["lite"])
    names = {c["name"] for c in after["collections"]}
    if answer == "n":
        assert "Aborted." in results["lite"].stdout
        assert diff_snapshots(before, after) == ""
    elif subcommand == "cleanup":
        assert names == {"out", "out/new", "test/in", "test/chain"}
    else:
        assert names == {"out/old", "out/tagged", "test/in", "test/chain"}


def test_prompt_without_answer_removes_nothing(tmp_path: Path, add_repo: AddRepo):
    """stdin closed: pipetask says 'Aborted!' and exits 1; so does pipetask-lite, in one line."""
    add_leftovers(add_repo.root)
    before = snapshot(add_repo.root)
    proc = tool("lite", ["purge", "-b", add_repo.root, OUTPUT], stdin="")
    assert proc.returncode == 1
    assert error_line(proc, "purge").startswith("pipetask-lite purge: error: --confirm: no answer")
    assert diff_snapshots(before, snapshot(add_repo.root)) == ""


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------


def error_line(proc: subprocess.CompletedProcess[str], subcommand: str) -> str:
    """The one error line; fail on a traceback or anything but a hint after it."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith(f"pipetask-lite {subcommand}: error:")]
    assert len(errors) == 1, proc.stderr
    assert all(line.startswith("hint:") for line in lines[errors[0] + 1:]), proc.stderr
    return lines[errors[0]]


UNKNOWN_ID = str(uuid.UUID(int=1))


@pytest.mark.parametrize(
    "argv, exit_code, expected",
    [
        (["run-qbb", "REPO", "missing.qg"], 1, "QGRAPH: no such graph file: 'missing.qg'"),
        (["run-qbb", "REPO", "not-a-graph.qg"], 1, "QGRAPH: cannot read 'not-a-graph.qg' as a quantum graph"),
        (["pre-exec-init-qbb", "REPO", "missing.qg"], 1, "QGRAPH: no such graph file"),
        (["pre-exec-init-qbb", "REPO", "not-a-graph.qg"], 1, "QGRAPH: cannot read"),
        (["update-graph-run", "not-a-graph.qg", "new/run", "G2.qg"], 1, "QGRAPH: cannot read"),
        (["report", "REPO", "missing.qg"], 1, "QGRAPHS: no such graph file"),
        (["report", "REPO", "not-a-graph.qg"], 1, "QGRAPHS: cannot read"),
        (["aggregate-reports", "not-a-graph.qg"], 1, "FILENAMES: 'not-a-graph.qg' is not a JSON report"),
        (["run-qbb", "REPO", "G.qg", "--qgraph-node-id", UNKNOWN_ID], 1,
         f"--qgraph-node-id: not in graph 'G.qg': {UNKNOWN_ID}"),
        (["run-qbb", "REPO", "G.qg", "--qgraph-node-id", "not-a-uuid"], 2, "--qgraph-node-id: not a UUID"),
        (["run-qbb", "nowhere", "G.qg"], 1, "REPO: no butler repo at 'nowhere'"),
        (["purge", "-b", "REPO", "test/in"], 1, "COLLECTION: 'test/in' is a RUN collection; a CHAINED"),
        (["purge", "-b", "REPO", "--no-confirm", "no/such"], 1, "COLLECTION: no collection named 'no/such'"),
        (["cleanup", "-b", "REPO", "test/in"], 1, "COLLECTION: 'test/in' is a RUN collection"),
        (["update-graph-run", "G.qg", "test/in", "G2.qg"], 1, "RUN: RUN collection 'test/in' already exists"),
    ],
    ids=[
        "run-qbb-missing-graph", "run-qbb-not-a-graph", "init-missing-graph", "init-not-a-graph",
        "update-not-a-graph", "report-missing-graph", "report-not-a-graph", "aggregate-not-a-report",
        "node-id-not-in-graph", "node-id-not-a-uuid", "run-qbb-missing-repo", "purge-run", "purge-missing",
        "cleanup-run", "update-to-existing-run",
    ],
)
def test_bad_input(tmp_path: Path, add_repo: AddRepo, saved_graph: Path, argv, exit_code, expected):
    (tmp_path / "not-a-graph.qg").write_text("not a graph\n")
    (tmp_path / "G.qg").symlink_to(saved_graph)
    before, before_files = snapshot(add_repo.root), files(add_repo.root)
    argv = [str(add_repo.root) if a == "REPO" else a for a in argv]
    proc = tool("lite", argv, cwd=tmp_path)
    assert proc.returncode == exit_code, proc.stderr
    line = error_line(proc, argv[0])
    assert line.startswith(f"pipetask-lite {argv[0]}: error: {expected}"), line
    assert diff_snapshots(before, snapshot(add_repo.root), names=("before", "after")) == ""
    assert files(add_repo.root) == before_files
    assert not (tmp_path / "G2.qg").exists()
