"""Faults: partial outputs, pipe_base's quantum error exit codes, a locked
registry, and two runs at once on one repo."""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import subprocess
import threading
import time

import pytest
from harness import copy_repo, diff_snapshots, pipeline_with, run_cli, run_pipetask, snapshot, start_cli


def argv(repo, pipeline, *extra):
    return ["run", "-b", str(repo.root), "-i", repo.input_run, "-o", "out", "--output-run", "out/run",
            "-p", str(pipeline), "--register-dataset-types", *extra]


@pytest.mark.pipetask
@pytest.mark.parametrize("flag", ["--raise-on-partial-outputs", "--no-raise-on-partial-outputs"])
def test_partial_outputs_as_pipetask(tmp_path, twin_repos, flag):
    a, b = twin_repos
    pipeline = pipeline_with(tmp_path / "p.yaml", "failing_tasks.PartialOutputsTask", {"fail_detector": 1})
    theirs = run_pipetask(argv(a, pipeline, flag))
    ours = run_cli(argv(b, pipeline, flag))
    assert (theirs.returncode == 0) == (ours.returncode == 0), ours.stderr
    assert (ours.returncode == 0) == (flag == "--no-raise-on-partial-outputs")
    assert diff_snapshots(snapshot(a.root), snapshot(b.root), names=("pipetask", "lite")) == ""
    datasets = {(d["dataset_type"], d["data_id"].get("detector")) for d in snapshot(b.root)["datasets"]}
    assert ("add_dataset2", 1) in datasets and ("add2_dataset2", 1) not in datasets  # the partial write
    if ours.returncode:
        assert "task1@{instrument='INSTR', detector=1}" in ours.stderr


@pytest.mark.pipetask
@pytest.mark.parametrize("kind, code", [("repeatable", 20), ("invalid", 21)])
def test_quantum_error_exit_codes_as_pipetask(tmp_path, twin_repos, kind, code):
    """pipetask's batch exit codes: 20 (repeatable) with --fail-fast, 21 (invalid) always."""
    a, b = twin_repos
    pipeline = pipeline_with(tmp_path / "p.yaml", "failing_tasks.QuantumErrorTask",
                             {"fail_detector": 0, "kind": kind})
    theirs = run_pipetask(argv(a, pipeline, "--fail-fast"))
    ours = run_cli(argv(b, pipeline, "--fail-fast"))
    assert theirs.returncode == code
    assert ours.returncode == code, ours.stderr
    assert diff_snapshots(snapshot(a.root), snapshot(b.root), names=("pipetask", "lite")) == ""


def test_waits_for_a_registry_locked_by_another_writer(add_repo):
    database = next(add_repo.root.glob("gen3.sqlite*"))
    locked = threading.Event()

    def hold_lock():
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(4)
        connection.execute("COMMIT")
        connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait()
    proc = run_cli(argv(add_repo, add_repo.pipeline))
    holder.join()
    assert proc.returncode == 0, proc.stderr
    assert len([d for d in snapshot(add_repo.root)["datasets"] if d["dataset_type"] == "add_dataset3"]) == 3


def test_two_runs_at_once_give_what_one_after_the_other_gives(tmp_path, twin_repos):
    a, b = twin_repos

    def command(repo, output):
        return ["run", "-b", str(repo.root), "-i", "test/in", "-o", output, "--output-run", f"{output}/run",
                "-p", str(repo.pipeline), "--register-dataset-types"]

    logs = {name: tmp_path / f"{name}.log" for name in ("first", "second")}
    together = {}
    for name, log in logs.items():
        with log.open("w") as stderr:
            together[name] = start_cli(command(a, name), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=stderr)
    for name, proc in together.items():
        assert proc.wait(timeout=300) == 0, logs[name].read_text()
    for name in ("first", "second"):
        proc = run_cli(command(b, name))
        assert proc.returncode == 0, proc.stderr
    assert diff_snapshots(snapshot(a.root), snapshot(b.root), names=("together", "in turn")) == ""


