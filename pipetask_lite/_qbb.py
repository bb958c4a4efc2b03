"""`run_qbb`, `pre_exec_init_qbb`, `update_graph_run`: pipetask as a batch system runs it.

At scale, a batch system (ctrl_bps with HTCondor, PanDA or Parsl) does not call
``pipetask run``.  It builds one graph, then runs its quanta in many jobs on
many machines, none of which touches the registry database:

1. ``pipetask qgraph ... --qgraph-datastore-records -q G.qg`` once
   (`pipetask_lite.qgraph`): the graph carries the datastore records of its
   inputs, so that jobs can find the input files without the registry;
2. ``pipetask pre-exec-init-qbb REPO G.qg`` once (`pre_exec_init_qbb`): the
   init-outputs, configs and package versions, written as files;
3. ``pipetask run-qbb REPO G.qg --qgraph-node-id ID,...`` in each job
   (`run_qbb`): quanta executed with quantum-backed butlers
   (`lsst.daf.butler.QuantumBackedButler`), which read and write files only;
4. ``butler transfer-from-graph G.qg REPO --register-dataset-types
   --update-output-chain`` once at the end: the outputs go into the registry.

`update_graph_run` gives a saved graph a new output run (and new output
dataset IDs), so that the same graph can be run again elsewhere.
"""

from __future__ import annotations

__all__ = ("pre_exec_init_qbb", "run_qbb", "update_graph_run")

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._execution import (
    ExecutionOptions,
    RunResult,
    coverage_enabled,
    execute_to_the_end,
    import_lsst_debug,
    make_executor,
)
from ._execution.interrupt import stop_between_quanta
from ._execution.parallel import WorkerSetup
from ._execution.registration import BatchRegistration
from ._qgraph import _log_summary, load_quantum_graph
from ._util import blame, repo_errors
from .errors import PipetaskLiteError

if TYPE_CHECKING:
    from lsst.pipe.base.quantum_graph import PredictedQuantumGraph, PredictedQuantumGraphComponents

_LOG = logging.getLogger("lsst.pipetask_lite")


@dataclass(frozen=True, kw_only=True)
class QbbOptions(ExecutionOptions):
    """The checked options of ``run-qbb``: the execution options of ``run``, and its own.

    The fields are the keywords of `run_qbb`, described there; making the
    object checks them as `ExecutionOptions` checks ``run``'s.
    """

    repo: str
    qgraph: str
    config_search_path: Sequence[str] = ()
    qgraph_id: str | None = None
    qgraph_node_id: Sequence[str] = ()
    no_existing_outputs: bool = False


