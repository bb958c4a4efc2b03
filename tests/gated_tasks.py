"""A PipelineTask that waits at a gate, so tests can act while runs are known to be mid-way.

Imported by name (``gated_tasks.GateTask``) from pipeline YAML, like
``failing_tasks``: ``harness.env()`` puts ``tests/`` on ``PYTHONPATH``.

A quantum of `GateTask` first touches ``<gate_dir>/<run>.<detector>.reached``
(``/`` in the output run's name becomes ``_``), then waits while the file
``<gate_dir>/<run>`` exists, then does what `AddTask` does.  With no gate
file it is an `AddTask` with one more config field, so the same pipeline runs
a reference uninterrupted and a test held at the gate.
"""

from __future__ import annotations

__all__ = ["GateConfig", "GateTask", "gate_name"]

import time
from pathlib import Path

import lsst.pex.config as pexConfig
from lsst.pipe.base.tests.simpleQGraph import AddTask, AddTaskConfig

WAIT = 300.0
"""Seconds a quantum waits at a closed gate before failing (a test that forgot to open it)."""


def gate_name(run: str) -> str:
    """Return the file name of ``run``'s gate (``/`` replaced by ``_``)."""
    return run.replace("/", "_")


class GateConfig(AddTaskConfig):
    """`AddTask`'s config plus the directory holding the gates."""

    gate_dir = pexConfig.Field[str](doc="Directory of gate and 'reached' files; empty: no gate.", default="")


class GateTask(AddTask):
    """`AddTask` that says it reached its run's gate and waits while the gate is closed."""

    ConfigClass = GateConfig
    _DefaultName = "gate"

    def runQuantum(self, butlerQC, inputRefs, outputRefs):
        if self.config.gate_dir:
            gates = Path(self.config.gate_dir)
            name = gate_name(outputRefs.output.run)
            (gates / f"{name}.{butlerQC.quantum.dataId['detector']}.reached").touch()
            deadline = time.monotonic() + WAIT
            while (gates / name).exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gate {gates / name} stayed closed for {WAIT} s")
                time.sleep(0.05)
        super().runQuantum(butlerQC, inputRefs, outputRefs)
