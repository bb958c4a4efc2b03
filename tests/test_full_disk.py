"""A repo on a full disk: one clear line, exit 1, nothing lost, and the run resumes once there is room.

Needs a small tmpfs, which root can mount (as in CI); skipped elsewhere.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from harness import copy_repo, diff_snapshots, run_cli, snapshot


@pytest.fixture
def tiny_disk(tmp_path, add_repo):
    """A copy of the repo on a filesystem with about 60 KB to spare."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    size_kb = sum(p.stat().st_size for p in add_repo.root.rglob("*") if p.is_file()) // 1024 + 120
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield add_repo.with_root(copy_repo(add_repo.root, mount / "repo"))
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_fails_clearly_and_resumes(tmp_path, tiny_disk, add_repo):
    argv = ["run", "-b", str(tiny_disk.root), "-i", "test/in", "-o", "out", "--output-run", "out/run",
            "-p", str(tiny_disk.pipeline), "--register-dataset-types"]
    proc = run_cli(argv)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("pipetask-lite run: error:")]
    assert len(errors) == 1 and "Traceback" not in errors[0], proc.stderr
    assert "disk full or read-only" in proc.stderr or "disk is full" in proc.stderr
    # Move the repo to a disk with room and resume: the result equals one uninterrupted run.
    roomy = tmp_path / "roomy"
    shutil.copytree(tiny_disk.root, roomy)
    resumed = run_cli([*argv[:2], str(roomy), *argv[3:], "--extend-run", "--skip-existing", "--clobber-outputs"])
    if resumed.returncode and "does not exist" in resumed.stderr:
        # The disk filled before the output run was created: nothing to resume, run again.
        resumed = run_cli([*argv[:2], str(roomy), *argv[3:]])
    assert resumed.returncode == 0, resumed.stderr
    reference = copy_repo(add_repo.root, tmp_path / "reference")
    assert run_cli([*argv[:2], str(reference), *argv[3:]]).returncode == 0
    assert diff_snapshots(snapshot(reference), snapshot(roomy), names=("uninterrupted", "resumed")) == ""


def test_read_only_repo_fails_clearly_and_writes_nothing(tmp_path, tiny_disk):
    mount = tiny_disk.root.parent
    done = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot remount read-only here: {done.stderr.strip()}")
    before = snapshot(tiny_disk.root)
    proc = run_cli(["run", "-b", str(tiny_disk.root), "-i", "test/in", "-o", "out", "-p", str(tiny_disk.pipeline),
                    "--register-dataset-types"])
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("pipetask-lite run: error:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "disk full or read-only" in proc.stderr
    assert diff_snapshots(before, snapshot(tiny_disk.root)) == ""
