"""LSST's own ctrl_mpexec tests, as a second oracle, driven through pipetask-lite (issue 27, item 6).

Each test is one scenario of lsst/ctrl_mpexec's ``tests/`` (its docstring names
``file::test``), at the version of each installed release line: tag
``w.2026.05`` for lsst-ctrl-mpexec 30.2026.500 (Python 3.11), and for the
Python 3.12 line (30.2026.4300) ``w.2026.30``, the newest tag that could be
read here: it adds the ``--retained-dataset-types`` and
``--prune-unanchored-quanta`` scenarios and ``test_cliCmdRun.py`` (skipped on
the older line, whose pipe_base lacks them).  The repo setups are theirs
(`lsst.pipe.base.tests.mocks.DirectButlerRepo` with its mock tasks, or
`lsst.pipe.base.tests.simpleQGraph`'s ``AddTask`` for ``test_preExecInit.py``),
and so are the assertions on the resulting repo (collections, datasets,
failures).  Where ctrl_mpexec calls ``script.qgraph(**kwargs)`` and
``script.run(qg, **kwargs)``, these call `pipetask_lite.qgraph` and
`pipetask_lite.run`; where pipetask-lite deliberately differs (docs/run-api.md,
"Differences"), the test asserts pipetask-lite's documented behaviour and says so.

As ctrl_mpexec does, the scenarios hand over objects: the helper's
`PipelineGraph` as ``pipeline=`` and the graph `pipetask_lite.qgraph` returned
as ``qgraph=`` (`_qgraph`, `_run_graph`); the repo by its root, as theirs do.

Not ported, being about Click and not about what the calls do:
``test_run.py::test_missing_options``, ``::test_retained_dataset_types_option``
and ``CoverageTestCase``; ``test_qgraph.py::test_missing_option``.
``test_cliCmdRun.py`` (the newer line only) is at the end of this file.
"""

from __future__ import annotations

import logging
import os
import textwrap
from pathlib import Path

import pytest

import pipetask_lite
from pipetask_lite import _compat
from pipetask_lite.errors import EmptyGraphError

OUTPUT = "output"


@pytest.fixture
def mock_repo():
    """A fresh `DirectButlerRepo` (no import files) and its root, as ctrl_mpexec's tests make it."""
    from lsst.pipe.base.tests.mocks import DirectButlerRepo

    with DirectButlerRepo.make_temporary() as (helper, root):
        yield helper, root


@pytest.fixture
def base_repo():
    """A `DirectButlerRepo` with daf_butler's ``base.yaml`` (instrument Cam1, detectors 1-4)."""
    from lsst.pipe.base.tests.mocks import DirectButlerRepo

    with DirectButlerRepo.make_temporary("base.yaml") as (helper, root):
        yield helper, root


# --- where ctrl_mpexec passes objects, so do these ---------------------------


def _qgraph(helper, root, directory: Path, **keywords):
    """``script.qgraph(**kwargs)`` of ``-b root -i input_chain -o output`` on the helper's pipeline graph.

    The graph is also saved (``-q``) as ``graph.saved_as``, for the scenarios that read a file
    (``run_qbb``, ``transfer_from_graph``).
    """
    keywords.setdefault("input", [helper.input_chain])
    keywords.setdefault("output", OUTPUT)
    saved = directory / f"graph{len(list(directory.glob('graph*.qg')))}.qg"
    graph = pipetask_lite.qgraph(
        butler_config=root, pipeline=helper.pipeline_graph, save_qgraph=str(saved), **keywords
    )
    if graph is not None:
        graph.saved_as = str(saved)
    return graph


def _run_graph(graph, root, **keywords):
    """``script.run(qg, **kwargs)``: execute the graph object `_qgraph` returned."""
    keywords.setdefault("output", OUTPUT)
    keywords.setdefault("register_dataset_types", True)
    return pipetask_lite.run(butler_config=root, qgraph=graph, **keywords)


def _count(helper, dataset_type: str, collections) -> int:
    with helper.butler.query() as query:
        return query.datasets(dataset_type, collections=collections).count()


def _prune(helper, dataset_type: str, run: str) -> None:
    helper.butler.pruneDatasets(
        helper.butler.query_datasets(dataset_type, collections=run), purge=True, unstore=True, disassociate=True
    )


