"""``--explain=quantum``: the task's own call for one quantum, on in-memory inputs.

Round trips: the script ``--explain=quantum`` prints is run, in a
subprocess, on the repo as it was before the command (a fresh repo; an
input made by an upstream quantum is that quantum's in-memory result), while
the command itself runs on a copy of that repo; every object the script
computes must equal the dataset the command stored for the same dataset type
and data ID (array equality).  The script printed after the command has run
(its outputs in the repo) must run too and agree.  Many quanta of one task
are a loop over a table of data IDs.  The demo's calibration lookup is shown
as the graph builder did it.  Bad input: an empty graph is refused as by
``run``, an unknown ``--select-tasks`` label is a usage error, and the repo's
files are left byte for byte as they were.
"""

from __future__ import annotations

import contextlib
import io
import pickle
from pathlib import Path

import harness
import numpy as np
import pytest
from harness import AddRepo, copy_repo, repo_digest

from pipetask_lite._main import main

OUTPUT = "DemoCam/calib/bias"


def explain_quantum(argv: list) -> tuple[int, str, str]:
    """``pipetask-lite --explain=quantum ARGV`` in this process: exit code, stdout, stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--explain=quantum", *map(str, argv)])
    return code, stdout.getvalue(), stderr.getvalue()


def run_fresh(script: str, path: Path) -> tuple[list, dict]:
    """Run the script in a subprocess (cwd: its directory); return its ``outputs`` and constants."""
    out = path.with_suffix(".pickle")
    path.write_text(script + "\nimport pickle\n"
                    f"with open({str(out)!r}, 'wb') as f:\n"
                    "    pickle.dump((outputs, {'OUTPUT_RUN': OUTPUT_RUN}), f)\n")
    result = harness.run_script(path, cwd=path.parent)
    assert result.returncode == 0, result.stderr
    with open(out, "rb") as f:
        return pickle.load(f)


def command_on_twin(root: Path, argv: list) -> Path:
    """Run the command on a copy of the repo at ``root`` as it is now; return the copy's root."""
    twin = copy_repo(root, root.parent / "twin")
    argv = [str(a) for a in argv]
    argv[argv.index("-b") + 1] = str(twin)
    result = harness.run_cli(argv, cwd=twin.parent)
    assert result.returncode == 0, result.stderr
    return twin


def code_lines(script: str) -> int:
    """The script's lines of code: not blank, not comments."""
    return sum(1 for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def assert_outputs_equal(outputs: list, root: Path, collection: str) -> None:
    """Each object the script computed equals what the pipeline stored."""
    from lsst.daf.butler import Butler

    assert outputs
    with Butler.from_config(str(root), collections=collection) as butler:
        for dataset_type, data_id, value in outputs:
            np.testing.assert_array_equal(value, butler.get(dataset_type, data_id), err_msg=f"{dataset_type} {data_id}")


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory):
    from pipetask_lite.demo import make_demo_repo

    return make_demo_repo(tmp_path_factory.mktemp("demo") / "repo")  # 5 exposures, 3 detectors: 15 isr quanta


@pytest.fixture
def demo(tmp_path: Path, demo_template):
    from pipetask_lite.demo.runner import run_args

    root = copy_repo(demo_template.root, tmp_path / "repo")
    argv = run_args(demo_template)
    argv[argv.index("-b") + 1] = str(root)
    return root, argv


def test_demo_on_a_fresh_repo(demo) -> None:
    """One cpBiasCombine quantum and the five isr quanta it needs: run on the fresh repo, same arrays."""
    root, argv = demo
    before = repo_digest(root)
    code, script, stderr = explain_quantum(argv)
    assert code == 0, stderr
    assert repo_digest(root) == before, "--explain=quantum wrote to the repo"
    assert script.count("task.run(") == 2  # the isr quanta are one loop
    assert "for exposure in [" in script and script.count("    20240101") == 5
    assert "    result = task.run(ccdExposure=ccdExposure, defects=defects)" in script
    assert "result = task.run(inputExps=inputExps)" in script
    assert "config.overscan.fitType='MEDIAN_PER_ROW'" in script  # -c, on top of the pipeline's MEAN
    assert "found in RUN DemoCam/raw/all" in script
    # The isr results are handed to cpBiasCombine in memory, not read from -o.
    assert "    postISRCCD['DemoCam', 0, exposure] = result.outputExposure" in script
    assert "    postISRCCD['DemoCam', 0, 20240101005],\n" in script
    assert "made above by isr: the command would have stored it in RUN" in script
    assert "collections=OUTPUT" not in script
    assert "lsst.ctrl.mpexec" not in script and "pipetask_lite._" not in script
    twin = command_on_twin(root, argv)
    outputs, _ = run_fresh(script, root.parent / "quantum.py")
    assert [name for name, _, _ in outputs] == ["postISRCCD"] * 5 + ["bias"]
    assert_outputs_equal(outputs, twin, OUTPUT)
    assert repo_digest(root) == before, "the script wrote to the repo"


