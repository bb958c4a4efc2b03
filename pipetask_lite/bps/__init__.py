"""pipetask-lite under BPS (``lsst-ctrl-bps``): the config fragment.

``python -m pipetask_lite.bps`` prints the path of `CONFIG`, the YAML fragment
to name in a BPS submit YAML's ``includeConfigs:``; it points ctrl_bps's four
pipetask command lines (``createQuantumGraph``, ``runQuantumCommand``,
``pipetask.pipetaskInit.runQuantumCommand`` and ``updateQuantumGraph``) at
``pipetask-lite``.  See ``docs/bps.md``.

Nothing here imports ``lsst``: the fragment is plain package data, and
``pip install pipetask-lite[bps]`` brings ctrl_bps and its Parsl plugin.
"""

from __future__ import annotations

__all__ = ("CONFIG", "config_path")

from pathlib import Path

CONFIG = Path(__file__).resolve().with_name("pipetask_lite.yaml")
"""Path of the BPS config fragment shipped with the package."""


def config_path() -> Path:
    """Return the path of the BPS config fragment (`CONFIG`).

    Returns
    -------
    path : `pathlib.Path`
        Absolute path of ``pipetask_lite/bps/pipetask_lite.yaml``, for a
        submit YAML's ``includeConfigs:``.
    """
    return CONFIG
