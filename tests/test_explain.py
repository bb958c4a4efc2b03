"""``--explain``: the printed script does what the command line does.

Round trips: the same command line runs with ``pipetask-lite`` on one copy of
a repo (``<tmp>/cli/repo``) and, through the script ``--explain`` prints for
it, on a twin copy (``<tmp>/script/repo``); each side runs in its own
directory, so ``-b repo`` and relative file names name its own files.  Both
must end the same way (zero or non-zero exit) and leave identical
`harness.snapshot` results (collections, dataset types, datasets and their
contents; timestamped run names are normalised).  The two sides of a step run
concurrently.

==============================================  ===========================================
option                                          test
==============================================  ===========================================
--instrument, -i, -o new, -d, -c,               test_classic_demo_command
--register-dataset-types (the classic command)
-i CHAINED, --output-run, -p FILE#subset, -c,   test_pipeline_edits_and_existing_output
-C, --no-versions; then -o existing (no -i),
-t TASK:LABEL, --delete, --skip-init-writes
--output-run without -o, --init-only;           test_output_run_alone_init_only
unregistered-type check (no --register-...)
failing task (exit 1, same repo), -j 2;         test_failure_then_resume
--extend-run --skip-existing --clobber-outputs
--replace-run, --prune-replaced unstore/purge   test_replace_run_and_prune
-i disagreeing with -o (refused), --rebase      test_rebase
--skip-existing-in                              test_skip_existing_in
--select-tasks, --dataset-query-constraint,     test_select_tasks_constraint_and_table
--data-id-table
--retained-dataset-types,                       test_retained_dataset_types_and_prune_unanchored_quanta
--prune-unanchored-quanta (newer release)
qgraph -q, then run -g                          test_saved_graph_then_run_it
qgraph -q, then run -g (the short recipe)       test_saved_graph_recipe
--mock, --mock-failure, --unmocked-...          test_mock_failure
==============================================  ===========================================

The default depth (bare ``--explain``), the SimplePipelineExecutor recipe,
round-trips in test_classic_demo_command_short (-j 2) and
test_recipe_on_test_pipeline (-i CHAINED, --output-run, -c, -C,
--select-tasks, -n; an existing -o refused); the tests above it pass
``--explain=full``.  test_recipe_falls_back_to_full: what the recipe cannot
say gets the full script, saying why.  The quantum layer
(``--explain=quantum``) is tests/test_explain_quantum.py.

Without running anything: the DECam command explains offline (no ``lsst``
import, script compiles, every value shown); ``--explain`` leaves the repo
alone (and needs none); usage errors are the same with and without
``--explain``; every option of every subcommand, when given, is named in a
comment of the script.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import re
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
import numpy as np
import pytest
from harness import AddRepo, copy_repo, diff_snapshots, make_failing_pipeline, snapshot

from pipetask_lite._compat import NEW_BUILDER_OPTIONS, builder_takes
from pipetask_lite._main import main
from pipetask_lite.cli import build_parser, subcommand_parser

SIDES = ("cli", "script")
REPO = "repo"
SCRIPT = "explained.py"

DECAM = [
    "--long-log", "run", "--register-dataset-types", "-j", "12", "-b", "/nowhere/repo",
    "--instrument", "lsst.obs.decam.DarkEnergyCamera",
    "-i", "DECam/raw/all,DECam/calib/curated/19700101T000000Z,DECam/calib/unbounded",
    "-o", "DECam/calib/merian/bias-01", "-p", "/cp_pipe/pipelines/cpBias.yaml",
    "-d", "instrument='DECam' AND exposure IN (1,2)", "-c", "isr:overscan.fitType=MEDIAN_PER_ROW",
]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def explain(argv: Sequence[Any], *, depth: str | None = "full") -> str:
    """``pipetask-lite --explain=DEPTH ARGV``, in this process; the script it prints.

    ``depth=None`` is a bare ``--explain`` (the short form).
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    flag = "--explain" if depth is None else f"--explain={depth}"
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([flag, *map(str, argv)])
    assert code == 0, stderr.getvalue()
    return stdout.getvalue()


def comments(script: str) -> str:
    """The comments of a script (real ones: from the tokenizer, not ``#`` inside strings)."""
    import tokenize

    tokens = tokenize.generate_tokens(io.StringIO(script).readline)
    return "\n".join(tok.string for tok in tokens if tok.type == tokenize.COMMENT)


def imported_modules(script: str) -> set[str]:
    tree = ast.parse(script)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module)
    return names


@dataclass
class Twins:
    """Two identical repos, ``<base>/cli/repo`` and ``<base>/script/repo``."""

    base: Path

    def dir(self, side: str) -> Path:
        return self.base / side

    def root(self, side: str) -> Path:
        return self.dir(side) / REPO

    def write(self, name: str, text: str) -> None:
        for side in SIDES:
            (self.dir(side) / name).write_text(text)

    def snapshots(self) -> dict[str, dict]:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {side: pool.submit(snapshot, self.root(side)) for side in SIDES}
            return {side: f.result() for side, f in futures.items()}