# --- tests/test_run.py ------------------------------------------------------


def test_simple_qg(mock_repo, tmp_path):
    """test_run.py::test_simple_qg: a trivial two-task graph, built then executed."""
    helper, root = mock_repo
    helper.add_task()
    helper.add_task()
    helper.insert_datasets("dataset_auto0")
    qg = _qgraph(helper, root, tmp_path)
    assert len(qg.quanta_by_task) == 2 and len(qg) == 2
    result = _run_graph(qg, root, input=[helper.input_chain])
    assert result.output_run == qg.header.output_run
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1
    assert _count(helper, "dataset_auto2", [OUTPUT]) == 1
    # Implicit threading was disabled.
    assert os.environ["OMP_NUM_THREADS"] == "1"


def test_simple_qg_rebase(tmp_path):
    """test_run.py::test_simple_qg_rebase: an inconsistent -o chain is a ValueError; --rebase redefines it."""
    from lsst.daf.butler import CollectionType
    from lsst.pipe.base.tests.mocks import DirectButlerRepo

    with DirectButlerRepo.make_temporary(input_chain="test1") as (helper, root):
        helper.add_task()
        helper.add_task()
        helper.insert_datasets("dataset_auto0")
        helper.butler.collections.register("test2", CollectionType.RUN)
        # An output chain that does not end as the inputs do: normally an error.
        helper.butler.collections.register(OUTPUT, CollectionType.CHAINED)
        helper.butler.collections.register("unexpected_input", CollectionType.RUN)
        helper.butler.collections.register("output/run0", CollectionType.RUN)
        helper.butler.collections.redefine_chain(OUTPUT, ["test2", "unexpected_input", "test1", "output/run0"])
        inputs = ["test2", "test1"]
        with pytest.raises(ValueError):
            _qgraph(helper, root, tmp_path, input=inputs)
        qg = _qgraph(helper, root, tmp_path, input=inputs, rebase=True)
        assert len(qg.quanta_by_task) == 2 and len(qg) == 2
        _run_graph(qg, root, input=inputs, rebase=True)
        assert _count(helper, "dataset_auto1", [OUTPUT]) == 1
        assert _count(helper, "dataset_auto2", [OUTPUT]) == 1


def test_simple_qgraph_qbb(mock_repo, tmp_path):
    """test_run.py::test_simple_qgraph_qbb: -q with datastore records, pre-exec-init-qbb, run-qbb, transfer."""
    from lsst.pipe.base.script import transfer_from_graph

    helper, root = mock_repo
    helper.add_task()
    helper.add_task()
    helper.insert_datasets("dataset_auto0")
    qg = _qgraph(helper, root, tmp_path, qgraph_datastore_records=True)
    output_run, output = qg.header.output_run, qg.header.output
    assert len(qg.quanta_by_task) == 2 and len(qg) == 2
    qg_file_1 = qg.saved_as
    pipetask_lite.pre_exec_init_qbb(repo=root, qgraph=qg_file_1)
    pipetask_lite.run_qbb(repo=root, qgraph=qg_file_1)
    n1 = transfer_from_graph(qg_file_1, root, register_dataset_types=True, transfer_dimensions=False,
                             update_output_chain=True, dry_run=False, dataset_type=())
    assert n1 == 9
    assert _count(helper, "dataset_auto1", output) == 1
    assert _count(helper, "dataset_auto2", output) == 1
    some_task_label = next(iter(qg.pipeline_graph.tasks))
    (some_metadata_ref,) = helper.butler.query_datasets(f"{some_task_label}_metadata", limit=1,
                                                         collections=output)
    some_metadata = helper.butler.get(some_metadata_ref)
    assert "qg_read_time" in some_metadata["job"] and "qg_size" in some_metadata["job"]

    # The same graph again, into a new output run.
    new_output_run = output_run + "_new"
    qg_file_2 = str(tmp_path / "test2.qg")
    pipetask_lite.update_graph_run(qgraph=qg_file_1, run=new_output_run, output_qgraph=qg_file_2)
    pipetask_lite.pre_exec_init_qbb(repo=root, qgraph=qg_file_2)
    pipetask_lite.run_qbb(repo=root, qgraph=qg_file_2)
    n2 = transfer_from_graph(qg_file_2, root, register_dataset_types=True, transfer_dimensions=False,
                             update_output_chain=False, dry_run=False, dataset_type=())
    assert n2 == 9
    assert _count(helper, "dataset_auto1", new_output_run) == 1
    assert _count(helper, "dataset_auto2", new_output_run) == 1


