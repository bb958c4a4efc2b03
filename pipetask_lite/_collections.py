"""Input and output collections: pipetask's rules, checked without writing.

pipetask decides the output RUN, the output CHAINED collection and the input
search path in ctrl_mpexec's ``ButlerFactory`` (``cli/butler_factory.py``),
which is part of its Click layer.  This module does the same with public
`lsst.daf.butler.Butler` calls: `plan_collections` reads a read-only butler
and checks everything; `make_output_collections` is the first write.
"""

from __future__ import annotations

__all__ = ("CollectionPlan", "make_output_collections", "plan_collections")

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._suggest import did_you_mean
from ._util import butler_from_config
from .errors import CollectionOptionError, PipetaskLiteError

if TYPE_CHECKING:
    from lsst.daf.butler import Butler
    from lsst.pipe.base import PipelineGraph


@dataclass(frozen=True)
class CollectionPlan:
    """Where a run reads from and writes to.

    Attributes
    ----------
    output : `str` or `None`
        The output CHAINED collection (``-o``).
    output_exists : `bool`
        Whether ``output`` is already in the repo.
    output_run : `str` or `None`
        The RUN collection that holds every new dataset (`None` only when
        neither ``-o`` nor ``--output-run`` was given, for ``qgraph -g``).
    output_run_exists : `bool`
        Whether ``output_run`` is already in the repo (``--extend-run``).
    inputs : `tuple` [`str`, ...]
        The ``-i`` collections with CHAINED ones flattened, as pipetask does.
    search_path : `tuple` [`str`, ...]
        Collections the quantum graph builder searches for inputs.
    chain : `tuple` [`str`, ...]
        Definition of ``output`` to write, before the new output run is put
        in front (flattened; without the run that ``--replace-run`` drops).
    replaced : `str` or `None`
        The run that ``--replace-run`` takes out of the chain.
    """

    output: str | None
    output_exists: bool
    output_run: str | None
    output_run_exists: bool
    inputs: tuple[str, ...]
    search_path: tuple[str, ...]
    chain: tuple[str, ...]
    replaced: str | None


