"""What code written against ctrl_mpexec's API relies on, kept by pipetask-lite (issue 27, item 7).

- the exception classes: ctrl_mpexec raises `ValueError` for its collection
  and ``--replace-run`` rules and an unknown ``--show`` item, and
  ``MPGraphExecutorError`` when quanta fail; pipetask-lite's errors are those
  too, with their own messages and exit codes;
- an empty graph: `pipetask_lite.qgraph` raises `EmptyGraphError` where
  ``script.qgraph`` returns `None` (docs/run-api.md, "Differences");
- when implicit threading is turned off, by release line;
- the graph summary in pipetask's words ("1 quantum for 1 task").
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys

import pytest
from harness import make_failing_pipeline, run_cli, run_pipetask

import pipetask_lite
from pipetask_lite import _compat
from pipetask_lite.errors import (
    EXIT_FAILURE,
    EXIT_USAGE,
    CollectionOptionError,
    EmptyGraphError,
    OptionValueError,
    PipetaskLiteError,
    UsageError,
)


def _register(root, *, runs=(), chains=None):
    """Add RUN collections and CHAINED ones (name -> children) to the repo at ``root``."""
    from lsst.daf.butler import Butler, CollectionType

    with Butler.from_config(str(root), writeable=True) as butler:
        for run in runs:
            butler.collections.register(run)
        for name, children in (chains or {}).items():
            butler.collections.register(name, CollectionType.CHAINED)
            butler.collections.redefine_chain(name, list(children))


def _qgraph(repo, **keywords):
    """`pipetask_lite.qgraph` on the add repo's pipeline, reading its input run unless told otherwise."""
    keywords.setdefault("input", [repo.input_run])
    keywords.setdefault("pipeline", str(repo.pipeline))
    return pipetask_lite.qgraph(butler_config=str(repo.root), **keywords)


# --- exception classes -------------------------------------------------------


def test_collection_rules_raise_value_errors(add_repo):
    """ctrl_mpexec's OutputCollectionsInfo.check raises ValueError for each of these (cli/butler_factory.py)."""
    _register(add_repo.root, runs=["other", "taken"], chains={"out": [add_repo.input_run]})
    cases = [
        # -i disagreeing with an existing -o chain, without --rebase.
        (dict(input=["other"], output="out"), "input= (-i/--input)", "contiguous sequence"),
        # An output run that exists, without --extend-run.
        (dict(output_run="taken"), "output_run= (--output-run)", "already exists"),
        # --extend-run of a run that does not exist.
        (dict(output_run="missing", extend_run=True), "extend_run= (--extend-run)", "does not exist"),
        # --rebase with an output run outside the output collection.
        (dict(input=["other"], output="out", output_run="elsewhere", rebase=True), "rebase= (--rebase)", "cannot rebase"),
    ]
    for keywords, option, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            _qgraph(add_repo, **keywords)
        error = info.value
        assert isinstance(error, CollectionOptionError) and isinstance(error, PipetaskLiteError), keywords
        assert error.option == option and error.exit_code == EXIT_FAILURE, keywords


def test_replace_run_and_show_rules_raise_value_errors(add_repo):
    """ctrl_mpexec raises ValueError for these (butler_factory.py's check, showInfo.py's ShowInfo)."""
    cases = [
        (dict(output="out", prune_replaced="purge"),
         r"prune_replaced= \(--prune-replaced\) requires replace_run= \(--replace-run\)"),
        (dict(output_run="run", replace_run=True), r"requires output= \(-o/--output\)"),
        (dict(output="out", show=["nonsense"]), "Unknown value"),
    ]
    for keywords, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            _qgraph(add_repo, **keywords)
        assert isinstance(info.value, OptionValueError) and isinstance(info.value, UsageError), keywords
        assert info.value.exit_code == EXIT_USAGE, keywords
    # The unknown --show item from run() too, before anything is opened.
    with pytest.raises(ValueError, match="Unknown value"):
        pipetask_lite.run(butler_config=str(add_repo.root), output="out", pipeline=str(add_repo.pipeline),
                          show=["nonsense"])


def test_replace_run_of_a_missing_output_is_a_value_error(add_repo):
    """butler_factory.py: "--output must point to an existing CHAINED collection for --replace-run"."""
    with pytest.raises(ValueError, match="existing CHAINED") as info:
        _qgraph(add_repo, output="new", replace_run=True)
    assert info.value.option == "replace_run= (--replace-run)"  # from Python: the keyword, and its option


def test_failed_quanta_raise_an_mp_graph_executor_error(tmp_path, add_repo):
    """script.run raises MPGraphExecutorError when a quantum fails; QuantaFailedError is one."""
    from lsst.ctrl.mpexec import MPGraphExecutorError as ShimError
    from lsst.pipe.base.mp_graph_executor import MPGraphExecutorError

    assert ShimError is MPGraphExecutorError  # one class, named from both packages, on both lines
    pipeline = make_failing_pipeline(tmp_path / "fail.yaml")
    with pytest.raises(MPGraphExecutorError) as info:
        pipetask_lite.run(butler_config=str(add_repo.root), input=[add_repo.input_run], output_run="run",
                          pipeline=str(pipeline), register_dataset_types=True)
    error = info.value
    assert isinstance(error, pipetask_lite.QuantaFailedError) and isinstance(error, PipetaskLiteError)
    assert error.exit_code == EXIT_FAILURE
    assert [r.taskLabel for r in error.result.failed] == ["task1"]
    # One class, wherever it is named from, and pickled by reference to it.
    assert pipetask_lite.QuantaFailedError is pipetask_lite.errors.QuantaFailedError
    assert pickle.loads(pickle.dumps(type(error))) is type(error)


