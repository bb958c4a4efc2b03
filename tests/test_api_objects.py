"""The Python API takes the objects a Python user holds (issue 27).

Every call of the issue's "Why" either does what a Python user means (the
result checked in the repo) or raises one `pipetask_lite.UsageError` naming
the keyword as typed and the option it mirrors, with the repo byte for byte
unchanged; the "Bad input" cases likewise.  A property test draws wrong-typed
and odd values for every keyword of `build`, `qgraph` and `run`.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from harness import input_array, repo_digest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipetask_lite
from pipetask_lite import PipelineAction, PipetaskLiteError, UsageError
from pipetask_lite._api import _CHECKS, kinds_of

ADD_TASK = "lsst.pipe.base.tests.simpleQGraph.AddTask"
INSTRUMENT = "lsst.pipe.base.tests.simpleQGraph.SimpleInstrument"


def add_task():
    from lsst.pipe.base.tests.simpleQGraph import AddTask

    return AddTask


def add_config(level: int = 0):
    """The config of task{level} in the repo's pipeline: reads add_dataset{level}, writes add_dataset{level+1}."""
    config = add_task().ConfigClass()
    config.connections.in_tmpl = str(level)
    config.connections.out_tmpl = str(level + 1)
    return config


@pytest.fixture(scope="module")
def shared(tmp_path_factory, _template_add_repo):
    """One repo for the tests that only read (or must leave it unchanged), with its digest."""
    base = tmp_path_factory.mktemp("api_objects")
    root = base / "repo"
    shutil.copytree(_template_add_repo.root, root)
    return _template_add_repo.with_root(root)


def unchanged(repo, call, match: str, error: type[PipetaskLiteError] = UsageError) -> PipetaskLiteError:
    """Call ``call()``; it must raise one ``error`` matching ``match``; the repo must be unchanged.

    ``error`` is `PipetaskLiteError` for the failures that are the repo's
    content rather than the call's (exit 1 on the command line too).
    """
    before = repo_digest(repo.root)
    with pytest.raises(error, match=match) as info:
        call()
    assert repo_digest(repo.root) == before
    assert "\n" not in str(info.value)
    return info.value


def values(butler, dataset_type: str, collection: str) -> dict[int, np.ndarray]:
    """The arrays of ``dataset_type`` in ``collection``, by detector."""
    return {ref.dataId["detector"]: butler.get(ref)
            for ref in butler.query_datasets(dataset_type, collections=collection, explain=False)}


# ---------------------------------------------------------------------------
# Objects that work
# ---------------------------------------------------------------------------


def test_a_butler_is_used_and_stays_open_and_sees_the_outputs(add_repo):
    from lsst.daf.butler import Butler

    with Butler.from_config(str(add_repo.root), writeable=True) as butler:
        refs = butler.query_datasets("add_dataset0", collections=add_repo.input_run, where="instrument = 'INSTR' AND detector IN (0, 2)")
        result = pipetask_lite.run(
            butler_config=butler, input=add_repo.input_run, output="out", pipeline=add_task(), label="task0",
            config=add_config(), data_ids=refs, register_dataset_types=True,
        )
        assert result.n_quanta == 2
        # The caller's butler is open, and sees what was written.
        got = values(butler, "add_dataset1", "out")
        assert set(got) == {0, 2}
        np.testing.assert_array_equal(got[2], input_array(2) + 3)
        assert butler.get(result.outputs["add_dataset1"][0]) is not None


def test_a_read_only_butler_is_refused_by_run_before_anything_is_written(shared):
    from lsst.daf.butler import Butler

    with Butler.from_config(str(shared.root)) as butler:
        error = unchanged(shared, lambda: pipetask_lite.run(
            butler_config=butler, input=shared.input_run, output="out", pipeline=str(shared.pipeline),
            register_dataset_types=True), "read-only")
        assert str(error).startswith("butler_config= (-b/--butler-config): ")
        # qgraph writes nothing: a read-only butler is what it needs.
        graph = pipetask_lite.qgraph(butler_config=butler, input=shared.input_run, output="out",
                                     pipeline=str(shared.pipeline))
        assert len(graph) == 9
        assert butler.query_datasets("add_dataset0", collections=shared.input_run)  # still open


