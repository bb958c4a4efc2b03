"""The two release lines: the newer release's options, and the release check at start.

On the newer line (lsst-pipe-base 30.2026.2800 or newer) ``--retained-dataset-types``
and ``--prune-unanchored-quanta`` are compared side by side with that
release's ``pipetask``: the same saved graphs (quanta, edges, header
metadata) and the same repo after ``run``.  On the older line they are
refused before the repo is opened, naming the option and the release it
needs.  Either way their usage errors need no stack.

The release check (`pipetask_lite._compat.check_release`) is tested on the
metadata of real (if empty) distributions put first on the path, and on an
EUPS-style ``version.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import harness
import pytest
from harness import assert_same, assert_same_graphs, quanta

from pipetask_lite._compat import NEW_BUILDER_OPTIONS, builder_takes, check_release, release_of
from pipetask_lite.errors import PipetaskLiteError

REPO = harness.TWIN_REPO
NEWER = all(builder_takes(option) for option in NEW_BUILDER_OPTIONS)
newer_only = pytest.mark.skipif(not NEWER, reason="needs lsst-pipe-base 30.2026.2800 or newer (Python 3.12 line)")
older_only = pytest.mark.skipif(NEWER, reason="the older release line only (Python 3.11)")


# ---------------------------------------------------------------------------
# Side by side with the newer pipetask
# ---------------------------------------------------------------------------


@pytest.mark.pipetask
@newer_only
def test_retained_dataset_types(twins) -> None:
    """task0 and task1 ran; task2 must run, and with add_dataset2 not retained, task1 too."""
    p = twins.pipeline
    assert_same(twins, ["run", "-b", REPO, "-i", "test/chain", "-o", "first", "--output-run", "first/run",
                        "-p", p, "--register-dataset-types", "--select-tasks", "<=task1"])
    twins.write("retained.yaml", "- add_dataset1\n- add_dataset3\n")
    base = ["-b", REPO, "-i", "test/chain", "-o", "second", "-p", p, "--skip-existing-in", "first"]
    assert_same(twins, ["qgraph", *base, "-q", "plain.qg"])
    assert assert_same_graphs(twins, "plain.qg")["quanta"] == quanta(["task2"], [0, 1, 2])
    assert_same(twins, ["qgraph", *base, "--retained-dataset-types", "retained.yaml", "-q", "retained.qg"])
    sig = assert_same_graphs(twins, "retained.qg")
    assert sig["quanta"] == quanta(["task1", "task2"], [0, 1, 2])
    assert sig["metadata"]["retained_dataset_types"] == "retained.yaml"
    _, snaps = assert_same(
        twins, ["run", *base, "--retained-dataset-types", "retained.yaml", "--register-dataset-types"]
    )
    assert sorted(harness.datasets_by_detector(snaps["lite"], "add_dataset2", "second/<timestamp>")) == [0, 1, 2]


@pytest.mark.pipetask
@newer_only
def test_prune_unanchored_quanta(twins) -> None:
    """task1 ran for detector 0 only: its skipped quantum leaves task0's detector 0 quantum unanchored."""
    p = twins.pipeline
    assert_same(twins, ["run", "-b", REPO, "-i", "test/chain", "-o", "pre", "-p", p, "--register-dataset-types",
                        "--select-tasks", "task0"])
    assert_same(twins, ["run", "-b", REPO, "-i", "pre", "-o", "mid", "--output-run", "mid/run", "-p", p,
                        "--register-dataset-types", "--select-tasks", "task1", "-d", "detector = 0"])
    base = ["-b", REPO, "-i", "test/chain", "-o", "third", "-p", p, "--skip-existing-in", "mid/run"]
    assert_same(twins, ["qgraph", *base, "-q", "plain.qg"])
    assert ("task0", (("detector", 0), ("instrument", "INSTR"))) in assert_same_graphs(twins, "plain.qg")["quanta"]
    assert_same(twins, ["qgraph", *base, "--prune-unanchored-quanta", "task0:task1", "-q", "pruned.qg"])
    sig = assert_same_graphs(twins, "pruned.qg")
    assert {data_id for label, data_id in sig["quanta"] if label == "task0"} == {
        (("detector", d), ("instrument", "INSTR")) for d in (1, 2)
    }
    _, snaps = assert_same(twins, ["run", *base, "--prune-unanchored-quanta", "task0:task1",
                                   "--register-dataset-types"])
    assert sorted(harness.datasets_by_detector(snaps["lite"], "add_dataset1", "third/<timestamp>")) == [1, 2]


# ---------------------------------------------------------------------------
# The older release: refused, naming the option and the release
# ---------------------------------------------------------------------------


