"""The rules between options of ``qgraph`` and ``run``, checked on the final values.

argparse checks its mutually exclusive groups on the command line alone, but
``-@/--options-file`` values are merged afterwards, and Python callers never
go through argparse at all.  So every rule that ties options together, and
every check of a value that needs no repo, is here, once: the command line
calls `check_graph_options` on the merged options (a failure is a usage error,
exit 2), and `pipetask_lite.qgraph` and `pipetask_lite.run` call it on their
keywords.  Nothing here imports ``lsst``: usage errors answer at once.
"""

from __future__ import annotations

__all__ = ("PRUNE_CHOICES", "check_collection_names", "check_graph_options", "is_pattern")

import re
from collections.abc import Sequence

from .errors import UsageError

PRUNE_CHOICES = ("unstore", "purge")
"""``--prune-replaced`` values."""

_GLOB = re.compile(r"[*?]|\[.*\]")
"""What daf_butler's ``globToRegex`` turns into a pattern: ``*``, ``?`` or ``[...]``."""


def is_pattern(name: str) -> bool:
    """Whether daf_butler would read ``name`` as a collection pattern rather than a name."""
    return bool(_GLOB.search(name))


def check_collection_names(
    *, input: Sequence[str] = (), output: str | None = None, output_run: str | None = None,
    skip_existing_in: Sequence[str] = (),
) -> None:
    """Refuse collection options whose values are not plain collection names.

    daf_butler takes ``*``, ``?`` and ``[...]`` as a pattern and answers a
    pattern where a name is needed with a `CollectionExpressionError` (or,
    for an input, silently with whatever matches); pipetask passes them on.

    Raises
    ------
    pipetask_lite.UsageError
        Raised, naming the option, for an empty name or a pattern.
    """
    for option, names in (
        ("-i/--input", input), ("-o/--output", [output] if output is not None else []),
        ("--output-run", [output_run] if output_run is not None else []),
        ("--skip-existing-in", skip_existing_in),
    ):
        for name in names:
            if not isinstance(name, str):
                raise UsageError(f"a collection name is a string, not {name!r}", option=option)
            if not name.strip():
                raise UsageError("a collection name cannot be empty", option=option)
            if is_pattern(name):
                raise UsageError(
                    f"{name!r} is a pattern ('*', '?' or '[...]'), not a collection name", option=option
                )


def check_graph_options(
    *,
    qgraph: str | None,
    pipeline: str | None,
    pipeline_actions: Sequence,
    save_pipeline: str | None,
    select_tasks: str,
    pipeline_dot: str | None,
    pipeline_mermaid: str | None,
    qgraph_id: str | None,
    qgraph_node_id: Sequence[str],
    data_query: str,
    data_id_table: Sequence[str],
    dataset_query_constraint: str,
    mock: bool,
    mock_failure: Sequence[str],
    unmocked_dataset_types: Sequence[str],
    input: Sequence[str],
    output: str | None,
    output_run: str | None,
    extend_run: bool,
    replace_run: bool,
    prune_replaced: str | None,
    skip_existing_in: Sequence[str],
    processes: int = 1,
    cores_per_quantum: int = 1,
    timeout: int | None = None,
) -> None:
    """Check the rules between ``qgraph``/``run`` options, before any repo is opened.

    The keywords are those of `pipetask_lite.run` (``qgraph`` has no
    execution keywords and leaves their defaults).  ``-b`` is not checked
    here: the functions require it, and the command line checks that one
    of the command line and ``-@`` gave it.

    Raises
    ------
    pipetask_lite.UsageError
        Raised, naming the options, for the first rule broken.
    """
    if extend_run and replace_run:
        # pipetask's mutually exclusive group: --replace-run (and with it
        # --prune-replaced) would remove the very run --extend-run resumes.
        raise UsageError("not allowed with argument --extend-run", option="--replace-run")
    if prune_replaced is not None and prune_replaced not in PRUNE_CHOICES:
        raise UsageError(f"{prune_replaced!r} is not one of {', '.join(PRUNE_CHOICES)}", option="--prune-replaced")
    if prune_replaced and not replace_run:
        raise UsageError("--prune-replaced requires --replace-run")
    if replace_run and not output:
        raise UsageError("--replace-run requires -o/--output")
    if qgraph:
        building = [
            name for name, given in [
                ("-p/--pipeline", pipeline), ("-t/-c/-C/--delete/--instrument", pipeline_actions),
                ("-s/--save-pipeline", save_pipeline), ("--select-tasks", select_tasks),
                ("--pipeline-dot", pipeline_dot), ("--pipeline-mermaid", pipeline_mermaid),
                ("-d/--data-query", data_query), ("--data-id-table", data_id_table),
                ("--dataset-query-constraint", dataset_query_constraint != "all"),
                ("--mock", mock),
            ] if given
        ]
        if building:
            raise UsageError(f"-g/--qgraph loads a saved graph; it cannot be combined with {', '.join(building)}")
    else:
        if output is None and output_run is None:
            raise UsageError("at least one of -o/--output and --output-run is required")
        if not (pipeline or pipeline_actions):
            raise UsageError("a pipeline is required: give -p/--pipeline or -t/--task (or -g/--qgraph)")
        if qgraph_id or qgraph_node_id:
            raise UsageError("--qgraph-id and --qgraph-node-id apply only to a graph loaded with -g/--qgraph")
    if (mock_failure or unmocked_dataset_types) and not mock:
        raise UsageError("--mock-failure and --unmocked-dataset-types require --mock")
    for option, value, minimum in (
        ("-j/--processes", processes, 1), ("-n/--cores-per-quantum", cores_per_quantum, 1),
        ("--timeout", timeout, 0),
    ):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum):
            raise UsageError(f"{value!r} is not an integer >= {minimum}", option=option)
    check_collection_names(input=input, output=output, output_run=output_run, skip_existing_in=skip_existing_in)