def test_empty_qg(base_repo, tmp_path, caplog):
    """test_run.py::test_empty_qg: no input datasets, so an empty graph and the builder's error log.

    Differs, as documented: ``script.qgraph`` returns `None`, `pipetask_lite.qgraph`
    raises `EmptyGraphError` (and saves nothing).
    """
    helper, root = base_repo
    helper.add_task(dimensions=["instrument"])
    helper.add_task(dimensions=["instrument"])
    helper.pipeline_graph.resolve(registry=helper.butler.registry)
    helper.butler.registry.registerDatasetType(helper.pipeline_graph.dataset_types["dataset_auto0"].dataset_type)
    with caplog.at_level(logging.ERROR), pytest.raises(EmptyGraphError):
        _qgraph(helper, root, tmp_path)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, "the graph builder logs why the graph is empty"
    assert "Initial data ID query returned no rows, so QuantumGraph will be empty" in errors[0]
    assert "dataset_auto0" in errors[0] and "input_run" in errors[0] and "doomed to fail" in errors[0]
    assert not list(tmp_path.glob("graph*.qg"))


def test_simple_qg_no_skip_existing_inputs(mock_repo, tmp_path):
    """test_run.py::test_simple_qg_no_skip_existing_inputs: a second run into the same -o runs again.

    ctrl_mpexec sleeps a second for a new timestamped run; this names the
    second run instead (``--output-run``), which is the same to the rules.
    """
    helper, root = mock_repo
    helper.add_task()
    helper.add_task()
    helper.insert_datasets("dataset_auto0")
    qg1 = _qgraph(helper, root, tmp_path)
    run1 = qg1.header.output_run
    assert len(qg1.quanta_by_task["task_auto1"]) == 1 and len(qg1.quanta_by_task["task_auto2"]) == 1
    assert len(qg1) == 2
    _run_graph(qg1, root, input=[helper.input_chain])
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1
    assert _count(helper, "dataset_auto2", [OUTPUT]) == 1
    # The same output collection, a new RUN: everything runs again, shadowing the first outputs.
    qg2 = _qgraph(helper, root, tmp_path, output_run=f"{OUTPUT}/second")
    run2 = qg2.header.output_run
    assert run1 != run2 and len(qg2) == 2
    _run_graph(qg2, root, input=[helper.input_chain])
    assert _count(helper, "dataset_auto1", [run2]) == 1
    assert _count(helper, "dataset_auto2", [run2]) == 1
    assert list(helper.butler.collections.get_info(OUTPUT).children[:2]) == [run2, run1]


def test_simple_qg_skip_existing_inputs(mock_repo, tmp_path):
    """test_run.py::test_simple_qg_skip_existing_inputs: --skip-existing-in output skips the first task."""
    helper, root = mock_repo
    helper.add_task()
    helper.insert_datasets("dataset_auto0")
    qg1 = _qgraph(helper, root, tmp_path)
    run1 = qg1.header.output_run
    assert len(qg1.quanta_by_task["task_auto1"]) == 1 and len(qg1) == 1
    _run_graph(qg1, root, input=[helper.input_chain])
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1
    # One more task, a new RUN (named rather than slept for), --skip-existing-in output.
    helper.add_task()
    qg2 = _qgraph(helper, root, tmp_path, skip_existing_in=[OUTPUT],
                  output_run=f"{OUTPUT}/second")
    run2 = qg2.header.output_run
    assert run1 != run2
    assert len(qg2.quanta_by_task["task_auto1"]) == 0 and len(qg2.quanta_by_task["task_auto2"]) == 1
    assert len(qg2) == 1
    _run_graph(qg2, root, input=[helper.input_chain], skip_existing_in=[OUTPUT])
    assert _count(helper, "dataset_auto1", [run2]) == 0
    assert _count(helper, "dataset_auto2", [run2]) == 1
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1
    assert _count(helper, "dataset_auto2", [OUTPUT]) == 1


