"""Side-by-side tests of the collection, graph, ``--show`` and subcommand options.

The same command line is run with the real ``pipetask`` and with
``python -m pipetask_lite`` on twin copies of the session's template repo,
each tool in its own working directory (``<tmp>/<case>/pipetask`` and
``<tmp>/<case>/lite``, each holding ``repo/``), so relative paths such as
``-b repo`` or ``-q g.qg`` name each tool's own files.  Every comparison
asserts

(a) the same exit status class (zero vs non-zero), and
(b) identical `harness.snapshot` results (`harness.diff_snapshots` empty),

and, where the option produces one, an equivalent artefact: the same quanta
(task label, data ID), edges and header of a saved graph; the same stdout for
``--show`` (modulo UUIDs, timestamps, working directories and the call stacks
of config history); equivalent DOT/Mermaid/summary files.  The two processes
of a pair run concurrently (two cores), and options are combined per command
line to keep the number of runs down.

==============================================  ===================================================
option                                          test
==============================================  ===================================================
--extend-run (implies --skip-existing)          test_resume_after_partial_query
--extend-run --skip-existing (resume, no -d)    test_resume_after_partial_query
--extend-run --skip-existing --clobber-outputs  test_resume_after_failure
after a failing run, -c fix
--replace-run, --prune-replaced unstore/purge   test_replace_run_and_prune
--rebase (and the refusal without it)           test_rebase
--skip-existing-in, --skip-existing,            test_skip_existing_in_and_existing_output_chain
-o existing CHAINED without -i
--select-tasks, --data-id-table,                test_select_tasks_and_dataset_query_constraint
--dataset-query-constraint off / NAME
-q, --qgraph-dot, --qgraph-mermaid,             test_saved_graph_and_pictures
--pipeline-dot, --pipeline-mermaid, --summary
run -g (each tool runs the other's graph)       test_run_saved_graph_crosswise
run -g without -i (none or a new -o)            test_run_saved_graph_without_inputs (xfail)
qgraph -g --show workflow without -i/-o         test_qgraph_show_saved_graph_without_inputs (xfail)
--qgraph-node-id                                test_run_saved_graph_node_subset
legacy .qgraph, --qgraph-id                     test_run_legacy_qgraph_with_id
--qgraph-datastore-records, --long-log,         test_qgraph_ctrl_bps_command_line
--log-level=VERBOSE, --save-qgraph
--mock, --mock-failure,                         test_mock_failure
--unmocked-dataset-types, --pdb, --profile
--graph-fixup, --profile, --debug               test_debugging_options
--coverage --no-cov-report                      test_coverage
build: --show (pipeline items), -s,             test_build_show_and_save
--pipeline-dot, --pipeline-mermaid
build -b --show pipeline-graph                  test_build_with_butler_show_pipeline_graph
build -b with nothing using it                  test_build_with_unused_butler (xfail)
qgraph -q with an empty graph                   test_qgraph_empty_graph_with_save (xfail)
qgraph --show graph, workflow, uri, ...         test_qgraph_show_graph_items
run --show (pipeline items only)                test_run_show_pipeline_items_writes_nothing
run --show graph, workflow                      test_run_show_graph_items_does_not_execute
bad input (pipetask-lite only)                  test_bad_input
==============================================  ===================================================
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import harness
import pytest
from harness import (
    TOOLS,
    AddRepo,
    Twins,
    add_extra_run,
    assert_same,
    assert_same_graphs,
    copy_repo,
    datasets_by_detector,
    diff_snapshots,
    find_collection,
    format_results,
    make_failing_pipeline,
    make_twins,
    normalise_run_name,
    quanta,
    read_saved_pipeline,
    run_both,
    run_tool,
    snapshot,
)

pytestmark = [pytest.mark.pipetask]  # slow too (conftest.py)

REPO = harness.TWIN_REPO
"""``-b`` value: every side runs in its own directory holding ``repo/``."""

ALL_DETECTORS = (0, 1, 2)
LABELS = ("task0", "task1", "task2")

# --show: every item, for build/qgraph/run.
PIPELINE_SHOW_ITEMS = [
    "config",
    "config=task0::addend",
    "history=task0::addend",
    "dump-config",
    "dump-config=task0",
    "pipeline",
    "tasks",
    "subsets",
    "pipeline-graph",
    "task-graph",
    "inputs",
]
GRAPH_SHOW_ITEMS = ["graph", "workflow", "uri"]

# ShowInfo iterates over a *set* of item names and pipe_base prints subset
# members from a set, so the order of --show output and of ``-s`` subsets
# depends on the process's hash seed.  Both tools get the same fixed seed for
# the --show comparisons (this is not a difference between them).
SHOW_ENV = {"PYTHONHASHSEED": "0"}

_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Run timestamps (``Instrument.makeCollectionTimestamp``), also inside file
# names such as ``add_dataset1_INSTR_det0_out_20261126T062726Z.pickle``.
_TIMESTAMP_RE = re.compile(r"\d{8}T\d{6}Z")
_ISO_TIME_RE = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
# One frame of a pex_config history call stack, "/path/file.py:<line>  code",
# "/venv/bin/pipetask:6  code" or "<frozen runpy>:198", to the end of the line.
_FRAME_RE = re.compile(r"(?:^|\s)(?:/\S+|\S+\.py|<[^>]+>):\d+(?:\s.*)?$")


# ---------------------------------------------------------------------------
# Twin repos (the fixture ``twins``, conftest.py; run both tools with harness.assert_same and harness.run_both)
# ---------------------------------------------------------------------------


@pytest.fixture
def reference(tmp_path: Path, _template_add_repo: AddRepo) -> Twins:
    """A second pair of copies for uninterrupted reference runs."""
    return make_twins(tmp_path / "reference", _template_add_repo)


@pytest.fixture(scope="module")
def template_snapshot(_template_add_repo: AddRepo) -> dict[str, Any]:
    """Snapshot of the untouched template repo."""
    return snapshot(_template_add_repo.root)


def _command(argv: Sequence[Any]) -> str:
    return " ".join(str(a) for a in argv)


def assert_same_as_reference(
    resumed: Mapping[str, Any], reference: Mapping[str, Any], names: tuple[str, str], *, ignore: set[str] = frozenset()
) -> None:
    """Assert two snapshots are equal, leaving out the digests of ``ignore`` dataset types."""

    def strip(snap: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **snap,
            "datasets": [
                {**d, "digest": "<ignored>"} if d["dataset_type"] in ignore else d for d in snap["datasets"]
            ],
        }

    diff = diff_snapshots(strip(resumed), strip(reference), names=names)
    assert not diff, f"{names[0]} differs from {names[1]}:\n{diff}"


# ---------------------------------------------------------------------------
# Readers of results
# ---------------------------------------------------------------------------


def normalise_text(text: str, twins: Twins, tool: str) -> str:
    """Make stdout of one tool comparable with the other's.

    Replaced: the working directory (each tool has its own), UUIDs (dataset
    and quantum IDs are random), ``YYYYMMDDTHHMMSSZ`` run timestamps and ISO
    times.  Dropped: call-stack frames in ``--show history`` output, which
    record where each config value was set from, i.e. the front end's own
    call chain (Click vs argparse) before reaching the same pipe_base code.
    """
    text = text.replace(str(twins.dir(tool).resolve()), "<cwd>").replace(str(twins.dir(tool)), "<cwd>")
    text = _UUID_RE.sub("<uuid>", text)
    text = _TIMESTAMP_RE.sub("<timestamp>", text)
    text = _ISO_TIME_RE.sub("<time>", text)
    lines = []
    for line in text.splitlines():
        match = _FRAME_RE.search(line)
        if match:
            line = line[: match.start()]
            if not line.strip():
                continue
        lines.append(line.rstrip())
    return "\n".join(lines)


def assert_same_stdout(twins: Twins, results: Mapping[str, subprocess.CompletedProcess[str]], what: str) -> str:
    import difflib

    texts = {tool: normalise_text(results[tool].stdout, twins, tool) for tool in TOOLS}
    if texts["pipetask"] != texts["lite"]:
        diff = "\n".join(
            difflib.unified_diff(
                texts["pipetask"].splitlines(), texts["lite"].splitlines(), "pipetask", "lite", lineterm=""
            )
        )
        pytest.fail(f"stdout differs for {what}:\n{diff[:6000]}")
    return texts["lite"]


_DOT_NODE_RE = re.compile(r'^"([^"]+)" \[(.*)\];$')
_DOT_EDGE_RE = re.compile(r'^"([^"]+)" -> "([^"]+)"(.*);$')
_MERMAID_EDGE_RE = re.compile(r"^(\S+) (-->|-\.->|==>|---) (\S+)$")
_MERMAID_CLASS_RE = re.compile(r"^class (\S+) (\S+?);?$")
_MERMAID_NODE_RE = re.compile(r"^([^\s\[\(\{]+)([\[\(\{].*)$")


def picture_structure(text: str) -> list[str]:
    """Reduce a DOT or Mermaid picture to a sorted list of node, edge and other lines.

    Node IDs are replaced by the node's (normalised) definition, so that two
    pictures of the same graph compare equal whatever IDs (UUIDs) and line
    order they use: pipe_base writes nodes and edges in the iteration order
    of sets and dicts, which changes with the process.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    definitions: dict[str, str] = {}
    for line in lines:
        if (m := _DOT_NODE_RE.match(line)) or (
            not _MERMAID_EDGE_RE.match(line) and (m := _MERMAID_NODE_RE.match(line))
        ):
            definitions[m.group(1)] = m.group(2)
    items = []
    for line in lines:
        if m := _DOT_EDGE_RE.match(line):
            a, b, rest = m.groups()
            items.append(f"edge {definitions.get(a, a)} -> {definitions.get(b, b)}{rest}")
        elif m := _MERMAID_EDGE_RE.match(line):
            a, arrow, b = m.groups()
            items.append(f"edge {definitions.get(a, a)} {arrow} {definitions.get(b, b)}")
        elif m := _MERMAID_CLASS_RE.match(line):
            items.append(f"class {definitions.get(m.group(1), m.group(1))} {m.group(2)}")
        elif (m := _DOT_NODE_RE.match(line)) or (m := _MERMAID_NODE_RE.match(line)):
            items.append(f"node {m.group(2)}")
        else:
            items.append(f"line {line}")
    return sorted(items)


