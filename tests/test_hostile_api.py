"""Hostile input to the Python API: `build`, `qgraph` and `run` called directly.

``tests/test_hostile.py`` fuzzes the command line and options files; this
module fuzzes what sits behind them, in process: random ``pipeline_actions``
(`pipetask_lite.PipelineAction` values and ``(option, text)`` pairs for
``task``, ``delete``, ``config``, ``config_file`` and ``instrument``) and
random, well-typed values for the other keywords (collections, ``data_query``,
``select_tasks``, ``show``, saved graphs, output files, execution settings).

The property, for every call:

- it returns normally, or raises `pipetask_lite.PipetaskLiteError` (a
  `~pipetask_lite.QuantaFailedError` only from `run`, after quanta ran);
  never anything else (no `TypeError`, `KeyError`, LSST exception...);
- the error has a non-empty message, on one line (`~pipetask_lite.errors`
  promises one line; only the failed-quanta report lists one line per
  failure), and an exit code of 1 or 2;
- the repo is byte for byte unchanged unless quanta ran: always after
  `build` and `qgraph`, and after any error of `run` but `QuantaFailedError`
  (the others are all raised before the first write);
- no global state is left behind (a running profiler).

Values are well typed (the annotations' types) but otherwise hostile; the
fuzzing keeps ``-j`` at most 1 and ``coverage`` off, to stay fast (the LSST
stack takes 0.1-1 s per call).  The bugs this fuzzing found (all fixed) are
kept at the end as one minimal call each.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import shutil
import sys
import uuid
from pathlib import Path

import pytest
from harness import make_failing_pipeline, repo_digest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import pipetask_lite
from pipetask_lite import PipelineAction, PipetaskLiteError, QuantaFailedError
from pipetask_lite.errors import Interrupted

ADD_TASK = "lsst.pipe.base.tests.simpleQGraph.AddTask"
FAIL_TASK = "failing_tasks.FailOnDetectorTask"
INSTRUMENT = "lsst.pipe.base.tests.simpleQGraph.SimpleInstrument"
ACTION_NAMES = ("task", "delete", "config", "config_file", "instrument")

# Shared by all fuzz tests: LSST calls are slow, so few examples and no deadline.
FUZZ = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


@pytest.fixture(scope="module")
def world(tmp_path_factory, _template_add_repo):
    """A pristine repo to copy, a working copy and input files for the module.

    Besides the repo: a pipeline whose task1 fails for detector 1 (so that
    runs also end in `QuantaFailedError`), config files for ``config_file``
    actions (good, naming an unknown field, not Python), data ID tables (good
    and garbage), and a saved quantum graph in both formats with its quantum
    IDs, so that ``-g`` and ``--qgraph-node-id`` reach real graphs.
    """
    base = tmp_path_factory.mktemp("hostile_api")
    work = base / "repo"
    shutil.copytree(_template_add_repo.root, work)
    (base / "addend.py").write_text("config.addend = 5\n")
    (base / "unknown_field.py").write_text("config.no_such_field = 1\n")
    (base / "not_python.py").write_text("config.addend = (\n")
    (base / "detectors.csv").write_text("detector\n1\n2\n")
    (base / "garbage.csv").write_text("a,b\n1\n\x00\x01,,,\n")
    pipeline = str(_template_add_repo.pipeline)
    failing = str(make_failing_pipeline(base / "failing.yaml"))
    saved, node_ids = {}, []
    for suffix in (".qg", ".qgraph"):
        saved[suffix] = str(base / f"saved{suffix}")
        graph = pipetask_lite.qgraph(
            butler_config=str(work), input=["test/in"], output="saved", pipeline=f"{pipeline}#firstTwo",
            data_query="detector = 1", save_qgraph=saved[suffix],
        )
        node_ids += [str(q) for q in graph.quantum_only_xgraph.nodes]
    return {"template": _template_add_repo.root, "repo": work, "pipeline": pipeline, "failing": failing,
            "base": base, "saved": saved, "node_ids": node_ids, "digest": repo_digest(work)}


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------


def action_texts(world) -> dict[str, list[str]]:
    """Values of ``-t``, ``--delete``, ``-c``, ``-C`` and ``--instrument``, right and wrong, by option."""
    base = world["base"]
    return {
        "task": [ADD_TASK, f"{ADD_TASK}:task3", f"{ADD_TASK}:task0", f"{FAIL_TASK}:task1", f"{FAIL_TASK}:extra",
                 "no.such.Module:task0", "lsst.pipe.base.Pipeline:task9", f"{ADD_TASK}:", f":{ADD_TASK}"],
        "delete": ["task0", "task1", "task2", "task9", "firstTwo"],
        "config": ["task0:addend=5", "task1:addend=-3", "task0:addend=x", "task0:addend=", "task0:nope=1",
                   "task9:addend=1", "addend=5", "task1:fail_detector=1", "task0:connections.out_tmpl=9",
                   "task0:connections.in_tmpl=1", "task0:addend=5=6", "task0: addend = 5", "task0:saveMetadata=False"],
        "config_file": [f"task0:{base / 'addend.py'}", f"task0:{base / 'unknown_field.py'}",
                        f"task0:{base / 'not_python.py'}", f"task9:{base / 'addend.py'}", "task0:nope.py",
                        f"task0:{base}"],
        "instrument": [INSTRUMENT, "lsst.obs.nope.Camera", "INSTR", "builtins.int"],
    }


NONSENSE = ["", ":", "::", "a:b:c", "=", " ", "task0:a=b:c=d"]


def pipeline_actions(world) -> st.SearchStrategy[list]:
    """Up to three actions, as `PipelineAction` values or ``(option, text)`` pairs.

    Texts are mostly of the option's own form (so that some pipelines build
    and run), sometimes another option's, nonsense or random; labels of
    `PipelineAction` values are anything.  Both forms may name an unknown
    option (a `UsageError`).
    """
    texts = action_texts(world)
    every = sorted({t for ts in texts.values() for t in ts} | set(NONSENSE))

    def text_for(option: str) -> st.SearchStrategy[str]:
        own = st.sampled_from(texts.get(option, NONSENSE))
        return st.one_of(own, own, own, st.sampled_from(every), st.text(max_size=10))

    # Repeating the known names makes unknown ones rare enough for the rest to be reached.
    options = st.sampled_from(ACTION_NAMES * 8 + ("Task", "nope", "", "config-file"))
    pair = options.flatmap(lambda option: st.tuples(st.just(option), text_for(option)))
    action = options.flatmap(lambda option: st.builds(
        PipelineAction,
        st.just(option),
        st.sampled_from([None, "task0", "task1", "task3", "task9", "", "firstTwo", "task0:x"]),
        # The label is separate here: keep the value part of TASK:LABEL and LABEL:VALUE texts.
        text_for(option).map(lambda text: text.partition(":")[0] if option == "task"
                             else text.partition(":")[2] if option in ("config", "config_file") else text),
    ))
    return st.lists(st.one_of(pair, action), max_size=3)


OUT_PATHS = [None, None, "out.yaml", "x.qg", "x.qgraph", "x.dot", "x.mmd", "x.txt", "x.json", "nodir/x.qg",
             "nodir/x.yaml", ".", ""]
"""Output file names, relative to the scratch directory: never in the repo, never /dev/...