def make_twins(base: Path, template_root: Path) -> Twins:
    for side in SIDES:
        (base / side).mkdir(parents=True)
        copy_repo(template_root, base / side / REPO)
    return Twins(base)


@pytest.fixture
def twins(tmp_path: Path, _template_add_repo: AddRepo) -> Twins:
    return make_twins(tmp_path, _template_add_repo.root)


@pytest.fixture(scope="module")
def pipeline(_template_add_repo: AddRepo) -> str:
    """The template's 3-task pipeline (absolute path, read-only)."""
    return str(_template_add_repo.pipeline)


def round_trip(
    twins: Twins, argv: Sequence[Any], *, expect_ok: bool = True, depth: str | None = "full"
) -> tuple[str, dict]:
    """Run ``argv`` with pipetask-lite and its explained script (``--explain=DEPTH``) on the twins; compare.

    Returns the script and the snapshots.
    """
    script = explain(argv, depth=depth)
    path = twins.dir("script") / SCRIPT
    path.write_text(script)
    with ThreadPoolExecutor(max_workers=2) as pool:
        cli = pool.submit(harness.run_cli, argv, cwd=twins.dir("cli"))
        explained = pool.submit(harness.run_script, path, cwd=twins.dir("script"))
        results = {"cli": cli.result(), "script": explained.result()}
    for side, result in results.items():
        assert (result.returncode == 0) == expect_ok, (
            f"{side}: exit {result.returncode}, expected {'0' if expect_ok else 'non-zero'}\n"
            f"{result.stderr[-3000:]}\n--- script ---\n{script}"
        )
    snaps = twins.snapshots()
    diff = diff_snapshots(snaps["cli"], snaps["script"], names=SIDES)
    assert not diff, f"{diff}\n--- script ---\n{script}"
    return script, snaps


def datasets(snap: dict, dataset_type: str, run: str | None = None) -> dict:
    return {
        d["data_id"].get("detector"): d
        for d in snap["datasets"]
        if d["dataset_type"] == dataset_type and (run is None or d["run"] == run)
    }


def collection(snap: dict, name: str) -> dict:
    return next(c for c in snap["collections"] if c["name"] == name)


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory):
    from pipetask_lite.demo import make_demo_repo

    return make_demo_repo(tmp_path_factory.mktemp("demo") / "repo")


def classic_argv(demo) -> list[str]:
    exposures = ", ".join(str(e) for e in demo.exposures[:3])
    return [
        "run", "-b", REPO, "--instrument", demo.instrument_class, "-i", ",".join(demo.input_collections),
        "-o", "DemoCam/calib/bias", "-p", demo.pipeline,
        "-d", f"instrument='DemoCam' AND exposure IN ({exposures})",
        "-c", "isr:overscan.fitType=MEDIAN_PER_ROW", "--register-dataset-types",
    ]


def test_classic_demo_command(tmp_path: Path, demo_template) -> None:
    """The README's command: the SimplePipelineExecutor recipe, then MPGraphExecutor."""
    twins = make_twins(tmp_path, Path(demo_template.root))
    script, snaps = round_trip(twins, classic_argv(demo_template))
    assert sorted(datasets(snaps["script"], "bias")) == demo_template.detectors
    code = "\n".join(line.split("  # ")[0] for line in script.splitlines())
    for call in (
        "Pipeline.from_uri(", "pipeline.addInstrument('pipetask_lite.demo.instrument.DemoCam')",
        "pipeline.addConfigOverride('isr', 'overscan.fitType', 'MEDIAN_PER_ROW')",
        "Butler.from_config(REPO, writeable=False)", "SimplePipelineExecutor.from_pipeline_graph(",
        "SimplePipelineExecutor.prep_butler(", "register_dataset_types(butler",
        "write_init_outputs(", "write_configs(", "write_packages(", "SingleQuantumExecutor(",
        "MPGraphExecutor(",
    ):
        assert call in code, call
    # Why not SimplePipelineExecutor.run: said in a comment.
    assert "SimplePipelineExecutor.run" in comments(script)
    assert not {m for m in imported_modules(script) if m.startswith(("pipetask_lite", "lsst.ctrl.mpexec.cli"))}
    # What a simple command does not need is not there.
    for unneeded in ("AllDimensionsQuantumGraphBuilder", "mock", "ShowInfo", "removeRuns", "coverage"):
        assert unneeded not in code, unneeded


