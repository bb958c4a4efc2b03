"""``pipetask-lite --explain=quantum``: the task's own call for one quantum.

Below SimplePipelineExecutor (what ``--explain`` prints) is the layer a task
author works in: a task's ``run()`` takes in-memory objects, and its
``runQuantum()`` is the bridge that fetches them from the butler and stores
what ``run()`` returns.  `explain_quantum` opens the repo read-only, builds the
quantum graph the command line would build (the same code as ``qgraph``), and
prints, for one quantum of each task (or every quantum of the
``--select-tasks`` tasks), a self-contained script of that layer:

- the task built with the exact config the pipeline gives it (after
  ``--instrument``, ``-c`` and ``-C``: the fields that differ from the
  config class's defaults);
- each input fetched with ``butler.get(dataset type, data ID,
  collections=...)``, with a comment naming the collection the graph builder
  found it in, and for a calibration, the CALIBRATION collection and the
  validity range covering the quantum's exposure;
- ``task.run(name=value, ...)`` with the connection names as keywords, and
  for each output of the returned struct, where ``butler.put`` would store it.

A task whose ``runQuantum`` is its own does more than fetch and pass its
inputs; the script then calls ``task.runQuantum(...)`` as the executor does,
through pipe_base's `~lsst.pipe.base.QuantumContext`, which puts the outputs
itself.  Nothing is written to the repo by `explain_quantum`.
"""

from __future__ import annotations

__all__ = ("explain_quantum",)

import argparse
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    from lsst.daf.butler import Butler, DatasetRef, Quantum
    from lsst.pipe.base.pipeline_graph import PipelineGraph, TaskNode

PROG = "pipetask-lite"

REFUSED = {
    "qgraph": "-g/--qgraph", "save_qgraph": "-q/--save-qgraph", "qgraph_dot": "--qgraph-dot",
    "qgraph_mermaid": "--qgraph-mermaid", "save_pipeline": "-s/--save-pipeline", "pipeline_dot": "--pipeline-dot",
    "pipeline_mermaid": "--pipeline-mermaid", "summary": "--summary", "show": "--show", "mock": "--mock",
}
"""Options that write a file or change what the graph is made of: refused, since the quantum layer writes nothing."""


def explain_quantum(args: argparse.Namespace) -> str:
    """Return the script of the in-memory layer for the quanta of ``args``'s graph.

    Parameters
    ----------
    args : `argparse.Namespace`
        A parsed ``run`` or ``qgraph`` command line.  ``-b``, ``-i``, ``-o``,
        ``--output-run``, ``-p`` with its pipeline actions, ``-d`` and the
        collection options build the graph as the command would;
        ``--select-tasks`` picks the tasks whose every quantum is shown
        (otherwise the first quantum of each task, by data ID).

    Returns
    -------
    script : `str`
        Python source using the public LSST API only.

    Raises
    ------
    pipetask_lite.UsageError
        Raised for another subcommand, an option listed in `REFUSED`, or a
        ``--select-tasks`` naming a task the pipeline does not have.
    pipetask_lite.PipetaskLiteError
        Raised, as by ``qgraph``, for bad collections or an empty graph.
    """
    if args.subcommand not in ("run", "qgraph"):
        raise UsageError(f"is for run and qgraph; not for {args.subcommand!r}", option="--explain=quantum")
    for dest, option in REFUSED.items():
        if getattr(args, dest, None):
            raise UsageError(f"writes nothing and builds the graph from -p; {option} is not taken",
                             option="--explain=quantum")
    from lsst.ctrl.mpexec import PipelineGraphFactory
    from lsst.pipe.base.pipeline_graph import PipelineGraphError

    from ._build import build_pipeline
    from ._qgraph import GraphOptions
    from ._qgraph import make_quantum_graph
    from ._util import blame, make_show, open_butler

    factory = build_pipeline(
        pipeline=args.pipeline, pipeline_actions=args.pipeline_actions, save_pipeline=None, select_tasks="",
        pipeline_dot=None, pipeline_mermaid=None, show_info=make_show(()),
    )
    whole = factory(resolve=False)
    selected = None
    if args.select_tasks:
        # A name that is neither a task label nor a dataset type is a typo,
        # not an expression that happens to select nothing.
        names = set(re.findall(r"[A-Za-z_][\w.-]*", args.select_tasks))
        known = set(whole.tasks) | set(whole.dataset_types)
        if unknown := sorted(names - known):
            raise UsageError(
                f"no task labelled {', '.join(map(repr, unknown))} in the pipeline (its tasks: "
                f"{', '.join(whole.tasks)})", option="--select-tasks",
            )
        with blame("--select-tasks", PipelineGraphError, ValueError, LookupError):
            graph = whole.select(args.select_tasks)
        if not graph.tasks:
            raise UsageError(f"{args.select_tasks!r} selects no tasks", option="--select-tasks")
        selected = set(graph.tasks)
        factory = PipelineGraphFactory(factory.pipeline, None, pipeline_graph=graph)
    # The graph of the command line's collections and selection; nothing
    # else of it is taken (see above).
    options = GraphOptions(
        butler_config=args.butler_config, input=args.input, output=args.output, output_run=args.output_run,
        pipeline=args.pipeline, pipeline_actions=args.pipeline_actions, data_query=args.data_query,
        skip_existing_in=args.skip_existing_in, skip_existing=args.skip_existing,
        dataset_query_constraint=args.dataset_query_constraint, data_id_table=args.data_id_table,
        extend_run=args.extend_run, replace_run=args.replace_run, rebase=args.rebase,
        clobber_outputs=args.clobber_outputs,
    )
    quantum_graph, plan = make_quantum_graph(factory, options, show_info=make_show(()), for_execution=False)
    quantum_graph.build_execution_quanta()
    nodes = quantum_graph.quantum_only_xgraph.nodes
    by_task: dict[str, list] = {}
    for quantum_id in quantum_graph:
        node = nodes[quantum_id]
        by_task.setdefault(node["task_label"], []).append(node["quantum"])
    pipeline_graph = quantum_graph.pipeline_graph
    shown = []
    for label in pipeline_graph.tasks:
        quanta = sorted(by_task.get(label, []), key=lambda q: _data_id_key(q.dataId))
        if quanta:
            shown += [(label, q) for q in (quanta if selected else quanta[:1])]
    with open_butler(args.butler_config) as butler:
        writer = _Writer(args, plan, pipeline_graph, butler)
        for label, quantum in shown:
            writer.quantum(pipeline_graph.tasks[label], quantum)
        return writer.render()