def test_a_timeout_raises_an_mp_timeout_error(tmp_path, add_repo):
    """MPGraphExecutor raises MPTimeoutError when --timeout stops quanta; QuantaTimedOutError is one."""
    from lsst.pipe.base.mp_graph_executor import MPTimeoutError

    pipeline = tmp_path / "sleep.yaml"
    pipeline.write_text(
        "description: a task that outlasts the timeout\ntasks:\n  task0:\n    class: failing_tasks.SleepTask\n"
        "    config:\n      connections.in_tmpl: '0'\n      connections.out_tmpl: '1'\n      seconds: 60\n"
    )
    with pytest.raises(MPTimeoutError) as info:
        pipetask_lite.run(butler_config=str(add_repo.root), input=[add_repo.input_run], output_run="run",
                          pipeline=str(pipeline), register_dataset_types=True, data_query="detector = 0",
                          processes=2, timeout=1)
    assert isinstance(info.value, pipetask_lite.errors.QuantaTimedOutError)
    assert isinstance(info.value, pipetask_lite.QuantaFailedError) and info.value.exit_code == EXIT_FAILURE
    assert "did not finish" in str(info.value)


def test_errors_module_imports_no_lsst():
    """`--help` imports errors.py: the LSST base class is imported only when QuantaFailedError is used."""
    code = (
        "import sys, pipetask_lite, pipetask_lite.errors as e\n"
        "assert not [m for m in sys.modules if m.startswith('lsst')], 'lsst imported'\n"
        "cls = e.QuantaFailedError\n"
        "from lsst.pipe.base.mp_graph_executor import MPGraphExecutorError\n"
        "assert issubclass(cls, MPGraphExecutorError) and issubclass(cls, e.PipetaskLiteError)\n"
        "assert cls.__module__ == 'pipetask_lite.errors' and e.QuantaFailedError is cls\n"
        "assert issubclass(e.QuantaTimedOutError, cls)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --- an empty graph ----------------------------------------------------------


def test_an_empty_graph_raises_and_saves_nothing(tmp_path, add_repo):
    """script.qgraph returns None for an empty graph (after saving it with -q); qgraph() raises (documented)."""
    saved = tmp_path / "empty.qg"
    with pytest.raises(EmptyGraphError, match="no quanta") as info:
        _qgraph(add_repo, output="out", data_query="detector = 99", save_qgraph=str(saved))
    assert info.value.option == "data_query= (-d/--data-query)" and info.value.exit_code == EXIT_FAILURE
    assert not saved.exists()
    # None still means "show had only pipeline items".
    assert _qgraph(add_repo, output="out", show=["pipeline"]) is None


# --- implicit threading, by release line -------------------------------------


def test_the_release_lines_differ_in_when_threading_is_disabled():
    """What run() does on each line is tested in test_ctrl_mpexec_scenarios.py (test_cliCmdRun.py's scenarios)."""
    found = _compat.release_of("lsst-ctrl-mpexec")
    expected = {"30.2026.500": False, "30.2026.4300": True}
    assert found in expected, found
    assert _compat.disables_threading_before_build() is expected[found]


# --- the graph summary -------------------------------------------------------


def test_graph_summary_in_pipetasks_words(add_repo, caplog):
    """ctrl_mpexec cli/utils.py::summarize_quantum_graph: "1 quantum for 1 task", then a table."""
    with caplog.at_level(logging.INFO, logger="lsst.pipetask_lite"):
        _qgraph(add_repo, output="out", pipeline=f"{add_repo.pipeline}#task0", data_query="detector = 0")
        _qgraph(add_repo, output="out", pipeline=f"{add_repo.pipeline}#firstTwo")
    summaries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("QuantumGraph contains")]
    assert summaries[0].splitlines()[0] == "QuantumGraph contains 1 quantum for 1 task"
    assert summaries[0].splitlines()[1:] == ["Quanta Tasks", "------ -----", "     1 task0"]
    assert summaries[1].splitlines()[0] == f"QuantumGraph contains {2 * len(add_repo.detectors)} quanta for 2 tasks"


@pytest.mark.pipetask
def test_graph_summary_side_by_side_with_pipetask(add_repo):
    """The real ``pipetask qgraph`` logs the same summary, table included."""
    argv = ["qgraph", "-b", add_repo.root, "-i", add_repo.input_run, "-o", "out",
            "-p", f"{add_repo.pipeline}#task0", "-d", "detector = 0"]
    summaries = {}
    for tool, call in (("pipetask", run_pipetask), ("lite", run_cli)):
        proc = call(argv)
        assert proc.returncode == 0, (tool, proc.stderr[-2000:])
        summaries[tool] = "QuantumGraph contains" + proc.stderr.split("QuantumGraph contains", 1)[1]
    assert summaries["lite"] == summaries["pipetask"]
    assert summaries["lite"].startswith("QuantumGraph contains 1 quantum for 1 task\n")
