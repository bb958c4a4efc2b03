"""Tests of the cpBias demo (`pipetask_lite.demo`).

The end-to-end tests run the *real* ``pipetask`` on the demo repository with
the classic command line, so they check the demo itself (instrument, tasks,
pipeline, repo), independently of pipetask-lite.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from lsst.daf.butler import Butler
from lsst.pipe.base import Pipeline

from pipetask_lite.demo import DemoRepo, make_demo_repo, pipeline_path
from pipetask_lite.demo.instrument import DETECTOR_NAMES, OVERSCAN_COLUMNS, DemoCam
from pipetask_lite.demo.runner import (
    default_runner,
    describe_collections,
    format_command,
    run_args,
    run_pipetask,
    subprocess_env,
    summarize,
)
from pipetask_lite.demo.repo import defect_columns, validity_range
from pipetask_lite.demo.tasks import CombineBiasTask, IsrTask, mask_defects, subtract_overscan


def _find_pipetask() -> str | None:
    # Prefer the console script of this interpreter's venv over any on PATH.
    candidate = Path(sys.executable).parent / "pipetask"
    return str(candidate) if candidate.exists() else shutil.which("pipetask")


PIPETASK = _find_pipetask()
needs_pipetask = pytest.mark.skipif(PIPETASK is None, reason="real pipetask not installed")

MEAN_OUTPUT = "DemoCam/calib/bias-mean"
ISR_ONLY_OUTPUT = "u/demo/isrOnly"


def _run(repo: DemoRepo, **kwargs) -> subprocess.CompletedProcess:
    """Run the real pipetask with `run_args` and fail with its output."""
    result = run_pipetask([PIPETASK], run_args(repo, **kwargs), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def _get_biases(root: str, collection: str) -> dict[int, np.ndarray]:
    butler = Butler.from_config(root, collections=collection)
    try:
        refs = butler.query_datasets("bias", collections=collection, limit=None)
        return {ref.dataId["detector"]: butler.get(ref) for ref in refs}
    finally:
        butler.close()


@pytest.fixture(scope="module")
def processed_repo(tmp_path_factory: pytest.TempPathFactory) -> DemoRepo:
    """One demo repo, processed three ways by the real pipetask.

    - ``DemoCam/calib/bias``: the classic line (``MEDIAN_PER_ROW``);
    - `MEAN_OUTPUT`: no ``-c`` (the pipeline's default ``MEAN``);
    - `ISR_ONLY_OUTPUT`: ``cpBias.yaml#isrOnly``.

    Sharing one repo keeps the module to three pipetask runs.
    """
    if PIPETASK is None:
        pytest.skip("real pipetask not installed")
    repo = make_demo_repo(tmp_path_factory.mktemp("demo") / "repo")
    _run(repo)
    _run(repo, output=MEAN_OUTPUT, config={})
    _run(repo, output=ISR_ONLY_OUTPUT, pipeline=repo.pipeline + "#isrOnly", config={})
    return repo


# --- fast unit tests ---------------------------------------------------------


def test_subtract_overscan_modes() -> None:
    rows = np.arange(6, dtype=float)[:, np.newaxis]
    raw = np.full((6, 8), 100.0) + rows  # row gradient everywhere
    raw[:, :5] += 7.0  # signal in the imaging section only
    per_row = subtract_overscan(raw, 3, "MEDIAN_PER_ROW")
    assert per_row.shape == (6, 5)
    np.testing.assert_allclose(per_row, 7.0)
    mean = subtract_overscan(raw, 3, "MEAN")
    np.testing.assert_allclose(mean[:, 0], 7.0 + rows[:, 0] - rows.mean())
    np.testing.assert_allclose(subtract_overscan(raw, 3, "MEDIAN"), mean)
    with pytest.raises(ValueError):
        subtract_overscan(raw, 3, "POLY")
    with pytest.raises(ValueError):
        subtract_overscan(raw, 8, "MEAN")


def test_mask_defects_interpolates_bad_columns() -> None:
    image = np.tile(np.arange(6.0), (3, 1))
    image[:, 2] = 100.0
    masked = mask_defects(image, np.array([2, 5]))
    np.testing.assert_array_equal(masked[:, 2], 2.0)  # (1 + 3) / 2
    np.testing.assert_array_equal(masked[:, 5], 4.0)  # the edge: its one neighbour
    assert image[0, 2] == 100.0  # the input is left alone


def test_isr_takes_defects_as_a_calibration() -> None:
    connections = IsrTask.ConfigClass.ConnectionsClass(config=IsrTask.ConfigClass())
    assert connections.prerequisiteInputs == {"defects"}
    assert connections.defects.isCalibration
    config = IsrTask.ConfigClass()
    config.doDefect = False
    assert not IsrTask.ConfigClass.ConnectionsClass(config=config).prerequisiteInputs


def test_combine_is_per_pixel_median() -> None:
    frames = [np.full((2, 2), v) for v in (1.0, 5.0, 2.0)]
    np.testing.assert_array_equal(CombineBiasTask().run(frames).outputData, np.full((2, 2), 2.0))


def test_instrument_config_overrides_without_obs_package() -> None:
    # What Pipeline does with ``instrument:``/``--instrument``: instantiate
    # with no arguments and apply overrides by the task's _DefaultName.
    instrument = DemoCam()
    assert instrument.getName() == "DemoCam"
    config = IsrTask.ConfigClass()
    config.overscanColumns = 1
    instrument.applyConfigOverrides(IsrTask._DefaultName, config)
    assert config.overscanColumns == OVERSCAN_COLUMNS
    instrument.applyConfigOverrides(CombineBiasTask._DefaultName, CombineBiasTask.ConfigClass())


def test_pipeline_loads_with_overrides_and_subset() -> None:
    pipeline = Pipeline.from_uri(pipeline_path())
    pipeline.addInstrument("pipetask_lite.demo.instrument.DemoCam")
    pipeline.addConfigOverride("isr", "overscan.fitType", "MEDIAN_PER_ROW")
    graph = pipeline.to_graph()
    assert set(graph.tasks) == {"isr", "cpBiasCombine"}
    assert graph.tasks["isr"].config.overscan.fitType == "MEDIAN_PER_ROW"
    subset = Pipeline.from_uri(pipeline_path() + "#isrOnly").to_graph()
    assert set(subset.tasks) == {"isr"}


def test_command_line_is_classic_and_round_trips(tmp_path: Path) -> None:
    repo = DemoRepo(root=str(tmp_path), exposures=[20240101001, 20240101002], detectors=[0])
    argv = ["pipetask-lite", *run_args(repo)]
    line = format_command(argv)
    assert line == (
        f"pipetask-lite run -b {tmp_path} --instrument pipetask_lite.demo.instrument.DemoCam"
        f" -i DemoCam/raw/all,DemoCam/calib -o DemoCam/calib/bias -p {pipeline_path()}"
        " -d \"instrument='DemoCam' AND exposure IN (20240101001, 20240101002)\""
        " -c isr:overscan.fitType='MEDIAN_PER_ROW' --register-dataset-types"
    )
    # The printed line must mean exactly the argv that is executed.
    assert shlex.split(line) == argv


# --- repository --------------------------------------------------------------


def test_repo_builds(tmp_path: Path) -> None:
    repo = make_demo_repo(tmp_path / "repo", n_exposures=4, n_detectors=2, seed=7)
    assert (tmp_path / "repo" / "butler.yaml").exists()
    assert repo.instrument == "DemoCam"
    assert repo.instrument_class == "pipetask_lite.demo.instrument.DemoCam"
    assert repo.raw_collection == "DemoCam/raw/all"
    assert repo.exposures == [20240101001, 20240101002, 20240101003, 20240101004]
    assert repo.detectors == [0, 1]
    assert Path(repo.pipeline).is_file() and repo.pipeline == pipeline_path()

    butler = Butler.from_config(repo.root)
    try:
        (record,) = butler.query_dimension_records("instrument")
        assert record.class_name == repo.instrument_class
        detectors = butler.query_dimension_records("detector", instrument="DemoCam")
        assert {d.full_name for d in detectors} == set(DETECTOR_NAMES.values())
        exposures = butler.query_dimension_records("exposure", instrument="DemoCam")
        assert sorted(e.id for e in exposures) == repo.exposures
        assert {e.observation_type for e in exposures} == {"bias"}
        raws = butler.query_datasets("raw", collections=repo.raw_collection, limit=None)
        assert len(raws) == 4 * 2
        raw = butler.get(raws[0])
        assert raw.shape == (20, 20 + OVERSCAN_COLUMNS)
        # The calibration: certified in a CALIBRATION collection for the observing day.
        assert butler.collections.get_info(repo.calib_collection).type.name == "CALIBRATION"
        associations = list(butler.registry.queryDatasetAssociations("defects", collections=repo.calib_collection))
        assert sorted(a.ref.dataId["detector"] for a in associations) == [0, 1]
        assert {a.timespan for a in associations} == {validity_range()}
        assert all(validity_range().contains(e.timespan) for e in exposures)
    finally:
        butler.close()

    with pytest.raises(FileExistsError):
        make_demo_repo(tmp_path / "repo")


def test_repo_is_reproducible(tmp_path: Path) -> None:
    arrays = []
    for name in ("a", "b"):
        repo = make_demo_repo(tmp_path / name, n_exposures=2, n_detectors=1, seed=3)
        butler = Butler.from_config(repo.root, collections=repo.raw_collection)
        try:
            arrays.append(butler.get("raw", instrument="DemoCam", exposure=repo.exposures[-1], detector=0))
        finally:
            butler.close()
    np.testing.assert_array_equal(*arrays)


def test_main_no_run_prints_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipetask_lite.demo.__main__ import main

    assert main([str(tmp_path / "repo"), "--no-run"]) == 0
    out = capsys.readouterr().out
    assert "pipetask-lite run -b " in out
    assert "-c isr:overscan.fitType='MEDIAN_PER_ROW' --register-dataset-types" in out
    assert (tmp_path / "repo" / "butler.yaml").exists()


def test_module_entry_point(tmp_path: Path) -> None:
    # ``python -m pipetask_lite.demo`` as the Makefile's ``make demo`` runs it.
    result = subprocess.run(
        [sys.executable, "-m", "pipetask_lite.demo", str(tmp_path / "repo"), "--no-run"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--instrument pipetask_lite.demo.instrument.DemoCam" in result.stdout


# --- end to end with the real pipetask ---------------------------------------


@pytest.mark.pipetask
@needs_pipetask
def test_classic_run_produces_bias_per_detector(processed_repo: DemoRepo) -> None:
    counts = summarize(processed_repo.root, "DemoCam/calib/bias")
    n_det, n_exp = len(processed_repo.detectors), len(processed_repo.exposures)
    assert counts["bias"] == n_det
    assert counts["postISRCCD"] == n_det * n_exp
    assert counts["raw"] == n_det * n_exp  # reached through the output chain
    biases = _get_biases(processed_repo.root, "DemoCam/calib/bias")
    assert sorted(biases) == processed_repo.detectors
    assert all(b.shape == (20, 20) for b in biases.values())


@pytest.mark.pipetask
@needs_pipetask
def test_median_per_row_differs_from_mean(processed_repo: DemoRepo) -> None:
    per_row = _get_biases(processed_repo.root, "DemoCam/calib/bias")
    mean = _get_biases(processed_repo.root, MEAN_OUTPUT)
    assert per_row.keys() == mean.keys()
    for det in per_row:
        assert not np.allclose(per_row[det], mean[det])
        # The raws carry a 0.5 ADU/row gradient in imaging and overscan:
        # MEAN leaves it in the bias, MEDIAN_PER_ROW removes it.
        slope_mean = np.polyfit(np.arange(20), mean[det].mean(axis=1), 1)[0]
        slope_per_row = np.polyfit(np.arange(20), per_row[det].mean(axis=1), 1)[0]
        assert slope_mean == pytest.approx(0.5, abs=0.1)
        assert abs(slope_per_row) < 0.1


@pytest.mark.pipetask
@needs_pipetask
def test_outputs_are_deterministic(processed_repo: DemoRepo) -> None:
    # Recompute detector 0 in-process from the stored raws: the pipetask
    # output must be bit-identical.
    butler = Butler.from_config(processed_repo.root, collections=processed_repo.input_collections)
    try:
        raws = [
            butler.get("raw", instrument="DemoCam", exposure=exp, detector=0)
            for exp in processed_repo.exposures
        ]
        # A calibration is looked up by the exposure's time: the one certified for it.
        exposure = butler.registry.expandDataId(instrument="DemoCam", exposure=processed_repo.exposures[0])
        defects = butler.get("defects", instrument="DemoCam", detector=0, timespan=exposure.timespan)
    finally:
        butler.close()
    np.testing.assert_array_equal(defects, defect_columns(0))
    config = IsrTask.ConfigClass()
    DemoCam().applyConfigOverrides("isr", config)  # what --instrument does
    config.overscan.fitType = "MEDIAN_PER_ROW"
    isr = IsrTask(config=config)
    expected = CombineBiasTask().run([isr.run(raw, defects).outputExposure for raw in raws]).outputData
    np.testing.assert_array_equal(_get_biases(processed_repo.root, "DemoCam/calib/bias")[0], expected)


@pytest.mark.pipetask
@needs_pipetask
def test_isr_only_subset_runs_only_isr(processed_repo: DemoRepo) -> None:
    counts = summarize(processed_repo.root, ISR_ONLY_OUTPUT)
    n = len(processed_repo.detectors) * len(processed_repo.exposures)
    assert counts["postISRCCD"] == n
    assert counts["isr_metadata"] == n
    assert counts.get("bias", 0) == 0
    assert not any(name.startswith("cpBiasCombine") for name in counts)


@pytest.mark.pipetask
def test_missing_calibration_names_input(tmp_path: Path) -> None:
    """Without the CALIBRATION collection in -i, isr's defects are found nowhere: -i is named, nothing written."""
    repo = make_demo_repo(tmp_path / "repo", n_exposures=1, n_detectors=1)
    argv = run_args(repo)
    argv[argv.index("-i") + 1] = repo.raw_collection
    result = run_pipetask(default_runner(), argv, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "pipetask-lite run: error: -i/--input: Not enough datasets (0) found for non-optional connection " \
           "isr.defects" in result.stderr
    assert "hint: add the collection that holds it to -i" in result.stderr
    assert "DemoCam/calib/bias" not in {name for name, _, _ in describe_collections(repo.root)}
