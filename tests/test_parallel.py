"""``-j N`` on long-lived workers: the same outputs as ``-j 1``, failures,
dying workers, timeouts and resources.  Timing is in bench/, not here."""

from __future__ import annotations

import json

import pytest
from harness import diff_snapshots, make_failing_pipeline, pipeline_with, run_cli, snapshot


def argv(repo, pipeline, *extra):
    return ["run", "-b", str(repo.root), "-i", repo.input_run, "-o", "out", "--output-run", "out/run",
            "-p", str(pipeline), "--register-dataset-types", *extra]


def test_j2_writes_what_j1_writes(twin_repos):
    a, b = twin_repos
    one = run_cli(argv(a, a.pipeline, "-j", "1"))
    two = run_cli(argv(b, b.pipeline, "-j", "2"))
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    assert diff_snapshots(snapshot(a.root), snapshot(b.root), names=("-j 1", "-j 2")) == ""


def test_j2_with_a_failing_task_writes_what_j1_writes(tmp_path, twin_repos):
    a, b = twin_repos
    pipeline = make_failing_pipeline(tmp_path / "fail.yaml")
    one = run_cli(argv(a, pipeline, "-j", "1", "--summary", str(tmp_path / "one.json")))
    two = run_cli(argv(b, pipeline, "-j", "2", "--summary", str(tmp_path / "two.json")))
    assert one.returncode == two.returncode == 1
    assert "task1@{instrument='INSTR', detector=1}: RuntimeError" in two.stderr
    assert diff_snapshots(snapshot(a.root), snapshot(b.root), names=("-j 1", "-j 2")) == ""

    def statuses(name):
        report = json.loads((tmp_path / name).read_text())
        return sorted((q["taskLabel"], q["dataId"]["detector"], q["status"]) for q in report["quantaReports"])

    assert statuses("one.json") == statuses("two.json")
    assert len(statuses("two.json")) == 9  # every quantum is reported


def test_fail_fast_stops_submitting(tmp_path, add_repo):
    # task0 fails at once on detector 0 while detector 1 takes a second: after
    # the failure nothing new starts (neither task0 on detector 2 nor task1
    # on detector 1).
    pipeline = pipeline_with(tmp_path / "p.yaml", "failing_tasks.FailOnDetectorTask",
                             {"fail_detector": 0, "seconds": 1.0}, level=0)
    proc = run_cli(argv(add_repo, pipeline, "-j", "2", "--fail-fast", "--summary", str(tmp_path / "s.json")))
    assert proc.returncode == 1
    report = json.loads((tmp_path / "s.json").read_text())
    ran = [(q["taskLabel"], q["dataId"]["detector"]) for q in report["quantaReports"] if q["status"] == "success"]
    assert ran == [("task0", 1)]


@pytest.mark.parametrize("how", ["kill", "exit"])
def test_a_dying_worker_fails_its_quantum_and_the_rest_completes(tmp_path, add_repo, how):
    pipeline = pipeline_with(tmp_path / "p.yaml", "failing_tasks.ExitOnDetectorTask",
                             {"fail_detector": 1, "how": how})
    proc = run_cli(argv(add_repo, pipeline, "-j", "2"), timeout=240)
    assert proc.returncode == 1, proc.stderr
    assert "task1@{instrument='INSTR', detector=1}: FAILURE" in proc.stderr
    assert "its worker process died" in proc.stderr
    datasets = {(d["dataset_type"], d["data_id"].get("detector")) for d in snapshot(add_repo.root)["datasets"]}
    for detector in (0, 2):
        assert ("add_dataset3", detector) in datasets  # the last task ran on the other detectors
    assert ("add_dataset2", 1) not in datasets and ("add_dataset3", 1) not in datasets


def test_timeout_stops_the_run_and_says_what_did_not_finish(tmp_path, add_repo):
    pipeline = pipeline_with(tmp_path / "p.yaml", "failing_tasks.SleepTask", {"seconds": 60})
    proc = run_cli(argv(add_repo, pipeline, "-j", "2", "--timeout", "5"), timeout=120)
    assert proc.returncode == 1
    assert "TIMEOUT" in proc.stderr and "did not finish" in proc.stderr
    datasets = {(d["dataset_type"], d["data_id"].get("detector")) for d in snapshot(add_repo.root)["datasets"]}
    assert {("add_dataset1", d) for d in (0, 1, 2)} <= datasets  # task0 finished and was registered


