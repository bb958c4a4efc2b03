"""Shared test helpers: tiny butler repos, subprocess runners and snapshots.

The central idea is that ``pipetask-lite`` must leave a butler repo in the
same state as the real ``pipetask``.  Tests therefore build one tiny repo,
copy it (`copy_repo`), run each tool on its own copy, and compare
`snapshot` results with `diff_snapshots`.

Public API
----------
`AddRepo`, `make_add_repo`, `make_failing_pipeline`, `write_add_pipeline`,
`copy_repo`, `add_extra_run`, `snapshot`, `diff_snapshots`,
`normalise_run_name`, `env`, `run_cli`, `run_pipetask`, `run_tool`,
`run_script`, `start_cli` (commands start as forks of a warm interpreter,
``warm.py``), and the path constants `TESTS_DIR`, `REPO_ROOT`, `PIPETASK`.  In this process:
`call_main` (``pipetask_lite._main.main``, for failures before execution) and
`restored_process_state`.

Side-by-side runs (one command line through both tools on twin repos):
`Twins`, `make_twins`, `run_both`, `check_same`, `assert_same`,
`format_results`, the constants `TOOLS` and `TWIN_REPO`, and the readers
`datasets_by_detector`, `find_collection` and `read_saved_pipeline`.

Saved graphs: `graph_signature`, `assert_same_graphs`, `quanta`.  Small
helpers several test modules share: `pipeline_with`, `run_argv`,
`one_error_line`, `repo_digest` (test modules import helpers from here only,
never from each other, so that each can be run, and moved, on its own).
"""

from __future__ import annotations

__all__ = [
    "PIPETASK",
    "REPO_ROOT",
    "TESTS_DIR",
    "TIMESTAMP_PLACEHOLDER",
    "TOOLS",
    "TWIN_REPO",
    "AddRepo",
    "Twins",
    "add_extra_run",
    "assert_same",
    "assert_same_graphs",
    "call_main",
    "check_same",
    "copy_repo",
    "datasets_by_detector",
    "diff_snapshots",
    "env",
    "find_collection",
    "format_results",
    "graph_signature",
    "make_add_repo",
    "make_failing_pipeline",
    "make_twins",
    "normalise_run_name",
    "one_error_line",
    "pipeline_with",
    "quanta",
    "read_saved_pipeline",
    "repo_digest",
    "restored_process_state",
    "run_argv",
    "run_both",
    "run_cli",
    "run_pipetask",
    "run_script",
    "run_tool",
    "snapshot",
    "start_cli",
    "write_add_pipeline",
]

import contextlib
import dataclasses
import difflib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import numpy as np
import yaml

import warm

TESTS_DIR = Path(__file__).resolve().parent
"""Directory holding this module and `failing_tasks`."""

REPO_ROOT = TESTS_DIR.parent
"""Root of the pipetask-lite source tree (parent of ``pipetask_lite/``)."""

PIPETASK = Path(sys.executable).parent / "pipetask"
"""The real ``pipetask`` console script of the current virtualenv."""

TIMESTAMP_PLACEHOLDER = "<timestamp>"
"""Replacement for the ``/YYYYMMDDTHHMMSSZ`` suffix of timestamped runs."""

TOOLS = ("pipetask", "lite")
"""The two tools of a side-by-side run, in the order diffs name them."""

TWIN_REPO = "repo"
"""Repo directory inside each tool's working directory (the ``-b`` value)."""

INSTRUMENT = "INSTR"
"""Instrument name used in test repos (as in `populateButler` defaults)."""

INSTRUMENT_CLASS = "lsst.pipe.base.tests.simpleQGraph.SimpleInstrument"
"""Class name recorded in the instrument dimension record."""

INPUT_RUN = "test/in"
INPUT_CHAIN = "test/chain"
INPUT_DATASET_TYPE = "add_dataset0"

ADD_TASK = "lsst.pipe.base.tests.simpleQGraph.AddTask"
FAIL_TASK = "failing_tasks.FailOnDetectorTask"

# ``Instrument.makeCollectionTimestamp`` gives e.g. ``20261126T053512Z``;
# pipetask appends it to ``--output`` to make the default output run name.
_TIMESTAMP_RE = re.compile(r"/\d{8}T\d{6}Z$")

# Dataset types whose *contents* legitimately differ between two otherwise
# identical runs, so only their existence is compared:
# - ``*_metadata``: timings, memory use, host names, node IDs;
# - ``*_log``: log records carry timestamps, process IDs, host names;
# - ``packages``: versions of the Python modules imported by the process
#   (from `sys.modules`), so a different front end legitimately lists a
#   different set;
# - ``run_provenance``: the provenance quantum graph embeds UUIDs and times;
# - ``*_resource_usage``: derived from task metadata (timings).
_EXISTENCE_ONLY_SUFFIXES = ("_metadata", "_log", "_resource_usage")
_EXISTENCE_ONLY_NAMES = frozenset({"packages", "run_provenance"})


@dataclasses.dataclass(frozen=True)
class AddRepo:
    """A tiny butler repo prepared for `AddTask` pipelines.

    Attributes
    ----------
    root : `pathlib.Path`
        Root directory of the butler repo (holds ``butler.yaml``).
    pipeline : `pathlib.Path`
        Pipeline YAML with tasks ``task0..task{n_tasks-1}``.
    input_run : `str`
        RUN collection holding ``add_dataset0`` (``"test/in"``).
    chain : `str`
        CHAINED collection pointing to ``input_run`` (``"test/chain"``).
    detectors : `tuple` [`int`, ...]
        Detector IDs with an ``add_dataset0`` dataset.
    instrument : `str`
        Instrument name (``"INSTR"``).
    n_tasks : `int`
        Number of tasks in ``pipeline``.
    """

    root: Path
    pipeline: Path
    input_run: str
    chain: str
    detectors: tuple[int, ...]
    instrument: str = INSTRUMENT
    n_tasks: int = 3

    def with_root(self, root: Path | str) -> AddRepo:
        """Return a copy describing the same content at another root.

        Parameters
        ----------
        root : `pathlib.Path` or `str`
            New repo root (e.g. a `copy_repo` destination).

        Returns
        -------
        repo : `AddRepo`
            Same fields except ``root``.
        """
        return dataclasses.replace(self, root=Path(root))