def test_classic_demo_command_short(tmp_path: Path, demo_template) -> None:
    """The default depth: the SimplePipelineExecutor recipe in about 30 lines; -j 2 is a comment."""
    twins = make_twins(tmp_path, Path(demo_template.root))
    script, snaps = round_trip(twins, [*classic_argv(demo_template), "-j", "2"], depth=None)
    assert sorted(datasets(snaps["script"], "bias")) == demo_template.detectors
    code = "\n".join(line.split("  # ")[0] for line in script.splitlines() if not line.lstrip().startswith("#"))
    for call in ("SimplePipelineExecutor.prep_butler(REPO, inputs=inputs, output=OUTPUT)",
                 "SimplePipelineExecutor.from_pipeline(pipeline, where=DATA_QUERY, butler=butler)",
                 "executor.run(register_dataset_types=True)",
                 "pipeline.addInstrument('pipetask_lite.demo.instrument.DemoCam')"):
        assert call in code, call
    for unneeded in ("MPGraphExecutor", "SingleQuantumExecutor", "plan_collections", "def main"):
        assert unneeded not in code, unneeded
    assert "-j 2: the quanta run one at a time" in comments(script)


def test_recipe_on_test_pipeline(twins: Twins, pipeline: str) -> None:
    """The recipe with -i CHAINED (flattened), --output-run, -c, -C, --select-tasks, -n; then an existing -o,
    which the command extends and the recipe refuses, writing nothing."""
    twins.write("task1.py", "config.addend = 7\n")
    argv = ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "--output-run", "out/run1", "-p", pipeline,
            "-c", "task0:addend=5", "-C", "task1:task1.py", "--select-tasks", "<=task1", "-n", "1",
            "-d", "detector IN (0, 2)", "--register-dataset-types"]
    script, snaps = round_trip(twins, argv, depth=None)
    assert "The full script" not in script and "from_pipeline_graph(pipeline_graph" in script
    assert collection(snaps["script"], "out")["children"] == ["out/run1", "test/in"]
    assert sorted(datasets(snaps["script"], "add_dataset2")) == [0, 2]
    assert not datasets(snaps["script"], "add_dataset3")
    path = twins.dir("script") / SCRIPT
    path.write_text(explain([*argv[:8], "out/run2", *argv[9:]], depth=None))
    result = harness.run_script(path, cwd=twins.dir("script"))
    assert result.returncode != 0 and "-o/--output: 'out' exists; see --explain=full" in result.stderr
    assert not diff_snapshots(snaps["script"], twins.snapshots()["script"])


@pytest.mark.parametrize(
    "extra, why",
    [
        (["--skip-existing-in", "old"], "SimplePipelineExecutor has nothing for --skip-existing-in"),
        (["--extend-run"], "SimplePipelineExecutor has nothing for --extend-run"),
        (["--no-versions", "--register-dataset-types"], "--no-versions with --register-dataset-types"),
    ],
)
def test_recipe_falls_back_to_full(extra: list[str], why: str) -> None:
    """A command line the recipe cannot say gets the full script, saying why in its first lines."""
    script = explain(["run", "-b", "repo", "-i", "in", "-o", "out", "-p", "p.yaml", *extra], depth=None)
    head = "\n".join(script.splitlines()[:4])
    assert f"# The full script: {why}" in head, head
    assert "def main()" in script
    assert "The full script" in explain(["qgraph", "-b", "repo", "-i", "in", "-o", "out", "-p", "p.yaml"], depth=None)
    assert "The full script" not in explain(["run", "-b", "repo", "-i", "in", "-o", "out", "-p", "p.yaml", *extra])


def test_pipeline_edits_and_existing_output(twins: Twins, pipeline: str) -> None:
    """-i CHAINED, --output-run, FILE#subset, -c, -C, --no-versions; then an existing -o, -t, --delete."""
    twins.write("task1.py", "config.addend = 7\n")
    _, snaps = round_trip(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "--output-run", "out/run1",
         "-p", f"{pipeline}#firstTwo", "-c", "task0:addend=5", "-C", "task1:task1.py",
         "-d", "detector IN (0, 2)", "--register-dataset-types", "--no-versions"],
    )
    assert collection(snaps["script"], "out")["children"] == ["out/run1", "test/in"]
    assert sorted(datasets(snaps["script"], "add_dataset2")) == [0, 2]
    assert not datasets(snaps["script"], "packages")
    _, snaps = round_trip(
        twins,
        ["run", "-b", REPO, "-o", "out", "-p", pipeline, "--delete", "task0",
         "-t", f"{harness.ADD_TASK}:extra", "-c", "extra:connections.in_tmpl=3",
         "-c", "extra:connections.out_tmpl=4", "--register-dataset-types", "--skip-init-writes"],
    )
    assert collection(snaps["script"], "out")["children"] == ["out/<timestamp>", "out/run1", "test/in"]
    assert sorted(datasets(snaps["script"], "add_dataset4", "out/<timestamp>")) == [0, 2]
    assert not datasets(snaps["script"], "extra_config")


