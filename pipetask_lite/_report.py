"""`report` and `aggregate_reports`: what happened to the quanta of executed graphs.

pipetask offers two reports, both from pipe_base:

- for one graph, by default, `lsst.pipe.base.execution_reports.QuantumGraphExecutionReport`:
  per task, the failed quanta (with their errors from the log datasets),
  blocked, succeeded and expected counts, and per dataset type the produced,
  missing and blocked datasets; printed as tables, or written as YAML;
- for several graphs (attempts at the same processing, first to last), or with
  ``--force-v2``, ``--collections``, ``--where`` or ``--curse-failed-logs``,
  `lsst.pipe.base.quantum_provenance_graph.QuantumProvenanceGraph`, which
  resolves retries (a quantum that failed and then succeeded is a recovery)
  into a `~lsst.pipe.base.quantum_provenance_graph.Summary`; printed, or
  written as JSON, which `aggregate_reports` combines over data-ID groups.
"""

from __future__ import annotations

__all__ = ("aggregate_reports", "report")

import logging
import pprint
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ._util import blame, file_errors, make_parents, open_butler, open_for_writing
from .errors import PipetaskLiteError, UsageError

if TYPE_CHECKING:
    from lsst.pipe.base.execution_reports import QuantumGraphExecutionReport
    from lsst.pipe.base.quantum_provenance_graph import Summary

_LOG = logging.getLogger("lsst.pipetask_lite")


def report(
    *,
    repo: str,
    qgraphs: Sequence[str],
    collections: Sequence[str] = (),
    where: str = "",
    full_output_filename: str = "",
    logs: bool = True,
    brief: bool = False,
    curse_failed_logs: bool = False,
    force_v2: bool = False,
    read_caveats: Literal["exhaustive", "lazy", "none"] = "lazy",
    use_qbb: bool = True,
    view_graph: bool = False,
    processes: int = 1,
) -> QuantumGraphExecutionReport | Summary:
    """Summarize what happened to the quanta of executed graphs: ``pipetask report``.

    Prints the report (or writes it with ``full_output_filename``) as
    pipetask does.

    Parameters
    ----------
    repo : `str`
        ``REPO``: the butler repository the graphs were run in.
    qgraphs : `~collections.abc.Sequence` [`str`]
        ``QGRAPHS``: the executed graphs, first to last.  One graph gets the
        `~lsst.pipe.base.execution_reports.QuantumGraphExecutionReport`,
        several the `~lsst.pipe.base.quantum_provenance_graph.QuantumProvenanceGraph`.
    collections : `~collections.abc.Sequence` [`str`], optional
        ``--collections``: where to look for the outputs, most recent first
        (default: the graphs' output runs); selects the provenance report.
    where : `str`, optional
        ``--where``: constrains the dataset query in ``collections``;
        selects the provenance report.
    full_output_filename : `str`, optional
        ``--full-output-filename``: write the whole report here (YAML for
        the execution report, JSON for the provenance report) and print only
        counts.
    logs : `bool`, optional
        ``--[no-]logs``: read the failed quanta's log datasets for their
        error messages.
    brief : `bool`, optional
        ``--brief``: print counts only.
    curse_failed_logs : `bool`, optional
        ``--curse-failed-logs``: mark missing log datasets of failures as
        cursed; selects the provenance report.
    force_v2 : `bool`, optional
        ``--force-v2``: the provenance report even for one graph.
    read_caveats : `str`, optional
        ``--read-caveats``: ``"exhaustive"`` reads every metadata dataset
        for success caveats, ``"lazy"`` only those of quanta with missing
        outputs, ``"none"`` none.
    use_qbb : `bool`, optional
        ``--[no-]use-qbb``: read metadata and logs with quantum-backed
        butlers (fewer database queries).
    view_graph : `bool`, optional
        ``--view-graph``: show the provenance report as a pipeline graph
        annotated with each node's status (ignored, as by pipetask, by the
        execution report).
    processes : `int`, optional
        ``-j``: threads reading metadata and logs (provenance report).

    Returns
    -------
    report : `~lsst.pipe.base.execution_reports.QuantumGraphExecutionReport` or \
`~lsst.pipe.base.quantum_provenance_graph.Summary`
        The report that was printed.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised for a missing repo or graph file, or a graph that cannot be
        read.
    """
    from lsst.resources import ResourcePath

    if not qgraphs:
        raise UsageError("at least one executed quantum graph is required", option="QGRAPHS")
    for uri in qgraphs:
        if not ResourcePath(uri).exists():
            raise PipetaskLiteError(f"no such graph file: {uri!r}", option="QGRAPHS")
    with open_butler(repo, option="REPO") as butler:
        # pipetask's rule for which report: anything only the second one knows.
        if force_v2 or len(qgraphs) > 1 or collections or where or curse_failed_logs:
            return _provenance_report(
                butler, qgraphs, collections=collections, where=where,
                full_output_filename=full_output_filename, logs=logs, brief=brief,
                curse_failed_logs=curse_failed_logs, read_caveats=read_caveats, use_qbb=use_qbb,
                view_graph=view_graph, processes=processes,
            )
        if view_graph:
            _LOG.warning("--view-graph is ignored by the single-graph report; add --force-v2 to use it.")
        return _execution_report(
            butler, qgraphs[0], full_output_filename=full_output_filename, logs=logs, brief=brief
        )


