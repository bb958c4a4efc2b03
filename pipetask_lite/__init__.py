"""pipetask-lite: LSST's ``pipetask``, readable, and callable from Python.

The command line (`pipetask_lite.cli`) hands every option by keyword to one
documented function per subcommand; those functions are this package's API::

    import pipetask_lite

    result = pipetask_lite.run(
        butler_config="REPO",
        input=["DemoCam/raw/all", "DemoCam/calib"],
        output="DemoCam/calib/bias",
        pipeline="cpBias.yaml",
        data_query="instrument='DemoCam'",
        pipeline_actions=[("config", "isr:overscan.fitType=MEDIAN_PER_ROW")],
        register_dataset_types=True,
    )

Importing this package does not import the LSST stack; calling `run` does.
"""

from . import _build, _qgraph, _run
from ._api import python_api
from ._cleanup import Removal, cleanup, purge
from ._explain.api import explain
from ._qbb import pre_exec_init_qbb, run_qbb, update_graph_run
from ._report import aggregate_reports, report
from ._run import RunResult
from .actions import PipelineAction
from .errors import PipetaskLiteError, UsageError

# What Python callers get: the functions the command line calls, taking the
# objects a Python user holds and naming keywords in errors (see _api).
build = python_api(_build.build)
qgraph = python_api(_qgraph.qgraph)
run = python_api(_run.run)

__all__ = (
    "PipelineAction",
    "PipetaskLiteError",
    "QuantaFailedError",
    "Removal",
    "RunResult",
    "UsageError",
    "aggregate_reports",
    "build",
    "cleanup",
    "explain",
    "pre_exec_init_qbb",
    "purge",
    "qgraph",
    "report",
    "run",
    "run_qbb",
    "update_graph_run",
)
__version__ = "0.1.0"


def __getattr__(name: str):
    """`QuantaFailedError` is made on first use: it subclasses an LSST class (see `pipetask_lite.errors`)."""
    if name == "QuantaFailedError":
        from . import errors

        return errors.QuantaFailedError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