def test_output_run_alone_init_only(twins: Twins, pipeline: str) -> None:
    """--output-run without -o with --init-only; then a run whose dataset types must be registered."""
    _, snaps = round_trip(
        twins,
        ["run", "-b", REPO, "-i", "test/in", "--output-run", "solo", "-p", pipeline,
         "--register-dataset-types", "--init-only"],
    )
    assert datasets(snaps["script"], "task0_config", "solo")
    assert not datasets(snaps["script"], "add_dataset1")
    _, snaps = round_trip(
        twins, ["run", "-b", REPO, "-i", "test/in", "--output-run", "solo2", "-p", pipeline, "-d", "detector = 1"]
    )
    assert list(datasets(snaps["script"], "add_dataset3", "solo2")) == [1]


def test_failure_then_resume(twins: Twins) -> None:
    """A failing task (both exit non-zero, same partial outputs, -j 2), then
    --extend-run --skip-existing --clobber-outputs with the failure fixed."""
    failing = str(make_failing_pipeline(twins.base / "fail.yaml"))
    script, snaps = round_trip(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", failing, "--register-dataset-types",
         "-j", "2", "-d", "detector IN (0, 1)"],
        expect_ok=False,
    )
    assert "num_proc=2" in script
    assert sorted(datasets(snaps["script"], "add_dataset3")) == [0]
    _, snaps = round_trip(
        twins,
        ["run", "-b", REPO, "-o", "out", "-p", failing, "-c", "task1:fail_detector=-1", "-d", "detector IN (0, 1)",
         "--extend-run", "--skip-existing", "--clobber-outputs", "--skip-init-writes"],
    )
    assert sorted(datasets(snaps["script"], "add_dataset3")) == [0, 1]
    assert len([c for c in snaps["script"]["collections"] if c["name"].startswith("out/")]) == 1


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, _template_add_repo: AddRepo) -> Path:
    """A repo after ``run -i test/chain -o out -d "detector = 0"`` (by pipetask-lite), for the twins to share."""
    base = tmp_path_factory.mktemp("first_run")
    root = copy_repo(_template_add_repo.root, base / REPO)
    result = harness.run_cli(
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", _template_add_repo.pipeline,
         "--register-dataset-types", "-d", "detector = 0"],
        cwd=base,
    )
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def resumed(tmp_path: Path, first_run: Path) -> Twins:
    return make_twins(tmp_path, first_run)


def test_replace_run_and_prune(resumed: Twins, pipeline: str) -> None:
    """--replace-run with --prune-replaced unstore, then purge (-o without -i)."""
    base = ["run", "-b", REPO, "-o", "out", "-p", pipeline, "--replace-run"]
    _, snaps = round_trip(resumed, [*base, "--prune-replaced", "unstore", "-d", "detector = 2"])
    unstored = datasets(snaps["script"], "add_dataset3", "out/<timestamp#0>")
    assert list(unstored) == [0] and unstored[0]["digest"].startswith("<unreadable"), unstored
    assert collection(snaps["script"], "out")["children"] == ["out/<timestamp#1>", "test/in"]
    _, snaps = round_trip(resumed, [*base, "--prune-replaced", "purge"])
    names = [c["name"] for c in snaps["script"]["collections"] if c["name"].startswith("out/")]
    assert len(names) == 2, names  # the purged run is gone
    assert collection(snaps["script"], "out")["children"][1:] == ["test/in"]


def _add_extra_run(root: Path) -> None:
    from lsst.daf.butler import Butler

    with Butler.from_config(str(root), writeable=True) as butler:
        butler.collections.register("test/extra")
        butler.put(np.array([1000.0, 2000.0]), "add_dataset0", run="test/extra", instrument="INSTR", detector=0)


def test_rebase(resumed: Twins, pipeline: str) -> None:
    """-i that disagrees with an existing -o chain: refused by both, then --rebase."""
    for side in SIDES:
        _add_extra_run(resumed.root(side))
    argv = ["run", "-b", REPO, "-i", "test/extra,test/chain", "-o", "out", "-p", pipeline, "-d", "detector = 0"]
    round_trip(resumed, argv, expect_ok=False)
    _, snaps = round_trip(resumed, [*argv, "--rebase"])
    chain = collection(snaps["script"], "out")["children"]
    assert chain == ["out/<timestamp#1>", "out/<timestamp#0>", "test/extra", "test/in"], chain


def test_skip_existing_in(resumed: Twins, pipeline: str) -> None:
    _, snaps = round_trip(
        resumed, ["run", "-b", REPO, "-i", "test/chain", "-o", "second", "-p", pipeline, "--skip-existing-in", "out"]
    )
    assert sorted(datasets(snaps["script"], "add_dataset3", "second/<timestamp>")) == [1, 2]


