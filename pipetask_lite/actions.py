"""Pipeline actions: ``-t``, ``--delete``, ``-c``, ``-C`` and ``--instrument``.

pipetask applies these five options to the pipeline in the order they appear on
the command line, so they travel together as one ordered list of
`PipelineAction` values.  The syntax rules are pipetask's (ctrl_mpexec's
Click layer, ``cli/utils.py``).
"""

from __future__ import annotations

__all__ = ("PipelineAction", "parse_pipeline_action")

import re
from typing import NamedTuple

# option name -> (pattern, what the value looks like); patterns as in pipetask.
_SYNTAX = {
    "task": (r"(?P<value>[^:]+)(:(?P<label>.+))?", "TASK[:LABEL]"),
    "delete": (r"(?P<label>.+)", "LABEL"),
    # pipetask's label pattern is greedy (.+), which mistakes "isr:a=x:y" for
    # label "isr:a=x"; labels never contain ":", so stop at the first one.
    "config": (r"(?P<label>[^:]+):(?P<value>[^=]+=.+)", "LABEL:NAME=VALUE"),
    "config_file": (r"(?P<label>[^:]+):(?P<value>.+)", "LABEL:FILE"),
    "instrument": (r"(?P<value>[^:]+)", "INSTRUMENT"),
}


class PipelineAction(NamedTuple):
    """One change to the pipeline, as given by one option.

    Attributes
    ----------
    option : `str`
        Keyword of the option: ``task``, ``delete``, ``config``,
        ``config_file`` or ``instrument``.
    label : `str` or `None`
        Task label the action applies to (``None`` for ``instrument`` and for
        ``task`` without ``:LABEL``).
    value : `str`
        Task class, ``NAME=VALUE`` override, config file or instrument class.
    """

    option: str
    label: str | None
    value: str


def parse_pipeline_action(option: str, text: str) -> PipelineAction:
    """Parse the value of one pipeline option.

    Parameters
    ----------
    option : `str`
        ``task``, ``delete``, ``config``, ``config_file`` or ``instrument``.
    text : `str`
        The value as typed, e.g. ``"isr:overscan.fitType=MEDIAN_PER_ROW"``.

    Returns
    -------
    action : `PipelineAction`
        The parsed action.

    Raises
    ------
    ValueError
        Raised if ``text`` does not have the form the option needs; the
        message says which form.
    """
    pattern, form = _SYNTAX[option]
    match = re.fullmatch(pattern, text)
    if match is None:
        raise ValueError(f"expected {form}, got {text!r}")
    groups = match.groupdict()
    return PipelineAction(option, groups.get("label"), groups.get("value") or "")
