"""The two PipelineTasks of the demo cpBias pipeline.

They mirror ``ip_isr``'s ``IsrTask`` and ``cp_pipe``'s bias combination in
spirit only: the data are bare 2-D numpy arrays (storage class
``NumpyArray``) whose last few columns are a serial overscan.  Everything is
pure numpy with no randomness or timestamps, so rerunning the pipeline on the
same repository gives bit-identical outputs.
"""

from __future__ import annotations

__all__ = [
    "CombineBiasConfig",
    "CombineBiasConnections",
    "CombineBiasTask",
    "IsrConfig",
    "IsrConnections",
    "IsrTask",
    "OverscanConfig",
    "mask_defects",
    "subtract_overscan",
]

import numpy as np

import lsst.pex.config as pexConfig
from lsst.pipe.base import PipelineTask, PipelineTaskConfig, PipelineTaskConnections, Struct
from lsst.pipe.base import connectionTypes as cT


class OverscanConfig(pexConfig.Config):
    """How to estimate the bias level from the overscan region."""

    fitType = pexConfig.ChoiceField(
        dtype=str,
        doc="Statistic used to model the overscan.",
        default="MEAN",
        allowed={
            "MEAN": "Subtract the mean of the whole overscan region.",
            "MEDIAN": "Subtract the median of the whole overscan region.",
            "MEDIAN_PER_ROW": "Subtract, row by row, the median of that row's overscan pixels.",
        },
    )


def subtract_overscan(raw: np.ndarray, n_columns: int, fit_type: str) -> np.ndarray:
    """Subtract the overscan level and trim the overscan columns.

    Parameters
    ----------
    raw : `numpy.ndarray`
        2-D raw image whose last ``n_columns`` columns are overscan.
    n_columns : `int`
        Number of overscan columns at the right edge.
    fit_type : `str`
        ``"MEAN"``, ``"MEDIAN"`` or ``"MEDIAN_PER_ROW"``.

    Returns
    -------
    image : `numpy.ndarray`
        The imaging section (``raw[:, :-n_columns]``), as float64, with the
        overscan model subtracted.

    Raises
    ------
    ValueError
        Raised if the array is not 2-D, if ``n_columns`` does not leave an
        imaging section, or if ``fit_type`` is unknown.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2:
        raise ValueError(f"Expected a 2-D raw, got shape {raw.shape}.")
    if not 0 < n_columns < raw.shape[1]:
        raise ValueError(f"overscanColumns={n_columns} is invalid for a raw of shape {raw.shape}.")
    image, overscan = raw[:, :-n_columns], raw[:, -n_columns:]
    if fit_type == "MEAN":
        level: float | np.ndarray = overscan.mean()
    elif fit_type == "MEDIAN":
        level = np.median(overscan)
    elif fit_type == "MEDIAN_PER_ROW":
        # Keep a column axis so the per-row level broadcasts across the row.
        level = np.median(overscan, axis=1, keepdims=True)
    else:
        raise ValueError(f"Unknown overscan fitType {fit_type!r}.")
    # Subtracting creates a new array, so the input is never modified.
    return image - level


def mask_defects(image: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Replace bad columns by the mean of their good neighbours.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D image (not modified).
    columns : `numpy.ndarray`
        Indices of the bad columns (a ``defects`` calibration).

    Returns
    -------
    image : `numpy.ndarray`
        A copy with each bad column interpolated from the nearest good
        columns on either side (or copied from the one side there is).
    """
    image = np.array(image, dtype=np.float64)
    bad = {int(c) for c in np.ravel(columns)}
    good = [c for c in range(image.shape[1]) if c not in bad]
    for column in sorted(bad):
        left = [c for c in good if c < column]
        right = [c for c in good if c > column]
        neighbours = ([left[-1]] if left else []) + ([right[0]] if right else [])
        image[:, column] = image[:, neighbours].mean(axis=1)
    return image


