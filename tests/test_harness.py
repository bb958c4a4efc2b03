"""Self-tests of the shared harness, using only the real ``pipetask``.

They prove that `harness.snapshot` is stable across two identical runs (so
any difference found later between ``pipetask`` and ``pipetask-lite`` is
real) and sensitive to a change in results.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import harness
import numpy as np
import pytest
import yaml
from harness import (
    TIMESTAMP_PLACEHOLDER,
    AddRepo,
    copy_repo,
    diff_snapshots,
    make_failing_pipeline,
    normalise_run_name,
    run_pipetask,
    snapshot,
)

OUT_RUN = f"out/{TIMESTAMP_PLACEHOLDER}"


def _run_ok(argv: list) -> subprocess.CompletedProcess[str]:
    result = run_pipetask(argv)
    assert result.returncode == 0, f"pipetask {argv} failed:\n{result.stderr[-4000:]}"
    return result


def _datasets(snap: dict, dataset_type: str) -> dict[int, dict]:
    """Map detector -> dataset entry for one dataset type."""
    return {d["data_id"]["detector"]: d for d in snap["datasets"] if d["dataset_type"] == dataset_type}


def test_normalise_run_name() -> None:
    assert normalise_run_name("out/20261126T053512Z") == OUT_RUN
    assert normalise_run_name("a/b/20261126T053512Z") == f"a/b/{TIMESTAMP_PLACEHOLDER}"
    # Only a trailing, complete timestamp component is replaced.
    assert normalise_run_name("out/20261126T053512Z/x") == "out/20261126T053512Z/x"
    assert normalise_run_name("out20261126T053512Z") == "out20261126T053512Z"
    assert normalise_run_name("test/in") == "test/in"


def test_make_add_repo(add_repo: AddRepo) -> None:
    snap = snapshot(add_repo.root)
    assert snap["collections"] == [
        {"name": "test/chain", "type": "CHAINED", "doc": "", "children": ["test/in"]},
        {"name": "test/in", "type": "RUN", "doc": ""},
    ]
    assert snap["dataset_types"] == [
        {"name": "add_dataset0", "dimensions": ["detector", "instrument"], "storage_class": "NumpyArray"}
    ]
    inputs = _datasets(snap, "add_dataset0")
    assert sorted(inputs) == list(add_repo.detectors) == [0, 1, 2]
    assert all(d["run"] == "test/in" for d in inputs.values())
    assert all(d["data_id"]["instrument"] == "INSTR" for d in inputs.values())
    # Distinct contents per detector, so a data-ID mix-up changes digests.
    assert len({d["digest"] for d in inputs.values()}) == len(inputs)

    pipeline = yaml.safe_load(add_repo.pipeline.read_text())
    assert list(pipeline["tasks"]) == ["task0", "task1", "task2"]
    assert pipeline["tasks"]["task1"]["config"] == {"connections.in_tmpl": "1", "connections.out_tmpl": "2"}
    assert pipeline["subsets"]["firstTwo"]["subset"] == ["task0", "task1"]

    # ignore_runs_prefix drops the run, its datasets and its chain entries.
    ignored = snapshot(add_repo.root, ignore_runs_prefix="test/in")
    assert [c["name"] for c in ignored["collections"]] == ["test/chain"]
    assert ignored["collections"][0]["children"] == []
    assert ignored["datasets"] == []


def test_make_add_repo_sizes(tmp_path) -> None:
    repo = harness.make_add_repo(tmp_path / "r", n_detectors=2, n_tasks=1, pipeline_dir=tmp_path / "p")
    assert repo.detectors == (0, 1)
    assert repo.pipeline == tmp_path / "p" / "pipeline_1.yaml"
    assert list(yaml.safe_load(repo.pipeline.read_text())["tasks"]) == ["task0"]
    assert sorted(_datasets(snapshot(repo.root), "add_dataset0")) == [0, 1]


def test_diff_snapshots_reports_changes() -> None:
    base = {
        "collections": [{"name": "c", "type": "RUN", "doc": ""}],
        "dataset_types": [],
        "datasets": [{"dataset_type": "x", "run": "c", "data_id": {"detector": 1}, "digest": "numpy:1"}],
    }
    assert diff_snapshots(base, base) == ""
    other = {
        **base,
        "datasets": [{"dataset_type": "x", "run": "c", "data_id": {"detector": 1}, "digest": "numpy:2"}],
    }
    diff = diff_snapshots(base, other, names=("pipetask", "lite"))
    assert "dataset differs: x@c(detector=1)" in diff
    assert "pipetask='numpy:1'" in diff and "lite='numpy:2'" in diff
    extra = {**base, "collections": [*base["collections"], {"name": "d", "type": "RUN", "doc": ""}]}
    assert "collection only in lite: d" in diff_snapshots(base, extra, names=("pipetask", "lite"))


def test_env_makes_test_modules_importable(tmp_path) -> None:
    # pipetask runs in a subprocess from an arbitrary cwd: failing_tasks must
    # still import from the PYTHONPATH given by env().
    result = subprocess.run(
        [sys.executable, "-c", "import failing_tasks, harness; print(failing_tasks.FailOnDetectorTask)"],
        cwd=tmp_path,
        env=harness.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "FailOnDetectorTask" in result.stdout


@pytest.mark.pipetask
def test_twin_runs_compare_equal(twin_repos: tuple[AddRepo, AddRepo], tmp_path) -> None:
    a, b = twin_repos
    # Third copy, made before any run, for the changed-config comparison.
    c = a.with_root(copy_repo(a.root, tmp_path / "twin_c"))
    common = ["-i", "test/in", "-o", "out", "-p", a.pipeline, "--register-dataset-types"]
    _run_ok(["run", "-b", a.root, *common])
    _run_ok(["run", "-b", b.root, *common])

    snap_a, snap_b = snapshot(a.root), snapshot(b.root)
    assert snap_a == snap_b, diff_snapshots(snap_a, snap_b)

    # The comparison is not vacuous: outputs exist, with real digests for
    # arrays and (stable) configs, and timestamped runs were normalised.
    out_chain = next(col for col in snap_a["collections"] if col["name"] == "out")
    assert out_chain == {"name": "out", "type": "CHAINED", "doc": "", "children": [OUT_RUN, "test/in"]}
    outputs = _datasets(snap_a, "add_dataset3")
    assert sorted(outputs) == [0, 1, 2]
    assert all(d["run"] == OUT_RUN and d["digest"].startswith("numpy:") for d in outputs.values())
    configs = [d for d in snap_a["datasets"] if d["dataset_type"].endswith("_config")]
    assert len(configs) == 3 and all(d["digest"].startswith("config:") for d in configs)
    assert all(d["digest"] is None for d in snap_a["datasets"] if d["dataset_type"].endswith("_metadata"))

    # A different config gives different results, and the diff says where.
    _run_ok(["run", "-b", c.root, *common, "-c", "task0:addend=5"])
    snap_c = snapshot(c.root)
    diff = diff_snapshots(snap_a, snap_c)
    assert diff
    assert f"dataset differs: add_dataset1@{OUT_RUN}(detector=0, instrument=INSTR)" in diff
    assert f"dataset differs: task0_config@{OUT_RUN}()" in diff
    # Same datasets exist; only contents differ.
    assert "only in" not in diff


@pytest.mark.pipetask
def test_failing_pipeline(add_repo: AddRepo, tmp_path) -> None:
    pipeline = make_failing_pipeline(tmp_path / "failing.yaml", fail_task=1, fail_detector=1)
    # Input through the CHAINED collection, to also record how pipetask
    # flattens it in the output chain.
    argv = ["run", "-b", add_repo.root, "-i", add_repo.chain, "-o", "out", "-p", pipeline]
    result = run_pipetask([*argv, "--register-dataset-types"])
    assert result.returncode != 0
    assert "deliberate failure for detector=1" in result.stderr

    snap = snapshot(add_repo.root)
    out_chain = next(col for col in snap["collections"] if col["name"] == "out")
    assert out_chain["children"] == [OUT_RUN, "test/in"]
    # task0 ran everywhere; task1 failed on detector 1 so task2 was skipped
    # there; detectors 0 and 2 ran to the end.
    assert sorted(_datasets(snap, "add_dataset1")) == [0, 1, 2]
    assert sorted(_datasets(snap, "add_dataset2")) == [0, 2]
    assert sorted(_datasets(snap, "add_dataset3")) == [0, 2]
    # The failed quantum still wrote its log, but no metadata.
    assert sorted(_datasets(snap, "task1_log")) == [0, 1, 2]
    assert sorted(_datasets(snap, "task1_metadata")) == [0, 2]

    # Detector 0's final output equals that of a clean run: each of the 3
    # tasks adds ``addend`` (3) once to ``add_dataset{N}``.
    from lsst.daf.butler import Butler

    with Butler.from_config(str(add_repo.root), collections="out") as butler:
        final = butler.get("add_dataset3", instrument="INSTR", detector=0)
    np.testing.assert_array_equal(final, harness.input_array(0) + 9)


@pytest.mark.parametrize("runner", [harness.run_cli, run_pipetask], ids=["pipetask-lite", "pipetask"])
def test_a_warm_interpreter_runs_a_command_as_a_new_one(add_repo: AddRepo, tmp_path, monkeypatch, runner) -> None:
    """`warm.run` (a fork of a server that has imported the stack) gives what a new interpreter gives."""
    argv = ["run", "-b", add_repo.root, "-i", "test/in", "-o", "out", "-p", tmp_path / "missing.yaml"]
    warm = runner(argv, cwd=tmp_path)
    monkeypatch.setenv("PIPETASK_LITE_TESTS_COLD", "1")
    cold = runner(argv, cwd=tmp_path)
    assert warm.returncode == cold.returncode != 0
    assert warm.stdout == cold.stdout
    if runner is harness.run_cli:
        assert warm.stderr == cold.stderr
    else:
        # pipetask's traceback: the warm one starts with the server's frames (warm.py, runpy).
        assert "Traceback" in warm.stderr and warm.stderr.splitlines()[-1] == cold.stderr.splitlines()[-1]


def test_a_warm_interpreter_times_out_as_subprocess_run(add_repo: AddRepo, tmp_path) -> None:
    argv = ["run", "-b", add_repo.root, "-i", "test/in", "-o", "out", "-p", add_repo.pipeline]
    with pytest.raises(subprocess.TimeoutExpired):
        harness.run_cli(argv, cwd=tmp_path, timeout=0.01)


def test_a_warm_stand_in_runs_the_console_script_as_it_runs(add_repo: AddRepo, tmp_path) -> None:
    """`harness.warm_pipetask_lite` (BPS's jobs find it on PATH) exits and prints as ``pipetask-lite`` does."""
    if os.environ.get("PIPETASK_LITE_TESTS_COLD"):
        pytest.skip("PIPETASK_LITE_TESTS_COLD is set: no warm interpreter to stand in for")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    environ = harness.env()
    assert harness.warm_pipetask_lite(bindir, environ)
    argv = ["run", "-b", str(add_repo.root), "-i", "test/in", "-o", "out", "-p", str(tmp_path / "missing.yaml")]
    real = str(Path(sys.executable).parent / "pipetask-lite")
    results = [subprocess.run([program, *argv], cwd=tmp_path, env=environ, capture_output=True, text=True,
                              timeout=120, check=False) for program in (str(bindir / "pipetask-lite"), real)]
    stand_in, cold = results
    assert stand_in.returncode == cold.returncode != 0, cold.stderr
    assert (stand_in.stdout, stand_in.stderr) == (cold.stdout, cold.stderr)
