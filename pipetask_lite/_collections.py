"""Input and output collections: pipetask's rules, checked without writing.

pipetask decides the output RUN, the output CHAINED collection and the input
search path in ctrl_mpexec's ``ButlerFactory`` (``cli/butler_factory.py``),
which is part of its Click layer.  This module does the same with public
`lsst.daf.butler.Butler` calls, on a read-only butler, so that every check
happens before anything is written to the repo.
"""

from __future__ import annotations

__all__ = ("CollectionPlan", "plan_collections")

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import PipetaskLiteError

if TYPE_CHECKING:
    from lsst.daf.butler import Butler


@dataclass(frozen=True)
class CollectionPlan:
    """Where a run reads from and writes to.

    Attributes
    ----------
    output : `str` or `None`
        The output CHAINED collection (``-o``).
    output_exists : `bool`
        Whether ``output`` is already in the repo.
    output_run : `str`
        The RUN collection that will hold every new dataset.
    inputs : `tuple` [`str`, ...]
        The ``-i`` collections with CHAINED ones flattened, as pipetask does.
    search_path : `tuple` [`str`, ...]
        Collections the quantum graph builder searches for inputs.
    chain : `tuple` [`str`, ...]
        New definition of ``output`` after the output run (flattened).
    """

    output: str | None
    output_exists: bool
    output_run: str
    inputs: tuple[str, ...]
    search_path: tuple[str, ...]
    chain: tuple[str, ...]


def plan_collections(
    butler: Butler, *, repo: str, input: Sequence[str], output: str | None, output_run: str | None
) -> CollectionPlan:
    """Apply pipetask's collection rules for a new output run.

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
        Output RUN collection (``--output-run``); if `None`, ``OUTPUT/TIMESTAMP``.

    Returns
    -------
    plan : `CollectionPlan`
        The collections to read and write.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised, naming the option, if a collection is missing or has the wrong
        type, if the output run already exists, or if ``-i`` disagrees with an
        existing ``-o`` chain.
    """
    from lsst.daf.butler import CollectionType, MissingCollectionError
    from lsst.pipe.base import Instrument

    def info(name: str):
        try:
            return butler.collections.get_info(name)
        except MissingCollectionError:
            return None

    for name in input:
        if info(name) is None:
            raise PipetaskLiteError(f"no collection named {name!r} in repo {repo!r}", option="-i/--input")

    output_info = info(output) if output else None
    if output_info is not None and output_info.type is not CollectionType.CHAINED:
        raise PipetaskLiteError(
            f"collection {output!r} exists and is a {output_info.type.name} collection, not CHAINED",
            option="-o/--output",
        )
    existing_chain = tuple(output_info.children) if output_info is not None else ()

    run_option = "--output-run" if output_run else "-o/--output"
    if output_run is None:
        # pipetask's naming: the same timestamp format as Instrument collections.
        output_run = f"{output}/{Instrument.makeCollectionTimestamp()}"
    run_info = info(output_run)
    if run_info is not None:
        raise PipetaskLiteError(
            f"output run {output_run!r} already exists in repo {repo!r}",
            option=run_option,
            hint="choose another --output-run, or resume it with --extend-run",
        )

    # pipetask flattens CHAINED inputs, both to compare them with an existing
    # output chain and to define a new one.
    inputs = tuple(butler.collections.query(input, flatten_chains=True)) if input else ()
    if output_info is not None and inputs:
        n = len(inputs)
        if not any(existing_chain[i : i + n] == inputs for i in range(len(existing_chain) - n + 1)):
            raise PipetaskLiteError(
                f"output collection {output!r} exists and does not contain the input collections "
                f"{list(inputs)} as a contiguous sequence (it has {list(existing_chain)})",
                option="-i/--input",
                hint="drop -i to reuse the chain's inputs, or pass --rebase to reset the chain",
            )
    if not inputs and output_info is None:
        raise PipetaskLiteError(
            f"no input collections: -o/--output {output!r} is new, so -i/--input is required"
            if output
            else "no input collections given",
            option="-i/--input",
        )

    search_path = (output,) if output_info is not None else inputs
    chain_source = existing_chain if output_info is not None else inputs
    chain = tuple(
        butler.collections.query(chain_source, flatten_chains=True, include_chains=False)
        if chain_source
        else ()
    )
    return CollectionPlan(
        output=output,
        output_exists=output_info is not None,
        output_run=output_run,
        inputs=inputs,
        search_path=search_path,
        chain=chain,
    )