No ``.svg``/``.png``: with mermaid-py installed, ``--pipeline-mermaid`` would
send them to the mermaid.ink web service (`test_mermaid_picture_without_mermaid_py`
covers the case without it).
"""


def out_paths() -> st.SearchStrategy[str | None]:
    """Values of the keywords that name an output file (see `OUT_PATHS`)."""
    return st.sampled_from(OUT_PATHS)


def collections(world) -> st.SearchStrategy[str]:
    """Collection names: existing (RUN and CHAINED), new, odd."""
    return st.sampled_from(["test/in", "test/chain", "out", "saved", "nope", "", "out/run", "a,b", "*", "test/*"])


def add_config(addend: int | None = None):
    """An AddTask config (for ``config=``)."""
    from lsst.pipe.base.tests.simpleQGraph import AddTask

    config = AddTask.ConfigClass()
    if addend is not None:
        config.addend = addend
    return config


def lsst_config():
    """A config of another class than AddTask's."""
    from lsst.pex.config import Config

    return Config()


def keyword_strategies(world, name: str) -> dict[str, st.SearchStrategy]:
    """The fuzzed keywords of ``pipetask_lite.<name>`` and their values.

    Parameters
    ----------
    world : `dict`
        The `world` fixture.
    name : `str`
        ``build``, ``qgraph`` or ``run``.

    Returns
    -------
    strategies : `dict` [`str`, `hypothesis.strategies.SearchStrategy`]
        Keyword -> values; a random few are drawn per call.
    """
    pipeline, repo, base = world["pipeline"], str(world["repo"]), world["base"]
    paths = out_paths()
    pipeline_keywords = {
        "pipeline": st.sampled_from([
            pipeline, f"{pipeline}#firstTwo", f"{pipeline}#task0", f"{pipeline}#nope", f"{pipeline}#",
            f"{pipeline}#task0,task2", world["failing"], "", "nope.yaml", str(base), str(base / "addend.py"), None,
        ]),
        "pipeline_actions": pipeline_actions(world),
        "save_pipeline": paths,
        "select_tasks": st.one_of(
            st.sampled_from(["", "task0", "firstTwo", "task0..task1", "..task1", "add_dataset1", "nope", "task0 | task1",
                             "task0 & firstTwo", "~task0", "task0,task1"]),
            st.text(max_size=8),
        ),
        "pipeline_dot": paths,
        "pipeline_mermaid": paths,
        "show": st.lists(st.sampled_from([
            "pipeline", "config", "config=task0::addend", "config=task0", "config=nope::x", "history=task0::addend",
            "history=nope", "dump-config", "dump-config=task0", "tasks", "subsets", "pipeline-graph", "task-graph",
            "inputs", "graph", "workflow", "uri", "nope", "",
        ]), max_size=2),
        # Python only (issue 27): a task class's config and label; with a pipeline file both are refused.
        "config": st.sampled_from([None, None, add_config(), add_config(5), lsst_config()]),
        "label": st.sampled_from([None, None, "task0", "first", "no label", ""]),
    }
    if name == "build":
        return {**pipeline_keywords, "butler_config": st.sampled_from([None, repo, "nope", str(base)])}
    graph_keywords = {
        **pipeline_keywords,
        "butler_config": st.sampled_from([repo, repo, "nope", "", str(base), repo + "/butler.yaml", pipeline]),
        # A bare str means what -i means: "test/in" is ["test/in"] (issue 27).
        "input": st.one_of(st.lists(collections(world), max_size=2), st.sampled_from(["test/in", ""])),
        "output": st.one_of(st.none(), collections(world)),
        "output_run": st.one_of(st.none(), collections(world)),
        "data_query": st.one_of(
            st.sampled_from(["", "detector = 1", "detector IN (0, 2)", "detector = = 1", "detector IN ()",
                             "instrument = 'INSTR' AND detector > 0", "instrument = 'X'", "visit = 1", "nope",
                             "detector = :d", "1", "'", "detector = 1 OR"]),
            st.text(max_size=12),
        ),
        "qgraph": st.sampled_from([*world["saved"].values(), "x.qg", "/dev/null", str(base), pipeline,
                                   str(base / "detectors.csv")]),
        "qgraph_id": st.sampled_from([None, "nope", ""]),
        "qgraph_node_id": st.lists(
            st.sampled_from([*world["node_ids"], "x", "", str(uuid.UUID(int=0))]), max_size=2
        ),
        "qgraph_datastore_records": st.booleans(),
        "skip_existing_in": st.lists(st.sampled_from(["test/in", "test/chain", "saved", "out"]), max_size=2),
        "skip_existing": st.booleans(),
        # The newer release's graph options (refused, naming the release, on the older one).
        "retained_dataset_types": st.sampled_from([None, None, "nope.yaml", pipeline, str(base / "detectors.csv"),
                                                   str(base), ""]),
        "prune_unanchored_quanta": st.sampled_from([None, None, "task0:task2", "task9:task1", "task0", ":x",
                                                    ("task0", "task1"), ("a",)]),
        "save_qgraph": paths,
        "qgraph_dot": paths,
        "qgraph_mermaid": paths,
        "dataset_query_constraint": st.sampled_from(["all", "off", "add_dataset0", "nope", "", "add_dataset0,nope",
                                                      "all,off"]),
        "data_id_table": st.lists(st.sampled_from([str(base / "detectors.csv"), str(base / "garbage.csv"),
                                                   "nope.csv", "/dev/null", str(base)]), max_size=2),
        "mock": st.booleans(),
        "mock_failure": st.lists(st.sampled_from([
            "task0:builtins.ValueError:detector = 1", "task1::detector = 2", "a:b", "task0:nope.Err:",
            "task9:builtins.ValueError:", "task0:builtins.int:", "task0:builtins.ValueError:nope = 1",
            "task0:builtins.ValueError::2GB", "task0:builtins.ValueError::x",
        ]), max_size=2),
        "unmocked_dataset_types": st.lists(st.sampled_from(["add_dataset0", "add_dataset1", "nope"]), max_size=2),
        "extend_run": st.booleans(),
        "replace_run": st.booleans(),
        "prune_replaced": st.sampled_from([None, "unstore", "purge"]),
        "rebase": st.booleans(),
        "clobber_outputs": st.booleans(),
        "summary": paths,
        "bind": st.sampled_from([None, None, {"d": 1}, {"d": "x"}, {}]),
        "data_ids": st.sampled_from([
            None, None, [{"instrument": "INSTR", "detector": 1}], [{"detector": 1}], [],
            [{"instrument": "INSTR", "detector": 1}, {"instrument": "INSTR"}], [{"instrument": "INSTR", "visit": 1}],
        ]),
    }
    if name == "qgraph":
        return graph_keywords
    return {
        **graph_keywords,
        "register_dataset_types": st.booleans(),
        "skip_init_writes": st.booleans(),
        "init_only": st.booleans(),
        "no_versions": st.booleans(),
        # -j N > 1 starts worker processes (seconds per call): left to test_parallel.
        "processes": st.sampled_from([1, 0, -1]),
        "timeout": st.sampled_from([None, 0, -1, 1, 3600]),
        "start_method": st.sampled_from([None, "spawn", "fork", "forkserver", "nope", "Spawn", ""]),
        "fail_fast": st.booleans(),
        "raise_on_partial_outputs": st.booleans(),
        "cores_per_quantum": st.sampled_from([1, 2, 0, -1]),
        "memory_per_quantum": st.one_of(
            st.sampled_from(["", "2GB", "3000", "3XB", "-1", "0", "1e3", "2 GB", "GB", "2GiB", "nan"]),
            st.text(max_size=6),
        ),
        "enable_implicit_threading": st.booleans(),
        "debug": st.booleans(),
        "pdb": st.sampled_from([None, "pdb", "nope"]),  # only used on a terminal: inert here
        "profile": paths,
        "graph_fixup": st.sampled_from([None, "fixups.reverse_task0_detectors", "nope", "os.path", "builtins.dict",
                                        ""]),
        "progress": st.booleans(),
    }