@pytest.mark.skipif(
    not all(builder_takes(option) for option in NEW_BUILDER_OPTIONS),
    reason="the newer release's options (lsst-pipe-base 30.2026.2800 or newer)",
)
def test_retained_dataset_types_and_prune_unanchored_quanta(twins: Twins, pipeline: str) -> None:
    """task1 ran for detector 0 only; both options on one command line, as the newer pipetask takes them."""
    base = ["run", "-b", REPO, "-p", pipeline, "--register-dataset-types"]
    round_trip(twins, [*base, "-i", "test/chain", "-o", "pre", "--select-tasks", "task0"])
    round_trip(twins, [*base, "-i", "pre", "-o", "mid", "--output-run", "mid/run", "--select-tasks", "task1",
                       "-d", "detector = 0"])
    twins.write("retained.yaml", "- add_dataset1\n- add_dataset3\n")
    script, snaps = round_trip(
        twins,
        [*base, "-i", "test/chain", "-o", "third", "--skip-existing-in", "mid/run",
         "--retained-dataset-types", "retained.yaml", "--prune-unanchored-quanta", "task0:task1"],
    )
    assert "prune_unanchored_quanta=('task0', 'task1')" in script
    # add_dataset2 is not retained, so task2 makes task1 run again for detector 0
    # too, and that quantum anchors task0's: nothing is pruned.
    assert sorted(datasets(snaps["script"], "add_dataset1", "third/<timestamp>")) == [0, 1, 2]


def test_select_tasks_constraint_and_table(twins: Twins, pipeline: str) -> None:
    from astropy.table import Table
    from lsst.daf.butler import Butler

    for side in SIDES:
        with Butler.from_config(str(twins.root(side)), writeable=True) as butler:
            butler.registry.insertDimensionData("detector", {"instrument": "INSTR", "id": 3, "full_name": "det3"})
        Table({"instrument": ["INSTR"] * 3, "detector": [0, 2, 3]}).write(twins.dir(side) / "ids.ecsv")
    _, snaps = round_trip(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", pipeline, "--select-tasks", "<=task1",
         "--dataset-query-constraint", "add_dataset0", "--data-id-table", "ids.ecsv", "--register-dataset-types"],
    )
    assert sorted(datasets(snaps["script"], "add_dataset2")) == [0, 2]
    assert not datasets(snaps["script"], "add_dataset3")


def test_saved_graph_then_run_it(twins: Twins, pipeline: str) -> None:
    """qgraph -q (writes no dataset), then run -g: each side runs the graph it saved."""
    before = twins.snapshots()["cli"]
    _, snaps = round_trip(
        twins,
        ["qgraph", "-b", REPO, "-i", "test/chain", "-o", "out", "--output-run", "out/run1", "-p", pipeline,
         "-d", "detector IN (0, 1)", "-q", "g.qg"],
    )
    assert not diff_snapshots(before, snaps["script"])
    assert all((twins.dir(side) / "g.qg").is_file() for side in SIDES)
    script, snaps = round_trip(
        twins, ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-g", "g.qg", "--register-dataset-types"]
    )
    assert "PredictedQuantumGraph.open('g.qg'" in script and "Pipeline.from_uri" not in script
    assert collection(snaps["script"], "out")["children"] == ["out/run1", "test/in"]
    assert sorted(datasets(snaps["script"], "add_dataset3")) == [0, 1]


def test_saved_graph_recipe(twins: Twins, pipeline: str) -> None:
    """run -g in the short depth: SimplePipelineExecutor(quantum_graph, butler) after prep_butler(output_run=
    the graph's run), leaving the repo as the command does; run again, both refuse the graph's existing run."""
    round_trip(
        twins,
        ["qgraph", "-b", REPO, "-i", "test/chain", "-o", "out", "--output-run", "out/run1", "-p", pipeline,
         "-d", "detector IN (0, 2)", "-q", "g.qg"],
    )
    argv = ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-g", "g.qg", "--register-dataset-types"]
    script, snaps = round_trip(twins, argv, depth=None)
    assert "The full script" not in script and "Pipeline.from_uri" not in script
    assert "quantum_graph = PredictedQuantumGraph.read_execution_quanta('g.qg')" in script
    assert ("butler = SimplePipelineExecutor.prep_butler(REPO, inputs=inputs, output=OUTPUT, "
            "output_run=quantum_graph.header.output_run)") in script
    assert "executor = SimplePipelineExecutor(quantum_graph, butler)" in script
    assert collection(snaps["script"], "out")["children"] == ["out/run1", "test/in"]
    assert sorted(datasets(snaps["script"], "add_dataset3", "out/run1")) == [0, 2]
    # The graph's run now exists: the command refuses it, the recipe too, before writing.
    path = twins.dir("script") / SCRIPT
    path.write_text(explain([*argv[:6], "elsewhere", *argv[7:]], depth=None))
    result = harness.run_script(path, cwd=twins.dir("script"))
    assert result.returncode != 0 and "-g: the run 'out/run1' exists; see --explain=full" in result.stderr
    assert not diff_snapshots(snaps["script"], twins.snapshots()["script"])
    # A legacy '.qgraph' file gets the full script, saying why.
    assert "# The full script: -g 'g.qgraph': a legacy graph file" in explain(
        [*argv[:8], "g.qgraph"], depth=None)


