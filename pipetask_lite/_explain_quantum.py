"""``pipetask-lite --explain=quantum``: the task's own call for its quanta.

Below SimplePipelineExecutor (what ``--explain`` prints) is the layer a task
author works in: a task's ``run()`` takes in-memory objects, and its
``runQuantum()`` is the bridge that fetches them from the butler and stores
what ``run()`` returns.  `explain_quantum` opens the repo read-only, builds the
quantum graph the command line would build (the same code as ``qgraph``), and
prints, for one quantum of each task and every quantum upstream of it (or
every quantum of the ``--select-tasks`` tasks), a self-contained script of
that layer:

- the task built with the exact config the pipeline gives it (after
  ``--instrument``, ``-c`` and ``-C``: the fields that differ from the
  config class's defaults);
- each input read from the repo with ``butler.get(dataset type, data ID,
  collections=...)``, with a comment naming the collection the graph builder
  found it in, and for a calibration, the CALIBRATION collection and the
  validity range covering the quantum's exposure;
- each input made by a quantum above taken from memory: a dict per dataset
  type, keyed by data ID, where the command would store it and read it back.
  So the script runs on the repo as it is before the command;
- ``task.run(name=value, ...)`` with the connection names as keywords, and
  for each output of the returned struct, where ``butler.put`` would store it;
- many quanta of one task as a loop over a table of their data IDs (and of
  their inputs', where those are not the quantum's own), not as copies.

A task whose ``runQuantum`` is its own does more than fetch and pass its
inputs; the script then calls ``task.runQuantum(...)`` as the executor does,
through pipe_base's `~lsst.pipe.base.QuantumContext`, which reads its inputs
from the butler and puts the outputs itself: its inputs made in memory are
stored in the graph's output run first (a QuantumContext cannot be handed an
object), and its outputs are read back for the tasks below.  Nothing is
written to the repo by `explain_quantum` itself.
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
    xgraph = quantum_graph.quantum_only_xgraph
    nodes = xgraph.nodes
    by_task: dict[str, list] = {}
    for quantum_id in quantum_graph:
        by_task.setdefault(nodes[quantum_id]["task_label"], []).append(quantum_id)
    if selected:
        shown = set(xgraph)
    else:
        # The first quantum of each task, and every quantum upstream of it:
        # the script hands their results on in memory, so it runs on the
        # repo as it is before the command.
        import networkx

        first = [min(ids, key=lambda i: _data_id_key(nodes[i]["quantum"].dataId)) for ids in by_task.values()]
        shown = set(first).union(*(networkx.ancestors(xgraph, i) for i in first))
    pipeline_graph = quantum_graph.pipeline_graph
    blocks = []
    for label in pipeline_graph.tasks:  # in dependency order
        quanta = sorted((nodes[i]["quantum"] for i in by_task.get(label, []) if i in shown),
                        key=lambda q: _data_id_key(q.dataId))
        if quanta:
            blocks.append((pipeline_graph.tasks[label], quanta))
    with open_butler(args.butler_config) as butler:
        return _Writer(args, plan, pipeline_graph, butler, blocks).write()


def _data_id_key(data_id) -> tuple:
    return tuple((name, str(data_id[name])) for name in data_id.required)


def _data_id(data_id) -> dict[str, Any]:
    """A data ID as a plain dict of its required values (what ``butler.get`` takes)."""
    return {name: data_id[name] for name in data_id.required}


def _collection_text(names: Iterable[str]) -> str:
    return ", ".join(sorted(set(names)))


def _key(data_id) -> tuple:
    """The key of a dataset held in memory: its data ID's required values, in the dimensions' order."""
    return tuple(data_id[name] for name in data_id.required)


def _subscript(values: list[str]) -> str:
    """``'DemoCam', 0, 20240101001``: the code of a key (a one-value key keeps its comma)."""
    return ", ".join(values) + ("," if len(values) == 1 else "")


def _literal(data_id) -> str:
    return _subscript([repr(v) for v in _key(data_id)])


RESERVED = frozenset({
    "butler", "write_butler", "outputs", "config", "task", "result", "data_id", "quantum", "input_refs",
    "output_refs", "init_inputs", "key", "ref_id", "REPO", "INPUTS", "OUTPUT", "OUTPUT_RUN", "Butler",
    "DatasetRef", "DatasetType", "Quantum", "QuantumContext", "InMemoryDatasetHandle",
})
"""Names the script binds itself: no dataset type's dict or loop variable may take them."""


