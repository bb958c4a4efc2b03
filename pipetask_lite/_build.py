"""`build`: what ``pipetask build`` does, and the first step of ``qgraph`` and ``run``."""

from __future__ import annotations

__all__ = ("build",)

import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._suggest import config_field_suggestion
from ._util import (
    ACTION_OPTIONS, TASK_LABEL, as_actions, blame, first_line, make_show, open_butler, open_for_writing, warn_unhandled_show,
)
from .actions import ACTIONS, PipelineAction, pipeline_call
from .errors import PipetaskLiteError, UsageError

if TYPE_CHECKING:
    from lsst.pex.config import Config
    from lsst.ctrl.mpexec import PipelineGraphFactory
    from lsst.ctrl.mpexec.showInfo import ShowInfo
    from lsst.pipe.base import PipelineGraph


def build(
    *,
    pipeline: str | None = None,
    pipeline_actions: Sequence[PipelineAction | tuple[str, str]] = (),
    save_pipeline: str | None = None,
    select_tasks: str = "",
    pipeline_dot: str | None = None,
    pipeline_mermaid: str | None = None,
    show: Sequence[str] = (),
    butler_config: str | None = None,
    config: Config | None = None,
    label: str | None = None,
) -> PipelineGraph:
    """Build (and optionally save and show) a pipeline: ``pipetask build``.

    Parameters
    ----------
    pipeline : `str`, `lsst.pipe.base.Pipeline`, `lsst.pipe.base.PipelineGraph` or `type`, optional
        ``-p``: pipeline YAML file; ``file.yaml#label1,subset2`` selects tasks.
        From Python also a `Pipeline` (copied, then edited by
        ``pipeline_actions``), a `PipelineGraph` (used as it is: no
        ``pipeline_actions`` or ``save_pipeline``) or a `PipelineTask`
        subclass (a pipeline of that one task, with ``config`` and ``label``).
    pipeline_actions : `~collections.abc.Sequence`, optional
        ``-t``, ``--delete``, ``-c``, ``-C`` and ``--instrument`` in order, as
        `PipelineAction` values or ``(option, value)`` pairs such as
        ``("config", "isr:overscan.fitType=MEDIAN")``; a task or instrument
        class (or instrument instance) may stand for its name, if it can be
        imported by that name.
    save_pipeline : `str`, optional
        ``-s``: write the resulting pipeline YAML here.
    select_tasks : `str`, optional
        ``--select-tasks``: keep only the tasks this expression selects
        (`lsst.pipe.base.PipelineGraph.select`).
    pipeline_dot, pipeline_mermaid : `str`, optional
        ``--pipeline-dot`` / ``--pipeline-mermaid``: write a GraphViz DOT or
        Mermaid (``.mmd``, ``.svg``, ``.png``) picture of the pipeline.
    show : `~collections.abc.Sequence` [`str`], optional
        ``--show``: pipeline items (``pipeline``, ``config``, ``history=``,
        ``dump-config``, ``tasks``, ``subsets``, ``pipeline-graph``,
        ``task-graph``, ``inputs``) printed to stdout.
    butler_config : `str` or `lsst.daf.butler.Butler`, optional
        ``-b``: resolve dataset types against this repo (for
        ``--show pipeline-graph``/``task-graph`` and ``--pipeline-dot``).
    config : `lsst.pex.config.Config`, optional
        Python only: with a task class as ``pipeline``, its config (as
        `SimplePipelineExecutor.from_task_class`); what it changes from the
        defaults is added to the pipeline as a Python config override (after
        an instrument's overrides, before ``pipeline_actions``).
    label : `str`, optional
        Python only: with a task class as ``pipeline``, its label (default
        the class's ``_DefaultName``).

    Returns
    -------
    pipeline_graph : `lsst.pipe.base.PipelineGraph`
        The pipeline as a graph; resolved if ``butler_config`` was given.
    """
    show_info = make_show(show)
    if butler_config is not None and not (
        {"pipeline-graph", "task-graph"} & set(show_info.commands) or pipeline_dot
    ):
        raise PipetaskLiteError(
            "was provided but nothing uses it (only --show pipeline-graph, --show task-graph and "
            "--pipeline-dot do)",
            option="-b/--butler-config",
        )
    factory = build_pipeline(
        pipeline=pipeline, pipeline_actions=pipeline_actions, save_pipeline=save_pipeline,
        select_tasks=select_tasks, pipeline_dot=pipeline_dot, pipeline_mermaid=pipeline_mermaid,
        show_info=show_info, butler_config=butler_config, config=config, label=label,
    )
    warn_unhandled_show(show_info, "build")
    return factory(resolve=butler_config is not None)