@st.composite
def calls(draw, world, name: str) -> dict:
    """Keywords for one call of ``pipetask_lite.<name>``.

    Mostly a valid base (so that the random extras reach the repo, the graph
    builder and the executor), plus up to four random keywords.
    """
    strategies = keyword_strategies(world, name)
    # Four times in five (hypothesis draws small integers more often than others,
    # and shrinks sampled_from towards its first element: the valid base).
    mostly = st.sampled_from([True, True, True, True, False])
    kwargs: dict = {}
    if draw(mostly):
        kwargs["pipeline"] = draw(st.sampled_from([world["pipeline"]] * 3 + [world["failing"]]))
    if name != "build" and draw(mostly):
        kwargs.update(butler_config=str(world["repo"]), input=["test/in"], output="out")
        if name == "run":
            kwargs["register_dataset_types"] = True
    if draw(st.booleans()):
        kwargs["pipeline_actions"] = draw(strategies["pipeline_actions"])
    for _ in range(draw(st.integers(0, 4))):
        keyword = draw(st.sampled_from(sorted(strategies)))
        kwargs[keyword] = draw(strategies[keyword])
    if name != "build":
        kwargs.setdefault("butler_config", str(world["repo"]))  # the one required keyword
    return kwargs


# ---------------------------------------------------------------------------
# The property
# ---------------------------------------------------------------------------