def plan_collections(
    butler: Butler,
    *,
    repo: str,
    input: Sequence[str],
    output: str | None,
    output_run: str | None,
    extend_run: bool = False,
    replace_run: bool = False,
    rebase: bool = False,
    writeable: bool = True,
    require_inputs: bool = True,
    skip_existing_in: Sequence[str] = (),
) -> CollectionPlan:
    """Apply pipetask's collection rules, reading only.

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler`
        Read-only butler on the repo (``-b``).
    repo : `str`
        How the user named the repo, for messages.
    input : `~collections.abc.Sequence` [`str`]
        Input collections (``-i``).
    output : `str` or `None`
        Output CHAINED collection (``-o``).
    output_run : `str` or `None`
        Output RUN collection (``--output-run``).  If `None`: the first child
        of ``-o`` with ``--extend-run``, else ``OUTPUT/TIMESTAMP``.
    extend_run : `bool`, optional
        ``--extend-run``: the output run must exist and is written to again.
    replace_run : `bool`, optional
        ``--replace-run``: drop the first child of the existing ``-o`` chain.
    rebase : `bool`, optional
        ``--rebase``: reorder an existing ``-o`` chain to agree with ``-i``.
    writeable : `bool`, optional
        If `False` (``qgraph -g`` without outputs), an output run is optional.
    require_inputs : `bool`, optional
        If `False` (a saved graph, ``-g``), ``-i`` may be left out for a new ``-o``.
    skip_existing_in : `~collections.abc.Sequence` [`str`], optional
        ``--skip-existing-in``: must exist, as inputs must (pipetask finds a
        missing one only when executing, after its first writes).

    Returns
    -------
    plan : `CollectionPlan`
        The collections to read and write.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised, naming the option, if a collection is missing or has the wrong
        type, if the output run exists without ``--extend-run`` (or is missing
        with it), or if ``-i`` disagrees with an existing ``-o`` chain.
        The rules pipetask checks with a `ValueError` raise a
        `~pipetask_lite.errors.CollectionOptionError`, which is one too.
    """
    from lsst.daf.butler import CollectionType, MissingCollectionError
    from lsst.pipe.base import Instrument

    def info(name: str):
        try:
            return butler.collections.get_info(name)
        except MissingCollectionError:
            return None

    def closest(name: str, collection_type: CollectionType | None = None) -> str:
        # The existing names most like a missing one: " (did you mean 'X'?)".
        return did_you_mean(name, butler.collections.query("*", collection_types=collection_type))

    for option, name in (("-o/--output", output), ("--output-run", output_run)):
        if name is not None and not name.strip():
            raise PipetaskLiteError("a collection name cannot be empty", option=option)
    if output is not None and output_run == output:
        # One would be the CHAINED collection, the other the RUN inside it.
        raise PipetaskLiteError(f"{output!r} cannot be both -o/--output and --output-run", option="--output-run")
    for option, names in (("-i/--input", input), ("--skip-existing-in", skip_existing_in)):
        for name in names:
            if info(name) is None:
                raise PipetaskLiteError(f"no collection named {name!r} in repo {repo!r}{closest(name)}",
                                        option=option)

    output_info = info(output) if output else None
    if output_info is not None and output_info.type is not CollectionType.CHAINED:
        raise PipetaskLiteError(
            f"collection {output!r} exists and is a {output_info.type.name} collection, not CHAINED",
            option="-o/--output",
        )
    chain = tuple(output_info.children) if output_info is not None else ()

    run_option = "--output-run" if output_run else "-o/--output"
    if output_run is not None:
        if rebase and output and not output_run.startswith(output):
            raise CollectionOptionError(
                f"cannot rebase: output run {output_run!r} does not start with {output!r}", option="--rebase"
            )
    elif output is not None and extend_run:
        if not chain:
            raise CollectionOptionError(
                f"cannot extend a run: output collection {output!r} does not exist or is empty"
                + (closest(output, CollectionType.CHAINED) if output_info is None else ""),
                option="--extend-run",
            )
        output_run = chain[0]
    elif output is not None:
        # pipetask's naming: the same timestamp format as Instrument collections.
        output_run = f"{output}/{Instrument.makeCollectionTimestamp()}"
    elif writeable:
        raise CollectionOptionError("at least one of -o/--output and --output-run is required", option=run_option)
    run_info = info(output_run) if output_run else None
    if run_info is not None and run_info.type is not CollectionType.RUN:
        raise PipetaskLiteError(
            f"collection {output_run!r} exists and is a {run_info.type.name} collection, not RUN",
            option=run_option,
        )

    # pipetask flattens CHAINED inputs, both to compare them with an existing
    # output chain and to define a new one.
    inputs = tuple(butler.collections.query(input, flatten_chains=True)) if input else ()
    consistent = _contains_run_of(chain, inputs) if output_info is not None and inputs else True
    if not consistent and rebase:
        # --rebase: this output's own runs first, then the new inputs, then the rest.
        own = [name for name in chain if name.startswith(output)]
        chain = tuple(own + [n for n in inputs if n not in own] + [n for n in chain if n not in own + list(inputs)])
        consistent = True
    if not consistent:
        raise CollectionOptionError(
            f"output collection {output!r} exists and does not contain the input collections "
            f"{list(inputs)} as a contiguous sequence (it has {list(chain)})",
            option="-i/--input",
            hint="drop -i to reuse the chain's inputs, or pass --rebase to reset the chain",
        )

    if extend_run and output_run is None:
        raise CollectionOptionError("cannot extend a run when no output collection is given", option="--extend-run")
    if extend_run and run_info is None:
        raise CollectionOptionError(
            f"cannot extend output run {output_run!r}: it does not exist in repo {repo!r}"
            + closest(output_run, CollectionType.RUN),
            option="--extend-run",
        )
    if not extend_run and run_info is not None:
        raise CollectionOptionError(
            f"output run {output_run!r} already exists in repo {repo!r}",
            option=run_option,
            hint="resume it with --extend-run, or choose another --output-run",
        )
    if replace_run and output_info is None:
        raise CollectionOptionError(
            f"-o/--output must name an existing CHAINED collection, and {output!r} does not exist",
            option="--replace-run",
        )
    if require_inputs and not inputs and output_info is None and not extend_run:
        raise PipetaskLiteError(
            f"no input collections: -o/--output {output!r} is new, so -i/--input is required"
            if output
            else "no input collections given",
            option="-i/--input",
        )

    if output_info is not None:
        search_path = list(output_info.children[1:]) if replace_run else [output]
    else:
        search_path = list(inputs)
    if replace_run and require_inputs and not search_path:
        raise PipetaskLiteError(
            f"the chain {output!r} holds nothing but the run to replace, so there is nothing to read",
            option="--replace-run", hint="give the inputs again with -i, into a new -o",
        )
    if extend_run:
        search_path.insert(0, output_run)

    definition = list(
        butler.collections.query(chain if output_info is not None else inputs, flatten_chains=True,
                                 include_chains=False)
        if (chain if output_info is not None else inputs)
        else ()
    )
    replaced = definition.pop(0) if replace_run else None
    return CollectionPlan(
        output=output,
        output_exists=output_info is not None,
        output_run=output_run,
        output_run_exists=run_info is not None,
        inputs=inputs,
        search_path=tuple(search_path),
        chain=tuple(definition),
        replaced=replaced,
    )