def test_a_pipeline_object_is_edited_by_actions_and_not_changed(add_repo):
    from lsst.pipe.base import Pipeline

    pipeline = Pipeline.from_uri(str(add_repo.pipeline))
    before = str(pipeline)
    result = pipetask_lite.run(
        butler_config=str(add_repo.root), input=[add_repo.input_run], output="out", pipeline=pipeline,
        pipeline_actions=[("delete", "task2"), ("config", "task0:addend=5")], register_dataset_types=True,
    )
    assert str(pipeline) == before
    assert set(result.quantum_graph.quanta_by_task) == {"task0", "task1"}
    from lsst.daf.butler import Butler

    with Butler.from_config(str(add_repo.root)) as butler:
        np.testing.assert_array_equal(values(butler, "add_dataset2", "out")[1], input_array(1) + 5 + 3)


def test_a_task_class_with_config_and_label_and_class_actions(shared):
    AddTask = add_task()
    config = AddTask.ConfigClass()
    config.addend = 7
    graph = pipetask_lite.build(
        pipeline=AddTask, config=config, label="first",
        pipeline_actions=[PipelineAction("task", "second", AddTask), ("config", "second:addend=2"),
                          ("config", "second:connections.in_tmpl=1"), ("config", "second:connections.out_tmpl=2")],
    )
    assert set(graph.tasks) == {"first", "second"}
    assert graph.tasks["first"].config.addend == 7 and graph.tasks["second"].config.addend == 2
    assert config.addend == 7  # the caller's config is not changed
    from lsst.pipe.base.tests.simpleQGraph import SimpleInstrument

    for instrument in (SimpleInstrument, SimpleInstrument()):
        graph = pipetask_lite.build(pipeline=AddTask, pipeline_actions=[("instrument", instrument)])
        assert list(graph.tasks) == ["add_task"]


def test_a_pipeline_graph_runs_and_cannot_be_edited(add_repo):
    graph = pipetask_lite.build(pipeline=f"{add_repo.pipeline}#firstTwo")
    unchanged(add_repo, lambda: pipetask_lite.run(
        butler_config=str(add_repo.root), input=add_repo.input_run, output="out", pipeline=graph,
        pipeline_actions=[("config", "task0:addend=5")]), r"^pipeline_actions= \(-c/--config\): .*PipelineGraph")
    unchanged(add_repo, lambda: pipetask_lite.build(pipeline=graph, show=["pipeline"]),
              r"^show= \(--show\): a PipelineGraph .* has no Pipeline to show", PipetaskLiteError)
    result = pipetask_lite.run(butler_config=str(add_repo.root), input=add_repo.input_run, output="out",
                               pipeline=graph, register_dataset_types=True, data_query="detector = 1")
    assert result.n_quanta == 2 and len(result.succeeded) == 2


def test_a_graph_object_runs_without_a_file_and_clashing_output_run_is_refused(add_repo):
    from lsst.daf.butler import Butler

    graph = pipetask_lite.qgraph(butler_config=str(add_repo.root), input=add_repo.input_run, output="out",
                                 output_run="out/run", pipeline=str(add_repo.pipeline), data_query="detector = 0")
    unchanged(add_repo, lambda: pipetask_lite.run(
        butler_config=str(add_repo.root), input=add_repo.input_run, output="out", output_run="other",
        qgraph=graph, register_dataset_types=True), r"^output_run= \(--output-run\): .*differs", PipetaskLiteError)
    unchanged(add_repo, lambda: pipetask_lite.run(
        butler_config=str(add_repo.root), input=add_repo.input_run, output="out", qgraph=graph,
        qgraph_node_id=[next(iter(graph))]), r"^qgraph_node_id= \(--qgraph-node-id\): ")
    with Butler.from_config(str(add_repo.root), writeable=True) as butler:
        result = pipetask_lite.run(butler_config=butler, input=add_repo.input_run, output="out", qgraph=graph,
                                   register_dataset_types=True)
        assert result.output_run == "out/run" and len(result.succeeded) == 3
        assert set(values(butler, "add_dataset3", "out")) == {0}


