"""`cleanup` and `purge`: tidy the collections that runs leave behind.

Each ``pipetask run -o OUT`` adds a RUN collection ``OUT/TIMESTAMP`` to the
front of the CHAINED collection ``OUT``; ``--replace-run`` takes one out
again, but leaves it in the repo.  `cleanup` removes such leftovers (the
collections named ``OUT*`` that are not members of ``OUT``); `purge` removes
``OUT`` itself with its members.  Both say what they will remove and ask
before removing it, unless ``confirm=False`` (``--no-confirm``).
"""

from __future__ import annotations

__all__ = ("Removal", "cleanup", "purge")

import sys
from dataclasses import dataclass, field

from ._util import open_butler
from .errors import PipetaskLiteError

ADVICE = (
    "use 'butler collection-chain --mode remove' to remove it from its parent, or 'butler remove-collections' "
    "to remove that parent entirely"
)


@dataclass
class Removal:
    """What `cleanup` or `purge` removes.

    Attributes
    ----------
    runs : `list` [`str`]
        RUN collections, removed with their datasets.
    chains : `list` [`str`]
        CHAINED collections (`purge` only).
    others : `list` [`str`]
        Other collections (TAGGED, CALIBRATION, and for `cleanup` CHAINED).
    removed : `bool`
        Whether they were removed (`False` if the answer to the prompt was no,
        or there was nothing to remove).
    """

    runs: list[str] = field(default_factory=list)
    chains: list[str] | None = None
    others: list[str] = field(default_factory=list)
    removed: bool = False

    def __bool__(self) -> bool:
        return bool(self.runs or self.chains or self.others)

    def describe(self, *, will: bool) -> str:
        """pipetask's text: what will be (or was) removed."""
        lines = ["Will remove:" if will else "Removed:", f"  runs: {', '.join(self.runs)}"]
        if self.chains is not None:
            lines.append(f"  chains: {', '.join(self.chains)}")
        lines.append(f"  others: {', '.join(self.others)}")
        return "\n".join(lines)


def cleanup(*, collection: str, butler_config: str, confirm: bool = True) -> Removal:
    """Remove collections named like a CHAINED collection but not in it: ``pipetask cleanup``.

    Parameters
    ----------
    collection : `str`
        ``COLLECTION``: a CHAINED collection, e.g. the ``-o`` of runs.  The
        collections whose names start with it
        (``butler.collections.query_info(collection + "*")``) and that are not
        its members are removed (`lsst.daf.butler.Butler.removeRuns`,
        `~lsst.daf.butler.Registry.removeCollection`).
    butler_config : `str`
        ``-b``: the butler repository.
    confirm : `bool`, optional
        ``--[no-]confirm``: print what will be removed and ask on stdin; with
        `False`, remove, then print what was removed.

    Returns
    -------
    removal : `Removal`
        The collections, and whether they were removed.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised if the collection does not exist or is not CHAINED, or the
        prompt got no answer; nothing is removed then.
    """
    from lsst.daf.butler import CollectionType

    with open_butler(butler_config) as butler:
        info = _chained(butler, collection)
        keep = {collection, *info.children}
        removal = Removal()
        for other in butler.collections.query_info(collection + "*"):
            if other.name not in keep:
                (removal.runs if other.type is CollectionType.RUN else removal.others).append(other.name)
    removal.runs.sort()
    removal.others.sort()
    if not removal:
        print("Did not find any collections to remove.")
        return removal
    return _confirm_and_remove(removal, butler_config=butler_config, confirm=confirm)