# ---------------------------------------------------------------------------
# Repo and pipeline construction
# ---------------------------------------------------------------------------


def input_array(detector: int) -> np.ndarray:
    """Return the ``add_dataset0`` array stored for ``detector``.

    Parameters
    ----------
    detector : `int`
        Detector ID.

    Returns
    -------
    array : `numpy.ndarray`
        Values distinct per detector, so mixing up data IDs shows up in the
        content digests.
    """
    return np.array([0.0, 1.0, 2.0, 5.0]) + 100.0 * detector


def _task_yaml(label: str, task_class: str, level: int, extra_config: Mapping[str, Any]) -> str:
    # Same config overrides as ``makeSimplePipeline``: task N reads
    # ``add_dataset{N}`` and writes ``add_dataset{N+1}``/``add2_dataset{N+1}``.
    lines = [
        f"  {label}:",
        f"    class: {task_class}",
        "    config:",
        f"      connections.in_tmpl: '{level}'",
        f"      connections.out_tmpl: '{level + 1}'",
    ]
    lines += [f"      {key}: {value!r}" for key, value in extra_config.items()]
    return "\n".join(lines)


def write_add_pipeline(
    path: Path | str,
    n_tasks: int = 3,
    *,
    fail: tuple[int, int] | None = None,
    description: str = "pipetask-lite test pipeline",
) -> Path:
    """Write a pipeline of ``n_tasks`` chained `AddTask` tasks.

    Parameters
    ----------
    path : `pathlib.Path` or `str`
        File to write.
    n_tasks : `int`, optional
        Number of tasks, labelled ``task0..task{n_tasks-1}``.
    fail : `tuple` [`int`, `int`], optional
        ``(task_index, detector)``: replace that task by
        ``failing_tasks.FailOnDetectorTask`` failing for ``detector``.
    description : `str`, optional
        Pipeline description.

    Returns
    -------
    path : `pathlib.Path`
        The written file.

    Notes
    -----
    A ``subsets:`` section is written when ``n_tasks >= 2``: ``firstTwo``
    (``task0``, ``task1``) and, for ``n_tasks >= 3``, ``lastOne``.
    """
    path = Path(path)
    tasks = []
    for level in range(n_tasks):
        if fail is not None and fail[0] == level:
            tasks.append(_task_yaml(f"task{level}", FAIL_TASK, level, {"fail_detector": fail[1]}))
        else:
            tasks.append(_task_yaml(f"task{level}", ADD_TASK, level, {}))
    text = f"description: {description}\ntasks:\n" + "\n".join(tasks) + "\n"
    if n_tasks >= 2:
        text += "subsets:\n  firstTwo:\n    subset: [task0, task1]\n    description: first two tasks\n"
        if n_tasks >= 3:
            text += f"  lastOne:\n    subset: [task{n_tasks - 1}]\n    description: last task\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_failing_pipeline(
    path: Path | str, *, n_tasks: int = 3, fail_task: int = 1, fail_detector: int = 1
) -> Path:
    """Write an `AddTask` pipeline in which one task fails for one detector.

    Parameters
    ----------
    path : `pathlib.Path` or `str`
        File to write.
    n_tasks : `int`, optional
        Number of tasks.
    fail_task : `int`, optional
        Index of the task replaced by ``failing_tasks.FailOnDetectorTask``.
    fail_detector : `int`, optional
        Detector for which that task raises.  Its quanta downstream are
        skipped; other detectors run to the end.

    Returns
    -------
    path : `pathlib.Path`
        The written file.

    Notes
    -----
    Running it needs ``tests/`` on ``PYTHONPATH``: pass ``env=env()``.
    """
    if not 0 <= fail_task < n_tasks:
        raise ValueError(f"fail_task={fail_task} not in [0, {n_tasks}).")
    return write_add_pipeline(
        path, n_tasks, fail=(fail_task, fail_detector), description="pipeline with a failing task"
    )


def make_add_repo(
    root: Path | str,
    *,
    n_detectors: int = 3,
    n_tasks: int = 3,
    pipeline_dir: Path | str | None = None,
    seed_config: Mapping[str, Any] | None = None,
) -> AddRepo:
    """Create a small SQLite butler repo with `AddTask` inputs.

    Parameters
    ----------
    root : `pathlib.Path` or `str`
        Directory for the new repo (created if needed; must not hold a repo).
    n_detectors : `int`, optional
        Number of detectors (IDs ``0..n_detectors-1``).
    n_tasks : `int`, optional
        Number of tasks in the pipeline file.
    pipeline_dir : `pathlib.Path` or `str`, optional
        Where to write ``pipeline_<n_tasks>.yaml``; default is the parent of
        ``root`` so that copying the repo does not copy the pipeline.
    seed_config : `~collections.abc.Mapping`, optional
        Seed config for ``Butler.makeRepo``, e.g. ``{"registry": {"db":
        "postgresql://..."}}`` for a registry that is not SQLite.

    Returns
    -------
    repo : `AddRepo`
        Description of the repo.

    Notes
    -----
    Contents: instrument record ``INSTR``; detectors; dataset type
    ``add_dataset0`` (instrument, detector; NumpyArray) with one distinct
    array per detector in RUN ``test/in``; CHAINED ``test/chain`` ->
    [``test/in``].  Only ``add_dataset0`` is registered: the pipelines'
    other dataset types are left for ``--register-dataset-types``.
    """
    # Imported here so that merely importing the harness stays cheap.
    from lsst.daf.butler import Butler, CollectionType, Config, DatasetType

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    Butler.makeRepo(str(root), config=None if seed_config is None else Config(dict(seed_config)))
    butler = Butler.from_config(str(root), writeable=True)
    try:
        butler.registry.insertDimensionData(
            "instrument", {"name": INSTRUMENT, "class_name": INSTRUMENT_CLASS, "detector_max": 100}
        )
        detectors = tuple(range(n_detectors))
        butler.registry.insertDimensionData(
            "detector",
            *[{"instrument": INSTRUMENT, "id": d, "full_name": f"det{d}"} for d in detectors],
        )
        dataset_type = DatasetType(
            INPUT_DATASET_TYPE, ("instrument", "detector"), "NumpyArray", universe=butler.dimensions
        )
        butler.registry.registerDatasetType(dataset_type)
        butler.collections.register(INPUT_RUN, CollectionType.RUN)
        for d in detectors:
            butler.put(input_array(d), dataset_type, run=INPUT_RUN, instrument=INSTRUMENT, detector=d)
        butler.collections.register(INPUT_CHAIN, CollectionType.CHAINED)
        butler.collections.redefine_chain(INPUT_CHAIN, [INPUT_RUN])
    finally:
        butler.close()

    pipeline_dir = root.parent if pipeline_dir is None else Path(pipeline_dir)
    pipeline = write_add_pipeline(pipeline_dir / f"pipeline_{n_tasks}.yaml", n_tasks)
    return AddRepo(
        root=root,
        pipeline=pipeline,
        input_run=INPUT_RUN,
        chain=INPUT_CHAIN,
        detectors=detectors,
        n_tasks=n_tasks,
    )