def test_demo_one_quantum_reads_as_before(demo) -> None:
    """One quantum per task: straight-line code, the calibration's certification for that exposure."""
    root, argv = demo
    argv[argv.index("-d") + 1] = "instrument='DemoCam' AND exposure = 20240101001 AND detector = 0"
    code, script, stderr = explain_quantum(argv)
    assert code == 0, stderr
    assert "\nfor " not in script
    assert ("defects = butler.get('defects', {'instrument': 'DemoCam', 'detector': 0, 'exposure': 20240101001}, "
            "collections=INPUTS)") in script
    assert ("certified in CALIBRATION DemoCam/calib for [2024-01-01T12:00:00, 2024-01-02T12:00:00), "
            "which covers exposure 20240101001") in script
    assert "inputExps = [\n    postISRCCD['DemoCam', 0, 20240101001],\n]" in script
    twin = command_on_twin(root, argv)
    outputs, _ = run_fresh(script, root.parent / "quantum.py")
    assert [name for name, _, _ in outputs] == ["postISRCCD", "bias"]
    assert_outputs_equal(outputs, twin, OUTPUT)


def test_demo_every_quantum_of_selected_task(demo, demo_template) -> None:
    """--select-tasks isr: the 15 quanta are one loop over their data IDs, within 40 lines of code."""
    root, argv = demo
    code, script, stderr = explain_quantum([*argv, "--select-tasks", "isr"])
    assert code == 0, stderr
    n = len(demo_template.exposures) * len(demo_template.detectors)
    assert n == 15
    assert script.count("task.run(") == 1 and "for detector, exposure in [" in script
    assert code_lines(script) <= 40, script
    assert "CombineBiasTask" not in script
    twin = command_on_twin(root, argv)
    outputs, _ = run_fresh(script, root.parent / "quantum.py")
    assert len(outputs) == n
    assert_outputs_equal(outputs, twin, OUTPUT)


def test_demo_after_the_command(demo) -> None:
    """With the command's outputs in the repo the script still runs; a batch reading them has a column of refs."""
    root, argv = demo
    result = harness.run_cli(argv, cwd=root.parent)
    assert result.returncode == 0, result.stderr
    harness.next_second()  # the script's graph gets a run of its own
    code, script, stderr = explain_quantum(argv)
    assert code == 0, stderr
    assert "# the collections the graph builder searched: the existing -o chain, read instead of -i" in script
    outputs, _ = run_fresh(script, root.parent / "quantum.py")
    assert len(outputs) == 6
    assert_outputs_equal(outputs, root, OUTPUT)
    # cpBiasCombine alone reads the stored postISRCCD: per detector, a list of refs in the table.
    code, script, stderr = explain_quantum([*argv, "--select-tasks", "cpBiasCombine"])
    assert code == 0, stderr
    assert "for detector, inputExps_ids in [" in script
    assert "inputExps = [butler.get('postISRCCD', ref_id, collections=INPUTS) for ref_id in inputExps_ids]" in script
    outputs, _ = run_fresh(script, root.parent / "quantum2.py")
    assert [name for name, _, _ in outputs] == ["bias"] * 3
    assert_outputs_equal(outputs, root, OUTPUT)


def test_add_pipeline(add_repo: AddRepo) -> None:
    """The test pipeline (three AddTasks, CHAINED input): on a fresh repo, intermediates from memory."""
    argv = ["run", "-b", add_repo.root, "-i", "test/chain", "-o", "out", "-p", add_repo.pipeline,
            "-c", "task1:addend=5", "--register-dataset-types"]
    code, script, stderr = explain_quantum(argv)
    assert code == 0, stderr
    assert script.count("task.run(input=input)") == 3  # detector 0's quanta
    assert "input = add_dataset1['INSTR', 0]" in script
    assert "config.addend=5" in script
    assert "# the collections the graph builder searched: -i" in script
    # Every quantum of the three tasks: a loop each, chained in memory.
    code, batch, stderr = explain_quantum([*argv, "--select-tasks", "task0 | task1 | task2"])
    assert code == 0, stderr
    assert batch.count("task.run(input=input)") == 3 and batch.count("for detector in [") == 3
    assert "    input = add_dataset1['INSTR', detector]" in batch
    twin = command_on_twin(add_repo.root, argv)
    outputs, _ = run_fresh(script, add_repo.root.parent / "quantum.py")
    assert len(outputs) == 6  # two outputs per task, for detector 0
    assert_outputs_equal(outputs, twin, "out")
    outputs, _ = run_fresh(batch, add_repo.root.parent / "batch.py")
    assert len(outputs) == 18  # two outputs per task and detector
    assert_outputs_equal(outputs, twin, "out")
    # Once the command has run on this repo too.
    result = harness.run_cli(argv, cwd=add_repo.root.parent)
    assert result.returncode == 0, result.stderr
    harness.next_second()  # the script's graph gets a run of its own
    code, script, stderr = explain_quantum(argv)
    assert code == 0, stderr
    outputs, _ = run_fresh(script, add_repo.root.parent / "quantum2.py")
    assert_outputs_equal(outputs, add_repo.root, "out")