def restore(world) -> None:
    """Put the pristine repo back in place of the working copy."""
    shutil.rmtree(world["repo"])
    shutil.copytree(world["template"], world["repo"])


def check_call(world, name: str, kwargs: dict) -> None:
    """Call ``pipetask_lite.<name>(**kwargs)`` and check the property of this module.

    Parameters
    ----------
    world : `dict`
        The `world` fixture.
    name : `str`
        ``build``, ``qgraph`` or ``run``.
    kwargs : `dict`
        The keywords.
    """
    function = getattr(pipetask_lite, name)
    profiler = sys.getprofile()
    # --show prints to stdout and the stack logs to stderr: keep pytest's output short.
    # Relative output files (-s, -q, --summary, ...) land in the scratch directory.
    with (contextlib.chdir(world["base"]), contextlib.redirect_stdout(io.StringIO()),
          contextlib.redirect_stderr(io.StringIO())):
        try:
            result = function(**kwargs)
        except PipetaskLiteError as exc:
            error: BaseException | None = exc
        except Exception as exc:  # noqa: BLE001 - reported below with the call that raised it
            error = exc
        else:
            error = None
    # A call must not leave global state behind (a --profile profiler, say).
    assert sys.getprofile() is profiler, (name, kwargs, error)
    ran = False
    if error is None:
        event(f"{name}: returned" if result is not None else f"{name}: returned None (--show)")
        ran = isinstance(result, pipetask_lite.RunResult)
    else:
        assert isinstance(error, PipetaskLiteError), (
            f"{name}(**{kwargs!r}) raised {type(error).__module__}.{type(error).__name__}: {error}"
        )
        message = str(error)
        # Errors without an option (e.g. "a pipeline is required") are told apart by their first words.
        what = "quanta ran" if isinstance(error, QuantaFailedError) else error.option or message[:30]
        event(f"{name}: {type(error).__name__} [{what}]")
        assert message.strip(), (name, kwargs)
        assert error.exit_code in (1, 2), (name, kwargs, error.exit_code)
        # From Python the keyword as typed, then the option it mirrors (none for Python-only keywords).
        assert error.option is None or re.fullmatch(r"\w+=( \(-.*\))?", error.option), (name, kwargs, error.option)
        assert not isinstance(error, Interrupted), (name, kwargs, message)  # no signal was sent
        if isinstance(error, QuantaFailedError):
            # Only after execution, with the quanta's fate attached; one line per failure is fine.
            assert name == "run" and error.result.n_quanta > 0, (name, kwargs, message)
            ran = True
        else:
            assert "\n" not in message, (name, kwargs, message)
            assert error.hint is None or (error.hint.strip() and "\n" not in error.hint), (name, kwargs, error.hint)
    if ran:
        restore(world)
    else:
        # build and qgraph never write to the repo; run writes nothing before execution.
        assert repo_digest(world["repo"]) == world["digest"], (name, kwargs, error)