def test_simple_qg_extend_run(mock_repo, tmp_path):
    """test_run.py::test_simple_qg_extend_run: --extend-run skips what the output run has."""
    helper, root = mock_repo
    helper.add_task()
    helper.insert_datasets("dataset_auto0")
    qg1 = _qgraph(helper, root, tmp_path)
    run1 = qg1.header.output_run
    assert len(qg1.quanta_by_task["task_auto1"]) == 1 and len(qg1) == 1
    _run_graph(qg1, root, input=[helper.input_chain])
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1
    helper.add_task()
    qg2 = _qgraph(helper, root, tmp_path, extend_run=True)
    run2 = qg2.header.output_run
    assert run1 == run2
    assert len(qg2.quanta_by_task["task_auto1"]) == 0 and len(qg2.quanta_by_task["task_auto2"]) == 1
    assert len(qg2) == 1
    _run_graph(qg2, root, input=[helper.input_chain], extend_run=True)
    assert _count(helper, "dataset_auto1", [run2]) == 1
    assert _count(helper, "dataset_auto2", [run2]) == 1
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1
    assert _count(helper, "dataset_auto2", [OUTPUT]) == 1


def test_simple_qg_clobber(mock_repo, tmp_path):
    """test_run.py::test_simple_qg_clobber: --extend-run --clobber-outputs runs a quantum without metadata again."""
    helper, root = mock_repo
    helper.add_task()
    helper.insert_datasets("dataset_auto0")
    qg1 = _qgraph(helper, root, tmp_path)
    run1 = qg1.header.output_run
    assert len(qg1.quanta_by_task) == 1 and len(qg1) == 1
    _run_graph(qg1, root, input=[helper.input_chain])
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1
    # Without its metadata the quantum is not skipped but clobbered.
    _prune(helper, "task_auto1_metadata", run1)
    helper.add_task()
    qg2 = _qgraph(helper, root, tmp_path, extend_run=True, clobber_outputs=True)
    run2 = qg2.header.output_run
    assert run1 == run2
    assert len(qg2.quanta_by_task) == 2 and len(qg2) == 2
    _run_graph(qg2, root, input=[helper.input_chain], extend_run=True, clobber_outputs=True)
    assert _count(helper, "dataset_auto1", [run2]) == 1
    assert _count(helper, "dataset_auto2", [run2]) == 1
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1
    assert _count(helper, "dataset_auto2", [OUTPUT]) == 1


def test_simple_qg_replace_run(mock_repo, tmp_path):
    """test_run.py::test_simple_qg_replace_run: --replace-run, then with --prune-replaced purge, then bad -i.

    New runs are named (``--output-run``) instead of waiting a second for a new timestamp.
    """
    from lsst.daf.butler import MissingCollectionError

    helper, root = mock_repo
    helper.add_task()
    helper.insert_datasets("dataset_auto0")
    qg1 = _qgraph(helper, root, tmp_path)
    run1 = qg1.header.output_run
    assert len(qg1.quanta_by_task["task_auto1"]) == 1 and len(qg1) == 1
    _run_graph(qg1, root, input=[helper.input_chain])
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1
    _prune(helper, "task_auto1_metadata", run1)

    qg2 = _qgraph(helper, root, tmp_path, replace_run=True, output_run=f"{OUTPUT}/second")
    run2 = qg2.header.output_run
    assert run1 != run2
    assert len(qg2.quanta_by_task["task_auto1"]) == 1 and len(qg2) == 1
    _run_graph(qg2, root, input=[helper.input_chain], replace_run=True)
    children = helper.butler.collections.get_info(OUTPUT).children
    assert run1 not in children and run2 in children
    assert _count(helper, "dataset_auto1", [run2]) == 1
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1

    qg3 = _qgraph(helper, root, tmp_path, replace_run=True, prune_replaced="purge", output_run=f"{OUTPUT}/third")
    run3 = qg3.header.output_run
    assert run2 != run3
    assert len(qg3.quanta_by_task["task_auto1"]) == 1 and len(qg3) == 1
    _run_graph(qg3, root, input=[helper.input_chain], replace_run=True, prune_replaced="purge")
    assert run2 not in helper.butler.collections.get_info(OUTPUT).children
    with pytest.raises(MissingCollectionError):
        helper.butler.collections.get_info(run2)
    assert run3 in helper.butler.collections.get_info(OUTPUT).children
    assert _count(helper, "dataset_auto1", [run3]) == 1
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 1

    # Inputs that are not what the chain started with: an error that leaves the repo alone.
    before = list(helper.butler.collections.query("*"))
    with pytest.raises(ValueError):
        _qgraph(helper, root, tmp_path, input=[run1], replace_run=True, prune_replaced="purge")
    assert list(helper.butler.collections.query("*")) == before