def run_qbb(
    *,
    repo: str,
    qgraph: str,
    config_search_path: Sequence[str] = (),
    qgraph_id: str | None = None,
    qgraph_node_id: Sequence[str] = (),
    processes: int = 1,
    pdb: str | None = None,
    profile: str | None = None,
    debug: bool = False,
    start_method: Literal["spawn", "fork", "forkserver"] | None = None,
    timeout: int | None = None,
    fail_fast: bool = False,
    raise_on_partial_outputs: bool = True,
    summary: str | None = None,
    enable_implicit_threading: bool = False,
    cores_per_quantum: int = 1,
    memory_per_quantum: str = "",
    no_existing_outputs: bool = False,
    coverage: bool = False,
    cov_report: bool = True,
    cov_packages: Sequence[str] = (),
    progress: bool = True,
) -> RunResult:
    """Execute quanta of a saved graph with quantum-backed butlers: ``pipetask run-qbb``.

    Nothing is registered: each quantum's outputs are files in the datastore,
    in the graph's output run, until ``butler transfer-from-graph`` registers
    them.  Quanta whose outputs are all on disk are skipped, and partial
    outputs of an earlier attempt are overwritten, so running the same command
    again finishes an interrupted job.

    Parameters
    ----------
    repo : `str`
        ``REPO``: the butler repository (only its configuration is read; the
        registry is not used).
    qgraph : `str`
        ``QGRAPH``: a graph saved with ``--qgraph-datastore-records``
        (`lsst.pipe.base.quantum_graph.PredictedQuantumGraph.open`).
    config_search_path : `~collections.abc.Sequence` [`str`], optional
        ``--config-search-path``: more places to look for butler
        configuration (`lsst.daf.butler.QuantumBackedButler.initialize`).
    qgraph_id : `str`, optional
        ``--qgraph-id``: the ID a ``.qgraph`` file must have (ignored, with a
        warning, for ``.qg`` files).
    qgraph_node_id : `~collections.abc.Sequence` [`str`], optional
        ``--qgraph-node-id``: UUIDs of the quanta to run; all by default.  A
        batch system gives each job a group of quanta whose inputs come from
        the same group or from earlier jobs.
    processes : `int`, optional
        ``-j``: with more than one, quanta run on that many long-lived
        worker processes (`pipetask_lite._execution.parallel.WorkerPool`).
    pdb, profile, debug, start_method, timeout, fail_fast, \
raise_on_partial_outputs, summary, enable_implicit_threading, \
cores_per_quantum, memory_per_quantum : optional
        As for `pipetask_lite.run`.
    no_existing_outputs : `bool`, optional
        ``--no-existing-outputs``: assume none of the outputs exist, which
        saves an existence check per quantum
        (`~lsst.pipe.base.single_quantum_executor.SingleQuantumExecutor`
        ``assume_no_existing_outputs``).
    coverage, cov_report, cov_packages : optional
        As for `pipetask_lite.run`.
    progress : `bool`, optional
        Draw a progress bar while quanta run, if stderr is a terminal.

    Returns
    -------
    result : `pipetask_lite.RunResult`
        The quanta run and how each ended; ``output_run`` holds their files.

    Raises
    ------
    pipetask_lite.UsageError
        Raised, naming the option, for ``-j``, ``-n``, ``--timeout`` or
        ``--start-method`` values out of range, as by `pipetask_lite.run`.
    pipetask_lite.PipetaskLiteError
        Raised for a missing or unreadable graph or repo, or node IDs not in
        the graph; nothing has been written then.
    pipetask_lite.QuantaFailedError
        Raised after execution if any quantum failed.
    """
    # The options checked once (the same checks as run's: ExecutionOptions);
    # from here on, only `options` is read.
    options = QbbOptions.from_keywords(locals())
    import lsst.utils.timer
    from lsst.utils.logging import VERBOSE
    from lsst.utils.threads import disable_implicit_threading

    _check_repo(options.repo, options.config_search_path)
    resources = options.resources()
    options.check_outputs()
    # All jobs on a machine share one datastore cache, as with pipetask
    # (set before the workers start, so that they inherit it).
    _define_datastore_cache()
    with options.started() as pool, contextlib.ExitStack() as stack:
        # 1. The quanta to run, with their inputs' datastore records.
        with lsst.utils.timer.time_this(
            _LOG, msg=f"Reading {len(options.qgraph_node_id) or 'all'} quanta.", level=VERBOSE
        ) as read_time:
            quantum_graph = load_quantum_graph(
                options.qgraph, butler=None, qgraph_id=options.qgraph_id, qgraph_node_id=options.qgraph_node_id,
                full=True, option="QGRAPH",
            ).assemble()
        _log_summary(quantum_graph)
        pipeline_graph = quantum_graph.pipeline_graph
        if options.debug:
            import_lsst_debug()
        if not options.enable_implicit_threading:
            disable_implicit_threading()

        # 2. Execution: pipe_base's executors, made as run makes them
        #    (make_executor), but each quantum gets a new QuantumBackedButler
        #    and nothing is registered: files only, so existing outputs are
        #    skipped and partial ones overwritten.
        setup = WorkerSetup(
            butler_config=str(options.repo), run=quantum_graph.header.output_run, collections=(),
            resources=resources, raise_on_partial_outputs=options.raise_on_partial_outputs, skip_existing_in=(),
            clobber_outputs=True, enable_lsst_debug=options.debug, quantum_backed=True,
            universe=pipeline_graph.universe,
            dataset_types={node.name: node.dataset_type for node in pipeline_graph.dataset_types.values()},
            search_paths=tuple(options.config_search_path),
            assume_no_existing_outputs=options.no_existing_outputs,
            job_metadata={"qg_read_time": read_time.duration, "qg_size": len(quantum_graph)},
        )
        stop = stack.enter_context(stop_between_quanta())
        execute, get_report = make_executor(
            quantum_graph, options, setup, pool=pool, stop=stop, registration=BatchRegistration(None),
        )
        result = RunResult(
            output=quantum_graph.header.output, output_run=quantum_graph.header.output_run,
            quantum_graph=quantum_graph,
        )
        return execute_to_the_end(
            result, execute, get_report, stop=stop, summary=options.summary, profile=options.profile,
            progress=options.progress, kept=f"their files are in run {result.output_run!r}, not registered",
        )