NOT_FUZZED = {
    # --coverage starts and stops coverage.py's global tracer, which a coverage run of the tests owns.
    # resume_command starts a watcher process per -j 1 run (tests/test_faults.py tries it).
    "run": {"coverage", "cov_report", "cov_packages", "resume_command"},
}
"""Keywords left out of the fuzzing, by function, and why."""


@pytest.mark.parametrize("name", ["build", "qgraph", "run"])
def test_every_keyword_is_fuzzed(world, name):
    """A keyword added to the API is fuzzed too (or listed in `NOT_FUZZED`)."""
    parameters = set(inspect.signature(getattr(pipetask_lite, name)).parameters)
    assert set(keyword_strategies(world, name)) == parameters - NOT_FUZZED.get(name, set())


@pytest.mark.fuzz
@settings(max_examples=200, **FUZZ)
@given(data=st.data())
def test_build_with_random_keywords(world, data):
    check_call(world, "build", data.draw(calls(world, "build"), label="build keywords"))


@pytest.mark.fuzz
@settings(max_examples=80, **FUZZ)
@given(data=st.data())
def test_qgraph_with_random_keywords(world, data):
    check_call(world, "qgraph", data.draw(calls(world, "qgraph"), label="qgraph keywords"))


@pytest.mark.fuzz
@settings(max_examples=50, **FUZZ)  # about half of them execute quanta, at ~1 s each
@given(data=st.data())
def test_run_with_random_keywords(world, data):
    check_call(world, "run", data.draw(calls(world, "run"), label="run keywords"))


# ---------------------------------------------------------------------------
# Bugs the fuzzing found, one minimal call each
# ---------------------------------------------------------------------------