def test_mock_failure(twins: Twins, pipeline: str) -> None:
    _, snaps = round_trip(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", pipeline, "--register-dataset-types",
         "--mock", "--mock-failure", "task1:subprocess.SubprocessError:detector=1",
         "--unmocked-dataset-types", "add_dataset0"],
        expect_ok=False,
    )
    assert sorted(datasets(snaps["script"], "_mock_add_dataset3")) == [0, 2]


# ---------------------------------------------------------------------------
# Without running anything
# ---------------------------------------------------------------------------


def explain_decam_offline(tmp_path: Path, option: str) -> str:
    """The script ``option`` prints for the DECam command, in a process that must not import lsst."""
    code = (
        "import sys\n"
        "from pipetask_lite._main import main\n"
        f"code = main([{option!r}, *{DECAM!r}])\n"
        "assert not [m for m in sys.modules if m == 'lsst' or m.startswith('lsst.')], 'lsst imported'\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=harness.env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    compile(result.stdout, "explained.py", "exec")
    return result.stdout


def test_decam_command_short(tmp_path: Path) -> None:
    """The classic DECam command, in the default depth: the recipe in about 30 lines, offline."""
    script = explain_decam_offline(tmp_path, "--explain")
    assert len(script.rstrip().splitlines()) <= 32, script
    assert "prep_butler" in script and "MPGraphExecutor(" not in script
    notes = comments(script)
    assert "-j 12: the quanta run one at a time" in notes and "--explain=full" in notes


def test_decam_command_explains_offline(tmp_path: Path) -> None:
    """The classic DECam command, --explain=full: no obs_decam, no repo, no lsst import; the script compiles."""
    script = explain_decam_offline(tmp_path, "--explain=full")
    notes = comments(script)
    for value in ("--long-log", "--register-dataset-types", "-j 12", "-b /nowhere/repo",
                  "--instrument lsst.obs.decam.DarkEnergyCamera",
                  "-i DECam/raw/all,DECam/calib/curated/19700101T000000Z,DECam/calib/unbounded",
                  "-o DECam/calib/merian/bias-01", "-p /cp_pipe/pipelines/cpBias.yaml",
                  "-d instrument='DECam' AND exposure IN (1,2)", "-c isr:overscan.fitType=MEDIAN_PER_ROW"):
        assert value in notes, value
    assert "longlog=True" in script and "num_proc=12" in script
    assert "pipeline.addInstrument('lsst.obs.decam.DarkEnergyCamera')" in script
    assert not (tmp_path / "nowhere").exists()


def test_explain_leaves_the_repo_alone(add_repo: AddRepo, tmp_path: Path) -> None:
    before = snapshot(add_repo.root)
    files = sorted(p.stat().st_mtime_ns for p in add_repo.root.rglob("*"))
    script = explain(["run", "-b", add_repo.root, "-i", "test/in", "-o", "out", "-p", add_repo.pipeline,
                      "--register-dataset-types"])
    assert "prep_butler" in script
    assert sorted(p.stat().st_mtime_ns for p in add_repo.root.rglob("*")) == files
    assert not diff_snapshots(before, snapshot(add_repo.root))
    # A repo that does not exist (here) is fine too.
    missing = tmp_path / "not" / "here"
    explain(["qgraph", "-b", missing, "-i", "a", "-o", "b", "-p", add_repo.pipeline, "-q", tmp_path / "g.qg"])
    assert not missing.exists() and not (tmp_path / "g.qg").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "-b", "repo", "-i", "a", "-o", "b", "-p", "p.yaml", "-c", "addend=3"],
        ["run", "-b", "repo", "-i", "a", "-o", "b", "-p", "p.yaml", "--prune-replaced", "purge"],
        ["run", "-i", "a", "-o", "b", "-p", "p.yaml"],
        ["run", "-b", "repo", "-i", "a", "-p", "p.yaml"],
        ["run", "-b", "repo", "-i", "a", "-o", "b", "-p", "p.yaml", "-j", "0"],
        ["qgraph", "-b", "repo", "-g", "g.qg", "-d", "x"],
        ["run", "-b", "repo", "-i", "a", "-o", "b", "-p", "p.yaml", "--extend-run", "--replace-run"],
        ["run", "-b", "repo", "-i", "a", "-o", "b", "-p", "p.yaml", "--show", "bogus"],
    ],
)
def test_usage_errors_same_with_explain(argv: list[str], tmp_path: Path) -> None:
    plain = harness.call_main(argv, cwd=tmp_path)
    explained = harness.call_main(["--explain", *argv], cwd=tmp_path)
    assert plain.returncode == explained.returncode == 2, (plain.stderr, explained.stderr)
    assert plain.stderr == explained.stderr
    assert not explained.stdout


