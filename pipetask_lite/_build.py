"""`build`: what ``pipetask build`` does, and the first step of ``qgraph`` and ``run``."""

from __future__ import annotations

__all__ = ("build",)

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._util import ACTION_OPTIONS, as_actions, blame, make_show, open_butler, warn_unhandled_show
from .actions import PipelineAction
from .errors import PipetaskLiteError

if TYPE_CHECKING:
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
) -> PipelineGraph:
    """Build (and optionally save and show) a pipeline: ``pipetask build``.

    Parameters
    ----------
    pipeline : `str`, optional
        ``-p``: pipeline YAML file; ``file.yaml#label1,subset2`` selects tasks.
    pipeline_actions : `~collections.abc.Sequence`, optional
        ``-t``, ``--delete``, ``-c``, ``-C`` and ``--instrument`` in order, as
        `PipelineAction` values or ``(option, value)`` pairs such as
        ``("config", "isr:overscan.fitType=MEDIAN")``.
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
    butler_config : `str`, optional
        ``-b``: resolve dataset types against this repo (for
        ``--show pipeline-graph``/``task-graph`` and ``--pipeline-dot``).

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
        show_info=show_info, butler_config=butler_config,
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
) -> PipelineGraphFactory:
    """Do the work of `build`; ``qgraph`` and ``run`` start here too.

    Returns a `lsst.ctrl.mpexec.PipelineGraphFactory`, pipetask's holder of
    a pipeline that resolves its graph once, when first asked.  The other
    parameters are those of `build`, with ``show`` already parsed.
    """
    from lsst.ctrl.mpexec import PipelineGraphFactory
    from lsst.pipe.base import Pipeline
    from lsst.pipe.base.pipeline_graph import visualization

    # The pipeline file, then -t/--delete/-c/-C/--instrument in command-line order.
    with (
        blame("-p/--pipeline", ValueError, KeyError, OSError),
        blame("-p/--pipeline", FileNotFoundError, message=f"no such pipeline file: {pipeline!r}"),
    ):
        pipe = Pipeline.from_uri(pipeline) if pipeline else Pipeline("anonymous")
    actions = as_actions(pipeline_actions)
    for action in actions:
        with blame(ACTION_OPTIONS[action.option], Exception):
            match action.option:
                case "instrument":
                    pipe.addInstrument(action.value)
                case "task":
                    pipe.addTask(action.value, action.label)
                case "delete":
                    pipe.removeTask(action.label)
                case "config":
                    name, _, value = action.value.partition("=")
                    pipe.addConfigOverride(action.label, name, value)
                case "config_file":
                    pipe.addConfigFile(action.label, action.value)
    if save_pipeline:
        with blame("-s/--save-pipeline", OSError):
            pipe.write_to_uri(save_pipeline)

    butler = None
    if butler_config is not None:
        butler = open_butler(butler_config)
    try:
        # Task configs are built and validated here, so a bad -c/-C surfaces
        # now, with its option named.
        option = "-c/--config" if any(a.option in ("config", "config_file") for a in actions) else "-p/--pipeline"
        with blame(option, Exception):
            pipeline_graph = pipe.to_graph()
        if select_tasks:
            with blame("--select-tasks", Exception):
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
    if pipeline_dot:
        with blame("--pipeline-dot", OSError), open(pipeline_dot, "w") as stream:
            visualization.show_dot(
                factory(visualization_only=True), stream, dataset_types=True, task_classes="full"
            )
    if pipeline_mermaid:
        output_format = pipeline_mermaid.rpartition(".")[2] if pipeline_mermaid.endswith((".svg", ".png")) else "mmd"
        # .svg/.png need mermaid-py (ImportError) and its web service (RuntimeError).
        with blame("--pipeline-mermaid", OSError, ImportError, RuntimeError), open(pipeline_mermaid, "w" if output_format == "mmd" else "wb") as stream:
            visualization.show_mermaid(
                factory(visualization_only=True), stream, output_format=output_format,
                width=4500 if output_format != "mmd" else None, dataset_types=True, task_classes="full",
            )
    with blame("--show", Exception):
        show_info.show_pipeline_info(factory)
    sys.stdout.flush()
    return factory