def assert_same_picture(twins: Twins, name: str) -> list[str]:
    """Assert both tools wrote the picture ``name`` with the same structure (`picture_structure`)."""
    import difflib

    structures = {}
    for tool in TOOLS:
        path = twins.dir(tool) / name
        assert path.is_file() and path.stat().st_size > 0, f"{tool} did not write {name}"
        structures[tool] = picture_structure(normalise_text(path.read_text(), twins, tool))
    if structures["pipetask"] != structures["lite"]:
        diff = "\n".join(
            difflib.unified_diff(structures["pipetask"], structures["lite"], "pipetask", "lite", lineterm="")
        )
        pytest.fail(f"{name} differs:\n{diff[:6000]}")
    return structures["lite"]


def _register_dataset_types(root: Path, pipeline: Path) -> None:
    """Register the pipeline's dataset types (``--show uri`` needs them)."""
    from lsst.daf.butler import Butler
    from lsst.pipe.base import Pipeline

    with Butler.from_config(str(root), writeable=True) as butler:
        graph = Pipeline.from_uri(str(pipeline)).to_graph()
        graph.resolve(butler.registry)
        graph.register_dataset_types(butler)


def _add_detector_without_data(root: Path, detector: int = 3) -> None:
    """Add a detector record with no ``add_dataset0`` (matters for --dataset-query-constraint)."""
    from lsst.daf.butler import Butler

    with Butler.from_config(str(root), writeable=True) as butler:
        butler.registry.insertDimensionData(
            "detector", {"instrument": "INSTR", "id": detector, "full_name": f"det{detector}"}
        )


