"""The Python API: pipetask_lite.run(...) is what the command line calls."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import numpy as np
import pytest
from harness import diff_snapshots, env, input_array, make_failing_pipeline, run_cli, snapshot

import pipetask_lite


def test_run_returns_a_result_and_writes_what_the_cli_writes(twin_repos):
    a, b = twin_repos
    result = pipetask_lite.run(
        butler_config=str(a.root),
        input=[a.chain],
        output="out",
        output_run="out/run",
        pipeline=f"{a.pipeline}#firstTwo",
        pipeline_actions=[("config", "task0:addend=5"), pipetask_lite.PipelineAction("config", "task1", "addend=7")],
        data_query="detector IN (0, 2)",
        register_dataset_types=True,
    )
    assert result.output == "out" and result.output_run == "out/run"
    assert result.n_quanta == 4 and len(result.succeeded) == 4 and not result.failed and not result.blocked
    assert set(result.quantum_graph.quanta_by_task) == {"task0", "task1"}

    from lsst.daf.butler import Butler

    with Butler.from_config(str(a.root), collections="out") as butler:
        value = butler.get("add_dataset2", instrument="INSTR", detector=2)
    np.testing.assert_array_equal(value, input_array(2) + 5 + 7)

    proc = run_cli(
        ["run", "-b", str(b.root), "-i", b.chain, "-o", "out", "--output-run", "out/run",
         "-p", f"{b.pipeline}#firstTwo", "-c", "task0:addend=5", "-c", "task1:addend=7",
         "-d", "detector IN (0, 2)", "--register-dataset-types"]
    )
    assert proc.returncode == 0, proc.stderr
    assert diff_snapshots(snapshot(a.root), snapshot(b.root), names=("python", "cli")) == ""


def test_failed_quanta_raise_with_the_result_attached(tmp_path, add_repo):
    pipeline = make_failing_pipeline(tmp_path / "fail.yaml")
    with pytest.raises(pipetask_lite.QuantaFailedError) as info:
        pipetask_lite.run(
            butler_config=str(add_repo.root), input=[add_repo.input_run], output_run="run",
            pipeline=str(pipeline), register_dataset_types=True,
        )
    result = info.value.result
    assert [r.taskLabel for r in result.failed] == ["task1"]
    assert result.failed[0].dataId["detector"] == 1
    assert "deliberate failure" in result.failed[0].exceptionInfo.message
    assert [r.taskLabel for r in result.blocked] == ["task2"]
    assert len(result.succeeded) == 7


def test_init_only_writes_init_outputs_and_runs_nothing(add_repo):
    result = pipetask_lite.run(
        butler_config=str(add_repo.root), input=[add_repo.input_run], output="out",
        pipeline=str(add_repo.pipeline), register_dataset_types=True, init_only=True,
    )
    assert result.report is None and not result.succeeded
    types = {d["dataset_type"] for d in snapshot(add_repo.root)["datasets"]}
    assert {"task0_config", "add_init_output1", "packages"} <= types
    assert "add_dataset1" not in types


def test_python_pairs_are_checked_like_the_command_line(add_repo):
    with pytest.raises(pipetask_lite.UsageError, match="LABEL:NAME=VALUE"):
        pipetask_lite.run(
            butler_config=str(add_repo.root), input=[add_repo.input_run], output="out",
            pipeline=str(add_repo.pipeline), pipeline_actions=[("config", "addend=5")],
        )


def run_in_terminal(argv: list[str]) -> tuple[int, str]:
    """Run pipetask-lite with stderr and stdout on a pseudo-terminal; return (exit code, output)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipetask_lite", *argv], stdout=follower, stderr=follower,
        env=env({"COLUMNS": "100"}),
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks).decode(errors="replace")


def test_progress_bar_on_a_terminal_and_log_lines_elsewhere(twin_repos):
    a, b = twin_repos
    code, screen = run_in_terminal(
        ["run", "-b", str(a.root), "-i", a.input_run, "-o", "out", "-p", str(a.pipeline),
         "--register-dataset-types"]
    )
    assert code == 0, screen
    assert "9/9" in screen and "0 failed" in screen  # rich's M/N column and the failure count
    assert "Executed 9 quanta successfully" not in screen  # the bar replaces the log line

    piped = run_cli(["run", "-b", str(b.root), "-i", b.input_run, "-o", "out", "-p", str(b.pipeline),
                     "--register-dataset-types"])
    assert piped.returncode == 0
    assert "Executed 9 quanta successfully, 0 failed and 0 remain" in piped.stderr
    assert "9/9" not in piped.stderr


def test_no_log_tty_prints_nothing_extra(add_repo):
    code, screen = run_in_terminal(
        ["--no-log-tty", "run", "-b", str(add_repo.root), "-i", add_repo.input_run, "-o", "out",
         "-p", str(add_repo.pipeline), "--register-dataset-types"]
    )
    assert code == 0
    assert "9/9" not in screen and "Executed" not in screen


@pytest.mark.parametrize("keywords, option", [
    ({"processes": 0}, "-j/--processes"),
    ({"cores_per_quantum": 0}, "-n/--cores-per-quantum"),
    ({"timeout": -1}, "--timeout"),
    ({"start_method": "thread"}, "--start-method"),
])
def test_run_qbb_checks_execution_options_as_run_does(tmp_path, keywords, option):
    """run_qbb(processes=0) is refused, as run(processes=0) is (one check: ExecutionOptions), before any file is read."""
    with pytest.raises(pipetask_lite.UsageError, match=f"^{option}: "):
        pipetask_lite.run_qbb(repo=str(tmp_path / "no-repo"), qgraph=str(tmp_path / "g.qg"), **keywords)
    with pytest.raises(pipetask_lite.UsageError, match=rf"\({option}\): "):
        pipetask_lite.run(butler_config=str(tmp_path / "no-repo"), output="out", pipeline="p.yaml", **keywords)
