"""A minimal camera, ``DemoCam``, for the cpBias demo.

A real instrument lives in an ``obs_*`` package and brings afw cameras,
raw formatters and per-task config override files with it.  None of that is
installed here, so this class implements only what the Butler and ``pipetask``
actually call: the abstract methods of `lsst.pipe.base.Instrument` plus a tiny
`applyConfigOverrides` hook.
"""

from __future__ import annotations

__all__ = ["DemoCam", "DETECTOR_NAMES", "PHYSICAL_FILTER", "BAND", "OVERSCAN_COLUMNS"]

from typing import TYPE_CHECKING

from lsst.daf.butler.formatters.pickle import PickleFormatter
from lsst.pipe.base import Instrument
from lsst.utils.introspection import get_full_type_name

if TYPE_CHECKING:
    from lsst.daf.butler import DataId, Formatter, Registry
    from lsst.pex.config import Config

#: Detectors the camera registers: id -> full_name.
DETECTOR_NAMES: dict[int, str] = {0: "D00", 1: "D01", 2: "D02"}

#: Bias frames are taken with no filter in the beam; the ``exposure``
#: dimension still *implies* a ``physical_filter`` (which implies a ``band``),
#: so one placeholder filter has to exist.
PHYSICAL_FILTER = "empty"
BAND = "white"

#: Width of the serial overscan at the right edge of every raw.
OVERSCAN_COLUMNS = 4


class DemoCam(Instrument):
    """A three-detector toy camera whose raws are plain 2-D numpy arrays.

    Parameters
    ----------
    collection_prefix : `str`, optional
        Prefix for collection names; defaults to the instrument name.  Kept
        so the class has the construction signature `Instrument` requires
        (``Pipeline`` instantiates it with no arguments).
    """

    # No obs data package and no per-task config files: the base class
    # ``applyConfigOverrides`` then has nothing to load and must not fail.
    configPaths = ()
    policyName = "democam"
    obsDataPackage = None
    # Definition used for "raw": (name, dimensions, storage class).
    raw_definition = ("raw", ("instrument", "exposure", "detector"), "NumpyArray")

    #: Exclusive upper bounds stored in the ``instrument`` record; exposure
    #: ids are ``YYYYMMDD * 1000 + seq_num``.
    detector_max = 1000
    exposure_max = 100_000_000_000
    visit_max = 100_000_000_000

    def __init__(self, collection_prefix: str | None = None):
        super().__init__(collection_prefix=collection_prefix)

    @classmethod
    def getName(cls) -> str:
        """Return the instrument's dimension name.

        Returns
        -------
        name : `str`
            Always ``"DemoCam"``.
        """
        return "DemoCam"

    def register(self, registry: Registry, *, update: bool = False) -> None:
        """Insert the instrument, detector and filter records.

        Parameters
        ----------
        registry : `lsst.daf.butler.Registry`
            Registry of the repository to modify.
        update : `bool`, optional
            If `True`, overwrite existing records that differ.

        Notes
        -----
        Uses ``syncDimensionData`` inside one transaction, so calling it twice
        is harmless and a failure leaves the registry unchanged.
        """
        name = self.getName()
        with registry.transaction():
            registry.syncDimensionData(
                "instrument",
                {
                    "name": name,
                    "class_name": get_full_type_name(self),
                    "detector_max": self.detector_max,
                    "exposure_max": self.exposure_max,
                    "visit_max": self.visit_max,
                },
                update=update,
            )
            for detector_id, full_name in DETECTOR_NAMES.items():
                registry.syncDimensionData(
                    "detector",
                    {
                        "instrument": name,
                        "id": detector_id,
                        "full_name": full_name,
                        "name_in_raft": full_name,
                        "raft": "R00",
                        "purpose": "SCIENCE",
                    },
                    update=update,
                )
            registry.syncDimensionData(
                "physical_filter",
                {"instrument": name, "name": PHYSICAL_FILTER, "band": BAND},
                update=update,
            )

    def getRawFormatter(self, dataId: DataId) -> type[Formatter]:
        """Return the formatter used to read raws.

        Parameters
        ----------
        dataId : `lsst.daf.butler.DataId`
            Data ID of the raw (ignored: all raws are alike).

        Returns
        -------
        formatter : `type`
            `~lsst.daf.butler.formatters.pickle.PickleFormatter`, the
            datastore default for the ``NumpyArray`` storage class.
        """
        return PickleFormatter

    def applyConfigOverrides(self, name: str, config: Config) -> None:
        """Apply DemoCam-specific task config overrides.

        Parameters
        ----------
        name : `str`
            ``_DefaultName`` of the task being configured.
        config : `lsst.pex.config.Config`
            Config to modify in place.

        Notes
        -----
        ``Pipeline`` calls this before pipeline and command-line overrides, so
        ``-c isr:overscanColumns=...`` still wins.  The camera geometry is the
        one thing an obs package would legitimately pin here.
        """
        super().applyConfigOverrides(name, config)  # empty configPaths: no-op
        if name == "isr" and hasattr(config, "overscanColumns"):
            config.overscanColumns = OVERSCAN_COLUMNS