def test_a_graph_read_in_part_is_refused_naming_qgraph(shared, tmp_path):
    common = dict(butler_config=str(shared.root), input=shared.input_run, output="out")
    pipetask_lite.qgraph(**common, pipeline=str(shared.pipeline), data_query="detector = 1",
                         save_qgraph=str(tmp_path / "g.qg"))
    outline = pipetask_lite.qgraph(**common, qgraph=str(tmp_path / "g.qg"))
    unchanged(shared, lambda: pipetask_lite.run(**common, qgraph=outline, register_dataset_types=True),
              r"^qgraph= \(-g/--qgraph\): the graph was read in part")


def test_a_butler_of_another_repo_than_the_graph_is_refused(shared, tmp_path):
    from lsst.daf.butler import Butler

    graph = pipetask_lite.qgraph(butler_config=str(shared.root), input=shared.input_run, output="out",
                                 pipeline=str(shared.pipeline), data_query="detector = 0")
    # A repo made anew has the same collections and data IDs, but other dataset IDs (a copy has the same).
    from harness import make_add_repo

    other = make_add_repo(tmp_path / "new")
    with Butler.from_config(str(other.root), writeable=True) as butler:
        unchanged(other, lambda: pipetask_lite.run(butler_config=butler, input=other.input_run, output="out",
                                                   qgraph=graph, register_dataset_types=True),
                  r"^butler_config= \(-b/--butler-config\): .*another")


def test_bind_data_id_tables_and_data_ids(shared):
    from astropy.table import Table
    from lsst.daf.butler import DataCoordinate

    common = dict(butler_config=str(shared.root), input=shared.input_run, output="out",
                  pipeline=f"{shared.pipeline}#firstTwo")
    graph = pipetask_lite.qgraph(**common, data_query="detector = d", bind={"d": 2})
    assert {q["data_id"]["detector"] for q in graph.quantum_only_xgraph.nodes.values()} == {2}
    graph = pipetask_lite.qgraph(**common, data_id_table=[Table(rows=[("INSTR", 1)], names=["instrument", "detector"])])
    assert {q["data_id"]["detector"] for q in graph.quantum_only_xgraph.nodes.values()} == {1}
    universe = graph.pipeline_graph.universe
    coordinate = DataCoordinate.standardize(instrument="INSTR", detector=0, universe=universe)
    graph = pipetask_lite.qgraph(**common, data_ids=[coordinate, {"instrument": "INSTR", "detector": 2}])
    assert {q["data_id"]["detector"] for q in graph.quantum_only_xgraph.nodes.values()} == {0, 2}


def local_task_class() -> type:
    """A task class defined in a function: pipe_base cannot import it by its name."""
    AddTask = add_task()

    class LocalTask(AddTask):
        pass

    return LocalTask


# ---------------------------------------------------------------------------
# The calls of "Why" and "Bad input" that are refused, naming the keyword
# ---------------------------------------------------------------------------


def test_a_bare_string_means_what_the_option_means(shared):
    graph = pipetask_lite.qgraph(butler_config=str(shared.root), input=f"{shared.input_run},{shared.chain}",
                                 output="out", pipeline=str(shared.pipeline), data_query=None, show=None)
    assert len(graph) == 9
    unchanged(shared, lambda: pipetask_lite.qgraph(
        butler_config=str(shared.root), input="no/such,test/in", output="out", pipeline=str(shared.pipeline)),
        r"^input= \(-i/--input\): .*'no/such'", PipetaskLiteError)
    # skip_existing_in= and data_id_table= likewise: one collection, one file (not its characters).
    graph = pipetask_lite.qgraph(butler_config=str(shared.root), input=shared.input_run, output="out",
                                 pipeline=str(shared.pipeline), skip_existing_in=shared.chain)
    assert len(graph) == 9
    unchanged(shared, lambda: pipetask_lite.qgraph(
        butler_config=str(shared.root), input=shared.input_run, output="out", pipeline=str(shared.pipeline),
        data_id_table="nope.ecsv"), r"^data_id_table= \(--data-id-table\): cannot read 'nope.ecsv'",
        PipetaskLiteError)