@pytest.mark.sigkill
@pytest.mark.parametrize("how, code", [("kill", -signal.SIGKILL), ("exit", 3)])
def test_a_task_that_ends_the_process_at_j1_is_named_and_the_run_resumes(tmp_path, twin_repos, how, code):
    """-j 1 runs quanta in the command's own process: a watcher names the quantum and the resume command."""
    a, b = twin_repos
    once = tmp_path / "died-once"
    pipeline = pipeline_with(tmp_path / "p.yaml", "failing_tasks.ExitOnDetectorTask",
                             {"fail_detector": 1, "how": how, "once_file": str(once)})
    command = ["-i", a.input_run, "-o", "out", "-p", str(pipeline), "--register-dataset-types"]
    died = run_cli(["run", "-b", str(a.root), *command])
    assert died.returncode == code, died.stderr
    assert "the process ended while running quantum task1@{instrument: 'INSTR', detector: 1}" in died.stderr
    assert "quanta had finished (0 failed), their outputs are in the repo" in died.stderr
    # task0 on the same detector ran before: its output stays, as a file (it
    # is registered in the next batch, or, as here, written again by the resume).
    assert list(a.root.glob("out/*/add_dataset1/add_dataset1_INSTR_det1_*")), "task0's output is gone"
    line = next(line for line in died.stderr.splitlines() if line.startswith("to resume: "))
    resume = shlex.split(line.removeprefix("to resume: "))
    assert resume[0] == "pipetask-lite" and "--clobber-outputs" in resume
    resumed = run_cli(resume[1:])
    assert resumed.returncode == 0, resumed.stderr
    uninterrupted = run_cli(["run", "-b", str(b.root), *command])  # the once-file exists now
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    assert diff_snapshots(snapshot(b.root), snapshot(a.root), names=("uninterrupted", "resumed")) == ""


def test_a_run_that_ends_normally_leaves_the_watcher_silent(add_repo):
    proc = run_cli(["run", "-b", str(add_repo.root), "-i", add_repo.input_run, "-o", "out", "-p",
                    str(add_repo.pipeline), "--register-dataset-types", "-j", "1"])
    assert proc.returncode == 0, proc.stderr
    assert "the process ended" not in proc.stderr and "to resume" not in proc.stderr


def test_a_watcher_that_is_gone_does_not_fail_the_run():
    from pipetask_lite._execution.watch import Watcher

    watcher = Watcher("pipetask-lite run ...")
    watcher._process.kill()  # as a kill of the whole process group would
    watcher._process.wait()
    for _ in range(3):
        watcher.started("task0@{detector: 0}")
        watcher.ended(ok=True)
    watcher.done()


def test_the_watchers_resume_command_hides_credentials(tmp_path, add_repo):
    secret = "s3cr3t-Pa55"
    repo = copy_repo(add_repo.root, tmp_path / f"password={secret}" / "repo")
    pipeline = pipeline_with(tmp_path / "p.yaml", "failing_tasks.ExitOnDetectorTask", {"fail_detector": 1})
    died = run_cli(["run", "-b", str(repo), "-i", add_repo.input_run, "-o", "out", "-p", str(pipeline),
                    "--register-dataset-types"])
    assert died.returncode == -signal.SIGKILL, died.stderr
    assert "to resume: " in died.stderr and "password=***" in died.stderr
    assert secret not in died.stderr


def test_a_watcher_that_falls_behind_stays_silent(capfd):
    """A full pipe (the watcher not scheduled for a while) loses messages, not the watcher: no false report."""
    from pipetask_lite._execution.watch import Watcher

    watcher = Watcher("pipetask-lite run ...")
    os.kill(watcher._process.pid, signal.SIGSTOP)
    try:
        for detector in range(5000):  # far more than a pipe holds
            watcher.started(f"task0@{{detector: {detector}}}")
            watcher.ended(ok=True)
    finally:
        os.kill(watcher._process.pid, signal.SIGCONT)
    watcher.done()
    assert watcher._process.wait(timeout=10) == 0
    assert "the process ended" not in capfd.readouterr().err