def test_qg_partial_failure(base_repo, tmp_path):
    """test_run.py::test_qg_partial_failure: one quantum fails (MPGraphExecutorError), the others run."""
    from lsst.pipe.base.mp_graph_executor import MPGraphExecutorError
    from lsst.pipe.base.tests.mocks import DynamicTestPipelineTaskConfig

    helper, root = base_repo
    helper.add_task(dimensions=["detector"], config=DynamicTestPipelineTaskConfig(fail_condition="detector=3"))
    helper.insert_datasets("dataset_auto0")
    qg = _qgraph(helper, root, tmp_path)
    assert len(qg.quanta_by_task) == 1 and len(qg) == 4
    with pytest.raises(MPGraphExecutorError) as info:
        _run_graph(qg, root, input=[helper.input_chain])
    # pipetask-lite's error carries the result.
    assert [r.dataId["detector"] for r in info.value.result.failed] == [3]
    assert _count(helper, "dataset_auto1", [OUTPUT]) == 3


def _retained_file(directory: Path, text: str) -> str:
    path = directory / "retained.yaml"
    path.write_text(text)
    return str(path)


newer_line_retained = pytest.mark.skipif(
    not _compat.builder_takes("--retained-dataset-types"),
    reason="--retained-dataset-types needs lsst-pipe-base 30.2026.2600 (Python 3.12 line); "
    "ctrl_mpexec's tests of w.2026.05 have no such scenario",
)
newer_line_prune = pytest.mark.skipif(
    not _compat.builder_takes("--prune-unanchored-quanta"),
    reason="--prune-unanchored-quanta needs lsst-pipe-base 30.2026.2800 (Python 3.12 line); "
    "ctrl_mpexec's tests of w.2026.05 have no such scenario",
)


@newer_line_retained
def test_simple_qg_retained_forces_rerun(mock_repo, tmp_path):
    """test_run.py::test_simple_qg_retained_forces_rerun: a non-retained intermediate makes its producer rerun."""
    helper, root = mock_repo
    helper.add_task()
    helper.add_task()
    helper.insert_datasets("dataset_auto0")
    qg1 = _qgraph(helper, root, tmp_path)
    run1 = qg1.header.output_run
    _run_graph(qg1, root, input=[helper.input_chain])
    # task_auto1 ran (metadata kept) but its output was not retained; task_auto2 "failed".
    for dataset_type in ("dataset_auto1", "task_auto2_metadata", "dataset_auto2"):
        _prune(helper, dataset_type, run1)
    qg2 = _qgraph(helper, root, tmp_path, skip_existing_in=[OUTPUT], output_run=f"{OUTPUT}/second",
                  retained_dataset_types=_retained_file(tmp_path, "- '*_metadata'\n"))
    assert len(qg2.quanta_by_task["task_auto1"]) == 1 and len(qg2.quanta_by_task["task_auto2"]) == 1
    assert len(qg2) == 2


@newer_line_retained
def test_simple_qg_retained_both_skipped(mock_repo, tmp_path):
    """test_run.py::test_simple_qg_retained_both_skipped: both tasks have metadata, so the graph is empty.

    Differs, as documented: `None` there, `EmptyGraphError` here.
    """
    helper, root = mock_repo
    helper.add_task()
    helper.add_task()
    helper.insert_datasets("dataset_auto0")
    qg1 = _qgraph(helper, root, tmp_path)
    run1 = qg1.header.output_run
    _run_graph(qg1, root, input=[helper.input_chain])
    _prune(helper, "dataset_auto1", run1)
    with pytest.raises(EmptyGraphError):
        _qgraph(helper, root, tmp_path, skip_existing_in=[OUTPUT],
                output_run=f"{OUTPUT}/second", retained_dataset_types=_retained_file(tmp_path, "- '*_metadata'\n"))