def test_many_options_all_in_comments(tmp_path: Path) -> None:
    """One long command line: every option's value (or flag) is in a comment; the script compiles."""
    argv = [
        "--log-level", "DEBUG,lsst.daf=INFO", "--long-log", "--log-file", "a.log", "--no-log-tty",
        "--log-label", "K=V", "--traceback",
        "run", "-b", "repo", "-i", "in1,in2", "-i", "in3", "-o", "out", "--output-run", "out/r",
        "-p", "p.yaml#sub", "-t", "pkg.Task:extra", "--delete", "old", "-c", "lab:a.b=it's \"x\"\\n",
        "-C", "lab:over.py", "--instrument", "pkg.Cam", "-s", "saved.yaml", "--select-tasks", "<=lab",
        "--pipeline-dot", "p.dot", "--pipeline-mermaid", "p.png", "-d", "visit = 1 AND band='g'",
        "--skip-existing-in", "old/run", "--skip-existing", "--clobber-outputs", "-q", "g.qg",
        "--qgraph-dot", "q.dot", "--qgraph-mermaid", "q.mmd", "--dataset-query-constraint", "off",
        "--data-id-table", "ids.ecsv", "--qgraph-datastore-records", "--mock", "--mock-failure", "lab::visit=1",
        "--unmocked-dataset-types", "raw", "--extend-run", "--rebase", "--debug", "--pdb", "--profile", "p.prof",
        "-j", "3", "--start-method", "fork", "--timeout", "60", "--fail-fast", "--no-raise-on-partial-outputs",
        "--graph-fixup", "pkg.Fixup", "--summary", "s.json", "--enable-implicit-threading", "-n", "2",
        "--memory-per-quantum", "2GB", "--skip-init-writes", "--init-only", "--register-dataset-types",
        "--no-versions", "--coverage", "--no-cov-report", "--cov-packages", "lsst.pipe.base",
    ]
    script = explain(argv)
    compile(script, "explained.py", "exec")
    notes = comments(script)
    expected = [
        "--log-level DEBUG,lsst.daf=INFO", "--long-log", "--log-file a.log", "--no-log-tty", "--log-label K=V",
        "--traceback", "-b repo", "-i in1,in2,in3", "-o out", "--output-run out/r", "-p p.yaml#sub",
        "-t pkg.Task:extra", "--delete old", "-c lab:a.b=it's \"x\"\\n", "-C lab:over.py",
        "--instrument pkg.Cam", "-s saved.yaml", "--select-tasks <=lab", "--pipeline-dot p.dot",
        "--pipeline-mermaid p.png", "-d visit = 1 AND band='g'", "--skip-existing-in old/run", "--skip-existing",
        "--clobber-outputs", "-q g.qg", "--qgraph-dot q.dot", "--qgraph-mermaid q.mmd",
        "--dataset-query-constraint off", "--data-id-table ids.ecsv", "--qgraph-datastore-records", "--mock",
        "--mock-failure lab::visit=1", "--unmocked-dataset-types raw", "--extend-run", "--rebase", "--debug",
        "--pdb", "--profile p.prof", "-j 3", "--start-method fork", "--timeout 60", "--fail-fast",
        "--no-raise-on-partial-outputs", "--graph-fixup pkg.Fixup", "--summary s.json",
        "--enable-implicit-threading", "-n 2", "--memory-per-quantum 2GB", "--skip-init-writes", "--init-only",
        "--register-dataset-types", "--no-versions", "--coverage", "--no-cov-report",
        "--cov-packages lsst.pipe.base",
    ]
    missing = [text for text in expected if text not in notes]
    assert not missing, f"{missing}\n--- script ---\n{script}"
    # Values are embedded with repr(): the awkward -c value survives.
    assert repr("it's \"x\"\\n") in script


# Values for a command line that gives one option (besides the minimal ones).
SPECIAL_VALUES: dict[str, list[str]] = {
    "task": ["-t", "pkg.Task:lab"],
    "delete": ["--delete", "lab"],
    "config": ["-c", "lab:a=1"],
    "config_file": ["-C", "lab:f.py"],
    "instrument": ["--instrument", "pkg.Cam"],
    "show": ["--show", "config"],
    "log_level": ["--log-level", "lsst=DEBUG"],
    "log_label": ["--log-label", "K=V"],
    "mock_failure": ["--mock", "--mock-failure", "lab:pkg.Error:x=1"],
    "unmocked_dataset_types": ["--mock", "--unmocked-dataset-types", "raw"],
    "qgraph_node_id": ["-g", "g.qg", "--qgraph-node-id", "6b4c2a36-5d5c-4c1e-9e6e-9b1b8e0f6a11"],
    "qgraph_id": ["-g", "g.qgraph", "--qgraph-id", "123"],
    "prune_replaced": ["--replace-run", "--prune-replaced", "unstore"],
    "options_file": ["-@", "OPTIONS"],
    "retained_dataset_types": ["--skip-existing", "--retained-dataset-types", "r.yaml"],
    "prune_unanchored_quanta": ["--prune-unanchored-quanta", "lab:other"],
}
ACTION_KEYS = {"-t": "task", "--delete": "delete", "-c": "config", "-C": "config_file", "--instrument": "instrument"}