def _task0_order(stderr: str) -> list[int]:
    """Detectors of ``task0`` quanta in the order they were executed."""
    return [
        int(m.group(1))
        for m in re.finditer(
            r"Preparing execution of quantum for label=task0 dataId=\{instrument: 'INSTR', detector: (\d+)\}",
            stderr,
        )
    ]


# ---------------------------------------------------------------------------
# 1 + 2. Collections and resuming
# ---------------------------------------------------------------------------


def test_resume_after_partial_query(twins: Twins, reference: Twins) -> None:
    """Resume proof (a): a run stopped after ``-d "detector IN (0, 1)"``.

    1. ``run -d "detector IN (0, 1)"`` with both tools.
    2. ``qgraph --extend-run`` (no ``--skip-existing``): ``--extend-run``
       implies ``--skip-existing``, so only detector 2 is in the graph, and
       ``qgraph`` writes nothing.
    3. ``run --extend-run --skip-existing`` without ``-d`` completes it.

    The result must be exactly one uninterrupted run (third and fourth repo
    copies, one per tool): same collections, dataset types, datasets and
    contents; ``*_metadata``, ``*_log`` and ``packages`` are compared by
    existence only, as everywhere in `harness.snapshot`.
    """
    p = twins.pipeline
    first = ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", p, "--register-dataset-types"]
    _, snaps = assert_same(twins, [*first, "-d", "detector IN (0, 1)"])
    assert sorted(datasets_by_detector(snaps["lite"], "add_dataset3")) == [0, 1]

    _, after_graph = assert_same(
        twins, ["qgraph", "-b", REPO, "-o", "out", "-p", p, "--extend-run", "-q", "extend.qg"]
    )
    assert diff_snapshots(snaps["lite"], after_graph["lite"], names=("before", "after qgraph")) == ""
    sig = assert_same_graphs(twins, "extend.qg")
    assert sig["quanta"] == quanta(LABELS, [2])
    assert sig["metadata"]["extend_run"] is True and sig["metadata"]["skip_existing"] is True

    _, resumed = assert_same(
        twins, ["run", "-b", REPO, "-o", "out", "-p", p, "--extend-run", "--skip-existing"]
    )
    _, uninterrupted = assert_same(reference, first)
    assert sorted(datasets_by_detector(uninterrupted["pipetask"], "add_dataset3")) == list(ALL_DETECTORS)
    assert find_collection(resumed["lite"], "out")["children"] == ["out/<timestamp>", "test/in"]
    assert_same_as_reference(resumed["pipetask"], uninterrupted["pipetask"], ("pipetask resumed", "pipetask uninterrupted"))
    assert_same_as_reference(resumed["lite"], uninterrupted["pipetask"], ("lite resumed", "pipetask uninterrupted"))
    assert_same_as_reference(resumed["lite"], uninterrupted["lite"], ("lite resumed", "lite uninterrupted"))


def test_resume_after_failure(tmp_path: Path, twins: Twins, reference: Twins) -> None:
    """Resume proof (b): ``task1`` fails for detector 1, then is fixed by config.

    1. The failing pipeline (``task1`` raises for detector 1): both fail,
       leaving detectors 0 and 2 complete and detector 1 after ``task0``.
    2. The resume of the issue, ``-c task1:fail_detector=-1 --extend-run
       --skip-existing --clobber-outputs``: both refuse it, because the run's
       stored ``task1_config`` (``fail_detector=1``) differs from the new one
       and ``--extend-run`` compares configs.
    3. The same with ``--skip-init-writes`` (configs are neither written nor
       compared): both complete detector 1.  ``--clobber-outputs`` is needed
       because the failed quantum left its ``task1_log`` behind (without it
       both refuse with ``OutputExistsError``).

    The result must equal one uninterrupted run of the fixed pipeline in a
    third repo copy, except for the digest of ``task1_config``: the resumed
    run keeps the config stored by step 1 (``fail_detector=1``), the
    uninterrupted one stores ``fail_detector=-1``.  That is the legitimate
    difference of a config fix; every other config, dataset and content must
    be equal.
    """
    failing = make_failing_pipeline(tmp_path / "failing.yaml")
    base = ["run", "-b", REPO, "-p", failing]
    _, failed = assert_same(
        twins, [*base, "-i", "test/chain", "-o", "out", "--register-dataset-types"], expect_ok=False
    )
    assert sorted(datasets_by_detector(failed["lite"], "add_dataset3")) == [0, 2]
    assert sorted(datasets_by_detector(failed["lite"], "add_dataset1")) == [0, 1, 2]
    config_after_failure = datasets_by_detector(failed["lite"], "task1_config")[None]["digest"]

    fix = ["-c", "task1:fail_detector=-1", "--extend-run", "--skip-existing", "--clobber-outputs"]
    results, refused = assert_same(twins, [*base, "-o", "out", *fix], expect_ok=False)
    assert "task1_config" in results["pipetask"].stderr and "task1_config" in results["lite"].stderr
    assert diff_snapshots(failed["lite"], refused["lite"], names=("failed", "refused")) == ""

    _, resumed = assert_same(twins, [*base, "-o", "out", *fix, "--skip-init-writes"])
    assert datasets_by_detector(resumed["lite"], "task1_config")[None]["digest"] == config_after_failure

    _, uninterrupted = assert_same(
        reference,
        [*base, "-i", "test/chain", "-o", "out", "--register-dataset-types", "-c", "task1:fail_detector=-1"],
    )
    ignore = {"task1_config"}
    assert_same_as_reference(
        resumed["pipetask"], uninterrupted["pipetask"], ("pipetask resumed", "pipetask uninterrupted"), ignore=ignore
    )
    assert_same_as_reference(
        resumed["lite"], uninterrupted["pipetask"], ("lite resumed", "pipetask uninterrupted"), ignore=ignore
    )