def base_keywords(repo) -> dict:
    """A valid ``qgraph``/``run`` call on ``repo`` (an `harness.AddRepo`), to which a test adds keywords."""
    return {"butler_config": str(repo.root), "input": [repo.input_run], "output": "out", "pipeline": str(repo.pipeline)}


def call_in(tmp_path: Path, function, **kwargs):
    """Call ``function(**kwargs)`` with output files, stdout and stderr kept out of the way."""
    with (contextlib.chdir(tmp_path), contextlib.redirect_stdout(io.StringIO()),
          contextlib.redirect_stderr(io.StringIO())):
        return function(**kwargs)


FOUND = [
    # (function, keywords on top of a valid call, the error's option or words); the comment says what escaped.
    # KeyError: PipelineAction values were not checked like pairs.
    pytest.param("build", {"pipeline_actions": [PipelineAction("bogus", None, "x")]}, "unknown pipeline action",
                 id="PipelineAction-unknown-option"),
    # lsst.pipe.base QuantumGraphBuilderError: task2 alone reads add_dataset2, never registered.
    pytest.param("qgraph", {"pipeline": "{pipeline}#lastOne"}, "-p/--pipeline", id="unregistered-overall-input"),
    # DuplicateOutputError: two AddTask with default connections write the same dataset types.
    pytest.param("qgraph", {"pipeline": None, "pipeline_actions": [("task", ADD_TASK), ("task", f"{ADD_TASK}:x")]},
                 "-p/--pipeline", id="two-tasks-same-output"),
    # sqlalchemy OperationalError: a YAML file that is not a butler config.
    pytest.param("qgraph", {"butler_config": "{pipeline}"}, "-b/--butler-config", id="butler-config-not-a-repo"),
    # ValueError('No output RUN collection provided.') from pipe_base.
    pytest.param("run", {"output_run": ""}, "--output-run", id="empty-output-run"),
    # No error at all: a CHAINED collection named '' and a RUN '/<timestamp>' were created.
    pytest.param("run", {"output": ""}, "-o/--output", id="empty-output"),
    # MissingCollectionError from SingleQuantumExecutor, after the output collections were written.
    pytest.param("run", {"skip_existing_in": ["nope"]}, "--skip-existing-in", id="skip-existing-in-missing"),
    # IsADirectoryError from Pipeline.from_uri.
    pytest.param("build", {"pipeline": "{tmp_path}"}, "-p/--pipeline", id="pipeline-is-a-directory"),
    # StopIteration from pipe_base's visualization of a graph without tasks.
    pytest.param("build", {"pipeline": None, "pipeline_dot": "x.dot"}, "--pipeline-dot", id="picture-of-no-tasks"),
    # ValueError("cannot find context for 'nope'") from multiprocessing, with processes > 1.
    pytest.param("run", {"processes": 2, "start_method": "nope"}, "--start-method", id="unknown-start-method"),
    # Blamed on --memory-per-quantum ("cannot read '' as a memory size").
    pytest.param("run", {"cores_per_quantum": 0}, "-n/--cores-per-quantum", id="cores-per-quantum-0"),
    # AssertionError("The grammar should guarantee that we get a predicate back ...") from daf_butler.
    pytest.param("qgraph", {"data_query": "1"}, "-d/--data-query", id="data-query-not-a-predicate"),
    # DatasetTypeExpressionError from the graph builder (ValueError from --pipeline-dot): label 'task0:x'.
    pytest.param("qgraph", {"pipeline": None, "pipeline_actions": [("task", f"{ADD_TASK}:task0:x")]}, "-t/--task",
                 id="task-label-not-a-name"),
    # FileNotFoundError from lsst.utils.timer.profile, after every quantum ran.
    # (A missing directory is created now, as lsst.resources does for -q.)
    pytest.param("run", {"profile": "{pipeline}/run.prof"}, "--profile", id="profile-under-a-file"),
    # A PipetaskLiteError, but only after every quantum ran and wrote its outputs.
    pytest.param("run", {"summary": "{pipeline}/summary.json"}, "--summary", id="summary-under-a-file"),
    # StopIteration from pipe_base's text rendering of an empty pipeline graph.
    pytest.param("build", {"pipeline": None, "show": ["pipeline-graph"]}, "--show", id="show-graph-of-nothing"),
    # ValueError('Unmocked dataset type ... cannot be used as an output.') from mock_pipeline_graph.
    pytest.param("qgraph", {"mock": True, "unmocked_dataset_types": ["add_dataset1"]}, "--unmocked-dataset-types",
                 id="unmocked-output"),
    # PipelineDataCycleError from Pipeline.to_graph: task0 made to read its own output by -c.
    pytest.param("build", {"pipeline_actions": [("config", "task0:connections.in_tmpl=1")]}, "-c/--config",
                 id="config-makes-a-cycle"),
    pytest.param("run", {"pipeline_actions": [("config", "task0:connections.in_tmpl=1")]}, "-c/--config",
                 id="config-makes-a-cycle-run"),
]
"""Calls that raised something other than a `PipetaskLiteError`, or raised it only after writing to the repo.

``{pipeline}`` and ``{tmp_path}`` in values stand for the repo's pipeline
file and the test's scratch directory.
"""