@pytest.mark.parametrize("processes", ["1", "2"])
def test_cores_and_memory_reach_each_quantum(tmp_path, add_repo, processes):
    pipeline = pipeline_with(tmp_path / "p.yaml", "failing_tasks.SleepTask", {})
    proc = run_cli(argv(add_repo, pipeline, "-j", processes, "-n", "3", "--memory-per-quantum", "2GB"))
    assert proc.returncode == 0, proc.stderr
    from lsst.daf.butler import Butler

    with Butler.from_config(str(add_repo.root), collections="out/run") as butler:
        for detector in (0, 1, 2):
            metadata = butler.get("task1_metadata", instrument="INSTR", detector=detector)
            assert metadata["task1"]["num_cores"] == 3
            assert metadata["task1"]["max_mem_bytes"] == 2 * 10**9
            # Implicit threading off, as in pipetask.  The task stores the
            # string "1"; lsst-pipe-base 30.2026.4300's TaskMetadata reads it
            # back as the number 1.0, 30.2026.500's as "1".
            assert str(metadata["task1"]["omp_num_threads"]) in ("1", "1.0")


def test_fork_start_method_falls_back_to_spawn_with_a_warning(add_repo):
    proc = run_cli(argv(add_repo, add_repo.pipeline, "-j", "2", "--start-method", "fork"))
    assert proc.returncode == 0, proc.stderr
    assert "--start-method=fork is unsafe and no longer supported, using spawn instead" in proc.stderr


def test_a_quantum_backed_worker_returns_what_the_main_process_registers(tmp_path, add_repo):
    # A worker writes files only; the provenance it sends back must name every
    # output, or they stay on disk unregistered (seen at -j 2 as a missing
    # add_dataset3).  Replayed in this process, without a pool.
    import multiprocessing
    import pickle

    from lsst.daf.butler import Butler, QuantumProvenanceData
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph

    from pipetask_lite import qgraph
    from pipetask_lite._execution import parallel as _parallel

    saved = tmp_path / "g.qg"
    qgraph(butler_config=str(add_repo.root), input=[add_repo.input_run], output="out", output_run="out/run",
           pipeline=str(add_repo.pipeline), save_qgraph=str(saved))
    with PredictedQuantumGraph.open(str(saved)) as reader:
        reader.read_execution_quanta()
        graph = reader.finish()
    graph.build_execution_quanta()
    nodes = graph.quantum_only_xgraph.nodes
    quantum_id = next(q for q, node in nodes.items() if node["task_label"] == "task0")
    node = nodes[quantum_id]
    setup = _parallel.WorkerSetup(
        butler_config=str(add_repo.root), run="out/run", collections=(add_repo.input_run,),
        resources=None, raise_on_partial_outputs=True, skip_existing_in=(), clobber_outputs=False,
        enable_lsst_debug=False, quantum_backed=True, universe=graph.pipeline_graph.universe,
        dataset_types={n.name: n.dataset_type for n in graph.pipeline_graph.dataset_types.values()},
    )
    args = (pickle.dumps(setup), pickle.dumps(node["pipeline_node"]), pickle.dumps(node["quantum"]), quantum_id)
    name = multiprocessing.current_process().name
    try:
        report, provenance, error = _parallel._execute_quantum(*args)
    finally:
        multiprocessing.current_process().name = name
        _parallel._EXECUTOR[:] = [None, None, None]
        _parallel._TASK_NODES.clear()
    assert error is None, error
    outputs = {ref.id for refs in node["quantum"].outputs.values() for ref in refs}
    assert set(provenance.actual_outputs) == outputs
    # And the main process can register them.
    with Butler.from_config(str(add_repo.root), writeable=True, run="out/run") as butler:
        for dataset_type in setup.dataset_types.values():
            butler.registry.registerDatasetType(dataset_type)
        with butler.transaction():
            QuantumProvenanceData.collect_and_transfer(butler, [node["quantum"]], [provenance])
        assert butler.get("add_dataset1", instrument="INSTR", detector=node["quantum"].dataId["detector"],
                          collections="out/run") is not None


def test_a_worker_that_died_unseen_is_given_its_quantum_without_an_error():
    # A worker can die between the pool's liveness check and the send: the
    # broken pipe must not fail the run; the quantum counts as the worker's,
    # whose death (its sentinel) then fails that quantum alone.
    import multiprocessing
    import uuid

    from pipetask_lite._execution import parallel as _parallel

    worker = _parallel._Worker(multiprocessing.get_context("spawn"), [])
    try:
        worker.process.kill()
        worker.process.join()
        quantum_id = uuid.uuid4()
        worker.prepare(b"setup")
        worker.send(b"setup", "task0", b"node", b"quantum", quantum_id)
        assert worker.quantum == quantum_id
        assert worker.process.sentinel in multiprocessing.connection.wait([worker.process.sentinel], timeout=0)
    finally:
        worker.conn.close()