def test_replace_run_and_prune(twins: Twins) -> None:
    """``--replace-run``, then with ``--prune-replaced unstore``, then ``purge``; ``-o`` without ``-i``."""
    p = twins.pipeline
    _, snaps = assert_same(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", p, "--register-dataset-types",
         "-d", "detector IN (0, 1)"],
    )
    base = ["run", "-b", REPO, "-o", "out", "-p", p, "--replace-run"]
    _, snaps = assert_same(twins, base)
    chain = find_collection(snaps["lite"], "out")["children"]
    assert chain == ["out/<timestamp#1>", "test/in"], chain
    assert sorted(datasets_by_detector(snaps["lite"], "add_dataset3", "out/<timestamp#1>")) == list(ALL_DETECTORS)

    _, snaps = assert_same(twins, [*base, "--prune-replaced", "unstore", "-d", "detector = 2"])
    chain = find_collection(snaps["lite"], "out")["children"]
    assert chain == ["out/<timestamp#2>", "test/in"], chain
    # The replaced run's task outputs are gone from the datastore, its configs stay.
    unstored = datasets_by_detector(snaps["lite"], "add_dataset3", "out/<timestamp#1>")
    assert sorted(unstored) == list(ALL_DETECTORS)
    assert all(d["digest"].startswith("<unreadable") for d in unstored.values()), unstored
    config = datasets_by_detector(snaps["lite"], "task0_config", "out/<timestamp#1>")[None]
    assert config["digest"].startswith("config:")

    _, snaps = assert_same(twins, [*base, "--prune-replaced", "purge"])
    names = [c["name"] for c in snaps["lite"]["collections"]]
    assert len([n for n in names if n.startswith("out/")]) == 3, names  # the purged run is gone
    assert find_collection(snaps["lite"], "out")["children"][1:] == ["test/in"]


def test_rebase(twins: Twins) -> None:
    """``-i`` that differs from an existing ``-o`` chain: refused, then ``--rebase``."""
    p = twins.pipeline
    assert_same(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", p, "--register-dataset-types", "-d", "detector = 0"],
    )
    for tool in TOOLS:
        add_extra_run(twins.root(tool))
    argv = ["run", "-b", REPO, "-i", "test/extra,test/chain", "-o", "out", "-p", p, "-d", "detector = 0"]
    results, _ = assert_same(twins, argv, expect_ok=False)
    assert "--rebase" in results["pipetask"].stderr and "--rebase" in results["lite"].stderr
    _, snaps = assert_same(twins, [*argv, "--rebase"])
    assert len([c for c in snaps["lite"]["collections"] if c["name"].startswith("out/")]) == 2
    chain = find_collection(snaps["lite"], "out")["children"]
    assert chain == ["out/<timestamp#1>", "out/<timestamp#0>", "test/extra", "test/in"], chain


def test_skip_existing_in_and_existing_output_chain(twins: Twins) -> None:
    """``--skip-existing-in``; ``-o`` existing without ``-i`` with ``--skip-existing`` (new run)."""
    p = twins.pipeline
    assert_same(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "first", "-p", p, "--register-dataset-types",
         "-d", "detector = 0"],
    )
    _, snaps = assert_same(
        twins, ["run", "-b", REPO, "-i", "test/chain", "-o", "second", "-p", p, "--skip-existing-in", "first"]
    )
    assert sorted(datasets_by_detector(snaps["lite"], "add_dataset3", "second/<timestamp>")) == [1, 2]
    # ``-o first`` exists (CHAINED): no -i, its chain is the input.  With
    # ``--skip-existing`` the new output run joins --skip-existing-in; it does
    # not exist yet, and pipe_base's QuantumGraphBuilder then drops the whole
    # skip list (MissingCollectionError -> no skipping), so every detector runs.
    _, snaps = assert_same(
        twins, ["run", "-b", REPO, "-o", "first", "-p", p, "--skip-existing-in", "second", "--skip-existing"]
    )
    chain = find_collection(snaps["lite"], "first")["children"]
    assert chain == ["first/<timestamp#1>", "first/<timestamp#0>", "test/in"], chain
    assert sorted(datasets_by_detector(snaps["lite"], "add_dataset3", "first/<timestamp#1>")) == list(ALL_DETECTORS)


# ---------------------------------------------------------------------------
# 3. Graph options
# ---------------------------------------------------------------------------


