"""``pipetask-lite --explain``: print the Python script a command line amounts to.

`explain` turns a parsed command line into a self-contained script that uses
the public LSST API only (``lsst.daf.butler``, ``lsst.pipe.base`` and two
public classes of ``lsst.ctrl.mpexec``) and makes the calls that
`pipetask_lite.build`, `pipetask_lite.qgraph` and `pipetask_lite.run` make,
in the same order.  Only the code paths that the given options need are
written out; what depends on the repo (does ``-o`` exist already?) is checked
by the script when it runs, with pipetask's rules, as pipetask-lite does.

Nothing here imports ``lsst`` or opens the repo, so a command line for a repo
(or a camera package) that is not on this machine explains all the same.
That is the default depth, ``--explain`` (``"short"``: LSST's
SimplePipelineExecutor recipe, when it can say the command line) and
``--explain=full`` (every call, checks included).  ``--explain=quantum``, the
layer below (a task's own ``run()`` for one quantum), needs the graph, so it
opens the repo read-only: `pipetask_lite._explain.quantum`.

Every option given on the command line shows up in a comment of the script,
next to the statement it becomes (or saying why it changes nothing there);
`explain` checks this before returning, so an option it does not know about
is an error, not a silent gap.
"""

from __future__ import annotations

__all__ = ("Options", "explain")

import argparse

from ..errors import UsageError
from .full import _explain_build, _explain_qgraph, _explain_run
from .script import Options, Script, _check_complete, _check_usage, _header, _logging
from .short import _explain_recipe, _why_not_recipe


def explain(args: argparse.Namespace) -> str:
    """Return a self-contained Python script doing what ``args`` asks for.

    Parameters
    ----------
    args : `argparse.Namespace`
        A parsed command line (`pipetask_lite.cli.parse_args`).  Its
        ``explain`` (``--explain``) picks the depth: ``"short"`` (or absent)
        gives the SimplePipelineExecutor recipe when it can express the
        command line (`_why_not_recipe` says when it cannot, and the script
        is then the full one, saying why); ``"full"`` gives every call
        pipetask-lite makes, its checks included.

    Returns
    -------
    script : `str`
        Python source using the public LSST API only.

    Raises
    ------
    pipetask_lite.UsageError
        Raised for the usage errors that ``run``/``qgraph``/``build`` find
        before opening the repo (unknown ``--show`` item, malformed
        ``--mock-failure`` or ``--qgraph-node-id``), with the same message.
    pipetask_lite.PipetaskLiteError
        Raised if a saved graph (``-g``) has an extension pipetask-lite cannot
        read, or (a bug) if an option given has no place in the script.
        A subcommand other than build, qgraph and run is a `UsageError`.
    """
    explainers = {"build": _explain_build, "qgraph": _explain_qgraph, "run": _explain_run}
    if args.subcommand not in explainers:
        raise UsageError(
            f"shows the Python of {', '.join(explainers)}; not of {args.subcommand!r} yet", option="--explain"
        )
    depth = getattr(args, "explain", None) or "short"
    if depth == "quantum":
        # The layer below: this one opens the repo (read-only) and builds the graph.
        from .quantum import explain_quantum

        return explain_quantum(args)
    options = Options(args)
    _check_usage(args)
    why_full = None
    if depth == "short":
        why_full = _why_not_recipe(options)
        if why_full is None:
            script = Script(flat=True)
            _explain_recipe(script, options)
            text = script.render(options)
            _check_complete(script, options)
            return text
    script = Script()
    _header(script, options, why_full=why_full)
    _logging(script, options)
    explainers[args.subcommand](script, options)
    text = script.render(options)
    _check_complete(script, options)
    return text