def test_own_run_quantum_is_called_through_quantum_context(add_repo: AddRepo, tmp_path: Path) -> None:
    """A task with its own runQuantum: called through a QuantumContext, its in-memory inputs stored first,
    its outputs read back for the task below; one quantum, and every quantum of the three tasks."""
    from lsst.daf.butler import Butler

    batch_root = copy_repo(add_repo.root, tmp_path / "batch" / "repo")
    failing = harness.make_failing_pipeline(tmp_path / "fail.yaml")
    argv = ["-b", add_repo.root, "-i", "test/chain", "-o", "out", "-p", failing, "-d", "detector IN (0, 2)"]
    code, script, stderr = explain_quantum(["qgraph", *argv])
    assert code == 0, stderr
    assert "FailOnDetectorTask.runQuantum is its own: this task does more than fetch its inputs" in script
    assert "task.runQuantum(QuantumContext(write_butler, quantum), input_refs, output_refs)" in script
    assert "write_butler.put(add_dataset1['INSTR', 0], 'add_dataset1', {'instrument': 'INSTR', 'detector': 0})" in script
    batch_argv = ["qgraph", *argv, "--select-tasks", "task0 | task1 | task2"]
    batch_argv[batch_argv.index("-b") + 1] = batch_root
    code, batch, stderr = explain_quantum(batch_argv)
    assert code == 0, stderr
    assert batch.count("task.runQuantum(") == 2 and batch.count("runQuantum is its own") == 1
    assert "made above by task1, whose runQuantum stored it in OUTPUT_RUN, read back there" in batch
    twin = command_on_twin(add_repo.root, ["run", *argv, "--register-dataset-types"])
    outputs, constants = run_fresh(script, add_repo.root.parent / "quantum.py")
    assert [name for name, _, _ in outputs] == ["add_dataset1", "add2_dataset1", "add_dataset2", "add2_dataset2",
                                                "add_dataset3", "add2_dataset3"]
    assert_outputs_equal(outputs, twin, "out")
    outputs, _ = run_fresh(batch, batch_root.parent / "batch.py")
    assert len(outputs) == 12
    assert_outputs_equal(outputs, twin, "out")
    # runQuantum put its outputs in the run the graph was built for.
    with Butler.from_config(str(add_repo.root)) as butler, Butler.from_config(str(twin)) as command:
        for name in ("add_dataset2", "add2_dataset2"):
            np.testing.assert_array_equal(
                butler.get(name, instrument="INSTR", detector=0, collections=constants["OUTPUT_RUN"]),
                command.get(name, instrument="INSTR", detector=0, collections="out"),
            )


def test_bad_input(add_repo: AddRepo) -> None:
    """Empty graph: the query and collections named, as run says it; unknown label: exit 2; no writes."""
    before = repo_digest(add_repo.root)
    base = ["run", "-b", add_repo.root, "-i", "test/chain", "-o", "out", "-p", add_repo.pipeline]
    code, script, stderr = explain_quantum([*base, "-d", "detector = 7"])
    assert code == 1 and not script
    assert "-d/--data-query: no quanta: query 'detector = 7' selected no data in collections ['test/in']" in stderr
    code, script, stderr = explain_quantum([*base, "--select-tasks", "nosuch"])
    assert code == 2 and not script
    assert "--select-tasks: no task labelled 'nosuch' in the pipeline" in stderr
    code, _, stderr = explain_quantum(["build", "-p", add_repo.pipeline])
    assert code == 2 and "--explain=quantum" in stderr
    # What would write a file (or load a graph) is refused, naming the option.
    code, _, stderr = explain_quantum(["qgraph", *base[1:], "-q", add_repo.root.parent / "g.qg"])
    assert code == 2 and "-q/--save-qgraph is not taken" in stderr
    assert not (add_repo.root.parent / "g.qg").exists()
    assert repo_digest(add_repo.root) == before


def test_depth_as_a_separate_word(add_repo: AddRepo) -> None:
    """``--explain quantum run ...`` is ``--explain=quantum``; a bare ``--explain run`` the short form."""
    argv = ["run", "-b", add_repo.root, "-i", "test/chain", "-o", "out", "-p", add_repo.pipeline]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["--explain", "quantum", *map(str, argv)]) == 0
    assert "task.run(input=input)" in stdout.getvalue()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["--explain", *map(str, argv)]) == 0
    assert "SimplePipelineExecutor.prep_butler" in stdout.getvalue() and "task.run(" not in stdout.getvalue()