def build_pipeline(
    *,
    pipeline: str | None,
    pipeline_actions: Sequence[PipelineAction | tuple[str, str]],
    save_pipeline: str | None,
    select_tasks: str,
    pipeline_dot: str | None,
    pipeline_mermaid: str | None,
    show_info: ShowInfo,
    butler_config: str | None = None,
    config: Config | None = None,
    label: str | None = None,
) -> PipelineGraphFactory:
    """Do the work of `build`; ``qgraph`` and ``run`` start here too.

    Returns a `lsst.ctrl.mpexec.PipelineGraphFactory`, pipetask's holder of
    a pipeline that resolves its graph once, when first asked.  The other
    parameters are those of `build`, with ``show`` already parsed.
    """
    from lsst.ctrl.mpexec import PipelineGraphFactory
    from lsst.pipe.base.pipeline_graph import PipelineGraphError, visualization

    # The pipeline file (or a Python caller's object), then
    # -t/--delete/-c/-C/--instrument in command-line order.
    pipe, given_graph = _starting_pipeline(pipeline, config=config, label=label)
    actions = as_actions(pipeline_actions)
    if label is not None or (given_graph is None and not isinstance(pipeline, str | None)):
        _check_labels(pipe, actions)
    if given_graph is not None:
        # A PipelineGraph is built already: there is no Pipeline to edit or save.
        if actions:
            raise UsageError("a PipelineGraph cannot be edited; pass a Pipeline to apply pipeline actions",
                             option=ACTION_OPTIONS[actions[0].option])
        if save_pipeline:
            raise UsageError("a PipelineGraph cannot be saved as a pipeline YAML file", option="-s/--save-pipeline")
    for action in actions:
        # What Pipeline's methods raise for a label or value they refuse
        # (an unknown label for -c/-C/--delete, a name that is not a class).
        with blame(ACTION_OPTIONS[action.option], LookupError, ValueError):
            if (base := ACTIONS[action.option].names_a) is not None:
                _check_class(action.value, base, ACTION_OPTIONS[action.option])
            method, arguments = pipeline_call(action)
            getattr(pipe, method)(*arguments)
    if save_pipeline:
        with blame("-s/--save-pipeline", OSError):
            pipe.write_to_uri(save_pipeline)

    butler = None
    if butler_config is not None:
        butler = open_butler(butler_config)
    try:
        # Task configs are built and validated here, so a bad -c/-C surfaces
        # now, with its option named.
        try:
            pipeline_graph = pipe.to_graph() if given_graph is None else given_graph
        except Exception as exc:
            raise _config_error(exc, actions) from exc
        if select_tasks:
            with blame("--select-tasks", PipelineGraphError, ValueError, LookupError):
                pipeline_graph = pipeline_graph.select(select_tasks)
            if not pipeline_graph.tasks:
                raise PipetaskLiteError(f"{select_tasks!r} selects no tasks", option="--select-tasks")
        factory = PipelineGraphFactory(pipe, butler, pipeline_graph=pipeline_graph)
    finally:
        if butler is not None:
            butler.close()

    for option, path in (("--pipeline-dot", pipeline_dot), ("--pipeline-mermaid", pipeline_mermaid)):
        if path and not pipeline_graph.tasks:
            raise PipetaskLiteError("the pipeline has no tasks to draw", option=option)
    if {"pipeline-graph", "task-graph"} & set(show_info.commands) and not pipeline_graph.tasks:
        # pipe_base's text rendering fails on an empty graph (StopIteration).
        raise PipetaskLiteError("the pipeline has no tasks to show as a graph", option="--show")
    if pipeline_dot:
        with open_for_writing(pipeline_dot, "--pipeline-dot") as stream:
            visualization.show_dot(
                factory(visualization_only=True), stream, dataset_types=True, task_classes="full"
            )
    if pipeline_mermaid:
        output_format = pipeline_mermaid.rpartition(".")[2] if pipeline_mermaid.endswith((".svg", ".png")) else "mmd"
        # .svg/.png need mermaid-py (ImportError) and its web service (RuntimeError).
        with (
            blame("--pipeline-mermaid", ImportError, RuntimeError),
            open_for_writing(pipeline_mermaid, "--pipeline-mermaid", "w" if output_format == "mmd" else "wb") as stream,
        ):
            visualization.show_mermaid(
                factory(visualization_only=True), stream, output_format=output_format,
                width=4500 if output_format != "mmd" else None, dataset_types=True, task_classes="full",
            )
    with (
        blame("--show", ValueError, LookupError),  # ShowInfo's errors: no such task, field or value
        # Items that print the Pipeline (pipeline, config, ...) have none to print for a PipelineGraph.
        blame("--show", *((RuntimeError,) if given_graph is not None else ()),
              message="a PipelineGraph given as the pipeline has no Pipeline to show; show pipeline-graph "
              "or task-graph, or pass a Pipeline"),
    ):
        show_info.show_pipeline_info(factory)
    sys.stdout.flush()
    return factory


