"""Bad input: one line naming the option and value, the right exit code, no
traceback, and the repo exactly as it was."""

from __future__ import annotations

import pytest
from harness import call_main, diff_snapshots, one_error_line, run_argv, run_cli, snapshot


@pytest.mark.parametrize(
    "make_argv, exit_code, expected",
    [
        (
            lambda r: ["run", "-b", str(r.root / "nope"), "-i", "test/in", "-o", "out", "-p", str(r.pipeline)],
            1, ["-b/--butler-config", "no butler repo at", "nope"],
        ),
        (
            lambda r: run_argv(r)[:3] + ["-i", "no/such/collection", "-o", "out", "-p", str(r.pipeline)],
            1, ["-i/--input", "no collection named 'no/such/collection'"],
        ),
        (
            lambda r: run_argv(r)[:-1] + [str(r.root / "missing.yaml")],
            1, ["-p/--pipeline", "no such pipeline file", "missing.yaml"],
        ),
        (lambda r: run_argv(r, "-c", "addend=3"), 2, ["-c/--config", "LABEL:NAME=VALUE", "'addend=3'"]),
        (lambda r: run_argv(r, "-c", "task0:addend"), 2, ["-c/--config", "'task0:addend'"]),
        (
            lambda r: run_argv(r, "--register-dataset-types", "-c", "task9:addend=3"),
            1, ["-c/--config", "task9"],
        ),
        (
            lambda r: run_argv(r, "--register-dataset-types", "-c", "task0:nofield=3"),
            1, ["-c/--config", "nofield"],
        ),
        (
            lambda r: run_argv(r, "--register-dataset-types", "-c", "task0:addend=notanumber"),
            1, ["-c/--config", "addend"],
        ),
        (
            lambda r: run_argv(r, "--register-dataset-types", "-d", "detector = = 1"),
            1, ["-d/--data-query", "detector = = 1"],
        ),
        (
            lambda r: run_argv(r, "--register-dataset-types", "-d", "detector = 99"),
            1, ["-d/--data-query", "no quanta", "'detector = 99'", "['test/in']", "add_dataset0"],
        ),
        (lambda r: run_argv(r), 1, ["--register-dataset-types", "add_dataset1"]),
        (
            lambda r: run_argv(r, "--register-dataset-types", "--memory-per-quantum", "3XB"),
            1, ["--memory-per-quantum", "'3XB'"],
        ),
        (lambda r: run_argv(r, "--extend-run"), 1, ["--extend-run", "'out' does not exist"]),
    ],
    ids=[
        "missing-repo", "unknown-input", "missing-pipeline", "config-no-label", "config-no-equals",
        "unknown-label", "unknown-field", "bad-field-value", "unparsable-query", "empty-query",
        "unregistered-dataset-types", "bad-memory", "extend-missing-run",
    ],
)
def test_bad_input_leaves_repo_untouched(add_repo, make_argv, exit_code, expected):
    before = snapshot(add_repo.root)
    proc = call_main(make_argv(add_repo))  # in this process: nothing runs, no need for a new interpreter
    assert proc.returncode == exit_code, proc.stderr
    line = one_error_line(proc.stderr)
    for text in expected:
        assert text in line, line
    assert diff_snapshots(before, snapshot(add_repo.root), names=("before", "after")) == ""


def test_bad_input_in_a_process(add_repo):
    """The same as the in-process cases above, through ``python -m pipetask_lite``: the process's exit status."""
    before = snapshot(add_repo.root)
    proc = run_cli(run_argv(add_repo, "-c", "addend=3"))
    assert proc.returncode == 2, proc.stderr
    assert "-c/--config" in one_error_line(proc.stderr)
    proc = run_cli(run_argv(add_repo, "--register-dataset-types", "-d", "detector = 99"))
    assert proc.returncode == 1, proc.stderr
    assert "no quanta" in one_error_line(proc.stderr)
    assert diff_snapshots(before, snapshot(add_repo.root), names=("before", "after")) == ""


def test_existing_output_run_is_refused_without_writing(add_repo):
    first = run_cli(run_argv(add_repo, "--output-run", "out/run", "--register-dataset-types"))
    assert first.returncode == 0, first.stderr
    before = snapshot(add_repo.root)
    proc = run_cli(run_argv(add_repo, "--output-run", "out/run"))
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert "--output-run" in line and "'out/run' already exists" in line
    assert "--extend-run" in proc.stderr  # the hint says how to resume
    assert diff_snapshots(before, snapshot(add_repo.root)) == ""


def test_output_chain_with_other_inputs_is_refused(add_repo):
    first = run_cli(run_argv(add_repo, "--register-dataset-types"))
    assert first.returncode == 0, first.stderr
    before = snapshot(add_repo.root)
    proc = run_cli(["run", "-b", str(add_repo.root), "-i", add_repo.input_run + ",out", "-o", "out",
                    "-p", str(add_repo.pipeline)])
    assert proc.returncode == 1
    assert "-i/--input" in one_error_line(proc.stderr)
    assert diff_snapshots(before, snapshot(add_repo.root)) == ""


def test_traceback_flag_shows_the_traceback(add_repo):
    proc = run_cli(["--traceback", *run_argv(add_repo)[:-1], str(add_repo.root / "missing.yaml")])
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "FileNotFoundError" in proc.stderr


def test_failing_task_reports_which_quanta_failed_and_why(tmp_path, add_repo):
    from harness import make_failing_pipeline

    pipeline = make_failing_pipeline(tmp_path / "fail.yaml")
    proc = run_cli(["run", "-b", str(add_repo.root), "-i", add_repo.input_run, "-o", "out", "-p",
                    str(pipeline), "--register-dataset-types"])
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr  # the task's own, logged by the executor
    error = proc.stderr[proc.stderr.index("pipetask-lite run: error:"):]
    assert "1 of 9 quanta failed, 1 blocked" in error
    assert "task1@{instrument='INSTR', detector=1}: RuntimeError" in error
    assert "deliberate failure" in error