def pre_exec_init_qbb(
    *,
    repo: str,
    qgraph: str,
    config_search_path: Sequence[str] = (),
    qgraph_id: str | None = None,
    coverage: bool = False,
    cov_report: bool = True,
    cov_packages: Sequence[str] = (),
) -> PredictedQuantumGraph:
    """Write a saved graph's init-outputs with a quantum-backed butler: ``pipetask pre-exec-init-qbb``.

    What `pipetask_lite.run` writes before the first quantum (init-outputs
    such as schemas, task configs, package versions), as files only, for
    ``butler transfer-from-graph`` to register with the quanta's outputs.

    Parameters
    ----------
    repo : `str`
        ``REPO``: the butler repository (only its configuration is read).
    qgraph : `str`
        ``QGRAPH``: the saved graph; only its init quanta are read
        (`lsst.pipe.base.quantum_graph.PredictedQuantumGraphReader.read_init_quanta`).
    config_search_path : `~collections.abc.Sequence` [`str`], optional
        ``--config-search-path``: more places to look for butler
        configuration (`~lsst.pipe.base.quantum_graph.PredictedQuantumGraph.make_init_qbb`).
    qgraph_id : `str`, optional
        ``--qgraph-id``: the ID a ``.qgraph`` file must have.
    coverage, cov_report, cov_packages : optional
        As for `pipetask_lite.run`.

    Returns
    -------
    quantum_graph : `lsst.pipe.base.quantum_graph.PredictedQuantumGraph`
        The graph, with its init quanta only.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised for a missing or unreadable graph or repo, or init-outputs
        that exist with different content (configs, package versions).
    """
    from lsst.daf.butler.registry import ConflictingDefinitionError

    _check_repo(repo, config_search_path)
    with coverage_enabled(coverage, cov_report=cov_report, cov_packages=cov_packages):
        quantum_graph = load_quantum_graph(
            qgraph, butler=None, qgraph_id=qgraph_id, qgraph_node_id=(), full=True, init_only=True,
            option="QGRAPH",
        ).assemble()
        _define_datastore_cache()
        _LOG.debug("Initializing quantum-backed butler.")
        with (
            quantum_graph.make_init_qbb(repo, config_search_paths=list(config_search_path) or None) as butler,
            blame("QGRAPH", ConflictingDefinitionError),
        ):
            # Configs and package versions are compared with what a previous
            # call wrote; init-outputs that exist are kept.
            quantum_graph.init_output_run(butler)
    return quantum_graph


def update_graph_run(
    *,
    qgraph: str,
    run: str,
    output_qgraph: str,
    metadata_run_key: str = "output_run",
    update_graph_id: bool = False,
) -> PredictedQuantumGraphComponents:
    """Save a graph with a new output run and new output IDs: ``pipetask update-graph-run``.

    Parameters
    ----------
    qgraph : `str`
        ``QGRAPH``: the saved graph.
    run : `str`
        ``RUN``: the new output RUN collection
        (`~lsst.pipe.base.quantum_graph.PredictedQuantumGraphComponents.update_output_run`).
        It must not exist in the repo the graph was built from (its
        ``butler_argument``): the graph's outputs would land in a run with
        other outputs.
    output_qgraph : `str`
        ``OUTPUT_QGRAPH``: where to write the updated graph (``.qg``, or
        ``.qgraph`` for the old format).
    metadata_run_key : `str`, optional
        ``--metadata-run-key``: ignored, with a warning if not the default,
        as by pipetask (the graph's header names its output run).
    update_graph_id : `bool`, optional
        ``--update-graph-id``: ignored, with a warning, as by pipetask.

    Returns
    -------
    components : `lsst.pipe.base.quantum_graph.PredictedQuantumGraphComponents`
        The updated graph, as written.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised for a missing or unreadable graph, or a run that exists; the
        output file is not written then.
    """
    from lsst.daf.butler import Butler, MissingCollectionError

    if metadata_run_key and metadata_run_key != "output_run":
        _LOG.warning("--metadata-run-key is now ignored.")
    if update_graph_id:
        _LOG.warning("--update-graph-id is now ignored.")
    components = load_quantum_graph(
        qgraph, butler=None, qgraph_id=None, qgraph_node_id=(), full=True, option="QGRAPH"
    )
    # pipetask writes the graph whatever the run; a run that exists would get
    # a second set of outputs for the same data IDs.  The graph does not name
    # its repo except through the argument it was built with.
    repo = components.header.metadata.get("butler_argument")
    try:
        butler = Butler.from_config(repo, writeable=False) if repo else None
    except Exception as exc:
        _LOG.warning("Cannot open the graph's repo %r (%s); not checking whether run %r exists.", repo, exc, run)
        butler = None
    if butler is not None:
        with butler:
            try:
                info = butler.collections.get_info(run)
            except MissingCollectionError:
                pass
            else:
                raise PipetaskLiteError(
                    f"{info.type.name} collection {run!r} already exists in repo {repo!r}",
                    option="RUN", hint="choose a new run name; the graph's outputs need a run of their own",
                )
    components.update_output_run(run)
    with blame("OUTPUT_QGRAPH", OSError, ValueError):
        components.write(output_qgraph)
    return components


def _check_repo(repo: str, config_search_path: Sequence[str]) -> None:
    """Read the repo's configuration now, rather than fail in every quantum."""
    from lsst.daf.butler import ButlerConfig

    with blame("REPO", *repo_errors(), message=f"no butler repo at {repo!r}"):
        ButlerConfig(repo, searchPaths=list(config_search_path) or None)


def _define_datastore_cache() -> None:
    """Share one datastore cache directory between the quanta (and jobs), as pipetask does."""
    import atexit
    import shutil

    from lsst.daf.butler.datastore.cache_manager import DatastoreCacheManager

    defined, cache_dir = DatastoreCacheManager.set_fallback_cache_directory_if_unset()
    if defined:
        atexit.register(shutil.rmtree, cache_dir, ignore_errors=True)
