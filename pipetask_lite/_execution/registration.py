"""Quanta on quantum-backed butlers, their outputs registered in batches (``run``, any ``-j``).

A full butler's ``put`` registers each dataset in its own registry
transaction (`lsst.daf.butler.registry.Registry._importDatasets`); for small
quanta that is most of the time pipetask spends executing them.  A
`lsst.daf.butler.QuantumBackedButler` writes files only and records what it
wrote (`lsst.daf.butler.QuantumProvenanceData`); `BatchRegistration` puts the
outputs of many finished quanta into the registry at once, in one transaction
(`lsst.daf.butler.QuantumProvenanceData.collect_and_transfer`), as a batch
system does with ``pipetask run-qbb`` and ``butler transfer-from-graph``.

The price: a quantum's outputs reach the registry up to `REGISTRATION_INTERVAL`
seconds (or `REGISTRATION_BATCH` quanta) after it finished, instead of at
once.  Quanta read their inputs from the files and the graph's datastore
records, not from the registry, so they do not wait for it; other readers of
the repo do.
"""

from __future__ import annotations

__all__ = ("REGISTRATION_BATCH", "REGISTRATION_INTERVAL", "BatchRegistration", "QuantumBackedButlers")

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lsst.daf.butler import Butler, Quantum, QuantumBackedButler, QuantumProvenanceData

_LOG = logging.getLogger("lsst.pipetask_lite.registration")

REGISTRATION_INTERVAL = 10.0
"""Seconds after which the outputs of finished quanta are registered."""
REGISTRATION_BATCH = 200
"""Number of finished quanta whose outputs are registered together, if `REGISTRATION_INTERVAL` has not passed."""


class QuantumBackedButlers:
    """Makes a `~lsst.daf.butler.QuantumBackedButler` per quantum and keeps its provenance.

    `~lsst.pipe.base.single_quantum_executor.SingleQuantumExecutor` takes a
    factory like this one (``limited_butler_factory``, as pipetask's
    ``run-qbb`` gives it) and closes each butler after its quantum, whether
    the quantum succeeded or not; the butlers made here record their
    provenance (which outputs were written, with their datastore records) as
    they close, in ``provenance``.

    All the butlers of one factory share one datastore (and the in-memory
    SQLite database that holds its records), made with the first.
    `~lsst.daf.butler.QuantumBackedButler.initialize`, as pipetask's
    ``run-qbb`` calls it, makes a new datastore per quantum: it reads the
    datastore configuration's defaults again and creates the database schema,
    about 35 ms, more than a small task takes.  A shared datastore also knows
    the outputs of the quanta before, so a quantum reads them from their
    records instead of guessing their paths.

    Parameters
    ----------
    butler_config : `str`
        The repo (only its configuration is read, once).
    universe : `lsst.daf.butler.DimensionUniverse`
        The graph's dimensions.
    dataset_types : `~collections.abc.Mapping` [`str`, `lsst.daf.butler.DatasetType`]
        The pipeline's dataset types.
    search_paths : `~collections.abc.Sequence` [`str`], optional
        More places to look for butler configuration (``run-qbb
        --config-search-path``).
    """

    def __init__(self, butler_config: str, *, universe, dataset_types: Mapping[str, Any],
                 search_paths: Sequence[str] = ()):
        from lsst.daf.butler import ButlerConfig, QuantumBackedButler

        owner = self

        class RecordingButler(QuantumBackedButler):
            def close(self) -> None:
                owner.provenance = self.extract_provenance_data()
                super().close()

        # Read once: QuantumBackedButler.initialize would read the repo's
        # configuration files again for every quantum.
        self._config = ButlerConfig(butler_config, searchPaths=list(search_paths) or None)
        self._universe = universe
        self._dataset_types = dict(dataset_types)
        self._butler_class = RecordingButler
        self._base: QuantumBackedButler | None = None
        self._imported: set[tuple[str, Any]] = set()
        """(datastore name, dataset ID) of the records imported from the graph."""
        self.provenance: QuantumProvenanceData | None = None
        """What the butler of the last quantum wrote, once it is closed."""

    def prepare(self) -> QuantumBackedButler:
        """Make the shared datastore now (else the first quantum does); return the butler that owns it."""
        from lsst.daf.butler import QuantumBackedButler

        if self._base is None:
            # The public constructor takes a datastore, but the only public
            # way to make a registry-less one is to make a butler; this one
            # (never closed: closing disposes of the database) lends its
            # datastore, set to find files without records as initialize does,
            # to all the others.
            self._base = QuantumBackedButler.from_predicted(
                config=self._config, predicted_inputs=(), predicted_outputs=(), dimensions=self._universe,
                datastore_records={}, dataset_types=self._dataset_types,
            )
        return self._base

    def __call__(self, quantum: Quantum) -> QuantumBackedButler:
        import itertools

        from lsst.daf.butler.datastore.record_data import DatastoreRecordData

        self.provenance = None
        datastore = self.prepare()._datastore
        # The graph's records of inputs that other quanta read too are
        # imported once: the datastore inserts them and would reject a
        # second copy.
        records = {}
        for name, data in (quantum.datastore_records or {}).items():
            new = {dataset_id: item for dataset_id, item in data.records.items()
                   if (name, dataset_id) not in self._imported}
            if new:
                records[name] = DatastoreRecordData(records=new)
                self._imported.update((name, dataset_id) for dataset_id in new)
        datastore.import_records(records)
        return self._butler_class(
            predicted_inputs=[ref.id for ref in itertools.chain(*quantum.inputs.values(), quantum.initInputs.values())],
            predicted_outputs=[ref.id for ref in itertools.chain.from_iterable(quantum.outputs.values())],
            dimensions=self._universe,
            datastore=datastore,
            storageClasses=self._base.storageClasses,
            dataset_types=self._dataset_types,
        )