def test_select_tasks_and_dataset_query_constraint(twins: Twins) -> None:
    """``--select-tasks``, ``--dataset-query-constraint off`` and ``=NAME``, ``--data-id-table``.

    Detector 3 is added without an ``add_dataset0``, so the constraint on
    input existence matters.
    """
    from astropy.table import Table

    for tool in TOOLS:
        _add_detector_without_data(twins.root(tool))
        Table({"instrument": ["INSTR", "INSTR"], "detector": [0, 2]}).write(twins.dir(tool) / "ids.ecsv")
    base = ["qgraph", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", twins.pipeline]
    assert_same(twins, [*base, "--select-tasks", "<=task1", "--dataset-query-constraint", "off", "-q", "a.qg"])
    sig = assert_same_graphs(twins, "a.qg")
    assert {label for label, _ in sig["quanta"]} == {"task0", "task1"}

    assert_same(
        twins,
        [*base, "--dataset-query-constraint", "add_dataset0", "--data-id-table", "ids.ecsv", "-q", "b.qg"],
    )
    sig = assert_same_graphs(twins, "b.qg")
    assert sig["quanta"] == quanta(LABELS, [0, 2])

    _, snaps = assert_same(
        twins, ["run", *base[1:], "--select-tasks", "task0", "--register-dataset-types", "-d", "detector < 2"]
    )
    assert sorted(datasets_by_detector(snaps["lite"], "add_dataset1")) == [0, 1]
    assert not datasets_by_detector(snaps["lite"], "add_dataset2")


@pytest.fixture(scope="module")
def saved_graphs(tmp_path_factory: pytest.TempPathFactory, _template_add_repo: AddRepo):
    """Both tools' ``qgraph -q g.qg`` with pictures and a summary, built once per module.

    Returns the `Twins` and the results; `test_saved_graph_and_pictures`
    checks them, other tests run the graphs.
    """
    twins = make_twins(tmp_path_factory.mktemp("saved_graphs"), _template_add_repo)
    argv = [
        "qgraph", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", twins.pipeline,
        "-d", "detector IN (0, 1)", "-q", "g.qg", "--qgraph-dot", "q.dot", "--qgraph-mermaid", "q.mmd",
        "--pipeline-dot", "p.dot", "--pipeline-mermaid", "p.mmd", "--summary", "summary.json",
    ]
    return twins, argv, run_both(twins, argv)


def test_saved_graph_and_pictures(saved_graphs, template_snapshot) -> None:
    """``-q``, ``--qgraph-dot``, ``--qgraph-mermaid``, ``--pipeline-dot``, ``--pipeline-mermaid``, ``--summary``."""
    twins, argv, results = saved_graphs
    details = format_results(results)
    assert results["pipetask"].returncode == 0, details
    assert results["lite"].returncode == 0, f"{_command(argv)}\n{details}"
    snaps = twins.snapshots()
    for tool in TOOLS:
        assert diff_snapshots(template_snapshot, snaps[tool], names=("template", tool)) == ""
    sig = assert_same_graphs(twins, "g.qg", execution=True)
    assert sig["quanta"] == quanta(LABELS, [0, 1])
    assert sig["datastore_records"] == set()  # not asked for
    for name in ("q.dot", "q.mmd", "p.dot", "p.mmd"):
        structure = assert_same_picture(twins, name)
        if name.startswith("q"):
            assert sum(item.startswith("edge") for item in structure) > 0, name
    summaries = {tool: _summary(twins, tool, "summary.json") for tool in TOOLS}
    assert summaries["pipetask"] == summaries["lite"]
    assert summaries["lite"]["qgraphSummary"]["qgraphTaskSummaries"]["task0"]["numQuanta"] == 2


def _summary(twins: Twins, tool: str, name: str) -> dict[str, Any]:
    """Read a ``--summary`` file, normalised; the program name is dropped from ``cmdLine``.

    Both ``cmdLine`` fields start with ``sys.argv[0]`` (``.../bin/pipetask``
    vs ``.../pipetask_lite/__main__.py``), which is bound to differ; the
    arguments after it must be equal.
    """
    path = twins.dir(tool) / name
    assert path.is_file(), f"{tool} did not write {name}"
    data = json.loads(normalise_text(path.read_text(), twins, tool))
    if isinstance(data.get("cmdLine"), list):
        data["cmdLine"] = data["cmdLine"][1:]
    summary = data.get("qgraphSummary") or {}
    if isinstance(summary.get("cmdLine"), str):
        summary["cmdLine"] = summary["cmdLine"].partition(" ")[2]
    return data


def _copy_graph(saved: Twins, name: str, twins: Twins, *, source: dict[str, str]) -> None:
    """Put ``source[tool]``'s saved graph into ``tool``'s working directory as ``name``."""
    import shutil

    for tool in TOOLS:
        shutil.copy(saved.dir(source[tool]) / "g.qg", twins.dir(tool) / name)


def test_run_saved_graph_crosswise(saved_graphs, twins: Twins) -> None:
    """``run -g``: pipetask runs pipetask-lite's saved graph and vice versa."""
    saved, _, results = saved_graphs
    if any(r.returncode for r in results.values()):
        pytest.skip("qgraph -q failed; see test_saved_graph_and_pictures")
    _copy_graph(saved, "other.qg", twins, source={"pipetask": "lite", "lite": "pipetask"})
    _, snaps = assert_same(
        twins, ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-g", "other.qg", "--register-dataset-types"]
    )
    assert sorted(datasets_by_detector(snaps["lite"], "add_dataset3")) == [0, 1]
    assert find_collection(snaps["lite"], "out")["children"] == ["out/<timestamp>", "test/in"]


def test_run_saved_graph_node_subset(saved_graphs, twins: Twins) -> None:
    """``run -g G --qgraph-node-id ID,ID``: only ``task0`` and ``task1`` of detector 0."""
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph

    saved, _, results = saved_graphs
    if results["pipetask"].returncode:
        pytest.skip("pipetask qgraph -q failed")
    _copy_graph(saved, "g.qg", twins, source={tool: "pipetask" for tool in TOOLS})
    with PredictedQuantumGraph.open(twins.dir("lite") / "g.qg") as reader:
        reader.read_thin_graph()
        qg = reader.components.assemble()
    ids = [
        str(quantum_id)
        for label in ("task0", "task1")
        for data_id, quantum_id in qg.quanta_by_task[label].items()
        if data_id["detector"] == 0
    ]
    assert len(ids) == 2
    _, snaps = assert_same(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-g", "g.qg", "--qgraph-node-id", ",".join(ids),
         "--register-dataset-types"],
    )
    assert sorted(datasets_by_detector(snaps["lite"], "add_dataset2")) == [0]
    assert not datasets_by_detector(snaps["lite"], "add_dataset3")


@pytest.mark.parametrize("collections", [[], ["-o", "out"]], ids=["no-collections", "output-only"])
def test_run_saved_graph_without_inputs(saved_graphs, twins: Twins, collections: list[str]) -> None:
    """``run -b REPO -g G`` with no ``-i`` (and no or a new ``-o``): the graph says what to read and write."""
    saved, _, results = saved_graphs
    if results["pipetask"].returncode:
        pytest.skip("pipetask qgraph -q failed")
    _copy_graph(saved, "g.qg", twins, source={tool: "pipetask" for tool in TOOLS})
    _, snaps = assert_same(twins, ["run", "-b", REPO, *collections, "-g", "g.qg", "--register-dataset-types"])
    assert sorted(datasets_by_detector(snaps["lite"], "add_dataset3")) == [0, 1]


