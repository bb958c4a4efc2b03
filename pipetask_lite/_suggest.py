"""Suggestions for a typo: the closest collection, config field or query spelling.

A name that is one letter off (``-i DemoCam/raw/al``, ``-c isr:overscan.fitTyp=...``)
is the most common bad input; the error says which existing name was probably
meant, in the style argparse uses for options: ``(did you mean 'X'?)`` at the
end of the message.  Standard library only (`difflib`), so that the explained
script can hold `did_you_mean` by its source, as it holds the collection rules.
"""

from __future__ import annotations

__all__ = ("config_field_suggestion", "did_you_mean", "single_quotes_note")

import re
from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'X'?)``: the candidate closest to ``word`` (and up to two as close); ``""`` if none is.

    Parameters
    ----------
    word : `str`
        The name that was not found.
    candidates : `~collections.abc.Iterable` [`str`]
        The names that exist.

    Returns
    -------
    suggestion : `str`
        Text to append to an error message (it starts with a space), or an
        empty string if no candidate is similar enough (`difflib`'s ratio
        0.6 or more, its default for close matches).
    """
    import difflib  # here, so that this function's source is all the explained script needs

    scored = sorted((-difflib.SequenceMatcher(None, word, name).ratio(), name) for name in set(candidates))
    # Only the best and those as good: 'DemoCam/calib' is close to
    # 'DemoCam/raw/al' too, but 'DemoCam/raw/all' is what was meant.
    best = -scored[0][0] if scored else 0.0
    close = [name for minus_ratio, name in scored if -minus_ratio >= max(0.6, best - 0.05)][:3]
    return f" (did you mean {' or '.join(repr(name) for name in close)}?)" if close else ""


def config_field_suggestion(exc: AttributeError) -> str:
    """`did_you_mean` for the config field that a ``-c`` override misnamed (``exc``), among that config's fields.

    pex_config's ``Config.__setattr__`` (the last name of ``-c a.b.NAME=...``)
    raises a bare `AttributeError` from the config itself; Python's own
    attribute lookup (a name before the last) sets ``exc.obj`` and ``exc.name``.
    """
    from lsst.pex.config import Config

    owner, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    if owner is None and exc.__traceback__ is not None:
        tb = exc.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        owner, name = tb.tb_frame.f_locals.get("self"), tb.tb_frame.f_locals.get("attr")
    if not isinstance(owner, Config) or not isinstance(name, str):
        return ""
    return did_you_mean(name, owner.keys())


_DOUBLE_QUOTED = re.compile(r'"([^"]*)"')


def single_quotes_note(data_query: str) -> str:
    """For a ``-d`` expression that failed and has double quotes: string literals take single quotes.

    The butler's query language has no double-quoted strings (in SQL they
    name columns); ``-d 'instrument="DemoCam"'`` is the usual slip.

    Returns
    -------
    note : `str`
        Text to append to the parse error (it starts with a space), or an
        empty string if ``data_query`` has no double-quoted text.
    """
    # Double quotes inside a single-quoted literal are text, not the slip.
    if (match := _DOUBLE_QUOTED.search(re.sub(r"'[^']*'", "''", data_query))) is None:
        return ""
    return f" (string literals take single quotes: '{match[1]}', not \"{match[1]}\")"
