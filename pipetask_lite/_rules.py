"""Checks of option values that need no repo, and the one way keywords become an options object.

argparse checks its mutually exclusive groups on the command line alone, but
``-@/--options-file`` values are merged afterwards, and Python callers never
go through argparse at all.  So the rules are checked on the final values,
once, by the frozen options objects as they are made (`KeywordOptions`): the
rules between graph options by `pipetask_lite._qgraph.GraphOptions`, the
execution numbers by `pipetask_lite._execution.ExecutionOptions`; the command
line makes the same objects from the options merged with ``-@`` (a failure is
a usage error, exit 2).  The checks of single values they call are here.
Nothing here imports ``lsst``: usage errors answer at once.
"""

from __future__ import annotations

__all__ = (
    "KeywordOptions",
    "MP_TIMEOUT",
    "PRUNE_CHOICES",
    "check_collection_names",
    "check_execution_numbers",
    "is_pattern",
    "parse_prune_unanchored_quanta",
    "read_retained_dataset_types",
)

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

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


MP_TIMEOUT = 3600 * 24 * 30
"""pipetask's default for ``--timeout``: 30 days, i.e. none in practice."""


class KeywordOptions:
    """What the frozen options dataclasses share: made from a function's keywords, or a command line, by name.

    `pipetask_lite._qgraph.GraphOptions`, `pipetask_lite._execution.ExecutionOptions`
    and their subclasses have one field per keyword of the function they
    serve, with the keyword's name: so the keywords go into the object in one
    step, and a field that the function has no keyword for fails at once
    (`KeyError`, naming it).
    """

    @classmethod
    def from_keywords(cls, keywords: Mapping[str, Any], **given: Any):
        """The options of a function's keywords (its ``locals()`` on entry); ``given`` fields as given."""
        return cls(**{f.name: given[f.name] if f.name in given else keywords[f.name]
                      for f in dataclasses.fields(cls) if f.init})

    @classmethod
    def from_namespace(cls, args, **given: Any):
        """The options of a parsed command line (for its checks and ``--explain``); ``given`` fields as given.

        The command itself passes each value to its function by keyword;
        this reads the same names.  Fields of the Python API only
        (``api_only``) keep their default.
        """
        return cls(**{f.name: given[f.name] if f.name in given else getattr(args, f.name)
                      for f in dataclasses.fields(cls)
                      if f.init and (f.name in given or not f.metadata.get("api_only"))})