def test_qgraph_show_saved_graph_without_inputs(saved_graphs, twins: Twins) -> None:
    """``qgraph -b REPO -g G --show workflow`` with no collection options."""
    saved, _, results = saved_graphs
    if results["pipetask"].returncode:
        pytest.skip("pipetask qgraph -q failed")
    _copy_graph(saved, "g.qg", twins, source={tool: "pipetask" for tool in TOOLS})
    results, _ = assert_same(twins, ["qgraph", "-b", REPO, "-g", "g.qg", "--show", "workflow"])
    out = assert_same_stdout(twins, results, "qgraph -g --show workflow")
    assert "Parent Quantum" in out


def test_run_legacy_qgraph_with_id(saved_graphs, twins: Twins) -> None:
    """``run -g old.qgraph --qgraph-id ID``: the legacy graph format."""
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph

    saved, _, results = saved_graphs
    if results["pipetask"].returncode:
        pytest.skip("pipetask qgraph -q failed")
    old = PredictedQuantumGraph.read_execution_quanta(saved.dir("pipetask") / "g.qg").to_old_quantum_graph()
    for tool in TOOLS:
        old.saveUri(str(twins.dir(tool) / "old.qgraph"))
    _, snaps = assert_same(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-g", "old.qgraph", "--qgraph-id", str(old.graphID),
         "--register-dataset-types"],
    )
    assert sorted(datasets_by_detector(snaps["lite"], "add_dataset3")) == [0, 1]


def test_qgraph_ctrl_bps_command_line(twins: Twins, template_snapshot) -> None:
    """The ``qgraph`` line ctrl_bps runs, with ``--qgraph-datastore-records``."""
    argv = [
        "--long-log", "--log-level=VERBOSE", "qgraph", "--butler-config", REPO, "-i", "test/chain",
        "-o", "out", "--output-run", "out/bps", "--pipeline", twins.pipeline, "--save-qgraph", "G.qg",
        "--qgraph-datastore-records", "-d", "instrument = 'INSTR' AND detector IN (0, 2)",
    ]
    results, snaps = assert_same(twins, argv)
    assert diff_snapshots(template_snapshot, snaps["lite"], names=("template", "after")) == ""
    sig = assert_same_graphs(twins, "G.qg", execution=True)
    assert sig["quanta"] == quanta(LABELS, [0, 2])
    assert sig["output_run"] == "out/bps"
    # Only task0 reads a stored dataset (add_dataset0).
    assert sig["datastore_records"] == quanta(["task0"], [0, 2])
    for tool in TOOLS:
        assert re.search(r"^VERBOSE \d{4}-", results[tool].stderr, re.MULTILINE), f"{tool}: no long VERBOSE log"


def _mock_contents(twins: Twins, tool: str) -> dict[str, str]:
    """Read every ``_mock_*`` dataset as text, with UUIDs and run timestamps normalised.

    A `MockDataset` records its own dataset ID, its run and those of the
    inputs of the quantum that wrote it, which are random or time-stamped;
    everything else (types, data IDs, connections, provenance chain) must
    be the same.
    """
    from lsst.daf.butler import Butler

    result = {}
    with Butler.from_config(str(twins.root(tool))) as butler:
        for dataset_type in butler.registry.queryDatasetTypes("_mock_*"):
            if dataset_type.name.endswith(("_metadata", "_log")):
                continue  # timings and log records: existence only, as in harness.snapshot
            for ref in butler.query_datasets(dataset_type, collections="*", find_first=False, explain=False):
                key = f"{dataset_type.name}@{normalise_run_name(ref.run)}{dict(ref.dataId.required)}"
                result[key] = normalise_text(str(butler.get(ref)), twins, tool)
    return result


def test_mock_failure(twins: Twins) -> None:
    """``--mock``, ``--mock-failure``, ``--unmocked-dataset-types add_dataset0``; ``--pdb``, ``--profile``.

    1. ``--mock-failure task1:ValueError:detector=1``: refused by both (exit
       1, nothing written): pipetask's option parser cannot import
       ``ValueError`` by that name (`lsst.utils.doImport.doImportType` wants
       ``builtins.ValueError``).  ``builtins.ValueError`` does not work
       either: pipe_base stores the type name without ``builtins.`` in the
       mock config and fails to import it back when the task is built.
    2. ``--mock-failure task1::detector=1`` (the mock's default exception,
       ``builtins.ValueError``): detector 1 fails from ``task1`` on, 0 and 2
       complete, as mock datasets.  ``--pdb`` changes nothing (stdout is not
       a terminal, so no debugger starts); ``--profile`` writes nothing in
       either tool because execution raised (`lsst.utils.timer.profile` dumps
       the statistics only on a normal exit).
    """
    base = ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", twins.pipeline, "--register-dataset-types",
            "--mock", "--unmocked-dataset-types", "add_dataset0"]
    results, snaps = assert_same(twins, [*base, "--mock-failure", "task1:ValueError:detector=1"], expect_ok=False)
    assert {d["dataset_type"] for d in snaps["lite"]["datasets"]} == {"add_dataset0"}
    for tool in TOOLS:
        assert "Unable to import 'ValueError'" in results[tool].stderr, tool

    # Mock storage classes exist in a process only once the mocks module is
    # imported; without it, reading a mock dataset raises KeyError.
    import lsst.pipe.base.tests.mocks  # noqa: F401

    results, snaps = assert_same(
        twins,
        [*base, "--mock-failure", "task1::detector=1", "--pdb", "--profile", "prof.out"],
        expect_ok=False,
        mask_digests="_mock_",
    )
    contents = {tool: _mock_contents(twins, tool) for tool in TOOLS}
    assert contents["pipetask"] == contents["lite"]
    assert "_mock_add_dataset3@out/<timestamp>{'instrument': 'INSTR', 'detector': 2}" in contents["lite"]
    names = {d["dataset_type"] for d in snaps["lite"]["datasets"]}
    assert "_mock_add_dataset3" in names and "add_dataset3" not in names, sorted(names)
    assert sorted(datasets_by_detector(snaps["lite"], "_mock_add_dataset3")) == [0, 2]
    assert sorted(datasets_by_detector(snaps["lite"], "_mock_add_dataset1")) == [0, 1, 2]
    for tool in TOOLS:
        assert "ValueError" in results[tool].stderr, tool
    # A deliberate difference: pipetask's profiler (lsst.utils.timer.profile)
    # writes nothing when quanta fail; pipetask-lite writes the profile anyway.
    assert not (twins.dir("pipetask") / "prof.out").exists(), "pipetask wrote a profile for a failed run"
    assert (twins.dir("lite") / "prof.out").is_file(), "pipetask-lite wrote no profile for a failed run"