def _contains_run_of(chain: Sequence[str], inputs: Sequence[str]) -> bool:
    """Whether ``inputs`` appears in ``chain`` as a contiguous sequence."""
    n = len(inputs)
    return any(tuple(chain[i : i + n]) == tuple(inputs) for i in range(len(chain) - n + 1))


def check_graph_output_run(output_run: str | None, graph_output_run: str) -> None:
    """Refuse an ``--output-run`` that is not the saved graph's (``-g``): the graph's outputs name their run.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised if ``output_run`` is given and differs from ``graph_output_run``.
    """
    if output_run is not None and output_run != graph_output_run:
        raise PipetaskLiteError(
            f"output run {output_run!r} differs from the graph's ({graph_output_run!r})",
            option="--output-run",
            hint="to write elsewhere, update the graph with 'pipetask update-graph-run'",
        )


def make_output_collections(
    butler_config: str,
    plan: CollectionPlan,
    *,
    pipeline_graph: PipelineGraph,
    extend_run: bool,
    prune_replaced: str | None,
) -> Butler:
    """Write the output collections the way pipetask does; return a writeable butler.

    This is `SimplePipelineExecutor.prep_butler` generalised to pipetask's
    options: an existing ``-o`` chain, ``--extend-run`` (nothing new),
    ``--replace-run`` with ``--prune-replaced``, and ``--output-run`` alone.

    Parameters
    ----------
    butler_config : `str`
        The repo (``-b``).
    plan : `CollectionPlan`
        What `plan_collections` decided.
    pipeline_graph : `lsst.pipe.base.PipelineGraph`
        The pipeline, to know which datasets ``--prune-replaced unstore`` removes.
    extend_run : `bool`
        ``--extend-run``: the run and chain exist already.
    prune_replaced : `str` or `None`
        ``--prune-replaced``: ``"unstore"`` or ``"purge"`` the replaced run.

    Returns
    -------
    butler : `lsst.daf.butler.Butler`
        Writeable butler whose default run is the output run and whose
        default collections are ``-o`` (or the run and ``-i``).
    """
    from lsst.daf.butler import CollectionType
    from lsst.daf.butler.registry import RegistryDefaults
    from lsst.pipe.base.pipeline_graph import NodeType

    if plan.output is None:
        butler = butler_from_config(
            butler_config, writeable=True, run=plan.output_run, collections=[plan.output_run, *plan.inputs]
        )
        butler.collections.register(plan.output_run)
        return butler
    butler = butler_from_config(butler_config, writeable=True)
    chain = list(plan.chain)
    if plan.replaced is not None and prune_replaced == "unstore":
        # Only the regular outputs of this pipeline; init-outputs, configs and
        # versions stay, as in pipetask.
        with butler.transaction():
            refs = [
                ref
                for ref in butler.registry.queryDatasets(..., collections=plan.replaced)
                if (producer := pipeline_graph.producer_of(ref.datasetType.name)) is not None
                and producer.key.node_type is NodeType.TASK
            ]
            butler.pruneDatasets(refs, unstore=True, disassociate=False)
    elif plan.replaced is not None and prune_replaced == "purge":
        with butler.transaction():
            butler.collections.redefine_chain(plan.output, chain)
            butler.removeRuns([plan.replaced])
    if not plan.output_exists:
        butler.collections.register(plan.output, CollectionType.CHAINED)
    if not extend_run:
        butler.collections.register(plan.output_run, CollectionType.RUN)
        butler.collections.redefine_chain(plan.output, [plan.output_run, *chain])
    butler.registry.defaults = RegistryDefaults(run=plan.output_run, collections=[plan.output])
    return butler