def _data_id_key(data_id) -> tuple:
    return tuple((name, str(data_id[name])) for name in data_id.required)


def _data_id(data_id) -> dict[str, Any]:
    """A data ID as a plain dict of its required values (what ``butler.get`` takes)."""
    return {name: data_id[name] for name in data_id.required}


def _collection_text(names: Iterable[str]) -> str:
    return ", ".join(sorted(set(names)))


class _Writer:
    """The script: constants, then one block per quantum."""

    def __init__(self, args: argparse.Namespace, plan, pipeline_graph: PipelineGraph, butler: Butler):
        self.args = args
        self.plan = plan
        self.pipeline_graph = pipeline_graph
        self.butler = butler
        self.output_run = plan.output_run
        self.produced = {name for task in pipeline_graph.tasks.values() for name in
                         (edge.parent_dataset_type_name for edge in task.outputs.values())}
        self.imports: set[str] = set()
        self.lines: list[str] = []
        self.uses_runquantum = False
        self.calibrations = self._calibration_collections()

    def _calibration_collections(self) -> list[str]:
        from lsst.daf.butler import CollectionType

        return list(self.butler.collections.query(
            list(self.plan.search_path), collection_types={CollectionType.CALIBRATION}, flatten_chains=True
        ))

    def _where(self, ref: DatasetRef) -> str:
        """The ``collections=`` of an input's ``butler.get``: the graph's inputs, or -o for an upstream output."""
        if ref.datasetType.nameAndComponent()[0] in self.produced:
            # An output of an upstream quantum of this graph: in the repo
            # once the command has run (through -o's chain, or the run itself).
            return "OUTPUT" if self.plan.output is not None else "OUTPUT_RUN"
        return "INPUTS"

    def _found(self, refs: list[DatasetRef], quantum: Quantum, *, calibration: bool) -> str:
        """The comment for an input: the collection the builder found it in (and how, for a calibration)."""
        name = refs[0].datasetType.name
        if name.partition(".")[0] in self.produced:
            return (f"made by an upstream quantum of this graph (run {self.output_run}); in the repo once the "
                    "command has run")
        runs = _collection_text(ref.run for ref in refs)
        if not calibration:
            return f"found in RUN {runs}"
        # A calibration: found through its certification in a CALIBRATION
        # collection, for a validity range covering the quantum's time.
        ids = {ref.id for ref in refs}
        for collection in self.calibrations:
            for association in self.butler.registry.queryDatasetAssociations(
                refs[0].datasetType.name, collections=[collection]
            ):
                if association.ref.id in ids:
                    when = quantum.dataId.timespan
                    what = ", ".join(f"{d} {quantum.dataId[d]}" for d in ("exposure", "visit")
                                     if d in quantum.dataId.dimensions.names) or "the quantum"
                    return (f"prerequisite calibration: certified in CALIBRATION {collection} for "
                            f"{association.timespan}, which covers {what} ({when}); the dataset is in RUN {runs}")
        return f"prerequisite calibration, found in RUN {runs}"

    def quantum(self, task_node: TaskNode, quantum: Quantum) -> None:
        from lsst.pipe.base import PipelineTask
        from lsst.utils.introspection import get_full_type_name

        task_class = task_node.task_class
        module, _, class_name = get_full_type_name(task_class).rpartition(".")
        self.imports.add(f"from {module} import {class_name}")
        own_run_quantum = task_class.runQuantum is not PipelineTask.runQuantum
        out = self.lines
        out += ["", "", f"# {task_node.label}: {class_name}, quantum {_data_id(quantum.dataId)}"]
        out.append(f"config = {class_name}.ConfigClass()")
        out += self._config_lines(task_node)
        out.append("config.freeze()")
        init_inputs = list(task_node.init.inputs.items())
        if init_inputs:
            # (No task of the demo or the test pipelines has init-inputs: this path is not round-tripped.)
            out.append("init_inputs = {")
            for name, edge in init_inputs:
                where = self._init_where(edge)
                out.append(f"    {name!r}: butler.get({edge.dataset_type_name!r}, collections={where}),")
            out.append("}")
            out.append(f"task = {class_name}(config=config, initInputs=init_inputs)")
        else:
            out.append(f"task = {class_name}(config=config)")
        if own_run_quantum:
            self._run_quantum(task_node, quantum, class_name)
            return
        connections = task_node.get_connections()
        keywords = []
        for name, edge, prerequisite in [
            *((n, e, False) for n, e in task_node.inputs.items()),
            *((n, e, True) for n, e in task_node.prerequisite_inputs.items()),
        ]:
            connection = getattr(connections, name)
            refs = sorted(quantum.inputs.get(edge.parent_dataset_type_name, []), key=lambda r: _data_id_key(r.dataId))
            refs = [ref.makeComponentRef(edge.component) if edge.component else ref for ref in refs]
            keywords.append(name)
            if not refs:
                out.append(f"{name} = {'[]' if connection.multiple else 'None'}  # no {edge.dataset_type_name} for "
                           "this quantum")
                continue
            calibration = prerequisite and connection.isCalibration
            get = "butler.getDeferred" if connection.deferLoad else "butler.get"
            extra = ""
            if edge.storage_class_name != refs[0].datasetType.storageClass_name:
                extra = f", storageClass={edge.storage_class_name!r}"
            collections = self._where(refs[0])
            comment = self._found(refs, quantum, calibration=calibration)
            if calibration:
                # butler.get finds a calibration by the time of the exposure
                # (or visit) in the data ID: the quantum's whole data ID is given.
                data_ids = [{**_data_id(quantum.dataId), **_data_id(ref.dataId)} for ref in refs]
            else:
                data_ids = [_data_id(ref.dataId) for ref in refs]
            kind = "prerequisite input" if prerequisite else "input"
            out.append(f"# {name}: {kind} {edge.dataset_type_name!r}; {comment}")
            if connection.multiple:
                out.append(f"{name} = [")
                for data_id in data_ids:
                    out.append(f"    {get}({edge.dataset_type_name!r}, {data_id!r}, collections={collections}{extra}),")
                out.append("]")
            else:
                out.append(f"{name} = {get}({edge.dataset_type_name!r}, {data_ids[0]!r}, "
                           f"collections={collections}{extra})")
        out.append(f"result = task.run({', '.join(f'{k}={k}' for k in keywords)})")
        for name, edge in task_node.outputs.items():
            refs = sorted(quantum.outputs.get(edge.parent_dataset_type_name, []), key=lambda r: _data_id_key(r.dataId))
            connection = getattr(connections, name)
            values = f"result.{name}"
            for i, ref in enumerate(refs):
                value = f"{values}[{i}]" if connection.multiple else values
                out.append(f"# butler.put({value}, {edge.dataset_type_name!r}, {_data_id(ref.dataId)!r}) would "
                           f"store it in RUN {ref.run}")
                out.append(f"outputs.append(({edge.dataset_type_name!r}, {_data_id(ref.dataId)!r}, {value}))")
        out.append(f"# {task_node.metadata_output.dataset_type_name}"
                   + (f", {task_node.log_output.dataset_type_name}" if task_node.log_output else "")
                   + ": the task's metadata and log, written by the executor, not returned by run()")

    def _init_where(self, edge) -> str:
        """The ``collections=`` of an init-input: an upstream task's init-output is in -o once the command ran."""
        name = edge.parent_dataset_type_name
        made_here = any(name in (e.parent_dataset_type_name for e in task.init.outputs.values())
                        for task in self.pipeline_graph.tasks.values())
        if made_here:
            return "OUTPUT" if self.plan.output is not None else "OUTPUT_RUN"
        return "INPUTS"

    def _config_lines(self, task_node: TaskNode) -> list[str]:
        """The config the pipeline gives the task, as the lines that differ from the class's defaults."""
        config = task_node.config
        default = type(config)()

        def lines(c) -> list[str]:
            return [line for line in c.saveToString().splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]

        defaults = set(lines(default))
        return [line for line in lines(config) if line not in defaults]

    def _run_quantum(self, task_node: TaskNode, quantum: Quantum, class_name: str) -> None:
        """The script for a task with its own runQuantum: called as the executor calls it."""
        self.uses_runquantum = True
        out = self.lines
        out += [
            f"# {class_name}.runQuantum is its own: this task does more than fetch its inputs and pass them to",
            "# run(), so it is called as the executor calls it, through a QuantumContext, with the refs of",
            "# its quantum; runQuantum puts its outputs itself, so this part writes them to OUTPUT_RUN.",
            "write_butler = Butler.from_config(REPO, writeable=True, run=OUTPUT_RUN)",
            "write_butler.collections.register(OUTPUT_RUN)",
            "quantum = Quantum(",
            f"    taskName={task_node.task_class_name!r},",
            f"    dataId=butler.registry.expandDataId({_data_id(quantum.dataId)!r}),",
            "    inputs={",
        ]
        for dataset_type, refs in quantum.inputs.items():
            collections = self._where(refs[0])
            out.append(f"        butler.get_dataset_type({dataset_type.name!r}): [")
            for ref in sorted(refs, key=lambda r: _data_id_key(r.dataId)):
                out.append(f"            butler.find_dataset({dataset_type.name!r}, {_data_id(ref.dataId)!r}, "
                           f"collections={collections}),  # {self._found([ref], quantum, calibration=False)}")
            out.append("        ],")
        out += ["    },", "    outputs={"]
        for dataset_type, refs in quantum.outputs.items():
            out.append(f"        write_butler.get_dataset_type({dataset_type.name!r}): [")
            for ref in sorted(refs, key=lambda r: _data_id_key(r.dataId)):
                out.append(f"            DatasetRef(write_butler.get_dataset_type({dataset_type.name!r}), "
                           f"butler.registry.expandDataId({_data_id(ref.dataId)!r}), run=OUTPUT_RUN),")
            out.append("        ],")
        out += [
            "    },",
            ")",
            "input_refs, output_refs = task.config.ConnectionsClass(config=task.config).buildDatasetRefs(quantum)",
            "task.runQuantum(QuantumContext(write_butler, quantum), input_refs, output_refs)",
        ]

    def render(self) -> str:
        from ._explain import _Options, _wrap_command

        words = _Options(self.args).command_line()
        plan = self.plan
        which = "each quantum of the selected tasks" if self.args.select_tasks else "one quantum of each task"
        head = [
            "#!/usr/bin/env python",
            f"# The task's own call for {which} of this command's graph",
            "# (printed by `pipetask-lite --explain=quantum`):",
            *[f"#     {line}" for line in _wrap_command(words, width=92)],
            "# Each task is built with the config the pipeline gives it; its inputs are fetched with butler.get,",
            "# as runQuantum would fetch them, and passed to run() by their connection names.  Nothing is written",
            "# (unless a task's own runQuantum is called; it says so).",
            "",
            "from lsst.daf.butler import Butler" + (", DatasetRef, Quantum" if self.uses_runquantum else ""),
        ]
        if self.uses_runquantum:
            head.append("from lsst.pipe.base import QuantumContext")
        head += ["", *sorted(self.imports)]  # the tasks' own modules, after the LSST imports
        head += [
            "",
            f"REPO = {self.args.butler_config!r}  # -b",
            f"INPUTS = {list(plan.search_path)!r}  # the collections the graph builder searched "
            f"({'-i' if self.args.input else '-o'})",
        ]
        if plan.output is not None:
            head.append(f"OUTPUT = {plan.output!r}  # -o: where the command's outputs are found once it has run")
        head.append(f"OUTPUT_RUN = {plan.output_run!r}  # the run the graph was built for")
        head += [
            "",
            "butler = Butler.from_config(REPO, writeable=False)",
            "outputs = []  # (dataset type, data ID, object): what butler.put would store",
        ]
        return "\n".join(head + self.lines) + "\n"