@newer_line_retained
def test_retained_dataset_types_invalid_yaml_raises(mock_repo, tmp_path):
    """test_run.py::test_retained_dataset_types_invalid_yaml_raises: a mapping or an empty list is a ValueError."""
    helper, root = mock_repo
    helper.add_task()
    helper.insert_datasets("dataset_auto0")
    for content in ("key: value\n", "[]\n"):
        with pytest.raises(ValueError, match="non-empty YAML list"):
            _qgraph(helper, root, tmp_path, skip_existing_in=[helper.input_chain],
                    retained_dataset_types=_retained_file(tmp_path, content))


@newer_line_prune
def test_simple_qg_prune_unanchored(mock_repo, tmp_path):
    """test_run.py::test_simple_qg_prune_unanchored_anchor_absent and ::..._anchor_reachable.

    An anchor that is not in the pipeline prunes every source quantum (an
    empty graph: `None` there, `EmptyGraphError` here, as documented); a
    reachable anchor prunes nothing.
    """
    helper, root = mock_repo
    helper.add_task("source")
    helper.add_task("anchor")
    helper.insert_datasets("dataset_auto0")
    with pytest.raises(EmptyGraphError):
        _qgraph(helper, root, tmp_path, prune_unanchored_quanta="source:no_such_task")
    qg = _qgraph(helper, root, tmp_path, prune_unanchored_quanta="source:anchor")
    assert len(qg) == 2


# --- tests/test_qgraph.py -----------------------------------------------------


@pytest.fixture
def saved_two_task_graph(mock_repo):
    """The graph of test_qgraph.py's tests: two mock tasks, built by the helper and saved in the repo root."""
    helper, root = mock_repo
    helper.add_task()
    helper.add_task()
    qgc = helper.make_quantum_graph_builder().finish(attach_datastore_records=False)
    graph_uri = os.path.join(root, "graph.qg")
    qgc.write(graph_uri)
    return helper, root, qgc, graph_uri


def test_qgraph_summary(saved_two_task_graph, tmp_path):
    """test_qgraph.py::test_qgraph_summary: a saved graph read back, with its --summary."""
    from lsst.pipe.base.quantum_reports import Report

    helper, root, qgc, graph_uri = saved_two_task_graph
    summary_file = tmp_path / "summary.json"
    pipetask_lite.qgraph(butler_config=root, qgraph=graph_uri, summary=str(summary_file))
    summary = Report.model_validate_json(summary_file.read_text())
    assert summary.qgraphSummary.outputRun == "output_run"
    assert len(summary.qgraphSummary.qgraphTaskSummaries) == 2


def test_partial_read_counts(saved_two_task_graph, caplog):
    """test_qgraph.py::test_partial_read_counts: one node read, and the count logged says so."""
    helper, root, qgc, graph_uri = saved_two_task_graph
    quantum_id = next(iter(qgc.quantum_datasets.keys()))
    with caplog.at_level(logging.INFO, logger="lsst.pipetask_lite"):
        pipetask_lite.qgraph(butler_config=root, qgraph=graph_uri, qgraph_node_id=[str(quantum_id)])
    assert "1 quantum for 1 task" in caplog.text


def test_qgraph_show(saved_two_task_graph, capsys):
    """test_qgraph.py::test_qgraph_show: --show graph, workflow and uri of a saved graph."""
    helper, root, qgc, graph_uri = saved_two_task_graph
    pipetask_lite.qgraph(butler_config=root, qgraph=graph_uri, show=["graph"])
    output = capsys.readouterr().out
    for line in ("task_auto1 (lsst.pipe.base.tests.mocks.DynamicTestPipelineTask)",
                 "task_auto2 (lsst.pipe.base.tests.mocks.DynamicTestPipelineTask)",
                 "DatasetType('dataset_auto0', {}, _mock_StructuredDataDict)",
                 "DatasetType('dataset_auto1', {}, _mock_StructuredDataDict)",
                 "DatasetType('dataset_auto2', {}, _mock_StructuredDataDict)"):
        assert line in output
    pipetask_lite.qgraph(butler_config=root, qgraph=graph_uri, show=["workflow"])
    id1, id2 = qgc.quantum_datasets.keys()
    assert capsys.readouterr().out.strip() == textwrap.dedent(f"""
        Quantum {id1}: lsst.pipe.base.tests.mocks.DynamicTestPipelineTask
        Quantum {id2}: lsst.pipe.base.tests.mocks.DynamicTestPipelineTask
        Parent Quantum {id1} - Child Quantum {id2}
    """).strip()
    pipetask_lite.qgraph(butler_config=root, qgraph=graph_uri, show=["uri"])
    output = capsys.readouterr().out
    assert f"Quantum {id1}: lsst.pipe.base.tests.mocks.DynamicTestPipelineTask" in output
    assert f"Quantum {id2}: lsst.pipe.base.tests.mocks.DynamicTestPipelineTask" in output