def copy_repo(src: Path | str, dst: Path | str) -> Path:
    """Copy a file-based butler repo directory.

    Parameters
    ----------
    src : `pathlib.Path` or `str`
        Existing repo root.
    dst : `pathlib.Path` or `str`
        Destination; must not exist.

    Returns
    -------
    dst : `pathlib.Path`
        The new repo root.

    Notes
    -----
    A plain copy works because the default repo config uses relative
    locations (``<butlerRoot>``) for both the SQLite file and the datastore.
    """
    return Path(shutil.copytree(src, dst))


def add_extra_run(root: Path | str) -> None:
    """Add RUN ``test/extra`` holding a different ``add_dataset0`` for detector 0.

    Parameters
    ----------
    root : `pathlib.Path` or `str`
        Root of an `make_add_repo` repo (or a copy of one).

    Notes
    -----
    With it, the order of ``-i`` collections decides which detector-0 input
    the pipeline reads, so a reordered search path shows up in the digests.
    """
    from lsst.daf.butler import Butler

    with Butler.from_config(str(root), writeable=True) as butler:
        butler.collections.register("test/extra")
        butler.put(
            np.array([1000.0, 2000.0]), INPUT_DATASET_TYPE, run="test/extra", instrument=INSTRUMENT, detector=0
        )


# ---------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------


def normalise_run_name(name: str) -> str:
    """Replace a trailing ``/YYYYMMDDTHHMMSSZ`` by ``/<timestamp>``.

    Parameters
    ----------
    name : `str`
        Collection name.

    Returns
    -------
    name : `str`
        Normalised name, so runs made at different times compare equal.
    """
    return _TIMESTAMP_RE.sub("/" + TIMESTAMP_PLACEHOLDER, name)


def _run_name_map(names: Iterable[str]) -> dict[str, str]:
    """Map collection names to normalised names, keeping them distinct.

    Notes
    -----
    One timestamped run per prefix becomes ``prefix/<timestamp>``.  When a
    repo holds several (e.g. two ``pipetask run -o out`` invocations), they
    become ``prefix/<timestamp#0>``, ``prefix/<timestamp#1>``... in
    chronological order (the timestamps sort as strings), so they do not
    collapse into one key.
    """
    groups: dict[str, list[str]] = {}
    for name in set(names):
        groups.setdefault(normalise_run_name(name), []).append(name)
    mapping = {}
    for normalised, originals in groups.items():
        if len(originals) == 1 or not normalised.endswith(TIMESTAMP_PLACEHOLDER):
            mapping.update((o, normalised) for o in originals)
        else:
            stem = normalised[: -len(TIMESTAMP_PLACEHOLDER)]
            for i, o in enumerate(sorted(originals)):
                mapping[o] = f"{stem}<timestamp#{i}>"
    return mapping


