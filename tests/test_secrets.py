"""No secrets in logs: credentials in a repo URI never appear in plain text."""

from __future__ import annotations

import pytest
from harness import run_cli

from pipetask_lite._redact import redact

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    "text, kept",
    [
        (f"postgresql://alice:{SECRET}@db.example.org:5432/butler", "postgresql://alice:***@db.example.org"),
        (f"s3://bucket/repo?X-Amz-Credential={SECRET}&X-Amz-Signature={SECRET}&x=1", "X-Amz-Signature=***&x=1"),
        (f"host=db password={SECRET} user=alice", "password=*** user=alice"),
        (f"https://token:{SECRET}@example.org/repo/butler.yaml", "https://token:***@example.org"),
    ],
)
def test_redact(text, kept):
    assert SECRET not in redact(text)
    assert kept in redact(text)
    assert redact("/plain/path/to/repo and detector=1") == "/plain/path/to/repo and detector=1"


@pytest.fixture
def postgres_repo(tmp_path):
    """A butler config whose registry URL carries a password (the server does not exist)."""
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "butler.yaml").write_text(
        f"registry:\n  db: postgresql://alice:{SECRET}@127.0.0.1:9/butler\n"
        "datastore:\n  cls: lsst.daf.butler.datastores.fileDatastore.FileDatastore\n  root: <butlerRoot>\n"
    )
    return tmp_path / "repo"


@pytest.mark.parametrize("extra", [[], ["--traceback"]])
def test_errors_and_log_files_hide_the_password(tmp_path, postgres_repo, extra):
    log = tmp_path / "x.log"
    proc = run_cli([*extra, "--log-level", "DEBUG", "--log-file", str(log), "run", "-b", str(postgres_repo),
                    "-i", "a", "-o", "b", "-p", "pipetask_lite/demo/cpBias.yaml"])
    assert proc.returncode == 1
    assert "pipetask-lite run: error:" in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout
    assert SECRET not in log.read_text()


def test_uri_with_password_on_the_command_line_is_hidden():
    uri = f"postgresql://alice:{SECRET}@127.0.0.1:9/butler"
    proc = run_cli(["run", "-b", uri, "-i", "a", "-o", "b", "-p", "pipetask_lite/demo/cpBias.yaml"])
    assert proc.returncode == 1
    assert SECRET not in proc.stderr and "alice:***@" in proc.stderr
    explained = run_cli(["--explain", "run", "-b", uri, "-i", "a", "-o", "b", "-p", "pipetask_lite/demo/cpBias.yaml"])
    assert SECRET not in explained.stdout + explained.stderr