def _starting_pipeline(pipeline, *, config, label: str | None):
    """The pipeline that ``-p`` (or a Python caller's ``pipeline=`` object) starts from.

    Returns ``(pipeline, None)`` with a `~lsst.pipe.base.Pipeline` that the
    actions edit: read from a YAML file (``-p``), a copy of the caller's (it
    is not changed), or a pipeline of one task class with ``config`` (its
    differences from the defaults, as a Python config override: see
    `_config_changes`) under ``label``, as `SimplePipelineExecutor.from_task_class`
    makes.  Returns
    ``(None, graph)`` for a caller's `~lsst.pipe.base.PipelineGraph` (a copy).
    """
    import copy

    from lsst.pipe.base import Pipeline, PipelineGraph, PipelineTask

    is_task_class = isinstance(pipeline, type) and issubclass(pipeline, PipelineTask)
    if not is_task_class and (config is not None or label is not None):
        raise UsageError("only with a PipelineTask subclass as pipeline=", option="config=" if config is not None
                         else "label=")
    if isinstance(pipeline, PipelineGraph):
        return None, pipeline.copy()
    if isinstance(pipeline, Pipeline):
        return copy.deepcopy(pipeline), None
    if is_task_class:
        label = label if label is not None else pipeline._DefaultName
        if not TASK_LABEL.fullmatch(label):
            raise UsageError(f"task label {label!r} is not a name (letters, digits and _)", option="label=")
        pipe = Pipeline("anonymous")
        pipe.addTask(pipeline, label)
        if config is not None:
            if not isinstance(config, pipeline.ConfigClass):
                raise UsageError(f"{pipeline.__name__} needs a {pipeline.ConfigClass.__name__}, "
                                 f"not a {type(config).__name__}", option="config=")
            # A Pipeline holds config as overrides, applied after the instrument's:
            # the caller's changes from the defaults are the override.
            pipe.addConfigPython(label, _config_changes(config, pipeline.ConfigClass()))
        return pipe, None
    with (
        blame("-p/--pipeline", ValueError, KeyError, OSError),
        blame("-p/--pipeline", FileNotFoundError, message=f"no such pipeline file: {pipeline!r}"),
    ):
        return (Pipeline.from_uri(pipeline) if pipeline else Pipeline("anonymous")), None


def _check_labels(pipe, actions: Sequence[PipelineAction]) -> None:
    """Refuse a ``-t`` action that would replace a task of a Python caller's pipeline object by its label.

    ``Pipeline.addTask`` replaces a task of the same label without a word
    (``-t`` on a YAML pipeline does, as in pipetask); with a task class or
    a `Pipeline` given from Python that is almost surely two tasks meant.
    """
    labels = set(pipe.task_labels)
    for action in actions:
        if action.option == "task" and (new := _label_of_new_task(action)) in labels:
            raise UsageError(
                f"the pipeline has a task labelled {new!r} already, and a task action adds another with it; "
                "give one of them another label (label=, or TASK:LABEL)", option="label=",
            )
        if action.option == "delete":
            labels.discard(action.label)


def _config_changes(config, default) -> str:
    """The statements of ``config.saveToString()`` that differ from ``default``'s, with its imports.

    pex_config saves a config as one assignment per line (``config.a.b=1``,
    a retarget, a dict item); the lines a default config also has are left
    out, so that an instrument's overrides of fields the caller did not
    change still apply, as on the command line.
    """
    unchanged = set(default.saveToString().splitlines())
    return "\n".join(
        line for line in config.saveToString().splitlines()
        if line.startswith(("import ", "from ")) or (line.strip() and not line.startswith("#") and line not in unchanged)
    ) + "\n"


def _label_of_new_task(action: PipelineAction) -> str | None:
    """The label a ``-t`` action gives its task: its own, or the class's ``_DefaultName`` (as `Pipeline.addTask`)."""
    if action.label:
        return action.label
    from lsst.utils.doImport import doImportType

    try:
        return doImportType(action.value)._DefaultName
    except Exception:  # an import failure is reported, naming -t, when the action is applied
        return None


