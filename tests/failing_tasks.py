"""Tiny PipelineTasks used by the test suite to exercise failure handling.

This module is imported by name (``failing_tasks.FailOnDetectorTask``) from
pipeline YAML files, so it must be importable both in the pytest process
(``tests/conftest.py`` puts ``tests/`` on `sys.path`) and in ``pipetask``
subprocesses (``harness.env()`` puts ``tests/`` on ``PYTHONPATH``).
"""

from __future__ import annotations

__all__ = ["FailOnDetectorConfig", "FailOnDetectorTask"]

import logging
import time

import lsst.pex.config as pexConfig
from lsst.pipe.base import PipelineTaskConfig, Struct
from lsst.pipe.base.tests.simpleQGraph import AddTask, AddTaskConnections

_LOG = logging.getLogger(__name__)


class FailOnDetectorConfig(PipelineTaskConfig, pipelineConnections=AddTaskConnections):
    """Config for `FailOnDetectorTask`: `AddTask`'s plus the detector to fail."""

    addend = pexConfig.Field[int](doc="amount to add", default=3)
    fail_detector = pexConfig.Field[int](
        doc="Detector ID for which the task raises; negative disables failure.",
        default=0,
    )
    seconds = pexConfig.Field[float](doc="How long the quanta that do not fail sleep first.", default=0.0)


class FailOnDetectorTask(AddTask):
    """`AddTask` that raises for one detector.

    It reuses `AddTask`'s connections, so it can be dropped into a chain of
    `AddTask` quanta; the quanta downstream of the failed one (same detector)
    are then skipped by the executor while the other detectors run.
    """

    ConfigClass = FailOnDetectorConfig
    _DefaultName = "fail_on_detector"

    def runQuantum(self, butlerQC, inputRefs, outputRefs):
        # ``run`` only sees the array, so the detector check is done here
        # where the quantum's data ID is available.
        detector = butlerQC.quantum.dataId["detector"]
        if detector == self.config.fail_detector:
            raise RuntimeError(f"FailOnDetectorTask: deliberate failure for detector={detector}")
        time.sleep(self.config.seconds)
        super().runQuantum(butlerQC, inputRefs, outputRefs)

    def run(self, input) -> Struct:  # noqa: A002 (name fixed by the connection)
        # No task-factory bookkeeping here: only the arithmetic of AddTask.
        self.metadata.add("add", self.config.addend)
        output = input + self.config.addend
        output2 = output + self.config.addend
        _LOG.info("input = %s, output = %s, output2 = %s", input, output, output2)
        return Struct(output=output, output2=output2)


class ExitOnDetectorConfig(FailOnDetectorConfig):
    """Config for `ExitOnDetectorTask`."""

    how = pexConfig.ChoiceField[str](
        doc="How the process ends.",
        default="kill",
        allowed={"kill": "SIGKILL to itself, as the out-of-memory killer would", "exit": "os._exit(3)"},
    )
    once_file = pexConfig.Field[str](
        doc="If set, die only while this file does not exist, creating it first (so a resume succeeds).",
        default="",
    )


class ExitOnDetectorTask(AddTask):
    """`AddTask` whose process dies (no exception, no cleanup) on one detector."""

    ConfigClass = ExitOnDetectorConfig
    _DefaultName = "exit_on_detector"

    def runQuantum(self, butlerQC, inputRefs, outputRefs):
        import os
        import signal

        if butlerQC.quantum.dataId["detector"] == self.config.fail_detector and not (
            self.config.once_file and os.path.exists(self.config.once_file)
        ):
            if self.config.once_file:
                open(self.config.once_file, "w").close()
            if self.config.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(3)
        super().runQuantum(butlerQC, inputRefs, outputRefs)


class SleepConfig(PipelineTaskConfig, pipelineConnections=AddTaskConnections):
    """Config for `SleepTask`."""

    addend = pexConfig.Field[int](doc="amount to add", default=3)
    seconds = pexConfig.Field[float](doc="How long each quantum sleeps.", default=0.0)