def purge(*, collection: str, butler_config: str, confirm: bool = True, recursive: bool = False) -> Removal:
    """Remove a CHAINED collection and its members: ``pipetask purge``.

    Parameters
    ----------
    collection : `str`
        ``COLLECTION``: a CHAINED collection that is not in another chain.
        It is removed, and so are its members whose names start with its
        name; each of those must be in this chain only.
    butler_config : `str`
        ``-b``: the butler repository.
    confirm : `bool`, optional
        ``--[no-]confirm``: print what will be removed and ask on stdin; with
        `False`, remove, then print what was removed.
    recursive : `bool`, optional
        ``--recursive``: member CHAINED collections are purged in turn
        (otherwise they are removed, their members kept).

    Returns
    -------
    removal : `Removal`
        The collections, and whether they were removed.

    Raises
    ------
    pipetask_lite.PipetaskLiteError
        Raised if the collection does not exist, is not CHAINED or is in
        another chain, or one of its members is in another chain, or the
        prompt got no answer; nothing is removed then.
    """
    removal = Removal(chains=[])
    with open_butler(butler_config) as butler:
        info = _chained(butler, collection, include_parents=True)
        if info.parents:
            raise PipetaskLiteError(
                f"{collection!r} must not be in another CHAINED collection, but is in "
                f"{', '.join(map(repr, sorted(info.parents)))}", option="COLLECTION", hint=ADVICE,
            )
        _add_chain(butler, collection, info, top=collection, recursive=recursive, removal=removal)
    return _confirm_and_remove(removal, butler_config=butler_config, confirm=confirm)


def _add_chain(butler, name: str, info, *, top: str, recursive: bool, removal: Removal) -> None:
    """Add a chain, and its members named like ``top``, to ``removal`` (pipetask's rules)."""
    from lsst.daf.butler import CollectionType

    removal.chains.append(name)
    for child in info.children:
        if not child.startswith(top):
            continue
        child_info = butler.collections.get_info(child, include_parents=True)
        if child_info.parents != {name}:
            raise PipetaskLiteError(
                f"member {child!r} of {top!r} is also in {', '.join(map(repr, sorted(child_info.parents - {name})))}",
                option="COLLECTION", hint=ADVICE,
            )
        if child_info.type is CollectionType.RUN:
            removal.runs.append(child)
        elif child_info.type is CollectionType.CHAINED and recursive:
            _add_chain(butler, child, child_info, top=top, recursive=recursive, removal=removal)
        elif child_info.type is CollectionType.CHAINED:
            removal.chains.append(child)
        else:
            removal.others.append(child)


def _chained(butler, collection: str, *, include_parents: bool = False):
    """The `~lsst.daf.butler.CollectionInfo` of ``collection``, which must be CHAINED."""
    from lsst.daf.butler import CollectionType, MissingCollectionError

    try:
        info = butler.collections.get_info(collection, include_parents=include_parents)
    except MissingCollectionError:
        raise PipetaskLiteError(f"no collection named {collection!r}", option="COLLECTION") from None
    if info.type is not CollectionType.CHAINED:
        raise PipetaskLiteError(
            f"{collection!r} is a {info.type.name} collection; a CHAINED collection is required",
            option="COLLECTION",
        )
    return info


def _confirm_and_remove(removal: Removal, *, butler_config: str, confirm: bool) -> Removal:
    """pipetask's confirmation: describe, ask (default no), remove in one transaction."""
    if confirm:
        print(removal.describe(will=True))
        if not _ask("Continue?"):
            print("Aborted.")
            return removal
    with open_butler(butler_config, writeable=True) as butler, butler.transaction():
        for name in [*removal.others, *(removal.chains or [])]:
            butler.registry.removeCollection(name)
        butler.removeRuns(removal.runs)
    removal.removed = True
    print("Done." if confirm else removal.describe(will=False))
    return removal


def _ask(question: str) -> bool:
    """Ask a yes/no question on stdin, default no, as ``click.confirm``."""
    while True:
        try:
            answer = input(f"{question} [y/N]: ").strip().lower()
        except EOFError:
            print(file=sys.stderr)
            raise PipetaskLiteError(
                "no answer (stdin is closed); nothing was removed", option="--confirm",
                hint="pass --no-confirm to remove without asking",
            ) from None
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        print("Error: invalid input")
