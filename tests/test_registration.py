"""``run -j 1`` on quantum-backed butlers: outputs registered in batches, and all of them at the end.

The batch size and interval are set here so that what is registered when
does not depend on how fast the machine is; speed is in ``make bench``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from harness import make_failing_pipeline, snapshot

import pipetask_lite
from pipetask_lite._execution import registration as _registration

LOGGER = "lsst.pipetask_lite.registration"


@pytest.fixture
def batches(monkeypatch, caplog):
    """Batches of at most 4 quanta, never cut by time; returns the sizes of the batches registered."""
    monkeypatch.setattr(_registration, "REGISTRATION_BATCH", 4)
    monkeypatch.setattr(_registration, "REGISTRATION_INTERVAL", 1e9)
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    def sizes() -> list[int]:
        return [record.args[0] for record in caplog.records
                if record.name == LOGGER and record.msg.startswith("Registered the outputs of")]

    return sizes


def datasets(root) -> set[tuple[str, int | None]]:
    return {(d["dataset_type"], d["data_id"].get("detector")) for d in snapshot(root)["datasets"]}


def test_nine_quanta_are_registered_in_three_transactions(add_repo, batches):
    result = pipetask_lite.run(
        butler_config=str(add_repo.root), input=[add_repo.input_run], output="out", output_run="out/run",
        pipeline=str(add_repo.pipeline), register_dataset_types=True,
    )
    assert len(result.succeeded) == 9
    assert batches() == [4, 4, 1]  # a full butler would use a transaction per dataset
    assert {(f"add_dataset{i}", d) for i in (1, 2, 3) for d in (0, 1, 2)} <= datasets(add_repo.root)


def test_fail_fast_registers_the_quanta_that_finished(tmp_path, add_repo, batches):
    # In-process order: task0 on detectors 0, 1, 2, task1 on 0, then task1
    # fails on detector 1 and nothing else starts.
    pipeline = make_failing_pipeline(tmp_path / "fail.yaml")
    with pytest.raises(pipetask_lite.QuantaFailedError) as info:
        pipetask_lite.run(
            butler_config=str(add_repo.root), input=[add_repo.input_run], output="out", output_run="out/run",
            pipeline=str(pipeline), register_dataset_types=True, fail_fast=True,
        )
    assert len(info.value.result.succeeded) == 4
    assert batches() == [4, 1]  # the failed quantum's log comes last, when execution ends
    found = datasets(add_repo.root)
    assert {("add_dataset1", d) for d in (0, 1, 2)} | {("add_dataset2", 0)} <= found
    assert ("task1_log", 1) in found and ("task1_metadata", 1) not in found
    assert not {("add_dataset2", 1), ("add_dataset2", 2), ("add_dataset3", 0)} & found


def test_extending_a_run_uses_full_butlers(add_repo, batches):
    """A run that exists may hold registered outputs: --extend-run keeps today's path."""
    common = dict(butler_config=str(add_repo.root), input=[add_repo.input_run], output="out",
                  output_run="out/run", pipeline=str(add_repo.pipeline), register_dataset_types=True)
    pipetask_lite.run(data_query="detector IN (0, 1)", **common)
    assert batches() == [4, 2]
    result = pipetask_lite.run(extend_run=True, **common)
    assert len(result.succeeded) == 3  # detector 2's quanta; the others exist
    assert batches() == [4, 2]  # no batch: each put registered its own datasets
    assert {(f"add_dataset{i}", 2) for i in (1, 2, 3)} <= datasets(add_repo.root)


def test_batches_in_a_thread_register_every_quantum_at_j2(add_repo, batches):
    """-j N registers while the workers go on; the batch left at the end is waited for."""
    result = pipetask_lite.run(
        butler_config=str(add_repo.root), input=[add_repo.input_run], output="out", output_run="out/run",
        pipeline=str(add_repo.pipeline), register_dataset_types=True, processes=2,
    )
    assert len(result.succeeded) == 9
    # How many quanta each batch holds depends on timing; none is lost or doubled.
    assert sum(batches()) == 9 and len(batches()) >= 2
    assert {(f"add_dataset{i}", d) for i in (1, 2, 3) for d in (0, 1, 2)} <= datasets(add_repo.root)


def test_a_failed_batch_in_a_thread_is_raised_then_registered_again(add_repo, monkeypatch):
    """What a thread's transaction did not commit stays noted, ahead of what came since."""
    from lsst.daf.butler import Butler

    committed, failures = [], ["registry unreachable"]

    def transfer(self, quanta, provenance):
        if failures:
            raise RuntimeError(failures.pop())
        committed.append(list(quanta))
        self._in_flight = ([], [])

    monkeypatch.setattr(_registration.BatchRegistration, "_transfer", transfer)
    with Butler.from_config(str(add_repo.root), writeable=True, run="out/run") as butler:
        registration = _registration.BatchRegistration(butler, batch=2, interval=1e9)
        for name in ("a", "b"):
            registration.add(name, name)
        registration.register(wait=False)  # fails in its thread
        registration.add("c", "c")
        assert len(registration) == 3
        with pytest.raises(RuntimeError, match="registry unreachable"):
            registration.register(now=True)
        assert committed == [] and len(registration) == 3
        registration.register(now=True)
    assert committed == [["a", "b", "c"]] and len(registration) == 0


def test_a_stray_file_in_a_new_run_is_written_over_and_registered(add_repo):
    """Files an unregistered attempt left (no run in the registry) are overwritten, as pipetask's put does.

    Quantum-backed quanta of a new run look for no existing outputs; had they
    judged skip-existing from the files, a stray metadata file would skip its
    quantum and leave its outputs unwritten and unregistered.
    """
    import shutil

    from lsst.daf.butler import Butler

    common = dict(butler_config=str(add_repo.root), input=[add_repo.input_run],
                  pipeline=str(add_repo.pipeline), register_dataset_types=True)
    pipetask_lite.run(output_run="first", **common)
    where = "instrument = 'INSTR' AND detector = 0"
    with Butler.from_config(str(add_repo.root)) as butler:
        (ref,) = butler.query_datasets("task0_metadata", collections="first", where=where)
        stray = Path(butler.getURI(ref).ospath)
    # The same file where the run "second" will put it.
    target = add_repo.root / str(stray.relative_to(add_repo.root)).replace("first", "second")
    target.parent.mkdir(parents=True)
    shutil.copyfile(stray, target)
    result = pipetask_lite.run(output_run="second", **common)
    assert len(result.succeeded) == 9
    with Butler.from_config(str(add_repo.root)) as butler:
        for name in ("task0_metadata", "add_dataset1", "add_dataset3"):
            (ref,) = butler.query_datasets(name, collections="second", where=where)
            assert butler.stored(ref), name
