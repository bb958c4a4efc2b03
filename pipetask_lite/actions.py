"""Pipeline actions: ``-t``, ``--delete``, ``-c``, ``-C`` and ``--instrument``.

pipetask applies these five options to the pipeline in the order they appear on
the command line, so they travel together as one ordered list of
`PipelineAction` values.  The syntax rules are pipetask's (ctrl_mpexec's
Click layer, ``cli/utils.py``).

`ACTIONS` is the one table of the kinds: the command line declares its options
from it (`pipetask_lite.cli`), errors name them by it, `pipetask_lite.build`
applies them by it (`pipeline_call`), ``--explain`` and the resume command
print them by it, and ``docs/options.md`` says their LSST call from it.  A
new kind of action is one more entry here.
"""

from __future__ import annotations

__all__ = ("ACTIONS", "ActionKind", "PipelineAction", "action_text", "parse_pipeline_action", "pipeline_call")

import re
from collections.abc import Callable
from typing import NamedTuple


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


class ActionKind(NamedTuple):
    """Everything about one kind of pipeline action.

    Attributes
    ----------
    flags : `tuple` [`str`, ...]
        The option's spellings, short first (``("-t", "--task")``).
    pattern : `str`
        Regular expression of the value, with groups ``label`` and ``value``.
    form : `str`
        What the value looks like, for error messages.
    metavar : `str`
        The value's name in ``--help``.
    help : `str`
        The option's ``--help`` text.
    method : `str`
        The `lsst.pipe.base.Pipeline` method that applies it.
    parameters : `str`
        That method's parameters, as ``docs/options.md`` names them.
    arguments : `~collections.abc.Callable`
        That method's arguments, from a `PipelineAction`.
    text : `~collections.abc.Callable`
        The value as typed, from a `PipelineAction` (the inverse of `pattern`).
    many : `bool`
        Whether one value holds several actions, comma-separated (``-C``).
    names_a : `str` or `None`
        The class the value must name (checked before the call, whose own
        error would not say what is wrong).
    """

    flags: tuple[str, ...]
    pattern: str
    form: str
    metavar: str
    help: str
    method: str
    parameters: str
    arguments: Callable[[PipelineAction], tuple]
    text: Callable[[PipelineAction], str]
    many: bool = False
    names_a: str | None = None

    @property
    def option(self) -> str:
        """The option as errors name it: ``-t/--task``."""
        return "/".join(self.flags)

    @property
    def lsst_call(self) -> str:
        """What it becomes in the LSST API (``docs/options.md``): ```Pipeline.addTask(task, label)```."""
        return f"`Pipeline.{self.method}({self.parameters})`"


ACTIONS = {
    "task": ActionKind(
        ("-t", "--task"), r"(?P<value>[^:]+)(:(?P<label>.+))?", "TASK[:LABEL]", "TASK[:LABEL]",
        "Task name to add to pipeline, must be a fully qualified task name. Task name can be followed by "
        "colon and label name; without a label the task's class name is used.",
        "addTask", "task, label", lambda a: (a.value, a.label),
        lambda a: a.value if a.label is None else f"{a.value}:{a.label}", names_a="lsst.pipe.base.PipelineTask",
    ),
    "delete": ActionKind(
        ("--delete",), r"(?P<label>.+)", "LABEL", "LABEL", "Delete task with given label from pipeline.",
        "removeTask", "label", lambda a: (a.label,), lambda a: a.label,
    ),
    # pipetask's label pattern is greedy (.+), which mistakes "isr:a=x:y" for
    # label "isr:a=x"; labels never contain ":", so stop at the first one.
    "config": ActionKind(
        ("-c", "--config"), r"(?P<label>[^:]+):(?P<value>[^=]+=.+)", "LABEL:NAME=VALUE", "LABEL:NAME=VALUE",
        "Config override, as a key-value pair.",
        "addConfigOverride", "label, name, value", lambda a: (a.label, *a.value.partition("=")[::2]), lambda a: f"{a.label}:{a.value}",
    ),
    "config_file": ActionKind(
        ("-C", "--config-file"), r"(?P<label>[^:]+):(?P<value>.+)", "LABEL:FILE", "LABEL:FILE",
        "Configuration override file(s), applies to a task with a given label.",
        "addConfigFile", "label, file", lambda a: (a.label, a.value), lambda a: f"{a.label}:{a.value}", many=True,
    ),
    "instrument": ActionKind(
        ("--instrument",), r"(?P<value>[^:]+)", "INSTRUMENT", "instrument",
        "Add an instrument which will be used to load config overrides when defining a pipeline. "
        "This must be the fully qualified class name.",
        "addInstrument", "instrument", lambda a: (a.value,), lambda a: a.value, names_a="lsst.pipe.base.Instrument",
    ),
}
"""Each kind of pipeline action (`PipelineAction.option`), in the order ``--help`` lists them."""


def pipeline_call(action: PipelineAction) -> tuple[str, tuple]:
    """The `lsst.pipe.base.Pipeline` method that applies ``action``, and its arguments.

    ``getattr(pipeline, method)(*arguments)`` applies it (`pipetask_lite.build`);
    ``--explain`` prints that call.
    """
    kind = ACTIONS[action.option]
    return kind.method, kind.arguments(action)


def action_text(action: PipelineAction) -> str:
    """The value of the option that gives this `PipelineAction` (the inverse of `parse_pipeline_action`)."""
    return ACTIONS[action.option].text(action)


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
    kind = ACTIONS[option]
    match = re.fullmatch(kind.pattern, text)
    if match is None:
        raise ValueError(f"expected {kind.form}, got {text!r}")
    groups = match.groupdict()
    return PipelineAction(option, groups.get("label"), groups.get("value") or "")