@pytest.mark.parametrize("keywords, match", [
    ({"data_query": ["refs"]}, r"^data_query= \(-d/--data-query\): expected a str"),
    ({"data_query": 5}, r"^data_query= \(-d/--data-query\): expected a str"),
    ({"pipeline": 42}, r"^pipeline= \(-p/--pipeline\): expected a pipeline file"),
    ({"pipeline": dict}, r"^pipeline= \(-p/--pipeline\): expected"),
    ({"pipeline_actions": [("task", dict)]},
     r"^pipeline_actions= \(-t/--task\): dict is not a subclass of PipelineTask"),
    ({"pipeline_actions": [("task", local_task_class())]},
     r"^pipeline_actions= \(-t/--task\): class .*LocalTask cannot be imported by its name"),
    ({"pipeline_actions": [("instrument", 3)]}, r"^pipeline_actions= .*expected a class"),
    ({"qgraph": object()}, r"^qgraph= \(-g/--qgraph\): expected"),
    ({"data_id_table": [{"detector": 1}]}, r"^data_id_table= \(--data-id-table\): expected"),
    ({"data_ids": "detector=1"}, r"^data_ids=: expected an iterable"),
    ({"data_ids": [{"visit": 1, "instrument": "INSTR"}]}, r"^data_ids=: .*visit"),
    ({"data_ids": [{"detector": 1}]}, r"^data_ids=: "),
    ({"data_ids": []}, r"^data_ids=: no data IDs"),
    ({"bind": ["d", 2]}, r"^bind=: expected a mapping"),
    ({"config": {"addend": 1}}, r"^config=: "),
    ({"label": "x"}, r"^label=: only with a PipelineTask"),
    ({"register_dataset_types": "yes"}, r"^register_dataset_types= \(--register-dataset-types\): expected True"),
    ({"processes": "2"}, r"^processes= \(-j/--processes\): expected an int"),
    ({"processes": 0}, r"^processes= \(-j/--processes\): "),
    ({"butler_config": None}, r"^butler_config= \(-b/--butler-config\): is required"),
    ({"butler_config": 3}, r"^butler_config= \(-b/--butler-config\): expected"),
    ({"imput": ["test/in"]}, r"no keyword 'imput'; did you mean 'input'"),
])
def test_wrong_values_name_the_keyword_and_leave_the_repo_alone(shared, keywords, match):
    call = {"butler_config": str(shared.root), "input": [shared.input_run], "output": "out",
            "pipeline": str(shared.pipeline), "register_dataset_types": True, **keywords}
    unchanged(shared, lambda: pipetask_lite.run(**call), match)


def test_two_tasks_with_one_label_and_a_task_class_of_another_config(shared):
    AddTask = add_task()
    unchanged(shared, lambda: pipetask_lite.run(
        butler_config=str(shared.root), input=shared.input_run, output="out", pipeline=AddTask,
        pipeline_actions=[("task", AddTask)]), r"^label=: .*'add_task'.*another label")
    from lsst.pipe.base import Pipeline

    # A Pipeline object too (a -t of the same label on a YAML file replaces the task, as in pipetask).
    unchanged(shared, lambda: pipetask_lite.build(
        pipeline=Pipeline.from_uri(str(shared.pipeline)), pipeline_actions=["task", f"{ADD_TASK}:task1"]),
        r"^pipeline_actions= ")
    unchanged(shared, lambda: pipetask_lite.build(
        pipeline=Pipeline.from_uri(str(shared.pipeline)), pipeline_actions=[("task", f"{ADD_TASK}:task1")]),
        r"^label=: .*'task1'")
    from lsst.pex.config import Config

    unchanged(shared, lambda: pipetask_lite.run(
        butler_config=str(shared.root), input=shared.input_run, output="out", pipeline=AddTask,
        config=Config()), r"^config=: AddTask needs a AddTaskConfig, not a Config")