def _execution_report(
    butler, qgraph: str, *, full_output_filename: str, logs: bool, brief: bool
) -> QuantumGraphExecutionReport:
    """The one-graph report: tables of quanta and datasets per task, as pipetask prints them."""
    from astropy.table import Table
    from lsst.pipe.base import QuantumGraph
    from lsst.pipe.base.execution_reports import QuantumGraphExecutionReport

    with blame("QGRAPHS", *file_errors(), message=f"cannot read {qgraph!r} as a quantum graph"):
        graph = QuantumGraph.loadUri(qgraph)
    execution_report = QuantumGraphExecutionReport.make_reports(butler, graph)
    if full_output_filename:
        make_parents(full_output_filename, "--full-output-filename")
        with blame("--full-output-filename", OSError):
            execution_report.write_summary_yaml(butler, full_output_filename, do_store_logs=logs)
        return execution_report
    summary = execution_report.to_summary_dict(butler, logs, human_readable=True)
    quanta, dataset_rows, dataset_types, errors = [], [], [], []
    for task, task_summary in summary.items():
        for dataset_type, counts in task_summary["outputs"].items():
            dataset_rows.append(counts)
            dataset_types.append(dataset_type)
        failed = task_summary["failed_quanta"]
        quanta.append({
            "Task": task,
            # Data IDs of up to 5 failures, a count beyond.
            "Failed": len(failed) if len(failed) > 5 else failed,
            "Blocked": task_summary["n_quanta_blocked"],
            "Succeeded": task_summary["n_succeeded"],
            "Expected": task_summary["n_expected"],
        })
        if "errors" in task_summary:
            errors.append({task: task_summary["errors"]})
    datasets = Table(dataset_rows)
    datasets.add_column(dataset_types, index=0, name="DatasetType")
    Table(quanta).pprint_all()
    print("\n")
    if not brief:
        pprint.pprint(errors)
        print("\n")
    datasets.pprint_all()
    return execution_report


def _provenance_report(
    butler,
    qgraphs: Sequence[str],
    *,
    collections: Sequence[str],
    where: str,
    full_output_filename: str,
    logs: bool,
    brief: bool,
    curse_failed_logs: bool,
    read_caveats: str,
    use_qbb: bool,
    view_graph: bool,
    processes: int,
) -> Summary:
    """The several-graph report: a `QuantumProvenanceGraph` over all attempts, summarized."""
    from lsst.pipe.base import QuantumGraph
    from lsst.pipe.base.quantum_provenance_graph import QuantumProvenanceGraph

    with blame("QGRAPHS", *file_errors(), message=f"cannot read {', '.join(map(repr, qgraphs))} as quantum graphs"):
        graphs = [QuantumGraph.loadUri(uri) for uri in qgraphs]
    provenance = QuantumProvenanceGraph(
        butler, graphs, collections=list(collections) or None, where=where,
        curse_failed_logs=curse_failed_logs, read_caveats=None if read_caveats == "none" else read_caveats,
        use_qbb=use_qbb, n_cores=processes,
    )
    summary = provenance.to_summary(butler, do_store_logs=logs)
    if view_graph:
        from lsst.pipe.base.pipeline_graph.visualization import (
            QuantumProvenanceGraphStatusAnnotator,
            QuantumProvenanceGraphStatusOptions,
            show,
        )

        show(
            graphs[0].pipeline_graph, dataset_types=True,
            status_annotator=QuantumProvenanceGraphStatusAnnotator(summary),
            status_options=QuantumProvenanceGraphStatusOptions(
                display_percent=True, display_counts=True, abbreviate=True, visualize=True
            ),
        )
    else:
        _print_summary(summary, full_output_filename=full_output_filename, brief=brief)
    return summary


def aggregate_reports(
    *, filenames: Sequence[str], full_output_filename: str = "", brief: bool = False
) -> Summary:
    """Combine the provenance reports of disjoint data-ID groups: ``pipetask aggregate-reports``.

    Parameters
    ----------
    filenames : `~collections.abc.Sequence` [`str`]
        ``FILENAMES``: JSON files written by ``report --force-v2
        --full-output-filename`` (or ``report`` on several graphs), one per
        group, for the same pipeline.
    full_output_filename : `str`, optional
        ``--full-output-filename``: write the combined
        `~lsst.pipe.base.quantum_provenance_graph.Summary` here as JSON, and
        print only counts.
    brief : `bool`, optional
        ``--brief``: print counts only.

    Returns
    -------
    summary : `lsst.pipe.base.quantum_provenance_graph.Summary`
        The combined summary (`Summary.aggregate`).

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised for a file that is missing or not such a report.
    """
    from lsst.pipe.base.quantum_provenance_graph import Summary

    summaries = []
    for filename in filenames:
        with blame("FILENAMES", OSError), open(filename, "rb") as stream:
            text = stream.read()
        with blame("FILENAMES", ValueError, message=f"{filename!r} is not a JSON report of 'report --force-v2'"):
            summaries.append(Summary.model_validate_json(text))
    summary = Summary.aggregate(summaries)
    _print_summary(summary, full_output_filename=full_output_filename, brief=brief)
    return summary


def _print_summary(summary: Summary, *, full_output_filename: str, brief: bool) -> None:
    """Print a provenance summary (counts only if written to a file), and write it as JSON."""
    summary.pprint(brief=brief or bool(full_output_filename))
    if full_output_filename:
        with open_for_writing(full_output_filename, "--full-output-filename") as stream:
            stream.write(summary.model_dump_json(indent=2))