def test_debugging_options(twins: Twins) -> None:
    """``--graph-fixup`` (task0 in decreasing detector order), ``--profile FILE``, ``--debug``."""
    results, snaps = assert_same(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", twins.pipeline, "--register-dataset-types",
         "--graph-fixup", "fixups.reverse_task0_detectors", "--profile", "prof.out", "--debug"],
    )
    assert sorted(datasets_by_detector(snaps["lite"], "add_dataset3")) == list(ALL_DETECTORS)
    for tool in TOOLS:
        assert (twins.dir(tool) / "prof.out").is_file(), f"{tool} wrote no --profile file"
        assert _task0_order(results[tool].stderr) == [2, 1, 0], f"{tool}: --graph-fixup order not applied"


def test_coverage(twins: Twins) -> None:
    """``--coverage --no-cov-report`` on ``qgraph``: a coverage data file, no HTML report."""
    pytest.importorskip("coverage", reason="--coverage needs the coverage package")
    assert_same(
        twins,
        ["qgraph", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", twins.pipeline, "--coverage",
         "--no-cov-report", "--cov-packages", "lsst.pipe.base.tests"],
    )
    for tool in TOOLS:
        assert list(twins.dir(tool).glob(".coverage*")), f"{tool} wrote no coverage data"
        assert not (twins.dir(tool) / "covhtml").exists(), f"{tool} wrote an HTML report"


# ---------------------------------------------------------------------------
# 4 + 5. --show and build
# ---------------------------------------------------------------------------


def _show_args(items: Sequence[str]) -> list[str]:
    return [arg for item in items for arg in ("--show", item)]


def test_build_show_and_save(twins: Twins) -> None:
    """``build`` with every pipeline ``--show`` item, ``-s``, ``--pipeline-dot``, ``--pipeline-mermaid``."""
    results, _ = assert_same(
        twins,
        ["build", "-p", twins.pipeline, "-c", "task0:addend=5", *_show_args(PIPELINE_SHOW_ITEMS),
         "-s", "saved.yaml", "--pipeline-dot", "p.dot", "--pipeline-mermaid", "p.mmd"],
        env=SHOW_ENV,
    )
    out = assert_same_stdout(twins, results, "build --show")
    assert "config.addend=5" in out and "firstTwo:" in out and "add_dataset0" in out
    saved = {tool: read_saved_pipeline(twins.dir(tool) / "saved.yaml") for tool in TOOLS}
    assert saved["pipetask"] == saved["lite"]
    for name in ("p.dot", "p.mmd"):
        assert_same_picture(twins, name)


def test_build_with_butler_show_pipeline_graph(twins: Twins) -> None:
    """``build -b REPO --show pipeline-graph`` (dataset types resolved against the repo), ``--select-tasks``."""
    results, _ = assert_same(
        twins,
        ["build", "-b", REPO, "-p", twins.pipeline, "--select-tasks", ">=task1", "--show", "pipeline-graph"],
        env=SHOW_ENV,
    )
    out = assert_same_stdout(twins, results, "build -b --show pipeline-graph")
    assert "task1" in out and "task0" not in out


def test_build_with_unused_butler(twins: Twins) -> None:
    """``build -b REPO --show config=...``: ``-b`` that no item uses."""
    results, _ = assert_same(
        twins, ["build", "-b", REPO, "-p", twins.pipeline, "--show", "config=task0::addend"], expect_ok=False
    )
    assert "nothing uses it" in results["lite"].stderr


def test_qgraph_empty_graph_with_save(twins: Twins) -> None:
    """``qgraph -d <no data> -q empty.qg``: both fail, same repo.

    Deliberate difference: pipetask still writes the empty graph file before
    failing; pipetask-lite stops before writing anything.
    """
    assert_same(
        twins,
        ["qgraph", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", twins.pipeline, "-d", "detector = 99",
         "-q", "empty.qg"],
        expect_ok=False,
    )
    written = {tool: (twins.dir(tool) / "empty.qg").exists() for tool in TOOLS}
    assert written == {"pipetask": True, "lite": False}, written


def test_qgraph_show_graph_items(twins: Twins) -> None:
    """``qgraph --show`` with graph items (graph, workflow, uri) and pipeline items."""
    for tool in TOOLS:
        _register_dataset_types(twins.root(tool), twins.pipeline)
    results, _ = assert_same(
        twins,
        ["qgraph", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", twins.pipeline, "-d", "detector IN (0, 2)",
         *_show_args([*GRAPH_SHOW_ITEMS, "config=task0::addend", "history=task0::addend", "tasks"])],
        env=SHOW_ENV,
    )
    out = assert_same_stdout(twins, results, "qgraph --show")
    assert "Quantum" in out and "add_dataset3" in out