def test_errors_from_deeper_name_the_keyword(shared):
    error = unchanged(shared, lambda: pipetask_lite.run(
        butler_config=str(shared.root), input=["no/such"], output="out", pipeline=str(shared.pipeline)),
        r"^input= \(-i/--input\): no collection named 'no/such'", PipetaskLiteError)
    assert error.exit_code == 1  # the repo's content, not the call: as on the command line
    with pytest.raises(UsageError, match=r"give pipeline= \(-p/--pipeline\) or pipeline_actions="):
        pipetask_lite.run(butler_config=str(shared.root), input=["test/in"], output="out")


def test_every_keyword_has_a_kind():
    # Flags and optional text take their kind from their default; the rest are listed in KINDS.
    for function in (pipetask_lite.run, pipetask_lite.qgraph, pipetask_lite.build):
        kinds = kinds_of(function)
        assert set(kinds) == set(inspect.signature(function).parameters)
        assert kinds["butler_config"] == "repo" and kinds.get("output_run", "optional text") == "optional text"
        assert kinds.get("extend_run", "bool") == "bool" and set(kinds.values()) <= set(_CHECKS)


# ---------------------------------------------------------------------------
# Property: wrong-typed and odd values for every keyword
# ---------------------------------------------------------------------------

ODD = [None, "", ",", " ", 0, -1, 1.5, True, b"x", [], [None], [1], {}, {"a": 1}, ("a", "b"), object(), int,
       float("nan"), "a,b", ["", ""], "no/such", uuid.UUID(int=0), Path("no/such"), [("task", int)],
       [("instrument", object())]]


@pytest.mark.fuzz
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_odd_values_raise_pipetask_lite_errors_only(shared, data):
    import inspect

    function_name = data.draw(st.sampled_from(["run", "qgraph", "build"]))
    function = getattr(pipetask_lite, function_name)
    names = sorted(inspect.signature(function).parameters)
    keyword = data.draw(st.sampled_from(names))
    value = data.draw(st.sampled_from(ODD))
    base = {"pipeline": str(shared.pipeline), "select_tasks": "no such task expression ((("}
    if function_name != "build":
        base |= {"butler_config": str(shared.root), "input": [shared.input_run], "output": "out",
                 # A query that parses but selects nothing: fails before anything is written.
                 "data_query": "detector = 99"}
        base.pop("select_tasks")
    before = repo_digest(shared.root)
    # Odd paths (save_pipeline="a,b") are written to a scratch directory; --show prints.
    with contextlib.chdir(shared.root.parent), contextlib.redirect_stdout(io.StringIO()):
        try:
            function(**{**base, keyword: value})
        except PipetaskLiteError as exc:
            assert str(exc) and "\n" not in str(exc)
    assert repo_digest(shared.root) == before


# ---------------------------------------------------------------------------
# Results a notebook can use; a Butler at -j N; the older graph class
# ---------------------------------------------------------------------------


def test_run_result_outputs_and_repr(add_repo):
    from lsst.daf.butler import Butler

    result = pipetask_lite.run(butler_config=str(add_repo.root), input=add_repo.input_run, output="out",
                               pipeline=f"{add_repo.pipeline}#firstTwo", register_dataset_types=True,
                               data_query="detector IN (0, 1)", processes=1)
    assert {name for name in result.outputs if name.startswith("add_dataset")} == {"add_dataset1", "add_dataset2"}
    assert len(result.outputs["add_dataset2"]) == 2 and "task0_metadata" in result.outputs
    with Butler.from_config(str(add_repo.root)) as butler:
        ref = result.outputs["add_dataset2"][1]
        np.testing.assert_array_equal(butler.get(ref), input_array(ref.dataId["detector"]) + 3 + 3)
    text = repr(result)
    assert len(text.splitlines()) <= 4 and "4 succeeded, 0 failed, 0 blocked" in text
    assert "add_dataset2 2" in text and "QuantumReport" not in text