def _check_class(name: str, base: str, option: str) -> None:
    """Import ``-t``/``--instrument`` class ``name`` and check it is a ``base``, naming ``option`` if not.

    `lsst.pipe.base.Pipeline` only stores the name; the class is imported
    when the graph is built, where a failure would not say which option
    named it.
    """
    from lsst.utils.doImport import doImportType

    try:
        cls = doImportType(name)
    except (ImportError, TypeError) as exc:  # TypeError: the name is a module or a function
        raise PipetaskLiteError(f"cannot import {name!r}: {exc}", option=option) from exc
    expected = doImportType(base)
    if not (isinstance(cls, type) and issubclass(cls, expected)):
        raise PipetaskLiteError(f"{name!r} is not a subclass of {expected.__name__}", option=option)


def _config_error(exc: Exception, actions: Sequence[PipelineAction]) -> Exception:
    """The error to raise for an exception of `Pipeline.to_graph`, naming the option at fault.

    ``to_graph`` imports the task classes and instrument, then applies the
    pipeline's config, the instrument's overrides, ``-c`` and ``-C`` (which
    execute Python from the config files).  Where the exception was raised
    says whose it is: in a ``-C`` file (anything such code raises); while
    config overrides were applied (``-c``, or the pipeline's own config when
    no ``-c`` was given); an import or a validation of the pipeline file.
    Anything else is not blamed on an option: it is returned as it is, an
    unexpected error (a bug, or a changed LSST API).
    """
    from lsst.pex.config import FieldValidationError
    from lsst.pipe.base.pipeline_graph import (
        ConnectionTypeConsistencyError, DuplicateOutputError, InvalidStepsError, PipelineDataCycleError,
    )

    config_files = {os.path.abspath(a.value): a for a in actions if a.option == "config_file"}
    frames = [frame.filename for frame in traceback.extract_tb(exc.__traceback__)]
    absolute = {os.path.abspath(frame) for frame in frames} | _config_files_being_applied(exc)
    named = getattr(exc, "filename", None)  # of a SyntaxError or an OSError: the file itself
    for path, action in config_files.items():
        if path in absolute or named in (path, action.value, os.path.basename(path)):
            return PipetaskLiteError(
                f"{action.label}:{action.value}: {type(exc).__name__}: {first_line(exc)}",
                option=ACTION_OPTIONS["config_file"],
            )
    # The pipeline's config as edited by -c/-C, or the pipeline file's own.
    edited_by_options = any(a.option in ("config", "config_file") for a in actions)
    edited = ACTION_OPTIONS["config"] if edited_by_options else "-p/--pipeline"
    overriding = any(frame.endswith(os.path.join("pipe", "base", "configOverrides.py")) for frame in frames)
    if overriding and isinstance(exc, (AttributeError, ValueError, TypeError, LookupError)) or isinstance(
        exc, FieldValidationError
    ):
        # A misspelt field: the closest fields of that config.
        suggestion = config_field_suggestion(exc) if isinstance(exc, AttributeError) else ""
        return PipetaskLiteError(first_line(exc) + suggestion, option=edited)
    if isinstance(exc, (PipelineDataCycleError, DuplicateOutputError, ConnectionTypeConsistencyError,
                        InvalidStepsError)):
        # The tasks' connections do not make a pipeline (a cycle, two tasks
        # writing one dataset type): the pipeline file's, or -c's edits of them.
        return PipetaskLiteError(first_line(exc), option=edited)
    if isinstance(exc, (ImportError, LookupError, ValueError)):
        # A task class or instrument named by the pipeline file (those of -t
        # and --instrument were checked when added), a bad label or subset.
        return PipetaskLiteError(first_line(exc), option="-p/--pipeline")
    return exc


def _config_files_being_applied(exc: BaseException) -> set[str]:
    """The config files that pipe_base's ``ConfigOverrides.applyTo`` was applying when ``exc`` was raised.

    Through lsst-pex-config 30.2026.500 the code of a config file is compiled
    under its own path, so its frame names it; newer releases compile it as
    ``<string>``, and only the ``override`` that ``applyTo`` is applying (a
    `~lsst.resources.ResourcePath`) says which file it was.
    """
    paths = set()
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "applyTo" and frame.f_code.co_filename.endswith("configOverrides.py"):
            override = frame.f_locals.get("override")
            if getattr(frame.f_locals.get("otype"), "name", None) == "File" and override is not None:
                paths.add(os.path.abspath(getattr(override, "ospath", str(override))))
        tb = tb.tb_next
    return paths