def _generic(action: argparse.Action) -> list[str]:
    """The option with a value its type accepts."""
    flag = action.option_strings[0]
    if isinstance(action, argparse.BooleanOptionalAction):
        return [next(s for s in action.option_strings if s.startswith("--no-"))] if action.default else [flag]
    if action.nargs in (0, "?"):
        return [flag]
    if action.choices:
        return [flag, sorted(action.choices)[-1]]
    if getattr(action.type, "__name__", "").startswith("integer"):
        return [flag, "2"]
    return [flag, "value.x"]


def _option_cases() -> list:
    """One case per option of each subcommand (global options included), by keyword."""
    parser = build_parser()
    cases = []
    for sub in ("build", "qgraph", "run"):
        skip = {"help", "explain", "pipeline"} | ({"butler_config", "input", "output", "qgraph"} if sub != "build"
                                                   else set())
        for is_global, owner in ((True, parser), (False, subcommand_parser(parser, sub))):
            for action in owner._actions:
                if not action.option_strings or action.dest in skip:
                    continue
                key = ACTION_KEYS[action.option_strings[0]] if action.dest == "pipeline_actions" else action.dest
                extra = SPECIAL_VALUES.get(key) or _generic(action)
                newer = f"--{key.replace('_', '-')}" in NEW_BUILDER_OPTIONS
                marks = [pytest.mark.skipif(not builder_takes(f"--{key.replace('_', '-')}"),
                                            reason="refused on the older release")] if newer else []
                cases.append(pytest.param(sub, is_global, extra, id=f"{sub}-{key}", marks=marks))
    return cases


@pytest.mark.parametrize("depth", [None, "full"], ids=["short", "full"])
@pytest.mark.parametrize("sub, is_global, extra", _option_cases())
def test_each_option_is_shown(sub: str, is_global: bool, extra: list[str], depth: str | None, tmp_path: Path) -> None:
    """Every option of every subcommand, given alone, is named in a comment of a script that compiles
    (the recipe, or the full script where the recipe cannot say it)."""
    if "OPTIONS" in extra:
        options_file = tmp_path / "opts.yaml"
        options_file.write_text(f"{sub}:\n  select-tasks: lab\n")
        extra = [str(options_file) if e == "OPTIONS" else e for e in extra]
    if sub == "build":
        base = ["-p", "p.yaml"]
    elif "-g" in extra:
        base = ["-b", "repo", "-i", "in"]
    else:
        base = ["-b", "repo", "-i", "in", "-o", "out", "-p", "p.yaml"]
    argv = [*extra, sub, *base] if is_global else [sub, *base, *extra]
    script = explain(argv, depth=depth)
    compile(script, "explained.py", "exec")
    notes = comments(script)
    for flag in [e for e in extra if e.startswith("-")]:
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", notes), f"{flag} not in a comment:\n{script}"


def test_other_subcommands_are_refused() -> None:
    """explain() shows build, qgraph and run only; another subcommand is a usage error, not a wrong script."""
    from pipetask_lite import UsageError
    from pipetask_lite._explain import explain as explain_args

    with pytest.raises(UsageError, match="run-qbb"):
        explain_args(argparse.Namespace(subcommand="run-qbb"))


def test_explain_into_a_closed_pipe_says_nothing() -> None:
    # `pipetask-lite --explain ... | head` when head has gone: no
    # "error: BrokenPipeError" line (the read end is closed before the
    # process has even imported argparse, so its first write fails).
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipetask_lite", "--explain=full", "run", "-b", "repo", "-i", "in", "-o", "out",
         "-p", "p.yaml"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=harness.env(), text=True,
    )
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert stderr == ""


@pytest.mark.parametrize("extra", [
    ["-p", "p.yaml", "-i", "in", "-o", "out"],
    ["-g", "saved.qg", "-o", "out", "--extend-run", "--skip-existing-in", "old/run"],
])
def test_collection_rules_are_the_commands_source(extra: list[str]) -> None:
    """The script's collection rules are the source the command runs, verbatim: no copy kept by hand."""
    import inspect

    from pipetask_lite import _collections

    script = explain(["run", "-b", "repo", *extra])
    for rule in (_collections.CollectionPlan, _collections.plan_collections, _collections._contains_run_of,
                 _collections.check_graph_output_run):
        assert inspect.getsource(rule) in script, rule.__name__
    assert script.count("def plan_collections(") == 1
    # Called as the command calls it: every option by keyword.
    assert "plan = plan_collections(" in script and "repo=REPO," in script
    assert not {m for m in imported_modules(script) if m.startswith("pipetask_lite")}
    compile(script, "explained.py", "exec")