class BatchRegistration:
    """Registers the outputs of finished quanta, one registry transaction per batch.

    Used as a context manager, it registers what is left when the block ends,
    whichever way it ends.

    Parameters
    ----------
    butler : `lsst.daf.butler.Butler` or `None`
        Writeable full butler of the output run.  `None` (``run-qbb``)
        registers nothing: the outputs stay files in the datastore, for
        ``butler transfer-from-graph``.
    interval : `float`, optional
        Seconds after which `register` registers a batch, however small.
    batch : `int`, optional
        Number of quanta after which `register` registers a batch, however
        soon.
    """

    def __init__(self, butler: Butler | None, *, interval: float | None = None, batch: int | None = None):
        self._butler = butler
        # Read when made, not when this module is imported: a test may set them.
        self._interval = REGISTRATION_INTERVAL if interval is None else interval
        self._batch = REGISTRATION_BATCH if batch is None else batch
        self._quanta: list[Quantum] = []
        self._provenance: list[QuantumProvenanceData] = []
        self._last = time.monotonic()
        self._thread: threading.Thread | None = None
        self._in_flight: tuple[list[Quantum], list[QuantumProvenanceData]] = ([], [])
        self._error: BaseException | None = None
        self.transactions = 0
        """Number of registry transactions committed so far (`int`)."""

    def __len__(self) -> int:
        """Number of quanta whose outputs are not registered yet (also those of a transaction in flight)."""
        return len(self._quanta) + len(self._in_flight[0])

    def add(self, quantum: Quantum, provenance: QuantumProvenanceData) -> None:
        """Note a finished quantum's outputs (successful or not: a failure leaves its log)."""
        if self._butler is not None:
            self._quanta.append(quantum)
            self._provenance.append(provenance)

    def register(self, *, now: bool = False, wait: bool = True) -> None:
        """Register the outputs noted so far, if ``now`` or the batch is full or old enough.

        A batch costs about as much for one quantum as for many; the quanta
        do not need it (they find their inputs on disk).  What was noted stays
        noted until its transaction has committed, so a failed or
        interrupted one is tried again by the next call.

        Parameters
        ----------
        now : `bool`, optional
            Register whatever is noted, however little and however recent.
        wait : `bool`, optional
            If `False`, the transaction runs in a thread while the caller goes
            on (``-j N``: the workers' next quanta are not held up for it; the
            main process has nothing else to do meanwhile), one at a time; the
            next call waits for it first (and raises what it raised).  The
            thread is not a daemon: an interpreter that is exiting lets it
            commit.
        """
        if self._thread is not None and (wait or not self._thread.is_alive()):
            self._join()
        if not self._quanta:
            return
        if not (now or len(self._quanta) >= self._batch or time.monotonic() - self._last >= self._interval):
            return
        if self._thread is not None:  # still running (wait=False): this batch goes with a later call
            return
        batch = self._in_flight = (self._quanta, self._provenance)
        self._quanta, self._provenance = [], []
        if wait:
            try:
                self._transfer(*batch)
            finally:
                self._settle()
        else:
            self._thread = threading.Thread(target=self._transfer_in_thread, args=batch,
                                            name="pipetask-lite-registration")
            self._thread.start()

    def _transfer(self, quanta: list[Quantum], provenance: list[QuantumProvenanceData]) -> None:
        from lsst.daf.butler import QuantumProvenanceData

        with self._butler.transaction():
            QuantumProvenanceData.collect_and_transfer(self._butler, quanta, provenance)
        _LOG.debug("Registered the outputs of %d quanta in one transaction.", len(quanta))
        self.transactions += 1
        self._in_flight = ([], [])
        self._last = time.monotonic()

    def _transfer_in_thread(self, quanta: list[Quantum], provenance: list[QuantumProvenanceData]) -> None:
        try:
            self._transfer(quanta, provenance)
        except BaseException as exc:  # raised again in the caller's thread, by _join
            self._error = exc

    def _settle(self) -> None:
        """Put back what a transaction did not commit, ahead of what was noted since."""
        quanta, provenance = self._in_flight
        self._quanta, self._provenance = quanta + self._quanta, provenance + self._provenance
        self._in_flight = ([], [])

    def _join(self) -> None:
        """Wait for the transaction in flight (interruptible: then it is waited for again next time)."""
        self._thread.join()
        self._thread = None
        self._settle()
        if (error := self._error) is not None:
            self._error = None
            raise error

    def __enter__(self) -> BatchRegistration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.register(now=True)