class SleepTask(AddTask):
    """`AddTask` that sleeps first and records its resources and thread limit in its metadata."""

    ConfigClass = SleepConfig
    _DefaultName = "sleep"

    def runQuantum(self, butlerQC, inputRefs, outputRefs):
        import os
        import time

        self.metadata["num_cores"] = butlerQC.resources.num_cores
        max_mem = butlerQC.resources.max_mem
        self.metadata["max_mem_bytes"] = -1 if max_mem is None else int(max_mem.to_value("byte"))
        self.metadata["omp_num_threads"] = os.environ.get("OMP_NUM_THREADS", "unset")
        time.sleep(self.config.seconds)
        super().runQuantum(butlerQC, inputRefs, outputRefs)


class SlowBuildConnections(AddTaskConnections):
    """`AddTask`'s connections, slow to adjust each quantum while the graph is built."""

    def adjustQuantum(self, inputs, outputs, label, data_id):
        import time

        time.sleep(1.0)
        return super().adjustQuantum(inputs, outputs, label, data_id)


class SlowBuildConfig(PipelineTaskConfig, pipelineConnections=SlowBuildConnections):
    """Config for `SlowBuildTask`."""

    addend = pexConfig.Field[int](doc="amount to add", default=3)


class SlowBuildTask(AddTask):
    """`AddTask` whose quantum graph takes seconds to build (to interrupt it there)."""

    ConfigClass = SlowBuildConfig
    _DefaultName = "slow_build"


class PartialOutputsTask(AddTask):
    """`AddTask` that, for one detector, writes ``output`` only and reports partial outputs."""

    ConfigClass = FailOnDetectorConfig
    _DefaultName = "partial_outputs"

    def runQuantum(self, butlerQC, inputRefs, outputRefs):
        from lsst.pipe.base import AlgorithmError, AnnotatedPartialOutputsError

        if butlerQC.quantum.dataId["detector"] != self.config.fail_detector:
            return super().runQuantum(butlerQC, inputRefs, outputRefs)

        class HalfDoneError(AlgorithmError):
            @property
            def metadata(self):
                return {"half": True}

        value = butlerQC.get(inputRefs.input)
        butlerQC.put(value + self.config.addend, outputRefs.output)
        try:
            raise HalfDoneError("only output, not output2, could be made")
        except HalfDoneError as exc:
            raise AnnotatedPartialOutputsError.annotate(exc, self, log=self.log) from exc


class QuantumErrorConfig(FailOnDetectorConfig):
    """Config for `QuantumErrorTask`."""

    kind = pexConfig.ChoiceField[str](
        doc="Which pipe_base error to raise.",
        default="repeatable",
        allowed={"repeatable": "RepeatableQuantumError (exit 20)", "invalid": "InvalidQuantumError (exit 21)"},
    )


class QuantumErrorTask(AddTask):
    """`AddTask` raising pipe_base's repeatable or invalid quantum error on one detector."""

    ConfigClass = QuantumErrorConfig
    _DefaultName = "quantum_error"

    def runQuantum(self, butlerQC, inputRefs, outputRefs):
        from lsst.pipe.base import InvalidQuantumError, RepeatableQuantumError

        if butlerQC.quantum.dataId["detector"] == self.config.fail_detector:
            error = RepeatableQuantumError if self.config.kind == "repeatable" else InvalidQuantumError
            raise error(f"deliberate {self.config.kind} error")
        super().runQuantum(butlerQC, inputRefs, outputRefs)


class SlowInitConfig(PipelineTaskConfig, pipelineConnections=AddTaskConnections):
    """Config for `SlowInitTask`."""

    addend = pexConfig.Field[int](doc="amount to add", default=3)
    sleep_file = pexConfig.Field[str](doc="While this file exists, constructing the task takes 3 s.", default="")


class SlowInitTask(AddTask):
    """`AddTask` slow to construct while a marker file exists (to interrupt init-output writes)."""

    ConfigClass = SlowInitConfig
    _DefaultName = "slow_init"

    def __init__(self, **kwargs):
        import os
        import time

        super().__init__(**kwargs)
        if self.config.sleep_file and os.path.exists(self.config.sleep_file):
            _LOG.warning("constructing slowly")
            time.sleep(3)