@older_only
@pytest.mark.parametrize("option, value, release", [
    ("--retained-dataset-types", "retained.yaml", "30.2026.2600"),
    ("--prune-unanchored-quanta", "task0:task1", "30.2026.2800"),
])
def test_newer_options_refused_on_older_release(add_repo, tmp_path, option, value, release) -> None:
    (tmp_path / "retained.yaml").write_text("- add_dataset1\n")
    before = harness.snapshot(add_repo.root)
    for subcommand in ("qgraph", "run"):
        result = harness.call_main(
            [subcommand, "-b", add_repo.root, "-i", "test/chain", "-o", "out", "-p", add_repo.pipeline,
             "--skip-existing-in", "test/chain", option, value], cwd=tmp_path,
        )
        assert result.returncode == 2, result.stderr
        assert f"error: {option}: needs lsst-pipe-base {release} or newer" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not harness.diff_snapshots(before, harness.snapshot(add_repo.root))


# ---------------------------------------------------------------------------
# Usage errors of the new options (both lines: no stack needed)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("extra, message", [
    (["--retained-dataset-types", "retained.yaml"], "--retained-dataset-types has no effect without --skip-existing-in"),
    (["--prune-unanchored-quanta", "task0"], "expected SOURCE:ANCHOR"),
    (["--prune-unanchored-quanta", ":task1"], "expected SOURCE:ANCHOR"),
])
def test_usage_errors(tmp_path, extra, message) -> None:
    (tmp_path / "retained.yaml").write_text("- add_dataset1\n")
    (tmp_path / "empty.yaml").write_text("[]\n")
    for subcommand in ("qgraph", "run"):
        result = harness.call_main([subcommand, "-b", "nowhere", "-o", "out", "-p", "p.yaml", *extra], cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


@newer_only
@pytest.mark.parametrize("name, message", [
    ("missing.yaml", "cannot read 'missing.yaml'"),
    ("empty.yaml", "'empty.yaml' must hold a non-empty YAML list"),
])
def test_bad_retained_dataset_types_file(add_repo, tmp_path, name, message) -> None:
    """The file is read when the graph is built (as pipetask reads it), before the repo is written."""
    (tmp_path / "empty.yaml").write_text("[]\n")
    before = harness.snapshot(add_repo.root)
    result = harness.call_main(
        ["run", "-b", add_repo.root, "-i", "test/chain", "-o", "out", "-p", add_repo.pipeline, "--skip-existing",
         "--retained-dataset-types", name], cwd=tmp_path,
    )
    assert result.returncode == 2 and f"--retained-dataset-types: {message}" in result.stderr, result.stderr
    assert not harness.diff_snapshots(before, harness.snapshot(add_repo.root))


def test_refused_with_a_saved_graph(tmp_path) -> None:
    """Both shape the graph as it is built: with -g they could only be ignored."""
    result = harness.call_main(["run", "-b", "nowhere", "-g", "g.qg", "--prune-unanchored-quanta", "a:b"], cwd=tmp_path)
    assert result.returncode == 2 and "--prune-unanchored-quanta" in result.stderr, result.stderr


# ---------------------------------------------------------------------------
# The release check at start
# ---------------------------------------------------------------------------


def _fake_distribution(root: Path, name: str, version: str) -> Path:
    """A real (empty) installed distribution's metadata, as pip leaves it."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return root


def test_older_release_is_one_line_naming_package_and_version(tmp_path) -> None:
    path = _fake_distribution(tmp_path / "site", "lsst-pipe-base", "29.2025.4900")
    environ = harness.env()
    environ["PYTHONPATH"] = os.pathsep.join([str(path), environ["PYTHONPATH"]])  # found before pip's metadata
    result = subprocess.run(
        [sys.executable, "-m", "pipetask_lite", "build", "-p", "p.yaml"], cwd=tmp_path, capture_output=True,
        text=True, env=environ, stdin=subprocess.DEVNULL, check=False,
    )
    assert result.returncode == 1, result.stderr
    first = result.stderr.splitlines()[0]
    assert first == ("pipetask-lite build: error: lsst-pipe-base 29.2025.4900 is older than the oldest release "
                     "pipetask-lite supports (30.2026.500)"), result.stderr
    assert "Traceback" not in result.stderr


def test_newer_release_is_accepted(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(_fake_distribution(tmp_path, "lsst-pipe-base", "31.2027.100")))
    assert release_of("lsst-pipe-base") == "31.2027.100"
    check_release()


def test_eups_version_py(tmp_path, monkeypatch) -> None:
    """Without pip's metadata, the stack's ``version.py`` says; a git-built version is let through."""
    version_py = tmp_path / "lsst" / "fake" / "pkg" / "version.py"
    version_py.parent.mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    version_py.write_text('__all__ = ["__version__"]\n__version__ = "29.1.0"\n')
    assert release_of("lsst-fake-pkg") == "29.1.0"
    with pytest.raises(PipetaskLiteError, match=r"lsst-fake-pkg 29\.1\.0 is older .* \(30\.2026\.500\)"):
        check_release({"lsst-fake-pkg": "30.2026.500"})
    version_py.write_text('__version__ = "g1a2b3c4d5e+0f9e8d7c6b"\n')
    check_release({"lsst-fake-pkg": "30.2026.500"})
    assert release_of("lsst-missing-pkg") is None
    check_release({"lsst-missing-pkg": "30.2026.500"})