@pytest.mark.parametrize(("name", "keywords", "blamed"), FOUND)
def test_found_by_fuzzing(tmp_path, add_repo, name, keywords, blamed):
    """Each call is refused with one line naming the option, before anything is written."""
    fill = {"pipeline": str(add_repo.pipeline), "tmp_path": str(tmp_path)}
    keywords = {k: v.format(**fill) if isinstance(v, str) else v for k, v in keywords.items()}
    if name == "build":
        kwargs = {"pipeline": str(add_repo.pipeline), **keywords}
    else:
        kwargs = {**base_keywords(add_repo), **({"register_dataset_types": True} if name == "run" else {}), **keywords}
    digest = repo_digest(add_repo.root)
    with pytest.raises(PipetaskLiteError) as info:
        call_in(tmp_path, getattr(pipetask_lite, name), **kwargs)
    assert blamed in str(info.value) and "\n" not in str(info.value)
    assert repo_digest(add_repo.root) == digest


def test_mermaid_picture_without_mermaid_py(tmp_path, add_repo):
    """``.svg``/``.png`` pictures need mermaid-py: without it, ImportError escaped."""
    from lsst.pipe.base.pipeline_graph.visualization import _mermaid

    if _mermaid.MERMAID_AVAILABLE:
        pytest.skip("mermaid-py is installed: rendering would call the mermaid.ink web service")
    with pytest.raises(PipetaskLiteError, match="pipeline-mermaid"):
        call_in(tmp_path, pipetask_lite.build, pipeline=str(add_repo.pipeline), pipeline_mermaid="x.svg")


def test_profiler_stopped_after_failed_quanta(tmp_path, add_repo):
    pipeline = make_failing_pipeline(tmp_path / "failing.yaml")
    profiler = sys.getprofile()
    try:
        with pytest.raises(QuantaFailedError):
            call_in(tmp_path, pipetask_lite.run, **{**base_keywords(add_repo), "pipeline": str(pipeline)},
                    register_dataset_types=True, profile="run.prof")
        assert sys.getprofile() is profiler, "the profiler is still running"
        assert (tmp_path / "run.prof").exists()
    finally:
        sys.setprofile(profiler)  # whatever happened, no profiler outlives the test


def test_save_a_loaded_graph_again(tmp_path, add_repo):
    saved = tmp_path / "saved.qg"
    call_in(tmp_path, pipetask_lite.qgraph, **base_keywords(add_repo), save_qgraph=str(saved))
    try:
        call_in(tmp_path, pipetask_lite.qgraph, butler_config=str(add_repo.root), qgraph=str(saved),
                save_qgraph="copy.qg")
    except PipetaskLiteError:
        pass  # refusing, with the option named, would do too
    else:
        assert (tmp_path / "copy.qg").exists()


def test_replace_the_only_run_of_a_chain(tmp_path, add_repo):
    with pytest.raises(PipetaskLiteError, match="replace-run"):
        call_in(tmp_path, pipetask_lite.qgraph, **{**base_keywords(add_repo), "output": add_repo.chain},
                replace_run=True)


def test_output_run_named_like_output(tmp_path, add_repo):
    digest = repo_digest(add_repo.root)
    with pytest.raises(PipetaskLiteError, match="output"):
        call_in(tmp_path, pipetask_lite.run, **base_keywords(add_repo), output_run="out", register_dataset_types=True)
    assert repo_digest(add_repo.root) == digest