def _is_existence_only(dataset_type_name: str) -> bool:
    # Datasets of --mock runs record dataset UUIDs and run names, which differ
    # between two runs (and need the mocks module to be read at all); tests
    # that care compare their normalised contents themselves.
    return (
        dataset_type_name in _EXISTENCE_ONLY_NAMES
        or dataset_type_name.endswith(_EXISTENCE_ONLY_SUFFIXES)
        or dataset_type_name.startswith("_mock_")
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _digest_object(obj: Any) -> str:
    # Prefix says what was hashed, so a diff shows e.g. "numpy:..." vs
    # "config:...".
    from lsst.pex.config import Config

    if isinstance(obj, np.ndarray):
        header = f"{obj.dtype.str}{obj.shape}".encode()
        return "numpy:" + _sha(header + np.ascontiguousarray(obj).tobytes())
    if isinstance(obj, np.generic):
        return "numpy:" + _sha(f"{obj.dtype.str}".encode() + obj.tobytes())
    if isinstance(obj, Config):
        # saveToString is deterministic (fields in definition order, no
        # times or paths); test_twin_runs_compare_equal checks that two
        # pipetask runs give equal config digests.
        return "config:" + _sha(obj.saveToString().encode())
    try:
        text = json.dumps(obj, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(obj)
    return f"{type(obj).__name__}:" + _sha(text.encode())


def _digest_dataset(butler: Any, ref: Any) -> str | None:
    if _is_existence_only(ref.datasetType.name):
        return None
    try:
        obj = butler.get(ref)
    except Exception as err:  # Any read failure is itself a difference.
        return f"<unreadable: {type(err).__name__}>"
    return _digest_object(obj)


def _data_id(ref: Any) -> dict[str, Any]:
    required = ref.dataId.required
    return {key: required[key] for key in sorted(required)}


def snapshot(root: Path | str, *, ignore_runs_prefix: str | Sequence[str] | None = None) -> dict[str, Any]:
    """Describe a butler repo's collections, dataset types and datasets.

    Parameters
    ----------
    root : `pathlib.Path` or `str`
        Repo root.
    ignore_runs_prefix : `str` or sequence of `str`, optional
        Collections whose (un-normalised) names start with any of these
        prefixes are left out, as are their datasets and any chain children
        with those names.

    Returns
    -------
    snap : `dict`
        JSON-compatible, deterministic (sorted) mapping with keys:

        ``collections``
            list of ``{"name", "type", "doc"}`` plus ``"children"`` for
            CHAINED collections (search order kept).
        ``dataset_types``
            list of ``{"name", "dimensions", "storage_class"}``.
        ``datasets``
            list of ``{"dataset_type", "run", "data_id", "digest"}``.

        Collection names are passed through `normalise_run_name` (several
        timestamped runs with one prefix are numbered ``<timestamp#i>`` in
        time order).  ``digest`` is `None` for datasets compared only by
        existence (metadata, logs, packages, provenance).  Dataset UUIDs,
        file paths, dimension records and TAGGED/CALIBRATION memberships
        are not included.
    """
    from lsst.daf.butler import Butler, CollectionType

    if isinstance(ignore_runs_prefix, str):
        prefixes: tuple[str, ...] = (ignore_runs_prefix,)
    else:
        prefixes = tuple(ignore_runs_prefix or ())

    def ignored(name: str) -> bool:
        return bool(prefixes) and name.startswith(prefixes)

    butler = Butler.from_config(str(root), writeable=False)
    try:
        infos = [
            info
            for info in butler.collections.query_info("*", include_chains=True, include_doc=True)
            if not ignored(info.name)
        ]
        rename = _run_name_map(info.name for info in infos)
        collections = []
        runs = []
        for info in infos:
            entry: dict[str, Any] = {
                "name": rename[info.name],
                "type": info.type.name,
                "doc": info.doc or "",
            }
            if info.type is CollectionType.CHAINED:
                entry["children"] = [
                    rename.get(c, normalise_run_name(c)) for c in info.children if not ignored(c)
                ]
            if info.type is CollectionType.RUN:
                runs.append(info.name)
            collections.append(entry)
        collections.sort(key=lambda c: c["name"])

        dataset_types = sorted(
            (
                {
                    "name": dt.name,
                    "dimensions": sorted(dt.dimensions.names),
                    "storage_class": dt.storageClass_name,
                }
                for dt in butler.registry.queryDatasetTypes("*")
            ),
            key=lambda d: d["name"],
        )

        datasets = []
        if runs:
            for dt in dataset_types:
                refs = butler.query_datasets(
                    dt["name"], collections=runs, find_first=False, explain=False, limit=None
                )
                for ref in refs:
                    datasets.append(
                        {
                            "dataset_type": ref.datasetType.name,
                            "run": rename[ref.run],
                            "data_id": _data_id(ref),
                            "digest": _digest_dataset(butler, ref),
                        }
                    )
        datasets.sort(key=lambda d: (d["run"], d["dataset_type"], json.dumps(d["data_id"], default=str)))
    finally:
        butler.close()
    return {"collections": collections, "dataset_types": dataset_types, "datasets": datasets}


def _dataset_key(d: Mapping[str, Any]) -> str:
    data_id = ", ".join(f"{k}={v}" for k, v in d["data_id"].items())
    return f"{d['dataset_type']}@{d['run']}({data_id})"


def _keyed(items: Iterable[Mapping[str, Any]], key) -> dict[str, Mapping[str, Any]]:
    return {key(item): item for item in items}


def diff_snapshots(a: Mapping[str, Any], b: Mapping[str, Any], *, names: tuple[str, str] = ("a", "b")) -> str:
    """Describe the differences between two `snapshot` results.

    Parameters
    ----------
    a, b : `dict`
        Snapshots to compare.
    names : `tuple` [`str`, `str`], optional
        Labels for ``a`` and ``b`` in the message (e.g. ``("pipetask",
        "lite")``).

    Returns
    -------
    diff : `str`
        Empty if equal; otherwise one line per missing/extra/changed
        collection, dataset type or dataset (datasets are named as
        ``type@run(data id)``).
    """
    na, nb = names
    lines: list[str] = []
    sections = (
        ("collection", "collections", lambda c: c["name"]),
        ("dataset type", "dataset_types", lambda d: d["name"]),
        ("dataset", "datasets", _dataset_key),
    )
    for label, field, key in sections:
        ka = _keyed(a.get(field, ()), key)
        kb = _keyed(b.get(field, ()), key)
        for k in sorted(ka.keys() - kb.keys()):
            lines.append(f"{label} only in {na}: {k}")
        for k in sorted(kb.keys() - ka.keys()):
            lines.append(f"{label} only in {nb}: {k}")
        for k in sorted(ka.keys() & kb.keys()):
            if ka[k] != kb[k]:
                changed = {
                    f: (ka[k].get(f), kb[k].get(f))
                    for f in sorted(ka[k].keys() | kb[k].keys())
                    if ka[k].get(f) != kb[k].get(f)
                }
                detail = "; ".join(f"{f}: {na}={va!r} {nb}={vb!r}" for f, (va, vb) in changed.items())
                lines.append(f"{label} differs: {k}: {detail}")
    if not lines and a != b:
        # Same keys and items but e.g. duplicate keys or extra top-level
        # fields: fall back to a textual diff so nothing is silently equal.
        ja = json.dumps(a, indent=1, sort_keys=True, default=str).splitlines()
        jb = json.dumps(b, indent=1, sort_keys=True, default=str).splitlines()
        lines = list(difflib.unified_diff(ja, jb, na, nb, lineterm=""))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Subprocess runners
# ---------------------------------------------------------------------------


def env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return `os.environ` with ``PYTHONPATH`` set up for subprocesses.

    Parameters
    ----------
    extra : `~collections.abc.Mapping`, optional
        Additional variables to set.

    Returns
    -------
    environ : `dict` [`str`, `str`]
        Copy of the environment with the source tree (for ``pipetask_lite``,
        which is not installed into the venv) and ``tests/`` (for
        ``failing_tasks`` named in pipeline YAML) prepended to
        ``PYTHONPATH``.
    """
    environ = dict(os.environ)
    paths = [str(REPO_ROOT), str(TESTS_DIR)]
    if environ.get("PYTHONPATH"):
        paths.append(environ["PYTHONPATH"])
    environ["PYTHONPATH"] = os.pathsep.join(paths)
    if extra:
        environ.update(extra)
    return environ


# ``run_cli``/``run_pipetask`` take an ``env`` argument that shadows `env`.
_default_env = env


def _run(
    cmd: list[str],
    *,
    cwd: Path | str | None,
    env: Mapping[str, str] | None,
    timeout: float,
    stdin: int | IO[Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    # A fork of an interpreter that has imported the stack already (warm.py).
    return warm.run(cmd, cwd=None if cwd is None else str(cwd), env=env if env is not None else _default_env(),
                    stdin=stdin, timeout=timeout)


def run_cli(
    argv: Sequence[Any],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    stdin: int | IO[Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipetask_lite *argv`` and capture its output.

    Parameters
    ----------
    argv : sequence
        Arguments; non-string items (e.g. `pathlib.Path`) are `str`-ed.
    cwd : `pathlib.Path` or `str`, optional
        Working directory.
    env : `~collections.abc.Mapping`, optional
        Environment; default is `harness.env` () so ``pipetask_lite`` and
        ``failing_tasks`` import from any ``cwd``.
    timeout : `float`, optional
        Seconds before `subprocess.TimeoutExpired` is raised.
    stdin : `int` or file object, optional
        Passed to `subprocess.run` (e.g. `subprocess.DEVNULL`); default
        inherits this process's standard input.

    Returns
    -------
    result : `subprocess.CompletedProcess`
        With text ``stdout``/``stderr``; the return code is not checked.
    """
    return _run(
        [sys.executable, "-m", "pipetask_lite", *map(str, argv)], cwd=cwd, env=env, timeout=timeout, stdin=stdin
    )


def start_cli(
    argv: Sequence[Any], *, stdout: int | IO[Any] | None = None, stderr: int | IO[Any] | None = None,
    stdin: int | IO[Any] | None = None,
) -> subprocess.Popen | warm.WarmProcess:
    """Start ``python -m pipetask_lite *argv`` in the background, as `subprocess.Popen` would.

    For tests that signal or kill the command while it runs: the result has
    ``pid``, ``poll``, ``wait`` and ``send_signal``.  The environment is
    `env` (); ``stdin``, ``stdout`` and ``stderr`` are as for
    `subprocess.Popen` (a file, `subprocess.DEVNULL`; no ``PIPE``).
    """
    return warm.start([sys.executable, "-m", "pipetask_lite", *map(str, argv)], env=_default_env(), stdin=stdin,
                      stdout=stdout, stderr=stderr)


def warm_pipetask_lite(bindir: Path, environ: Mapping[str, str]) -> bool:
    """Put in ``bindir`` a ``pipetask-lite`` that runs the real one as a fork of the warm interpreter.

    For commands that another program finds on PATH and starts (BPS's jobs):
    with ``bindir`` first on their PATH, each saves the ~2 s of a new
    interpreter importing the stack (`warm.write_forwarder`).  Returns
    `False`, writing nothing, where the commands get their own interpreter.
    """
    script = Path(sys.executable).parent / "pipetask-lite"
    return warm.write_forwarder(bindir / "pipetask-lite", script, environ)


def run_script(path: Path | str, *, cwd: Path | str | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``python path`` (a script ``--explain`` printed) and capture its output, standard input empty."""
    return _run([sys.executable, str(path)], cwd=cwd, env=None, timeout=timeout, stdin=subprocess.DEVNULL)


@contextlib.contextmanager
def restored_process_state() -> Iterator[None]:
    """Undo, on exit, what ``pipetask_lite._main.main`` sets up for a process.

    ``main`` installs a SIGTERM handler and initialises logging once per
    process (daf_butler's ``CliLog``: root handlers, log levels, a record
    factory, warnings routed to logging).  In a test process those would
    outlive the call, and a second ``main`` would log into the first call's
    captured stream.  conftest.py wraps every test in this; `call_main`
    wraps each call.
    """
    sigterm = signal.getsignal(signal.SIGTERM)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    capturing_warnings = logging._warnings_showwarning is not None  # type: ignore[attr-defined]
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        cli_log = sys.modules.get("lsst.daf.butler.cli.cliLog")
        if cli_log is not None and cli_log.CliLog._initialized:
            cli_log.CliLog.resetLog()  # its file handlers, log levels and record factory
        # The handlers logging.basicConfig added (pytest's own capture handlers,
        # subclasses, come and go with each test phase: never put one back).
        for handler in list(root.handlers):
            if handler not in handlers and type(handler) in (logging.StreamHandler, logging.NullHandler):
                root.removeHandler(handler)
        root.setLevel(level)
        if not capturing_warnings:
            logging.captureWarnings(False)


def call_main(argv: Sequence[Any], *, cwd: Path | str | None = None) -> subprocess.CompletedProcess[str]:
    """Call ``pipetask_lite._main.main(argv)`` in this process, as `run_cli` runs it in another.

    For failures that happen before anything runs (usage errors, bad values,
    a missing repo): the same exit code and output without the second or two
    a new interpreter takes to import the LSST stack.  What only a process
    shows (its real exit status, a traceback on the way out, signals, import
    time) stays with `run_cli`.

    Parameters
    ----------
    argv : sequence
        Arguments; non-string items (e.g. `pathlib.Path`) are `str`-ed.
    cwd : `pathlib.Path` or `str`, optional
        Working directory during the call.

    Returns
    -------
    result : `subprocess.CompletedProcess`
        ``args``, ``returncode`` (``main``'s return value, or the code of the
        `SystemExit` argparse raised), text ``stdout`` and ``stderr``.
    """
    from pipetask_lite._main import main

    argv = [str(a) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    with (restored_process_state(), contextlib.chdir(cwd or os.getcwd()),
          contextlib.redirect_stdout(out), contextlib.redirect_stderr(err)):
        # Without pytest's capture handlers on the root logger, CliLog's
        # logging.basicConfig logs to this stderr, as in a new process.
        root = logging.getLogger()
        pytest_handlers = list(root.handlers)
        for handler in pytest_handlers:
            root.removeHandler(handler)
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors and --help; sys.exit("message")
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)  # as the interpreter prints it on the way out
                code = 1
        finally:
            for handler in pytest_handlers:
                root.addHandler(handler)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def run_pipetask(
    argv: Sequence[Any],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    stdin: int | IO[Any] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``pipetask *argv`` and capture its output.

    Parameters
    ----------
    argv : sequence
        Arguments; non-string items are `str`-ed.
    cwd : `pathlib.Path` or `str`, optional
        Working directory.
    env : `~collections.abc.Mapping`, optional
        Environment; default is `harness.env` ().
    timeout : `float`, optional
        Seconds before `subprocess.TimeoutExpired` is raised.
    stdin : `int` or file object, optional
        Standard input, as for `run_cli`.

    Returns
    -------
    result : `subprocess.CompletedProcess`
        With text ``stdout``/``stderr``; the return code is not checked.
    """
    return _run([str(PIPETASK), *map(str, argv)], cwd=cwd, env=env, timeout=timeout, stdin=stdin)


# ---------------------------------------------------------------------------
# Side-by-side runs: the same command line through both tools
# ---------------------------------------------------------------------------


def run_tool(
    tool: str,
    argv: Sequence[Any],
    *,
    cwd: Path | str,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``pipetask`` (`run_pipetask`) or ``pipetask-lite`` (`run_cli`).

    Parameters
    ----------
    tool : `str`
        ``"pipetask"`` for the real ``pipetask``, ``"lite"`` for
        ``python -m pipetask_lite`` (see `TOOLS`).
    argv : sequence
        Arguments after the program name; non-string items are `str`-ed.
    cwd : `pathlib.Path` or `str`
        Working directory.
    env : `~collections.abc.Mapping`, optional
        Extra environment variables, set on top of `env` ().
    timeout : `float`, optional
        Seconds before `subprocess.TimeoutExpired` is raised.

    Returns
    -------
    result : `subprocess.CompletedProcess`
        With text ``stdout``/``stderr``; the return code is not checked.

    Notes
    -----
    Standard input is `subprocess.DEVNULL`, so a child never gets a terminal
    (``--pdb`` can never start an interactive debugger).  Under pytest's
    default capture this is what a child would inherit anyway.
    """
    runner = run_pipetask if tool == "pipetask" else run_cli
    return runner(argv, cwd=cwd, env=_default_env(env), timeout=timeout, stdin=subprocess.DEVNULL)


@dataclasses.dataclass
class Twins:
    """Identical repos, one per tool, each in its own working directory.

    Made by `make_twins`: ``base/<tool>/`` is the working directory of
    ``tool`` and holds the repo ``base/<tool>/repo`` (`TWIN_REPO`), so
    relative paths on a command line (``-b repo``, ``-q g.qg``,
    ``--summary s.json``) name each tool's own files.

    Attributes
    ----------
    base : `pathlib.Path`
        Directory holding one working directory per tool in `TOOLS`.
    template : `AddRepo`
        The repo that was copied.
    """

    base: Path
    template: AddRepo

    def dir(self, tool: str) -> Path:
        """Return the working directory of ``tool``.

        Parameters
        ----------
        tool : `str`
            One of `TOOLS`.

        Returns
        -------
        path : `pathlib.Path`
            ``base / tool``.
        """
        return self.base / tool

    def root(self, tool: str) -> Path:
        """Return the repo root of ``tool``, ``dir(tool) / TWIN_REPO``.

        ``tool`` is as for `dir`; the root is what ``-b repo`` names.
        """
        return self.dir(tool) / TWIN_REPO

    @property
    def pipeline(self) -> Path:
        """The template's pipeline (absolute path, shared, read-only)."""
        return self.template.pipeline

    def write(self, name: str, text: str) -> None:
        """Write the same file into both working directories.

        Parameters
        ----------
        name : `str`
            File name, relative to each working directory.
        text : `str`
            Contents.
        """
        for tool in TOOLS:
            (self.dir(tool) / name).write_text(text)

    def snapshots(self) -> dict[str, dict[str, Any]]:
        """Return the `snapshot` of each tool's repo.

        Returns
        -------
        snaps : `dict` [`str`, `dict`]
            Snapshot per tool.
        """
        # One after the other: butler and storage-class singletons are not
        # meant to be shared between threads, and the reads are GIL-bound.
        return {tool: snapshot(self.root(tool)) for tool in TOOLS}


def make_twins(base: Path | str, template: AddRepo) -> Twins:
    """Copy ``template``'s repo into one working directory per tool.

    Parameters
    ----------
    base : `pathlib.Path` or `str`
        Directory for the working directories (``base/pipetask``,
        ``base/lite``; they must not exist).
    template : `AddRepo`
        Repo to copy (usually the session's ``_template_add_repo``).

    Returns
    -------
    twins : `Twins`
        The two copies.
    """
    base = Path(base)
    for tool in TOOLS:
        (base / tool).mkdir(parents=True)
        copy_repo(template.root, base / tool / TWIN_REPO)
    return Twins(base=base, template=template)


def run_both(
    twins: Twins, argv: Sequence[Any], *, env: Mapping[str, str] | None = None
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run ``argv`` with both tools at once, each in its own working directory.

    Parameters
    ----------
    twins : `Twins`
        The two repos.
    argv : sequence
        Global options, subcommand and options (``["run", "-b", "repo",
        ...]``).
    env : `~collections.abc.Mapping`, optional
        Extra environment variables for both (see `run_tool`).

    Returns
    -------
    results : `dict` [`str`, `subprocess.CompletedProcess`]
        Completed process per tool; return codes are not checked.
    """
    with ThreadPoolExecutor(max_workers=len(TOOLS)) as pool:
        futures = {tool: pool.submit(run_tool, tool, argv, cwd=twins.dir(tool), env=env) for tool in TOOLS}
        return {tool: future.result() for tool, future in futures.items()}


def format_results(results: Mapping[str, subprocess.CompletedProcess[str]], tail: int = 3000) -> str:
    """Describe each tool's exit status and stderr, for assertion messages.

    Parameters
    ----------
    results : `~collections.abc.Mapping` [`str`, `subprocess.CompletedProcess`]
        Completed process per tool, as returned by `run_both`.
    tail : `int`, optional
        Number of characters of each stderr to show (the last ones).

    Returns
    -------
    text : `str`
        One ``--- tool: exit N; stderr tail:`` block per tool in `TOOLS`.
    """
    return "\n".join(
        f"--- {tool}: exit {results[tool].returncode}; stderr tail:\n{results[tool].stderr[-tail:]}"
        for tool in TOOLS
    )


def check_same(
    twins: Twins,
    argv: Sequence[Any],
    results: Mapping[str, subprocess.CompletedProcess[str]],
    *,
    expect_ok: bool | None = True,
    mask_digests: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Assert both tools had the same exit class and left the same repo.

    Parameters
    ----------
    twins : `Twins`
        The two repos ``results`` were run on.
    argv : sequence
        The command line that was run (for messages).
    results : `~collections.abc.Mapping` [`str`, `subprocess.CompletedProcess`]
        Completed process per tool, as returned by `run_both`.
    expect_ok : `bool` or `None`, optional
        Also require that pipetask itself succeeded (`True`) or failed
        (`False`), so the test checks what it means to; `None` for no check.
    mask_digests : `str`, optional
        Datasets whose type name starts with this prefix are compared by
        existence only: their digests are replaced by ``"<masked>"`` in both
        snapshots (the caller compares their contents its own way).

    Returns
    -------
    snaps : `dict` [`str`, `dict`]
        `snapshot` of each tool's repo after the run (with masked digests
        if ``mask_digests`` is given).

    Raises
    ------
    AssertionError
        If pipetask's exit status is not as ``expect_ok`` says, the exit
        status classes (zero vs non-zero) differ, or `diff_snapshots` finds
        a difference (its text is the message).
    """
    command = " ".join(str(a) for a in argv)
    details = format_results(results)
    if expect_ok is not None:
        assert (results["pipetask"].returncode == 0) == expect_ok, (
            f"pipetask itself {'failed' if expect_ok else 'succeeded'} for: {command}\n{details}"
        )
    assert (results["pipetask"].returncode == 0) == (results["lite"].returncode == 0), (
        f"exit status class differs for: {command}\n{details}"
    )
    snaps = twins.snapshots()
    if mask_digests:
        for snap in snaps.values():
            for d in snap["datasets"]:
                if d["dataset_type"].startswith(mask_digests):
                    d["digest"] = "<masked>"
    diff = diff_snapshots(snaps["pipetask"], snaps["lite"], names=TOOLS)
    assert not diff, f"snapshots differ after: {command}\n{diff}"
    return snaps


def assert_same(
    twins: Twins,
    argv: Sequence[Any],
    *,
    expect_ok: bool | None = True,
    env: Mapping[str, str] | None = None,
    mask_digests: str | None = None,
) -> tuple[dict[str, subprocess.CompletedProcess[str]], dict[str, dict[str, Any]]]:
    """Run ``argv`` with both tools; assert the same exit class and snapshots.

    Parameters
    ----------
    twins : `Twins`
        The two repos.
    argv : sequence
        Command line after the program name (``["run", "-b", "repo", ...]``).
    expect_ok : `bool` or `None`, optional
        See `check_same`.
    env : `~collections.abc.Mapping`, optional
        Extra environment variables for both tools (see `run_tool`).
    mask_digests : `str`, optional
        Dataset type prefix compared by existence only; see `check_same`.

    Returns
    -------
    results : `dict` [`str`, `subprocess.CompletedProcess`]
        Completed process per tool (`run_both`).
    snaps : `dict` [`str`, `dict`]
        Repo snapshot per tool after the run (`check_same`).
    """
    results = run_both(twins, argv, env=env)
    return results, check_same(twins, argv, results, expect_ok=expect_ok, mask_digests=mask_digests)


def datasets_by_detector(snap: Mapping[str, Any], dataset_type: str, run: str | None = None) -> dict[int, dict]:
    """Select one dataset type's entries of a `snapshot`, keyed by detector.

    Parameters
    ----------
    snap : `~collections.abc.Mapping`
        A `snapshot` result.
    dataset_type : `str`
        Dataset type name.
    run : `str`, optional
        Normalised run name to restrict to; default: every run.

    Returns
    -------
    datasets : `dict` [`int`, `dict`]
        Snapshot entry per detector ID (key `None` for datasets without a
        detector, e.g. configs); of several runs, the last in snapshot order.
    """
    return {
        d["data_id"].get("detector"): d
        for d in snap["datasets"]
        if d["dataset_type"] == dataset_type and (run is None or d["run"] == run)
    }


def find_collection(snap: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Return the `snapshot` entry of collection ``name``.

    Parameters
    ----------
    snap : `~collections.abc.Mapping`
        A `snapshot` result.
    name : `str`
        Normalised collection name.

    Returns
    -------
    entry : `dict`
        The collection's ``{"name", "type", "doc"[, "children"]}`` entry.

    Raises
    ------
    AssertionError
        If there is no such collection (the message lists those there are).
    """
    matches = [c for c in snap["collections"] if c["name"] == name]
    assert matches, f"no collection {name!r} in {[c['name'] for c in snap['collections']]}"
    return matches[0]


def read_saved_pipeline(path: Path | str) -> dict[str, Any]:
    """Parse a pipeline file written by ``-s``, in a comparable form.

    Parameters
    ----------
    path : `pathlib.Path` or `str`
        The ``-s`` file.

    Returns
    -------
    pipeline : `dict`
        The parsed YAML, with the members of each subset sorted: pipe_base
        keeps them in a `set`, whose order changes with each process's hash
        seed.

    Raises
    ------
    AssertionError
        If ``path`` was not written.
    """
    path = Path(path)
    assert path.is_file(), f"{path} was not written"
    data = yaml.safe_load(path.read_text())
    for subset in (data.get("subsets") or {}).values():
        if isinstance(subset, dict) and isinstance(subset.get("subset"), list):
            subset["subset"] = sorted(subset["subset"])
    return data


def next_second() -> None:
    """Wait for the wall clock's next second.

    A default output run is ``OUTPUT/<timestamp>`` to the second, as pipetask
    names it; a second command on the same ``-o`` within the same second
    would be refused ("output run already exists"), as pipetask refuses it.
    Tests that run twice on one ``-o`` call this in between.
    """
    import time

    time.sleep(1.01 - time.time() % 1)


# ---------------------------------------------------------------------------
# Saved quantum graphs, compared across tools
# ---------------------------------------------------------------------------


def _data_id_key(data_id: Any) -> tuple[tuple[str, Any], ...]:
    required = data_id.required
    return tuple((k, required[k]) for k in sorted(required))


def _normalise_metadata(value: Any) -> Any:
    """Normalise run names inside graph header metadata."""
    if isinstance(value, str):
        return normalise_run_name(value)
    if isinstance(value, Mapping):
        return {k: _normalise_metadata(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise_metadata(v) for v in value]
    return value


def graph_signature(path: Path, *, execution: bool = False) -> dict[str, Any]:
    """Describe a saved ``.qg`` graph independently of UUIDs and timestamps.

    Parameters
    ----------
    path : `pathlib.Path`
        The saved graph.
    execution : `bool`, optional
        Also read the execution quanta, for ``datastore_records``.

    Returns
    -------
    signature : `dict` [`str`, `~typing.Any`]
        ``quanta`` (set of ``(label, data ID)``), ``edges`` (set of pairs of
        those), and the header fields that do not depend on the process
        (``inputs``, ``output``, normalised ``output_run``, normalised
        ``metadata``, counts).  With ``execution=True`` it also has
        ``datastore_records``: the quanta whose stored inputs carry datastore
        records (``--qgraph-datastore-records``).
    """
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph

    assert path.is_file(), f"{path} was not written"
    with PredictedQuantumGraph.open(path) as reader:
        if execution:
            reader.read_execution_quanta()
        else:
            reader.read_thin_graph()
        components = reader.components
        qg = components.assemble()
    keys = {}
    for label, quanta_of_task in qg.quanta_by_task.items():
        for data_id, quantum_id in quanta_of_task.items():
            keys[quantum_id] = (label, _data_id_key(data_id))
    edges = {(keys[a], keys[b]) for a, b in components.thin_graph.edges}
    header = qg.header
    signature: dict[str, Any] = {
        "quanta": set(keys.values()),
        "edges": edges,
        "inputs": [normalise_run_name(name) for name in header.inputs],
        "output": header.output,
        "output_run": normalise_run_name(header.output_run) if header.output_run else None,
        "metadata": _normalise_metadata(dict(header.metadata)),
        "n_quanta": header.n_quanta,
        "n_datasets": header.n_datasets,
        "n_task_quanta": dict(header.n_task_quanta),
    }
    if execution:
        signature["datastore_records"] = {
            keys[quantum_id]
            for quantum_id, datasets in components.quantum_datasets.items()
            if datasets.datastore_records
        }
    return signature


def assert_same_graphs(twins: Twins, name: str, *, execution: bool = False) -> dict[str, Any]:
    """Assert the graphs saved as ``name`` by both tools have equal signatures.

    Parameters
    ----------
    twins : `Twins`
        The two working directories; each holds its tool's ``name``.
    name : `str`
        File name of the saved graph, relative to each working directory.
    execution : `bool`, optional
        Compare the execution quanta too (see `graph_signature`).

    Returns
    -------
    signature : `dict` [`str`, `~typing.Any`]
        pipetask-lite's `graph_signature`.
    """
    sigs = {tool: graph_signature(twins.dir(tool) / name, execution=execution) for tool in TOOLS}
    diffs = [
        f"{field}: pipetask={sigs['pipetask'][field]!r}\n{' ' * len(field)}  lite={sigs['lite'][field]!r}"
        for field in sigs["pipetask"]
        if sigs["pipetask"][field] != sigs["lite"].get(field)
    ]
    assert not diffs, f"saved graphs {name} differ:\n" + "\n".join(diffs)
    return sigs["lite"]


def quanta(labels: Sequence[str], detectors: Sequence[int]) -> set[tuple[str, tuple]]:
    """Return the ``(label, data ID)`` set of `graph_signature` for these labels and detectors."""
    return {(label, (("detector", d), ("instrument", INSTRUMENT))) for label in labels for d in detectors}


# ---------------------------------------------------------------------------
# Small helpers shared by several test modules
# ---------------------------------------------------------------------------


def pipeline_with(path: Path, task_class: str, config: Mapping[str, Any], *, level: int = 1, n_tasks: int = 3) -> Path:
    """Write a chain of AddTasks (like `write_add_pipeline`'s) with task ``level`` replaced.

    Parameters
    ----------
    path : `pathlib.Path`
        Pipeline file to write.
    task_class : `str`
        Class of task ``level`` (for instance one of ``failing_tasks``).
    config : `~collections.abc.Mapping`
        Config overrides of that task, written as YAML scalars.
    level : `int`, optional
        Which task (``task<level>``) is replaced.
    n_tasks : `int`, optional
        Length of the chain.

    Returns
    -------
    path : `pathlib.Path`
        ``path``.
    """
    lines = ["description: pipetask-lite parallel test", "tasks:"]
    for i in range(n_tasks):
        cls = task_class if i == level else ADD_TASK
        lines += [f"  task{i}:", f"    class: {cls}", "    config:",
                  f"      connections.in_tmpl: '{i}'", f"      connections.out_tmpl: '{i + 1}'"]
        if i == level:
            lines += [f"      {key}: {value}" for key, value in config.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_argv(repo: AddRepo, *extra: str) -> list[str]:
    """Return ``run -b ROOT -i INPUT -o out -p PIPELINE`` for ``repo``, then ``extra``."""
    return ["run", "-b", str(repo.root), "-i", repo.input_run, "-o", "out", "-p", str(repo.pipeline), *extra]


def one_error_line(stderr: str) -> str:
    """Return the ``pipetask-lite run: error:`` line of ``stderr``.

    Fails if there is a traceback or more than one error line.
    """
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("pipetask-lite run: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def repo_digest(root: Path) -> str:
    """Return a digest of every file's path and bytes under ``root`` (to show a repo untouched)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