class _Writer:
    """The script: constants, then one block per task (a loop for many quanta)."""

    def __init__(self, args: argparse.Namespace, plan, pipeline_graph: PipelineGraph, butler: Butler,
                 blocks: list[tuple[TaskNode, list[Quantum]]]):
        self.args = args
        self.plan = plan
        self.pipeline_graph = pipeline_graph
        self.butler = butler
        self.output_run = plan.output_run
        self.produced = {name for task in pipeline_graph.tasks.values() for name in
                         (edge.parent_dataset_type_name for edge in task.outputs.values())}
        self.searched = set(butler.collections.query(list(plan.search_path), flatten_chains=True)
                            if plan.search_path else ())
        self.blocks = blocks
        # Datasets one quantum of the script makes and a later one takes:
        # held in a dict per dataset type, keyed by data ID (`_key`).
        self.consumed = {(dataset_type.name, _key(ref.dataId)) for _, quanta in blocks for quantum in quanta
                         for dataset_type, refs in quantum.inputs.items() for ref in refs}
        self.made: dict[tuple[str, tuple], str] = {}  # (dataset type, key) -> the dict holding it
        self.made_by: dict[str, str] = {}  # dataset type -> label of the task making it
        self.stored: set[tuple[str, tuple]] = set()  # made, and in OUTPUT_RUN too (a runQuantum wrote it)
        self.registered: set[str] = set()
        self.taken = set(RESERVED) | {name for task in pipeline_graph.tasks.values()
                                      for name in task.get_connections().allConnections}
        self.variables: dict[str, str] = {}
        self.imports: set[str] = set()
        self.lines: list[str] = []
        self.uses_runquantum = False
        self.uses_handle = False
        self.calibrations = self._calibration_collections()
        self.certifications: dict[str, dict] = {}

    def write(self) -> str:
        for task_node, quanta in self.blocks:
            self.task(task_node, quanta)
        return self.render()

    def _calibration_collections(self) -> list[str]:
        from lsst.daf.butler import CollectionType

        return list(self.butler.collections.query(
            list(self.plan.search_path), collection_types={CollectionType.CALIBRATION}, flatten_chains=True
        ))

    def _variable(self, dataset_type: str) -> str:
        """The name of the dict holding a dataset type's in-memory results: the type's name if it is free."""
        import keyword

        if dataset_type not in self.variables:
            name = dataset_type if dataset_type.isidentifier() else re.sub(r"\W", "_", dataset_type)
            while name in self.taken or keyword.iskeyword(name):
                name = f"{name}_"
            self.taken.add(name)
            self.variables[dataset_type] = name
        return self.variables[dataset_type]

    def _made(self, ref: DatasetRef) -> str | None:
        """The dict holding ``ref``'s dataset if a quantum above made it (a component is read from the repo)."""
        if ref.datasetType.component() is not None:
            return None
        return self.made.get((ref.datasetType.name, _key(ref.dataId)))

    def _collections(self, ref: DatasetRef) -> str:
        """The ``collections=`` of an input read from the repo: the graph's inputs, unless found elsewhere."""
        if ref.datasetType.nameAndComponent()[0] not in self.produced or ref.run in self.searched:
            return "INPUTS"
        # An output of this pipeline already in the repo (a quantum the graph skips).
        return "OUTPUT_RUN" if ref.run == self.output_run else repr([ref.run])

    def _certified(self, ref: DatasetRef) -> tuple[str, Any] | None:
        """The CALIBRATION collection and validity range the builder found a calibration through."""
        name = ref.datasetType.nameAndComponent()[0]
        if name not in self.certifications:
            self.certifications[name] = {
                association.ref.id: (collection, association.timespan)
                for collection in self.calibrations
                for association in self.butler.registry.queryDatasetAssociations(name, collections=[collection])
            }
        return self.certifications[name].get(ref.id)

    def _found(self, pairs: list[tuple[Quantum, DatasetRef]], *, calibration: bool) -> str:
        """The comment for an input: taken from memory, or where the builder found it (and how, for a calibration)."""
        made = [ref for _, ref in pairs if self._made(ref)]
        if made:
            label = self.made_by[made[0].datasetType.name]
            if all((ref.datasetType.name, _key(ref.dataId)) in self.stored for ref in made):
                text = f"made above by {label}, whose runQuantum stored it in OUTPUT_RUN, read back there"
            else:
                text = (f"made above by {label}: the command would have stored it in RUN {self.output_run} and "
                        "read it back; here it is taken from memory")
            return text if len(made) == len(pairs) else f"{len(made)} of {len(pairs)} {text}"
        runs = _collection_text(ref.run for _, ref in pairs)
        if not calibration:
            return f"found in RUN {runs}"
        # A calibration: found through its certification in a CALIBRATION
        # collection, for a validity range covering the quantum's time.
        found = {self._certified(ref) for _, ref in pairs}
        if None in found:
            return f"prerequisite calibration, found in RUN {runs}"
        ranges = "; ".join(f"certified in CALIBRATION {c} for {t}" for c, t in sorted(found, key=str))
        quantum = pairs[0][0]
        what = [d for d in ("exposure", "visit") if d in quantum.dataId.dimensions.names]
        if len(pairs) == 1:
            when = quantum.dataId.timespan
            covered = ", ".join(f"{d} {quantum.dataId[d]}" for d in what) or "the quantum"
            return f"prerequisite calibration: {ranges}, which covers {covered} ({when}); the dataset is in RUN {runs}"
        return (f"prerequisite calibration: {ranges}, which covers the {' and '.join(what) or 'time'} of each "
                f"quantum; the datasets are in RUN {runs}")

    def _inputs(self, task_node: TaskNode) -> list:
        connections = task_node.get_connections()
        return [(n, e, p, getattr(connections, n)) for n, e, p in [
            *((n, e, False) for n, e in sorted(task_node.inputs.items())),
            *((n, e, True) for n, e in sorted(task_node.prerequisite_inputs.items())),
        ]]

    @staticmethod
    def _refs(quantum: Quantum, edge) -> list[DatasetRef]:
        refs = sorted(quantum.inputs.get(edge.parent_dataset_type_name, []), key=lambda r: _data_id_key(r.dataId))
        return [ref.makeComponentRef(edge.component) if edge.component else ref for ref in refs]

    def _get(self, connection, edge, ref: DatasetRef, data_id: str) -> str:
        """``butler.get(...)`` of an input read from the repo (``data_id``: its code)."""
        get = "butler.getDeferred" if connection.deferLoad else "butler.get"
        extra = ""
        if edge.storage_class_name != ref.datasetType.storageClass_name:
            extra = f", storageClass={edge.storage_class_name!r}"
        return f"{get}({edge.dataset_type_name!r}, {data_id}, collections={self._collections(ref)}{extra})"

    def _from_memory(self, connection, variable: str, key: str) -> str:
        if connection.deferLoad:
            # The task asks for a handle it loads later: the in-memory one.
            self.uses_handle = True
            return f"InMemoryDatasetHandle({variable}[{key}])"
        return f"{variable}[{key}]"

    def task(self, task_node: TaskNode, quanta: list[Quantum]) -> None:
        """The block of one task: its config and construction, then its quanta (in a loop where they fit one)."""
        from lsst.pipe.base import PipelineTask
        from lsst.utils.introspection import get_full_type_name

        task_class = task_node.task_class
        module, _, class_name = get_full_type_name(task_class).rpartition(".")
        self.imports.add(f"from {module} import {class_name}")
        own_run_quantum = task_class.runQuantum is not PipelineTask.runQuantum
        out = self.lines
        what = f"quantum {_data_id(quanta[0].dataId)}" if len(quanta) == 1 else f"{len(quanta)} quanta"
        out += ["", "", f"# {task_node.label}: {class_name}, {what}"]
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
        if len(quanta) > 1:
            out.append("# One task for every quantum below (the executor makes one per quantum).")
        for name, edge in sorted(task_node.outputs.items()):
            refs = [ref for quantum in quanta for ref in quantum.outputs.get(edge.parent_dataset_type_name, [])]
            if any((ref.datasetType.name, _key(ref.dataId)) in self.consumed for ref in refs):
                dimensions = ", ".join(refs[0].dataId.required)
                out.append(f"{self._variable(edge.parent_dataset_type_name)} = {{}}  # result.{name} by "
                           f"({dimensions}), for the tasks below")
        loop = None
        if len(quanta) > 1 and not own_run_quantum:
            loop = self._loop(task_node, quanta)
        if loop is not None:
            out += loop
        else:
            for quantum in quanta:
                if len(quanta) > 1:
                    out.append(f"# quantum {_data_id(quantum.dataId)}")
                if own_run_quantum:
                    self._run_quantum(task_node, quantum, class_name, first=quantum is quanta[0])
                else:
                    self._one(task_node, quantum)
        for quantum in quanta:
            for dataset_type, refs in quantum.outputs.items():
                for ref in refs:
                    if (dataset_type.name, _key(ref.dataId)) in self.consumed:
                        self.made[dataset_type.name, _key(ref.dataId)] = self._variable(dataset_type.name)
                        self.made_by[dataset_type.name] = task_node.label
                        if own_run_quantum:
                            self.stored.add((dataset_type.name, _key(ref.dataId)))
        out.append(f"# {task_node.metadata_output.dataset_type_name}"
                   + (f", {task_node.log_output.dataset_type_name}" if task_node.log_output else "")
                   + ": the task's metadata and log, written by the executor, not returned by run()")

    def _one(self, task_node: TaskNode, quantum: Quantum) -> None:
        """One quantum: each input fetched (or taken from memory), ``task.run``, each output kept."""
        out = self.lines
        keywords = []
        for name, edge, prerequisite, connection in self._inputs(task_node):
            refs = self._refs(quantum, edge)
            keywords.append(name)
            if not refs:
                out.append(f"{name} = {'[]' if connection.multiple else 'None'}  # no {edge.dataset_type_name} for "
                           "this quantum")
                continue
            calibration = prerequisite and connection.isCalibration
            comment = self._found([(quantum, ref) for ref in refs], calibration=calibration)
            values = []
            for ref in refs:
                if variable := self._made(ref):
                    values.append(self._from_memory(connection, variable, _literal(ref.dataId)))
                    continue
                # butler.get finds a calibration by the time of the exposure
                # (or visit) in the data ID: the quantum's whole data ID is given.
                data_id = ({**_data_id(quantum.dataId), **_data_id(ref.dataId)} if calibration
                           else _data_id(ref.dataId))
                values.append(self._get(connection, edge, ref, repr(data_id)))
            kind = "prerequisite input" if prerequisite else "input"
            out.append(f"# {name}: {kind} {edge.dataset_type_name!r}; {comment}")
            if connection.multiple:
                out += [f"{name} = [", *(f"    {value}," for value in values), "]"]
            else:
                out.append(f"{name} = {values[0]}")
        out.append(f"result = task.run({', '.join(f'{k}={k}' for k in keywords)})")
        connections = task_node.get_connections()
        for name, edge in sorted(task_node.outputs.items()):
            refs = sorted(quantum.outputs.get(edge.parent_dataset_type_name, []), key=lambda r: _data_id_key(r.dataId))
            connection = getattr(connections, name)
            values = f"result.{name}"
            for i, ref in enumerate(refs):
                value = f"{values}[{i}]" if connection.multiple else values
                out.append(f"# butler.put({value}, {edge.dataset_type_name!r}, {_data_id(ref.dataId)!r}) would "
                           f"store it in RUN {ref.run}")
                if (ref.datasetType.name, _key(ref.dataId)) in self.consumed:
                    out.append(f"{self._variable(ref.datasetType.name)}[{_literal(ref.dataId)}] = {value}")
                out.append(f"outputs.append(({edge.dataset_type_name!r}, {_data_id(ref.dataId)!r}, {value}))")

    def _loop(self, task_node: TaskNode, quanta: list[Quantum]) -> list[str] | None:
        """Many quanta as a loop over a table of their data IDs (and their inputs' where not the quantum's own).

        Returns `None` when the quanta do not fit one loop body (inputs from
        memory and from the repo mixed, outputs of other data IDs, names that
        clash): they are then written one by one.
        """
        import keyword

        dimensions = list(quanta[0].dataId.required)
        if any(list(q.dataId.required) != dimensions for q in quanta):
            return None
        ids = [_data_id(q.dataId) for q in quanta]
        varying = [d for d in dimensions if len({i[d] for i in ids}) > 1]
        if any(d in self.taken or keyword.iskeyword(d) or not d.isidentifier() for d in varying):
            return None

        def code(d: str) -> str:
            return d if d in varying else repr(ids[0][d])

        own_key = _subscript([code(d) for d in dimensions])
        columns: list[tuple[str, list]] = []
        body: list[str] = []
        keywords = []
        for name, edge, prerequisite, connection in self._inputs(task_node):
            per = [self._refs(q, edge) for q in quanta]
            keywords.append(name)
            if not any(per):
                body.append(f"    {name} = {'[]' if connection.multiple else 'None'}  # no {edge.dataset_type_name} "
                            "for these quanta")
                continue
            if not connection.multiple and not all(len(refs) == 1 for refs in per):
                return None
            calibration = prerequisite and connection.isCalibration
            flat = [ref for refs in per for ref in refs]
            made = {self._made(ref) for ref in flat}
            if len(made) != 1 or len({self._collections(ref) for ref in flat}) != 1:
                return None  # from memory and from the repo, or from several places
            variable = made.pop()
            kind = "prerequisite input" if prerequisite else "input"
            pairs = [(q, ref) for q, refs in zip(quanta, per) for ref in refs]
            body.append(f"    # {name}: {kind} {edge.dataset_type_name!r}; "
                        f"{self._found(pairs, calibration=calibration)}")
            # The quantum's own data ID (a calibration is looked up by it) or a column of the table.
            own = not connection.multiple and all(
                list(refs[0].dataId.required) == dimensions and _data_id(refs[0].dataId) == ids[i]
                or (calibration and variable is None and {**ids[i], **_data_id(refs[0].dataId)} == ids[i])
                for i, refs in enumerate(per)
            )
            if own:
                value = (self._from_memory(connection, variable, own_key) if variable
                         else self._get(connection, edge, flat[0], "data_id"))
                body.append(f"    {name} = {value}")
                continue
            column = f"{name}_keys" if variable else f"{name}_ids"
            if column in self.taken:
                return None
            if variable:
                values = [[_key(ref.dataId) for ref in refs] for refs in per]
            elif calibration:
                values = [[{**ids[i], **_data_id(ref.dataId)} for ref in refs] for i, refs in enumerate(per)]
            else:
                values = [[_data_id(ref.dataId) for ref in refs] for refs in per]
            if connection.multiple:
                item = (self._from_memory(connection, variable, "key") if variable
                        else self._get(connection, edge, flat[0], "ref_id"))
                body.append(f"    {name} = [{item} for {'key' if variable else 'ref_id'} in {column}]")
            else:
                values = [v[0] for v in values]
                body.append(f"    {name} = " + (self._from_memory(connection, variable, column) if variable
                                                else self._get(connection, edge, flat[0], column)))
            columns.append((column, values))
        body.append(f"    result = task.run({', '.join(f'{k}={k}' for k in keywords)})")
        connections = task_node.get_connections()
        for name, edge in sorted(task_node.outputs.items()):
            if getattr(connections, name).multiple:
                return None
            per = [q.outputs.get(edge.parent_dataset_type_name, []) for q in quanta]
            if not all(len(refs) == 1 and list(refs[0].dataId.required) == dimensions for refs in per):
                return None
            body.append(f"    # butler.put(result.{name}, {edge.dataset_type_name!r}, data_id) would store it in RUN "
                        f"{per[0][0].run}")
            if any((refs[0].datasetType.name, _key(refs[0].dataId)) in self.consumed for refs in per):
                body.append(f"    {self._variable(edge.parent_dataset_type_name)}[{own_key}] = result.{name}")
            body.append(f"    outputs.append(({edge.dataset_type_name!r}, data_id, result.{name}))")
        names = varying + [column for column, _ in columns]
        rows = [[ids[i][d] for d in varying] + [values[i] for _, values in columns] for i in range(len(quanta))]
        lines = [f"for {', '.join(names)} in ["]
        for row in rows:
            text = repr(row[0]) if len(row) == 1 else repr(tuple(row))
            if len(text) <= 100 or len(row) == 1:
                lines.append(f"    {text},")
            else:
                lines += ["    (", *(f"        {value!r}," for value in row), "    ),"]
        lines.append("]:")
        lines.append("    data_id = {" + ", ".join(f"{d!r}: {code(d)}" for d in dimensions) + "}")
        return lines + body

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

    def _register(self, dataset_type) -> None:
        if dataset_type.name not in self.registered:
            self.registered.add(dataset_type.name)
            self.lines.append(
                f"write_butler.registry.registerDatasetType(DatasetType({dataset_type.name!r}, "
                f"{list(dataset_type.dimensions.required)!r}, {dataset_type.storageClass_name!r}, "
                "universe=write_butler.dimensions))"
            )

    def _run_quantum(self, task_node: TaskNode, quantum: Quantum, class_name: str, *, first: bool) -> None:
        """The script for a task with its own runQuantum: called as the executor calls it (said for the first)."""
        out = self.lines
        out += [] if not first else [
            f"# {class_name}.runQuantum is its own: this task does more than fetch its inputs and pass them to",
            "# run(), so it is called as the executor calls it, through a QuantumContext, with the refs of",
            "# its quantum.  runQuantum reads its inputs from the butler and puts its outputs itself: this part",
            "# writes to OUTPUT_RUN, first the inputs made above in memory (as the command would have), then",
            "# the outputs.  Its dataset types are registered as --register-dataset-types would (a no-op for",
            "# a type the repo has).",
        ]
        if not self.uses_runquantum:
            out += ["write_butler = Butler.from_config(REPO, writeable=True, run=OUTPUT_RUN)",
                    "write_butler.collections.register(OUTPUT_RUN)"]
        self.uses_runquantum = True
        made = [(dataset_type, ref) for dataset_type, refs in quantum.inputs.items() for ref in refs
                if self._made(ref)]
        for dataset_type in sorted({dt for dt, _ in made} | set(quantum.outputs), key=lambda dt: dt.name):
            self._register(dataset_type)
        out += [
            "quantum = Quantum(",
            f"    taskName={task_node.task_class_name!r},",
            f"    dataId=butler.registry.expandDataId({_data_id(quantum.dataId)!r}),",
            "    inputs={",
        ]
        for dataset_type, refs in sorted(quantum.inputs.items(), key=lambda item: item[0].name):
            out.append(f"        write_butler.get_dataset_type({dataset_type.name!r}): [")
            for ref in sorted(refs, key=lambda r: _data_id_key(r.dataId)):
                key = (dataset_type.name, _key(ref.dataId))
                if variable := self._made(ref):
                    if key in self.stored:
                        out.append(f"            write_butler.find_dataset({dataset_type.name!r}, "
                                   f"{_data_id(ref.dataId)!r}, collections=OUTPUT_RUN),  # stored above")
                    else:
                        out.append(f"            write_butler.put({variable}[{_literal(ref.dataId)}], "
                                   f"{dataset_type.name!r}, {_data_id(ref.dataId)!r}),  # "
                                   f"{self._found([(quantum, ref)], calibration=False)}; stored now")
                        self.stored.add(key)
                    continue
                out.append(f"            butler.find_dataset({dataset_type.name!r}, {_data_id(ref.dataId)!r}, "
                           f"collections={self._collections(ref)}),  # "
                           f"{self._found([(quantum, ref)], calibration=False)}")
            out.append("        ],")
        out += ["    },", "    outputs={"]
        for dataset_type, refs in sorted(quantum.outputs.items(), key=lambda item: item[0].name):
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
            "# runQuantum stored its outputs in OUTPUT_RUN: read back, for `outputs` and the tasks below.",
        ]
        for _name, edge in sorted(task_node.outputs.items()):
            for ref in sorted(quantum.outputs.get(edge.parent_dataset_type_name, []),
                              key=lambda r: _data_id_key(r.dataId)):
                data_id = _data_id(ref.dataId)
                value = f"write_butler.get({edge.dataset_type_name!r}, {data_id!r}, collections=OUTPUT_RUN)"
                if (ref.datasetType.name, _key(ref.dataId)) in self.consumed:
                    variable = f"{self._variable(ref.datasetType.name)}[{_literal(ref.dataId)}]"
                    out.append(f"{variable} = {value}")
                    value = variable
                out.append(f"outputs.append(({edge.dataset_type_name!r}, {data_id!r}, {value}))")

    def render(self) -> str:
        from ._argv import shown_command_line
        from ._argv import wrap_command as _wrap_command
        from .cli import build_parser, subcommand_parser

        parser = build_parser()
        words = shown_command_line(parser, subcommand_parser(parser, self.args.subcommand), self.args)
        plan = self.plan
        which = ("each quantum of the selected tasks" if self.args.select_tasks
                 else "one quantum of each task, with every quantum upstream of it,")
        head = [
            "#!/usr/bin/env python",
            f"# The task's own call for {which} of this command's graph",
            "# (printed by `pipetask-lite --explain=quantum`):",
            *[f"#     {line}" for line in _wrap_command(words, width=92)],
            "# Each task is built with the config the pipeline gives it; its inputs are fetched with butler.get,",
            "# as runQuantum would fetch them, and passed to run() by their connection names.  What a quantum",
            "# above made is taken from memory, where the command would store it and read it back: the script",
            "# runs on the repo as it is before the command.  Nothing is written (unless a task's own",
            "# runQuantum is called; it says so).",
            "",
            "from lsst.daf.butler import Butler"
            + (", DatasetRef, DatasetType, Quantum" if self.uses_runquantum else ""),
        ]
        pipe_base = [n for n, used in (("InMemoryDatasetHandle", self.uses_handle),
                                       ("QuantumContext", self.uses_runquantum)) if used]
        if pipe_base:
            head.append(f"from lsst.pipe.base import {', '.join(pipe_base)}")
        head += ["", *sorted(self.imports)]  # the tasks' own modules, after the LSST imports
        head += [
            "",
            f"REPO = {self.args.butler_config!r}  # -b",
            f"INPUTS = {list(plan.search_path)!r}  # the collections the graph builder searched: "
            f"{self._inputs_label()}",
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

    def _inputs_label(self) -> str:
        """Where `CollectionPlan.search_path` came from, as the command line says it."""
        plan = self.plan
        parts = []
        if self.args.extend_run:
            parts.append("--extend-run's output run")
        if plan.output_exists and self.args.replace_run:
            parts.append("the existing -o chain without the run --replace-run takes out")
        elif plan.output_exists:
            parts.append("the existing -o chain" + (", read instead of -i" if self.args.input else ""))
        else:
            parts.append("-i")
        return ", then ".join(parts)