class IsrConnections(PipelineTaskConnections, dimensions=("instrument", "exposure", "detector")):
    """Connections for `IsrTask`: one raw and its defects in, one trimmed image out."""

    ccdExposure = cT.Input(
        name="raw",
        doc="Raw bias frame, overscan columns at the right edge.",
        storageClass="NumpyArray",
        dimensions=("instrument", "exposure", "detector"),
    )
    # As in ip_isr: a calibration is a prerequisite input, found in the input
    # collections by the graph builder (in a CALIBRATION collection, the one
    # certified for a validity range covering the exposure), never produced by
    # the pipeline itself.
    defects = cT.PrerequisiteInput(
        name="defects",
        doc="Bad columns of the detector (indices in the trimmed image).",
        storageClass="NumpyArray",
        dimensions=("instrument", "detector"),
        isCalibration=True,
    )
    outputExposure = cT.Output(
        name="postISRCCD",
        doc="Overscan-subtracted, trimmed image.",
        storageClass="NumpyArray",
        dimensions=("instrument", "exposure", "detector"),
    )

    def __init__(self, *, config=None):
        super().__init__(config=config)
        if config is not None and not config.doDefect:
            self.prerequisiteInputs.remove("defects")


class IsrConfig(PipelineTaskConfig, pipelineConnections=IsrConnections):
    """Configuration for `IsrTask`."""

    overscan = pexConfig.ConfigField(
        dtype=OverscanConfig,
        doc="Overscan correction (e.g. ``-c isr:overscan.fitType=MEDIAN_PER_ROW``).",
    )
    # The camera's geometry: the instrument sets it (DemoCam.applyConfigOverrides,
    # run by the Pipeline for --instrument), as an obs package does for ip_isr.
    overscanColumns = pexConfig.Field(
        dtype=int,
        doc="Number of overscan columns at the right edge of the raw (set by the instrument).",
        default=2,
        check=lambda n: n > 0,
    )
    doDefect = pexConfig.Field(
        dtype=bool,
        doc="Interpolate over the bad columns of the ``defects`` calibration.",
        default=True,
    )


class IsrTask(PipelineTask):
    """Overscan-correct and trim one raw frame, then interpolate over its defects."""

    ConfigClass = IsrConfig
    _DefaultName = "isr"

    def run(self, ccdExposure: np.ndarray, defects: np.ndarray | None = None) -> Struct:
        """Apply the overscan correction and the defects.

        Parameters
        ----------
        ccdExposure : `numpy.ndarray`
            Raw 2-D image.
        defects : `numpy.ndarray`, optional
            Bad columns of the trimmed image (with ``doDefect``).

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputExposure``: the trimmed, overscan-subtracted image.

        Raises
        ------
        ValueError
            Raised if ``doDefect`` is set and no ``defects`` are given.
        """
        image = subtract_overscan(ccdExposure, self.config.overscanColumns, self.config.overscan.fitType)
        if self.config.doDefect:
            if defects is None:
                raise ValueError("doDefect is set but no defects were given.")
            image = mask_defects(image, defects)
        return Struct(outputExposure=image)


class CombineBiasConnections(PipelineTaskConnections, dimensions=("instrument", "detector")):
    """Connections for `CombineBiasTask`: all exposures of a detector in."""

    inputExps = cT.Input(
        name="postISRCCD",
        doc="ISR-processed bias frames to combine.",
        storageClass="NumpyArray",
        dimensions=("instrument", "exposure", "detector"),
        multiple=True,
    )
    outputData = cT.Output(
        name="bias",
        doc="Combined bias for one detector.",
        storageClass="NumpyArray",
        dimensions=("instrument", "detector"),
    )


class CombineBiasConfig(PipelineTaskConfig, pipelineConnections=CombineBiasConnections):
    """Configuration for `CombineBiasTask` (nothing to configure yet)."""


class CombineBiasTask(PipelineTask):
    """Combine per-exposure bias frames into a master bias by median."""

    ConfigClass = CombineBiasConfig
    _DefaultName = "cpBiasCombine"

    def run(self, inputExps: list[np.ndarray]) -> Struct:
        """Take the per-pixel median of the inputs.

        Parameters
        ----------
        inputExps : `list` [`numpy.ndarray`]
            Same-shape 2-D images, one per exposure.

        Returns
        -------
        result : `lsst.pipe.base.Struct`
            ``outputData``: the per-pixel median image.

        Raises
        ------
        ValueError
            Raised if there are no inputs or their shapes differ.
        """
        if not inputExps:
            raise ValueError("No input frames to combine.")
        shapes = {np.shape(a) for a in inputExps}
        if len(shapes) != 1:
            raise ValueError(f"Input frames have different shapes: {sorted(shapes)}.")
        # The median is order-independent, so quantum input order is irrelevant.
        return Struct(outputData=np.median(np.stack(inputExps), axis=0))
