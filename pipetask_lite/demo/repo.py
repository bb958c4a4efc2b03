"""Build a tiny SQLite butler repository holding DemoCam raw bias frames.

The repository is what ``ingestRaws`` + ``defineVisits`` would leave behind
for a bias sequence of a real camera, minus the files: the ``exposure``
dimension records are inserted by hand and the raws are synthetic numpy
arrays ``put`` straight into the ``DemoCam/raw/all`` RUN collection.  Its
one calibration, the ``defects`` (bad columns) of each detector, is certified
in the ``DemoCam/calib`` CALIBRATION collection for the observing day, as
``butler certify-calibrations`` would leave it.
"""

from __future__ import annotations

__all__ = [
    "DAY_OBS",
    "DemoRepo",
    "defect_columns",
    "exposure_id",
    "make_demo_repo",
    "make_raw",
    "pipeline_path",
    "validity_range",
]

import contextlib
import datetime
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .instrument import DETECTOR_NAMES, OVERSCAN_COLUMNS, PHYSICAL_FILTER, DemoCam

#: Observing day of the synthetic bias sequence (``YYYYMMDD``).
DAY_OBS = 20240101

#: Raw geometry: 20 rows x (20 imaging + 4 overscan) columns.
RAW_ROWS = 20
RAW_IMAGING_COLUMNS = 20

#: Bias level drift along the rows (ADU per row).  It is present in the
#: overscan too, so only a per-row overscan model removes it.
ROW_GRADIENT = 0.5
READ_NOISE = 2.0
BASE_LEVEL = 1000.0


def pipeline_path() -> str:
    """Return the filesystem path of the packaged ``cpBias.yaml``.

    Returns
    -------
    path : `str`
        Absolute path of ``pipetask_lite/demo/cpBias.yaml``.
    """
    # The package is a plain directory (regular or editable install), so the
    # traversable is a real file and can be handed to a subprocess.
    return str(resources.files(__package__).joinpath("cpBias.yaml"))


@dataclass(frozen=True)
class DemoRepo:
    """Description of a repository made by `make_demo_repo`.

    Attributes
    ----------
    root : `str`
        Repository root (contains ``butler.yaml``).
    instrument : `str`
        Instrument dimension name.
    instrument_class : `str`
        Fully qualified instrument class, as passed to ``--instrument``.
    raw_collection : `str`
        RUN collection holding the raws.
    calib_collection : `str`
        CALIBRATION collection in which the ``defects`` are certified.
    defects_run : `str`
        RUN collection holding the ``defects`` datasets themselves.
    exposures : `list` [`int`]
        Exposure ids of the bias sequence, ascending.
    detectors : `list` [`int`]
        Detector ids that have raws.
    pipeline : `str`
        Path of the packaged ``cpBias.yaml``.
    """

    root: str
    instrument: str = "DemoCam"
    instrument_class: str = "pipetask_lite.demo.instrument.DemoCam"
    raw_collection: str = "DemoCam/raw/all"
    calib_collection: str = "DemoCam/calib"
    defects_run: str = "DemoCam/calib/defects/20240101"
    exposures: list[int] = field(default_factory=list)
    detectors: list[int] = field(default_factory=list)
    pipeline: str = field(default_factory=pipeline_path)

    @property
    def input_collections(self) -> list[str]:
        """The ``-i`` collections of the demo command: the raws, then the calibrations."""
        return [self.raw_collection, self.calib_collection]

    @property
    def data_query(self) -> str:
        """The ``-d`` expression selecting this repo's bias exposures."""
        ids = ", ".join(str(e) for e in self.exposures)
        return f"instrument='{self.instrument}' AND exposure IN ({ids})"


def exposure_id(seq_num: int, day_obs: int = DAY_OBS) -> int:
    """Return the exposure id for a sequence number (``YYYYMMDD * 1000 + seq``).

    Parameters
    ----------
    seq_num : `int`
        Sequence number within the day, 1-based, below 1000.
    day_obs : `int`, optional
        Observing day as ``YYYYMMDD``.

    Returns
    -------
    exposure : `int`
        The exposure id.
    """
    return day_obs * 1000 + seq_num


