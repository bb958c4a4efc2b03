"""An execution graph fixup for ``--graph-fixup`` tests.

``pipetask run --graph-fixup fixups.reverse_task0_detectors`` imports this
module by name, so it lives in ``tests/`` (on ``PYTHONPATH`` through
``harness.env()``).
"""

from __future__ import annotations

__all__ = ["reverse_task0_detectors"]

from lsst.pipe.base.exec_fixup_data_id import ExecFixupDataId


def reverse_task0_detectors() -> ExecFixupDataId:
    """Make ``task0`` quanta run in decreasing detector order.

    Only edges are added (detector 2 before 1 before 0), which changes the
    execution order but not what is produced, so the repo ends up as
    without the fixup while the log shows the order it imposed.
    """
    return ExecFixupDataId(taskLabel="task0", dimensions=("detector",), reverse=True)