# --- tests/test_preExecInit.py ------------------------------------------------


def _init_outputs(root, run: str) -> dict[str, str]:
    """Init-output, config and packages datasets of ``run``: dataset type name -> dataset ID."""
    from lsst.daf.butler import Butler

    with Butler.from_config(str(root)) as butler:
        return {ref.datasetType.name: str(ref.id) for ref in butler.query_all_datasets(run)}


def test_pre_exec_init_twice(add_repo):
    """test_preExecInit.py::test_saveInitOutputs(_twice), ::test_saveConfigs(_twice), ::test_savePackageVersions(_twice).

    makeSimpleQGraph's AddTask repo; `run(init_only=True)` writes what
    PreExecInit's saveInitOutputs, saveConfigs and savePackageVersions write.
    A second time with extendRun it "will ignore this" (nothing changes);
    without, "second time it will fail": here before anything is written, the
    output run existing without ``--extend-run`` (documented, docs/run-api.md,
    "Collections").
    """
    keywords = dict(butler_config=str(add_repo.root), input=[add_repo.input_run], output_run="run",
                    pipeline=str(add_repo.pipeline), register_dataset_types=True, init_only=True)
    pipetask_lite.run(**keywords)
    first = _init_outputs(add_repo.root, "run")
    assert {"add_init_output1", "task0_config", "packages"} <= set(first)
    assert not any(name.startswith("add_dataset") for name in first)
    pipetask_lite.run(**keywords, extend_run=True)
    assert _init_outputs(add_repo.root, "run") == first
    with pytest.raises(ValueError, match="already exists"):
        pipetask_lite.run(**keywords)
    assert _init_outputs(add_repo.root, "run") == first


# --- tests/test_cliCmdRun.py (w.2026.30 and later: the Python 3.12 line) -----


def _threading_calls(monkeypatch, repo, **keywords) -> list[str]:
    """The order of `disable_implicit_threading` calls and pipeline building in one `run`."""
    import lsst.utils.threads

    from pipetask_lite import _run

    calls: list[str] = []
    monkeypatch.setattr(lsst.utils.threads, "disable_implicit_threading", lambda: calls.append("disable"))
    build_pipeline = _run.build_pipeline

    def recording_build(**kwargs):
        calls.append("build")
        return build_pipeline(**kwargs)

    monkeypatch.setattr(_run, "build_pipeline", recording_build)
    pipetask_lite.run(butler_config=str(repo.root), input=[repo.input_run], output="out",
                      pipeline=str(repo.pipeline), register_dataset_types=True, init_only=True, **keywords)
    return calls


def test_disable_before_graph_building(monkeypatch, add_repo):
    """test_cliCmdRun.py::test_disable_before_graph_building: threading off before the pipeline is built.

    The newer line only (lsst-ctrl-mpexec 30.2026.3000); on the older one,
    pipetask (and pipetask-lite) turn it off after building, before execution.
    """
    calls = _threading_calls(monkeypatch, add_repo)
    if _compat.disables_threading_before_build():
        # And again before execution, as script.run does.
        assert calls == ["disable", "build", "disable"]
    else:
        assert calls == ["build", "disable"]


def test_enable_implicit_threading(monkeypatch, add_repo):
    """test_cliCmdRun.py::test_enable_implicit_threading: no disabling at all when threading is asked for."""
    assert _threading_calls(monkeypatch, add_repo, enable_implicit_threading=True) == ["build"]
