"""``--explain=quantum``: the task's own call for one quantum, on in-memory inputs.

Round trips: the script ``--explain=quantum`` prints for a repo is run (in
this process, with `runpy`) after the command itself has run on that repo;
every object it computes with ``task.run(...)`` must equal the dataset the
pipeline stored for the same dataset type and data ID (array equality).  The
demo's calibration lookup is shown as the graph builder did it.  Bad input:
an empty graph is refused as by ``run``, an unknown ``--select-tasks`` label
is a usage error, and the repo's files are left byte for byte as they were.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import runpy
from pathlib import Path

import harness
import numpy as np
import pytest
from harness import AddRepo, copy_repo

from pipetask_lite.cli import main

OUTPUT = "DemoCam/calib/bias"


def explain_quantum(argv: list) -> tuple[int, str, str]:
    """``pipetask-lite --explain=quantum ARGV`` in this process: exit code, stdout, stderr."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--explain=quantum", *map(str, argv)])
    return code, stdout.getvalue(), stderr.getvalue()


def digest(root: Path) -> str:
    """A digest of every file of a repo (names and bytes)."""
    sha = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        sha.update(str(path.relative_to(root)).encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_script(script: str, path: Path) -> list:
    """Run the script (cwd: its directory); return its ``outputs``."""
    path.write_text(script)
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        namespace = runpy.run_path(str(path), run_name="__main__")
    finally:
        os.chdir(cwd)
    namespace["butler"].close()
    return namespace["outputs"]


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

    return make_demo_repo(tmp_path_factory.mktemp("demo") / "repo", n_exposures=3)


@pytest.fixture
def demo(tmp_path: Path, demo_template):
    from pipetask_lite.demo.runner import run_args

    root = copy_repo(demo_template.root, tmp_path / "repo")
    argv = run_args(demo_template)
    argv[argv.index("-b") + 1] = str(root)
    return root, argv


def test_demo_one_quantum_per_task(demo) -> None:
    """One isr and one cpBiasCombine quantum: the calibration found as the builder found it; outputs equal."""
    root, argv = demo
    before = digest(root)
    code, script, stderr = explain_quantum(argv)
    assert code == 0, stderr
    assert digest(root) == before, "--explain=quantum wrote to the repo"
    compile(script, "quantum.py", "exec")
    assert script.count("task.run(") == 2
    assert "result = task.run(ccdExposure=ccdExposure, defects=defects)" in script
    assert "result = task.run(inputExps=inputExps)" in script
    assert "config.overscan.fitType='MEDIAN_PER_ROW'" in script  # -c, on top of the pipeline's MEAN
    assert "found in RUN DemoCam/raw/all" in script
    assert ("certified in CALIBRATION DemoCam/calib for [2024-01-01T12:00:00, 2024-01-02T12:00:00), "
            "which covers exposure 20240101001") in script
    assert "lsst.ctrl.mpexec" not in script and "pipetask_lite._" not in script
    result = harness.run_cli(argv, cwd=root.parent)
    assert result.returncode == 0, result.stderr
    outputs = run_script(script, root.parent / "quantum.py")
    assert {name for name, _, _ in outputs} == {"postISRCCD", "bias"}
    assert_outputs_equal(outputs, root, OUTPUT)


def test_demo_every_quantum_of_selected_task(demo, demo_template) -> None:
    root, argv = demo
    code, script, stderr = explain_quantum([*argv, "--select-tasks", "isr"])
    assert code == 0, stderr
    assert script.count("task.run(") == len(demo_template.exposures) * len(demo_template.detectors)
    assert "CombineBiasTask" not in script
    result = harness.run_cli(argv, cwd=root.parent)
    assert result.returncode == 0, result.stderr
    assert_outputs_equal(run_script(script, root.parent / "quantum.py"), root, OUTPUT)


def test_add_pipeline(add_repo: AddRepo) -> None:
    """The test pipeline (three AddTasks, CHAINED input): intermediates read from -o once the command ran."""
    argv = ["run", "-b", add_repo.root, "-i", "test/chain", "-o", "out", "-p", add_repo.pipeline,
            "-c", "task1:addend=5", "--register-dataset-types"]
    code, script, stderr = explain_quantum(argv)
    assert code == 0, stderr
    assert script.count("task.run(input=input)") == 3
    assert "config.addend=5" in script
    result = harness.run_cli(argv, cwd=add_repo.root.parent)
    assert result.returncode == 0, result.stderr
    outputs = run_script(script, add_repo.root.parent / "quantum.py")
    assert len(outputs) == 6  # two outputs per task
    assert_outputs_equal(outputs, add_repo.root, "out")


def test_own_run_quantum_is_called_through_quantum_context(add_repo: AddRepo, tmp_path: Path) -> None:
    """A task with its own runQuantum: the script says so and calls it through a QuantumContext."""
    from lsst.daf.butler import Butler

    failing = harness.make_failing_pipeline(tmp_path / "fail.yaml")
    argv = ["-b", add_repo.root, "-i", "test/chain", "-o", "out", "-p", failing, "-d", "detector = 0"]
    code, script, stderr = explain_quantum(["qgraph", *argv])
    assert code == 0, stderr
    assert "FailOnDetectorTask.runQuantum is its own: this task does more than fetch its inputs" in script
    assert "task.runQuantum(QuantumContext(write_butler, quantum), input_refs, output_refs)" in script
    result = harness.run_cli(["run", *argv, "--register-dataset-types"], cwd=add_repo.root.parent)
    assert result.returncode == 0, result.stderr
    namespace = runpy.run_path(str(_write(add_repo.root.parent / "quantum.py", script)))
    namespace["butler"].close()
    namespace["write_butler"].close()
    # runQuantum put its outputs in the run the graph was built for; the command's are in -o.
    with Butler.from_config(str(add_repo.root)) as butler:
        for name in ("add_dataset2", "add2_dataset2"):
            np.testing.assert_array_equal(
                butler.get(name, instrument="INSTR", detector=0, collections=namespace["OUTPUT_RUN"]),
                butler.get(name, instrument="INSTR", detector=0, collections="out"),
            )


def test_bad_input(add_repo: AddRepo) -> None:
    """Empty graph: the query and collections named, as run says it; unknown label: exit 2; no writes."""
    before = digest(add_repo.root)
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
    assert digest(add_repo.root) == before


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
