"""SIGKILL at any point of a run, then the resume command: the repo equals an uninterrupted run's.

A SIGKILL (or the out-of-memory killer, or a power cut) gives the command no
chance to clean up, so whatever it had written is what the resume finds: a
half-written init-output, a quantum's outputs without its metadata, or its
metadata without its log (pipe_base writes them in that order).  Each case
here kills the command as soon as the output run holds N files, for every N
up to 20 at ``-j 1`` and every third N at ``-j 2``, then runs the command that
resumes it: the one the ``-j 1`` watcher printed, else the documented
``--extend-run --skip-existing --clobber-outputs``.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time

import pytest
from harness import copy_repo, diff_snapshots, pipeline_with, run_cli, snapshot, start_cli

pytestmark = [pytest.mark.sigkill]  # slow too (conftest.py)

RUN = "out/run"
KILL_POINTS = [("1", n) for n in range(1, 21)] + [("2", n) for n in range(1, 21, 3)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, _template_add_repo):
    """A pipeline whose middle task sleeps (so the run cannot end before the kill), and the run's snapshot."""
    base = tmp_path_factory.mktemp("sigkill")
    pipeline = pipeline_with(base / "p.yaml", "failing_tasks.SleepTask", {"seconds": 0.3})
    reference = copy_repo(_template_add_repo.root, base / "reference")
    done = run_cli(command(reference, pipeline, "1"))
    assert done.returncode == 0, done.stderr
    return pipeline, snapshot(reference), count_files(reference / RUN)


def command(root, pipeline, processes: str) -> list[str]:
    return ["run", "-b", str(root), "-i", "test/in", "-o", "out", "--output-run", RUN, "-p", str(pipeline),
            "--register-dataset-types", "-j", processes]


def watcher_lines(log, patience: float = 0.5) -> list[str]:
    """The ``to resume:`` lines in ``log``, waiting up to ``patience`` s for one.

    At ``-j 1`` (only) a watcher outlives the command once quanta run, and prints
    the resume command as the pipe from the killed command closes; killed
    before the first quantum, the command leaves no one to print it.
    """
    deadline = time.monotonic() + patience
    while True:
        lines = log.read_text().splitlines(keepends=True)
        printed = [line.rstrip("\n") for line in lines if line.startswith("to resume: ") and line.endswith("\n")]
        if printed or time.monotonic() > deadline:
            return printed
        time.sleep(0.01)


def count_files(directory) -> int:
    return sum(len(files) for _, _, files in os.walk(directory))


@pytest.mark.parametrize("processes, n_files", KILL_POINTS, ids=[f"j{p}-after-{n}-files" for p, n in KILL_POINTS])
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, _template_add_repo, uninterrupted, processes,
                                                         n_files):
    pipeline, reference, total = uninterrupted
    assert n_files < total - 8  # the sleeping task keeps the kill before the end
    root = copy_repo(_template_add_repo.root, tmp_path / "repo")
    log = tmp_path / "log"
    argv = command(root, pipeline, processes)
    with log.open("w") as stderr:
        proc = start_cli(argv, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 120
        while count_files(root / RUN) < n_files and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL, log.read_text()
    printed = watcher_lines(log) if processes == "1" else []  # -j N starts no watcher
    if printed:
        words = shlex.split(printed[0].removeprefix("to resume: "))
        assert words[0] == "pipetask-lite"
        resume = words[1:]
    else:
        resume = [*argv, "--extend-run", "--skip-existing", "--clobber-outputs"]
    resumed = run_cli(resume)
    assert resumed.returncode == 0, resumed.stderr
    assert diff_snapshots(reference, snapshot(root), names=("uninterrupted", "resumed")) == ""


def _cut_short(root) -> None:
    """Leave the state of a kill between a quantum's metadata and its log: remove one log dataset."""
    from lsst.daf.butler import Butler

    with Butler.from_config(str(root), writeable=True) as butler:
        (ref,) = butler.query_datasets("task0_log", collections=RUN, data_id={"instrument": "INSTR", "detector": 1},
                                     explain=False)
        butler.pruneDatasets([ref], disassociate=True, unstore=True, purge=True)


def test_a_quantum_cut_after_its_metadata_is_run_again(tmp_path, _template_add_repo, uninterrupted):
    """The window found by killing at many points, made deterministic; pipetask loses that log for good."""
    pipeline, reference, _ = uninterrupted
    root = copy_repo(_template_add_repo.root, tmp_path / "repo")
    argv = command(root, pipeline, "1")
    assert run_cli(argv).returncode == 0
    _cut_short(root)
    before = snapshot(root)
    refused = run_cli([*argv, "--extend-run", "--skip-existing"])
    assert refused.returncode == 1
    assert "pipetask-lite run: error: --extend-run: 1 quanta of run 'out/run' were cut short" in refused.stderr
    assert "task0@{instrument='INSTR', detector=1}" in refused.stderr
    assert "hint: add --clobber-outputs to run them again" in refused.stderr
    assert diff_snapshots(before, snapshot(root)) == ""
    resumed = run_cli([*argv, "--extend-run", "--skip-existing", "--clobber-outputs"])
    assert resumed.returncode == 0, resumed.stderr
    assert "Running 1 quanta again that were cut short" in resumed.stderr
    assert diff_snapshots(reference, snapshot(root), names=("uninterrupted", "resumed")) == ""


def test_a_cut_quantum_of_a_saved_graph_is_run_again(tmp_path, _template_add_repo, uninterrupted):
    """``run -g``: the executor would skip the quantum (its metadata exists) and the log stay lost."""
    pipeline, reference, _ = uninterrupted
    root = copy_repo(_template_add_repo.root, tmp_path / "repo")
    graph = tmp_path / "graph.qg"
    built = run_cli(["qgraph", "-b", str(root), "-i", "test/in", "-o", "out", "--output-run", RUN, "-p",
                     str(pipeline), "-q", str(graph)])
    assert built.returncode == 0, built.stderr
    argv = ["run", "-b", str(root), "-i", "test/in", "-o", "out", "-g", str(graph), "--register-dataset-types"]
    assert run_cli(argv).returncode == 0
    _cut_short(root)
    resumed = run_cli([*argv, "--extend-run", "--skip-existing", "--clobber-outputs"])
    assert resumed.returncode == 0, resumed.stderr
    assert "Running 1 quanta again that were cut short" in resumed.stderr
    assert diff_snapshots(reference, snapshot(root), names=("uninterrupted", "resumed")) == ""