def test_a_butler_at_j_2_gives_the_workers_its_repo(add_repo):
    from lsst.daf.butler import Butler

    with Butler.from_config(str(add_repo.root), writeable=True) as butler:
        result = pipetask_lite.run(butler_config=butler, input=add_repo.input_run, output="out",
                                   pipeline=f"{add_repo.pipeline}#task0", register_dataset_types=True, processes=2)
        assert len(result.succeeded) == 3
        assert set(values(butler, "add_dataset1", "out")) == {0, 1, 2}


def test_the_older_quantum_graph_object_runs_where_the_release_has_it(add_repo):
    import lsst.pipe.base

    graph = pipetask_lite.qgraph(butler_config=str(add_repo.root), input=add_repo.input_run, output="out",
                                 pipeline=f"{add_repo.pipeline}#task0", data_query="detector = 2")
    if not hasattr(lsst.pipe.base, "QuantumGraph") or not hasattr(graph, "to_old_quantum_graph"):
        pytest.skip("this release has no QuantumGraph")
    old = graph.to_old_quantum_graph()
    result = pipetask_lite.run(butler_config=str(add_repo.root), input=add_repo.input_run, output="out",
                               qgraph=old, register_dataset_types=True)
    assert len(result.succeeded) == 1 and result.output_run == graph.header.output_run


def test_the_docs_example_from_a_butler_and_refs_on_the_demo_repo(tmp_path):
    """docs/run-api.md, "Objects": refs in hand, a task class, its config and an instrument class."""
    from lsst.daf.butler import Butler

    from pipetask_lite.demo import make_demo_repo
    from pipetask_lite.demo.instrument import DemoCam
    from pipetask_lite.demo.tasks import IsrTask

    repo = make_demo_repo(tmp_path / "repo")
    with Butler.from_config(str(repo.root), writeable=True) as butler:
        refs = butler.query_datasets("raw", collections="DemoCam/raw/all",
                                     where="instrument = 'DemoCam' AND detector = 0")
        config = IsrTask.ConfigClass()
        config.overscan.fitType = "MEDIAN_PER_ROW"
        result = pipetask_lite.run(
            butler_config=butler, input=["DemoCam/raw/all", "DemoCam/calib"], output="u/me/isr",
            pipeline=IsrTask, config=config, pipeline_actions=[("instrument", DemoCam)],
            data_ids=refs, register_dataset_types=True,
        )
        assert len(result.outputs["postISRCCD"]) == len(refs) == 5
        assert {ref.dataId["exposure"] for ref in result.outputs["postISRCCD"]} == {
            ref.dataId["exposure"] for ref in refs}
        # butler.get follows directly: the overscan columns are trimmed off the raw.
        assert butler.get(result.outputs["postISRCCD"][0]).shape[0] == butler.get(refs[0]).shape[0]
        # The config reached the task: what the run wrote as isr_config.
        written = butler.get("isr_config", collections="u/me/isr")
        assert written.overscan.fitType == "MEDIAN_PER_ROW"
        # The instrument's override of a field the caller did not change still applies.
        from pipetask_lite.demo.instrument import OVERSCAN_COLUMNS

        assert written.overscanColumns == OVERSCAN_COLUMNS != IsrTask.ConfigClass().overscanColumns
        assert "postISRCCD 5" in repr(result)


def test_the_keyword_table_of_docs_run_api_lists_every_keyword_with_its_option():
    import inspect
    from pathlib import Path

    from pipetask_lite._api import option_of

    text = (Path(__file__).resolve().parent.parent / "docs" / "run-api.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in text.splitlines() if line.startswith("| `")}
    for name in inspect.signature(pipetask_lite.run).parameters:
        assert name in rows, f"docs/run-api.md: no row for run()'s keyword {name!r} in the keyword table"
        option = option_of(name)
        if option and name != "pipeline_actions":
            assert f"`{option}`" in rows[name], f"docs/run-api.md: the row of {name!r} does not name {option}"
