"""Ctrl-C and SIGTERM: stop cleanly, say how to resume, and the resumed run
equals one uninterrupted run."""

from __future__ import annotations

import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from harness import copy_repo, diff_snapshots, pipeline_with, run_cli, snapshot, start_cli

pytestmark = [pytest.mark.sigkill]  # slow too (conftest.py)


def start(argv, log):
    """Start pipetask-lite in the background with stderr going to ``log``."""
    with log.open("w") as stderr:
        return start_cli(argv, stdout=subprocess.DEVNULL, stderr=stderr)


def wait_for(log, text, timeout=120.0):
    """Wait until ``text`` appears in the log file."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)


def resume(log) -> subprocess.CompletedProcess:
    """Run the command the interrupted run printed after 'to resume:'."""
    line = next(line for line in log.read_text().splitlines() if line.startswith("to resume: "))
    words = shlex.split(line.removeprefix("to resume: "))
    assert words[0] == "pipetask-lite"
    return run_cli(words[1:])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, _template_add_repo):
    """A pipeline whose quanta take a while, and the snapshot of its uninterrupted run (once: ~5 s)."""
    base = tmp_path_factory.mktemp("interrupt")
    pipeline = pipeline_with(base / "p.yaml", "failing_tasks.SleepTask", {"seconds": 1.0})
    reference = copy_repo(_template_add_repo.root, base / "reference")
    done = run_cli(["run", "-b", str(reference), "-i", "test/in", "-o", "out", "-p", str(pipeline),
                    "--register-dataset-types"])
    assert done.returncode == 0, done.stderr
    return pipeline, snapshot(reference)


@pytest.fixture
def sleepy(add_repo, uninterrupted):
    """A repo, a pipeline whose quanta take a while, and the snapshot of an uninterrupted run."""
    pipeline, reference = uninterrupted
    return add_repo, pipeline, reference


@pytest.mark.parametrize(
    "processes, signals, code",
    [("1", [signal.SIGINT], 130), ("2", [signal.SIGINT], 130), ("1", [signal.SIGTERM], 143),
     ("2", [signal.SIGINT, signal.SIGINT], 130), ("1", [signal.SIGTERM, signal.SIGTERM], 143)],
    ids=["j1-ctrl-c", "j2-ctrl-c", "j1-sigterm", "j2-twice", "j1-sigterm-twice"],
)
def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, sleepy, processes, signals, code):
    repo, pipeline, reference = sleepy
    log = tmp_path / "log"
    proc = start(["run", "-b", str(repo.root), "-i", "test/in", "-o", "out", "-p", str(pipeline),
                  "--register-dataset-types", "-j", processes], log)
    wait_for(log, "Executed 2 quanta successfully")
    for signum in signals:
        proc.send_signal(signum)
        time.sleep(0.3)
    assert proc.wait(timeout=60) == code
    text = log.read_text()
    assert "quanta finished, their outputs are in 'out/" in text
    if len(signals) == 1:
        assert "--clobber-outputs" not in text  # a single signal never cuts a quantum short
    assert "Traceback" not in text
    resumed = resume(log)
    assert resumed.returncode == 0, resumed.stderr
    assert diff_snapshots(reference, snapshot(repo.root), names=("uninterrupted", "resumed")) == ""


def test_interrupt_while_building_the_graph_writes_nothing(tmp_path, add_repo):
    pipeline = pipeline_with(tmp_path / "p.yaml", "failing_tasks.SlowBuildTask", {})
    before = snapshot(add_repo.root)
    log = tmp_path / "log"
    proc = start(["run", "-b", str(add_repo.root), "-i", "test/in", "-o", "out", "-p", str(pipeline),
                  "--register-dataset-types"], log)
    wait_for(log, "Processing pipeline subgraph")
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=60)
    text = log.read_text()
    assert code == 130, text
    assert "interrupted before anything was written to the repo" in text
    assert diff_snapshots(before, snapshot(add_repo.root)) == ""


@pytest.mark.parametrize("processes", ["1", "2"])
def test_sigkill_leaves_a_usable_repo_that_the_resume_command_completes(tmp_path, sleepy, processes):
    """No chance to clean up: the documented resume (--extend-run --skip-existing --clobber-outputs) finishes."""
    repo, pipeline, reference = sleepy
    log = tmp_path / "log"
    command = ["run", "-b", str(repo.root), "-i", "test/in", "-o", "out", "-p", str(pipeline),
               "--register-dataset-types", "-j", processes]
    proc = start(command, log)
    wait_for(log, "Executed 3 quanta successfully")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    if processes == "1":
        # Its watcher survives it and says how to resume.
        wait_for(log, "to resume: ")
        assert "pipetask-lite run: the process ended " in log.read_text()
        resumed = resume(log)
    else:
        resumed = run_cli([*command, "--extend-run", "--skip-existing", "--clobber-outputs"])
    assert resumed.returncode == 0, resumed.stderr
    assert diff_snapshots(reference, snapshot(repo.root), names=("uninterrupted", "resumed")) == ""


def test_interrupt_while_writing_init_outputs_resumes(tmp_path, add_repo):
    marker = tmp_path / "slow"
    pipeline = pipeline_with(tmp_path / "p.yaml", "failing_tasks.SlowInitTask", {"sleep_file": str(marker)})
    reference = copy_repo(add_repo.root, tmp_path / "reference")
    command = ["run", "-i", "test/in", "-o", "out", "-p", str(pipeline), "--register-dataset-types"]
    assert run_cli([command[0], "-b", str(reference), *command[1:]]).returncode == 0
    marker.touch()
    log = tmp_path / "log"
    proc = start([command[0], "-b", str(add_repo.root), *command[1:]], log)
    wait_for(log, "constructing slowly")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    text = log.read_text()
    assert "interrupted while writing init-outputs; no quantum ran" in text and "Traceback" not in text
    marker.unlink()
    resumed = resume(log)
    assert resumed.returncode == 0, resumed.stderr
    assert diff_snapshots(snapshot(reference), snapshot(add_repo.root), names=("uninterrupted", "resumed")) == ""


def _descendants(pid: int) -> set[int]:
    """Processes started by ``pid``, their children and so on (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_do_not_outlive_a_killed_command(tmp_path, sleepy):
    """SIGKILL gives the command no chance to stop its workers; they notice and go too."""
    repo, pipeline, _ = sleepy
    log = tmp_path / "log"
    proc = start(["run", "-b", str(repo.root), "-i", "test/in", "-o", "out", "-p", str(pipeline),
                  "--register-dataset-types", "-j", "2"], log)
    wait_for(log, "Executed 1 quanta successfully")
    helpers = _descendants(proc.pid)
    assert len(helpers) >= 3  # forkserver, two workers (and a resource tracker)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 20
    while (alive := {pid for pid in helpers if _running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive, f"still running after the command was killed: {alive}"