def make_raw(rng: np.random.Generator, level: float, structure: np.ndarray) -> np.ndarray:
    """Simulate one raw bias frame with a right-edge overscan.

    Parameters
    ----------
    rng : `numpy.random.Generator`
        Source of read noise.
    level : `float`
        Bias pedestal of this frame (varies frame to frame; removed by ISR).
    structure : `numpy.ndarray`
        Fixed 2-D bias pattern of the detector's imaging section (what the
        master bias should recover).

    Returns
    -------
    raw : `numpy.ndarray`
        ``(RAW_ROWS, RAW_IMAGING_COLUMNS + OVERSCAN_COLUMNS)`` float64 array.
    """
    rows = np.arange(RAW_ROWS, dtype=np.float64)[:, np.newaxis]
    raw = np.full((RAW_ROWS, RAW_IMAGING_COLUMNS + OVERSCAN_COLUMNS), level) + ROW_GRADIENT * rows
    raw[:, :RAW_IMAGING_COLUMNS] += structure
    raw += rng.normal(0.0, READ_NOISE, size=raw.shape)
    return raw


def defect_columns(detector: int) -> np.ndarray:
    """Return the bad columns of a detector: the demo's ``defects`` calibration.

    Parameters
    ----------
    detector : `int`
        Detector id.

    Returns
    -------
    columns : `numpy.ndarray`
        Column indices in the trimmed image (fixed, so that the raws do not
        depend on them).
    """
    return np.array([2 + 5 * detector])


def validity_range():
    """Return the span the demo's defects are certified for: the observing day.

    Returns
    -------
    timespan : `lsst.daf.butler.Timespan`
        From noon of `DAY_OBS` to noon of the next day (TAI), which covers
        every exposure of the bias sequence.
    """
    import astropy.time
    import astropy.units as u
    from lsst.daf.butler import Timespan

    noon = astropy.time.Time(datetime.datetime.strptime(f"{DAY_OBS}T12", "%Y%m%dT%H"), scale="tai")
    return Timespan(noon, noon + 1 * u.day)


def _dimension_records(n_exposures: int) -> tuple[dict, dict, list[dict]]:
    """Build the day_obs, group and exposure records of the bias sequence."""
    # Imported here so importing this module (for pipeline_path) stays cheap.
    import astropy.time
    import astropy.units as u
    from lsst.daf.butler import Timespan

    name = DemoCam.getName()
    # day_obs rolls over at noon; use TAI as the Butler stores timespans in it.
    noon = astropy.time.Time(datetime.datetime.strptime(f"{DAY_OBS}T12", "%Y%m%dT%H"), scale="tai")
    day_obs = {"instrument": name, "id": DAY_OBS, "timespan": Timespan(noon, noon + 1 * u.day)}
    group = {"instrument": name, "name": f"bias-{DAY_OBS}"}
    exposures = []
    for seq in range(1, n_exposures + 1):
        # Zero-second biases still take time to read out: give each a 1 s
        # span so the records are valid, non-empty timespans, 30 s apart.
        begin = noon + 8 * u.hour + 30 * seq * u.s
        exposures.append(
            {
                "instrument": name,
                "id": exposure_id(seq),
                "obs_id": f"DC_O_{DAY_OBS}_{seq:06d}",
                "physical_filter": PHYSICAL_FILTER,
                "group": group["name"],
                "day_obs": DAY_OBS,
                "seq_num": seq,
                "seq_start": 1,
                "seq_end": n_exposures,
                "exposure_time": 0.0,
                "dark_time": 1.0,
                "observation_type": "bias",
                "observation_reason": "bias",
                "science_program": "calib",
                "target_name": "bias",
                "has_simulated": True,
                "can_see_sky": False,
                "timespan": Timespan(begin, begin + 1 * u.s),
            }
        )
    return day_obs, group, exposures


