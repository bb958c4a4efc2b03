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

__all__ = (
    "PRUNE_CHOICES",
    "check_collection_names",
    "check_execution_numbers",
    "check_graph_options",
    "executor_clobbers",
    "is_pattern",
    "parse_prune_unanchored_quanta",
    "read_retained_dataset_types",
    "worker_start_method",
    "MP_TIMEOUT",
    "execution_timeout",
    "skip_existing_collections",
    "skips_existing",
)

import os
import re
from collections.abc import Sequence

from .errors import OptionValueError, UsageError

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


def parse_prune_unanchored_quanta(value: str | Sequence[str]) -> tuple[str, str]:
    """Split ``--prune-unanchored-quanta SOURCE:ANCHOR`` into two task labels.

    As pipetask, at the first colon; a Python caller may give the pair itself.

    Raises
    ------
    pipetask_lite.UsageError
        Raised unless both labels are there and not empty.
    """
    parts = value.split(":", 1) if isinstance(value, str) else list(value)
    if len(parts) != 2 or not all(isinstance(part, str) and part for part in parts):
        raise UsageError(f"expected SOURCE:ANCHOR (two task labels), got {value!r}",
                         option="--prune-unanchored-quanta")
    return parts[0], parts[1]


def read_retained_dataset_types(path: str) -> list[str]:
    """Read the ``--retained-dataset-types`` file: a YAML list of dataset type names or glob patterns.

    pipetask requires a readable file (Click's ``Path(readable=True)``) holding
    a non-empty YAML sequence; its entries must be strings here too, since
    pipe_base matches each one as a glob.

    Raises
    ------
    pipetask_lite.UsageError
        Raised, naming the option, for a missing or unreadable file or any
        other content (a `ValueError` too for content that is no list of
        names, as pipetask's).
    """
    import yaml

    option = "--retained-dataset-types"
    if not isinstance(path, str | os.PathLike):
        raise UsageError(f"expected the path of a YAML file, got {path!r}", option=option)
    try:
        with open(path) as stream:
            patterns = yaml.safe_load(stream)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise UsageError(f"cannot read {str(path)!r}: {getattr(exc, 'strerror', None) or exc}",
                         option=option) from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{str(path)!r} is not YAML: {str(exc).splitlines()[0]}", option=option) from None
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p for p in patterns):
        # script.qgraph raises ValueError for this content.
        raise OptionValueError(
            f"{str(path)!r} must hold a non-empty YAML list of dataset type names or patterns, not {patterns!r}",
            option=option,
        )
    return patterns


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
    skip_existing: bool = False,
    processes: int = 1,
    cores_per_quantum: int = 1,
    timeout: int | None = None,
    retained_dataset_types: str | None = None,
    prune_unanchored_quanta: str | Sequence[str] | None = None,
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
    # ctrl_mpexec checks these two in OutputCollectionsInfo.check, with ValueError: so do we (also).
    if prune_replaced and not replace_run:
        raise OptionValueError("--prune-replaced requires --replace-run")
    if replace_run and not output:
        raise OptionValueError("--replace-run requires -o/--output")
    if qgraph:
        building = [
            name for name, given in [
                ("-p/--pipeline", pipeline), ("-t/-c/-C/--delete/--instrument", pipeline_actions),
                ("-s/--save-pipeline", save_pipeline), ("--select-tasks", select_tasks),
                ("--pipeline-dot", pipeline_dot), ("--pipeline-mermaid", pipeline_mermaid),
                ("-d/--data-query", data_query), ("--data-id-table", data_id_table),
                ("--dataset-query-constraint", dataset_query_constraint != "all"),
                ("--mock", mock), ("--retained-dataset-types", retained_dataset_types is not None),
                ("--prune-unanchored-quanta", prune_unanchored_quanta is not None),
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
    if prune_unanchored_quanta is not None:
        parse_prune_unanchored_quanta(prune_unanchored_quanta)
    if retained_dataset_types is not None:
        if not (skip_existing_in or skips_existing(skip_existing=skip_existing, extend_run=extend_run)):
            # pipe_base's QuantumGraphBuilder raises ValueError for this.
            raise UsageError(
                "--retained-dataset-types has no effect without --skip-existing-in, --skip-existing "
                "or --extend-run"
            )
        if not isinstance(retained_dataset_types, str | os.PathLike):
            raise UsageError(f"expected the path of a YAML file, got {retained_dataset_types!r}",
                             option="--retained-dataset-types")
        # The file is read when the graph is built (read_retained_dataset_types),
        # as -C files are when the pipeline is: --explain reads neither.
    if (mock_failure or unmocked_dataset_types) and not mock:
        raise UsageError("--mock-failure and --unmocked-dataset-types require --mock")
    check_execution_numbers(processes=processes, cores_per_quantum=cores_per_quantum, timeout=timeout)
    check_collection_names(input=input, output=output, output_run=output_run, skip_existing_in=skip_existing_in)


def check_execution_numbers(*, processes: int = 1, cores_per_quantum: int = 1, timeout: int | None = None) -> None:
    """Refuse ``-j``, ``-n`` or ``--timeout`` values that are not integers in range.

    Raises
    ------
    pipetask_lite.UsageError
        Raised, naming the option, for the first bad value.
    """
    for option, value, minimum in (
        ("-j/--processes", processes, 1), ("-n/--cores-per-quantum", cores_per_quantum, 1),
        ("--timeout", timeout, 0),
    ):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum):
            raise UsageError(f"{value!r} is not an integer >= {minimum}", option=option)


# The derived rules: each written here once, and used by the command
# (GraphOptions in pipetask_lite._qgraph, RunOptions in pipetask_lite._run)
# and by --explain (pipetask_lite._explain) alike.


def skips_existing(*, skip_existing: bool, extend_run: bool) -> bool:
    """Whether quanta whose outputs exist in the output run are skipped.

    ``--skip-existing``, or ``--extend-run``, which implies it (pipetask's
    ``script/qgraph.py`` and ``script/run.py`` both say so).
    """
    return bool(skip_existing or extend_run)


def skip_existing_collections(
    skip_existing_in: Sequence[str], output_run: str | None, *, skips_existing: bool
) -> tuple[str, ...]:
    """The collections searched for existing outputs: ``--skip-existing-in``, then the output run.

    The output run only if ``skips_existing``: the value of `skips_existing`
    for the options, computed once by the caller's options object.
    """
    extra = (output_run,) if output_run and skips_existing else ()
    return (*skip_existing_in, *extra)


def executor_clobbers(*, clobber_outputs: bool, extend_run: bool) -> bool:
    """Whether the executor removes a quantum's earlier outputs: ``--clobber-outputs`` only with ``--extend-run``.

    As pipetask's ``script/run.py``; its graph builder (``script/qgraph.py``)
    gets ``--clobber-outputs`` as given, and so does pipetask-lite's.
    """
    return bool(clobber_outputs and extend_run)


MP_TIMEOUT = 3600 * 24 * 30
"""pipetask's default for ``--timeout``: 30 days, i.e. none in practice."""


def execution_timeout(timeout: int | None) -> int:
    """``--timeout`` as the executor gets it: pipetask's default when not given."""
    return MP_TIMEOUT if timeout is None else timeout


def worker_start_method(start_method: str | None) -> str | None:
    """``--start-method`` as the workers get it: ``fork`` is unsafe and replaced by ``spawn``, as pipetask does."""
    return "spawn" if start_method == "fork" else start_method