def test_run_show_pipeline_items_writes_nothing(twins: Twins, template_snapshot) -> None:
    """``run --show`` with only pipeline items: no graph, no write."""
    results, snaps = assert_same(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", twins.pipeline, "--register-dataset-types",
         *_show_args(PIPELINE_SHOW_ITEMS)],
        env=SHOW_ENV,
    )
    assert_same_stdout(twins, results, "run --show (pipeline items)")
    assert diff_snapshots(template_snapshot, snaps["lite"], names=("template", "after")) == ""
    for tool in TOOLS:
        assert "No quantum graph generated" in results[tool].stderr, tool
        assert "QuantumGraph contains" not in results[tool].stderr, tool


def test_run_show_graph_items_does_not_execute(twins: Twins, template_snapshot) -> None:
    """``run --show graph,workflow``: the graph is built and shown, nothing runs or is written."""
    results, snaps = assert_same(
        twins,
        ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", twins.pipeline, "--register-dataset-types",
         "-d", "detector = 1", "--show", "graph,workflow", "--show", "subsets"],
        env=SHOW_ENV,
    )
    assert_same_stdout(twins, results, "run --show graph,workflow,subsets")
    assert diff_snapshots(template_snapshot, snaps["lite"], names=("template", "after")) == ""
    for tool in TOOLS:
        assert "No pipeline executed" in results[tool].stderr, tool


# ---------------------------------------------------------------------------
# 7. Bad input (pipetask-lite only)
# ---------------------------------------------------------------------------

_MISSING_UUID = "00000000-0000-4000-8000-000000000000"

BAD_INPUT = {
    # id: ([subcommand, options after "-b repo"...], option the error line names, exit code: 2 usage, 1 failure)
    "extend-run-missing-output": (
        ["run", "-o", "nope", "-p", "{pipeline}", "--extend-run"], "--extend-run", 1),
    "qgraph-not-a-graph": (["qgraph", "-g", "x.qg"], "-g/--qgraph", 1),
    "qgraph-missing-file": (["run", "-g", "missing.qg"], "-g/--qgraph", 1),
    "qgraph-node-id-not-in-graph": (
        ["run", "-g", "{graph}", "--qgraph-node-id", _MISSING_UUID], "--qgraph-node-id", 1),
    "show-unknown-item": (
        ["run", "-i", "test/chain", "-o", "out", "-p", "{pipeline}", "--show", "bogus"], "--show", 2),
    "select-tasks-unknown-label": (
        ["run", "-i", "test/chain", "-o", "out", "-p", "{pipeline}", "--register-dataset-types",
         "--select-tasks", "nosuchtask"], "--select-tasks", 1),
    "data-id-table-unreadable": (
        ["run", "-i", "test/chain", "-o", "out", "-p", "{pipeline}", "--register-dataset-types",
         "--data-id-table", "bad.ecsv"], "--data-id-table", 1),
    "qgraph-id-mismatch": (
        ["run", "-i", "test/chain", "-o", "out", "-g", "{legacy}", "--qgraph-id", "123.45-6"], "--qgraph-id", 1),
    "replace-run-missing-output": (
        ["run", "-i", "test/chain", "-o", "nope", "-p", "{pipeline}", "--replace-run"], "--replace-run", 1),
}


@pytest.fixture(scope="module")
def bad_input_results(tmp_path_factory: pytest.TempPathFactory, _template_add_repo: AddRepo, saved_graphs):
    """Run every `BAD_INPUT` case with pipetask-lite, two at a time, each on its own repo copy."""
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph

    saved, _, results = saved_graphs
    graph = saved.dir("pipetask") / "g.qg"
    base = tmp_path_factory.mktemp("bad_input")
    legacy = base / "old.qgraph"
    if graph.is_file():
        PredictedQuantumGraph.read_execution_quanta(graph).to_old_quantum_graph().saveUri(str(legacy))
    cases = {}
    for case_id, (argv, _, _) in BAD_INPUT.items():
        cwd = base / case_id
        cwd.mkdir()
        copy_repo(_template_add_repo.root, cwd / REPO)
        (cwd / "x.qg").write_text("this is not a quantum graph\n")
        (cwd / "bad.ecsv").write_text("\x00\x01 not a table \x02\n")
        subcommand, *rest = argv
        filled = [a.format(pipeline=_template_add_repo.pipeline, graph=graph, legacy=legacy) for a in rest]
        cases[case_id] = (cwd, [subcommand, "-b", REPO, *filled])
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            case_id: pool.submit(run_tool, "lite", argv, cwd=cwd) for case_id, (cwd, argv) in cases.items()
        }
        return {case_id: (cases[case_id], futures[case_id].result()) for case_id in cases}, graph.is_file()


# Cases where pipetask-lite does not yet do what is asserted (strict: an XPASS fails).
BAD_INPUT_XFAIL: dict[str, str] = {}


@pytest.mark.parametrize(
    "case_id",
    [
        pytest.param(case_id, marks=pytest.mark.xfail(strict=True, reason=BAD_INPUT_XFAIL[case_id]))
        if case_id in BAD_INPUT_XFAIL
        else case_id
        for case_id in BAD_INPUT
    ],
)
def test_bad_input(case_id: str, bad_input_results, template_snapshot) -> None:
    """One ``pipetask-lite SUBCOMMAND: error:`` line naming the option, no traceback, repo untouched."""
    results, have_graph = bad_input_results
    (cwd, argv), proc = results[case_id]
    if {"{graph}", "{legacy}"} & set(BAD_INPUT[case_id][0]) and not have_graph:
        pytest.skip("no saved graph (pipetask qgraph -q failed)")
    _, option, exit_code = BAD_INPUT[case_id]
    subcommand = argv[0]
    where = f"pipetask-lite {_command(argv)}\nexit {proc.returncode}\nstderr:\n{proc.stderr[-3000:]}"
    assert proc.returncode == exit_code, where
    assert "Traceback" not in proc.stderr, where
    errors = [line for line in proc.stderr.splitlines() if line.startswith(f"pipetask-lite {subcommand}: error:")]
    assert len(errors) == 1, where
    assert option in errors[0], where
    after = snapshot(cwd / REPO)
    assert diff_snapshots(template_snapshot, after, names=("before", "after")) == "", where