def make_demo_repo(
    root: str | os.PathLike[str],
    *,
    n_exposures: int = 5,
    n_detectors: int = 3,
    seed: int = 42,
) -> DemoRepo:
    """Create a butler repository with DemoCam raw bias frames.

    Parameters
    ----------
    root : `str` or `os.PathLike`
        Directory for the new repository; it may exist but must not already
        contain a ``butler.yaml``.
    n_exposures : `int`, optional
        Number of bias exposures (1-999).
    n_detectors : `int`, optional
        Number of detectors with raws (1 to the 3 DemoCam has).
    seed : `int`, optional
        Seed of the numpy generator; the same seed gives identical raws.

    Returns
    -------
    repo : `DemoRepo`
        What was created and how to address it.

    Raises
    ------
    ValueError
        Raised for out-of-range counts.
    FileExistsError
        Raised if ``root`` already holds a repository.
    """
    if not 1 <= n_exposures < 1000:
        raise ValueError(f"n_exposures must be in [1, 999], got {n_exposures}.")
    if not 1 <= n_detectors <= len(DETECTOR_NAMES):
        raise ValueError(f"n_detectors must be in [1, {len(DETECTOR_NAMES)}], got {n_detectors}.")
    root_path = Path(root).absolute()
    if (root_path / "butler.yaml").exists():
        raise FileExistsError(f"{root_path} already contains a butler repository.")

    from lsst.daf.butler import Butler, CollectionType, DatasetType

    instrument = DemoCam()
    repo = DemoRepo(
        root=str(root_path),
        exposures=[exposure_id(seq) for seq in range(1, n_exposures + 1)],
        detectors=sorted(DETECTOR_NAMES)[:n_detectors],
    )
    Butler.makeRepo(str(root_path))
    butler = Butler.from_config(str(root_path), writeable=True)
    with contextlib.closing(butler):
        instrument.register(butler.registry)
        day_obs, group, exposures = _dimension_records(n_exposures)
        butler.registry.insertDimensionData("day_obs", day_obs)
        butler.registry.insertDimensionData("group", group)
        butler.registry.insertDimensionData("exposure", *exposures)

        raw_name, raw_dims, raw_sc = instrument.raw_definition
        butler.registry.registerDatasetType(
            DatasetType(raw_name, raw_dims, raw_sc, universe=butler.dimensions)
        )
        butler.collections.register(repo.raw_collection, CollectionType.RUN)

        rng = np.random.default_rng(seed)
        # Fixed per-detector pattern (column ramp + one warm column) so the
        # master bias has recognisable structure; drawn first so it does not
        # depend on n_exposures.
        structures = {}
        for det in repo.detectors:
            ramp = np.linspace(0.0, 3.0, RAW_IMAGING_COLUMNS)[np.newaxis, :]
            pattern = np.repeat(ramp, RAW_ROWS, axis=0)
            pattern[:, rng.integers(RAW_IMAGING_COLUMNS)] += 10.0
            structures[det] = pattern
        with butler.transaction():
            for i, exp in enumerate(repo.exposures):
                for det in repo.detectors:
                    level = BASE_LEVEL + 5.0 * i + 50.0 * det
                    butler.put(
                        make_raw(rng, level, structures[det]),
                        raw_name,
                        instrument=repo.instrument,
                        exposure=exp,
                        detector=det,
                        run=repo.raw_collection,
                    )
        _make_calibrations(butler, repo)
    return repo


def _make_calibrations(butler, repo: DemoRepo) -> None:
    """Put the ``defects`` of each detector and certify them in `DemoRepo.calib_collection`.

    What ``butler write-curated-calibrations`` and ``butler certify-calibrations``
    leave for a real camera: the datasets in a RUN collection, and a
    CALIBRATION collection that associates each one with a validity range.
    """
    from lsst.daf.butler import CollectionType, DatasetType

    butler.registry.registerDatasetType(
        DatasetType("defects", ("instrument", "detector"), "NumpyArray", universe=butler.dimensions,
                    isCalibration=True)
    )
    butler.collections.register(repo.defects_run, CollectionType.RUN)
    butler.collections.register(repo.calib_collection, CollectionType.CALIBRATION)
    with butler.transaction():
        refs = [
            butler.put(defect_columns(det), "defects", instrument=repo.instrument, detector=det, run=repo.defects_run)
            for det in repo.detectors
        ]
        butler.registry.certify(repo.calib_collection, refs, validity_range())
