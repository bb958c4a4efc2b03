"""pipetask-lite on a PostgreSQL-backed butler, as shared repos are (issue 17).

The session's server is `pg.pg_server` (a throwaway PostgreSQL 15 cluster);
every repo here is a directory (config and datastore files) plus its own
database on that server, copied from a module template with
``CREATE DATABASE ... TEMPLATE`` (`pg.copy_pg_repo`).  Each repo's
``butler.yaml`` carries the password in its URL, so every command below
could leak it; `no_password` checks that none does.

- Side by side with pipetask (`harness.assert_same`, one repo per tool):
  a new run, its ``--extend-run --skip-existing`` resume, ``--replace-run``,
  a failing task and ``-j 2`` (`test_core_run_scenarios_side_by_side`), and
  the batch flow ``qgraph`` -> ``pre-exec-init-qbb`` -> ``run-qbb`` ->
  ``butler transfer-from-graph`` (`test_batch_flow_side_by_side`).
- Several users at once on one repo: two and four ``run -j 2`` with
  different outputs end as the same commands run one after the other
  (`test_users_at_once`); one of three stopped by Ctrl-C or SIGKILL while the
  other two are held mid-run (`gated_tasks.GateTask`) leaves them unharmed,
  and its resume completes it (`test_one_user_stopped_while_others_run`).
- Credentials: the password never appears in output, log files,
  ``--summary`` or ``--explain`` (`test_password_never_shown`); credentials
  from ``db-auth.yaml`` (`test_credentials_from_db_auth_file`); bad input
  (server down, wrong password, no ``btree_gist``, no such database) is one
  line naming ``-b``, exit 1 (`test_bad_repo_database`,
  `test_bad_repo_database_is_one_line`).
"""

from __future__ import annotations

import itertools
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import harness
import pytest
import yaml
from gated_tasks import gate_name
from harness import (
    TOOLS,
    Twins,
    assert_same,
    check_same,
    datasets_by_detector,
    diff_snapshots,
    find_collection,
    make_failing_pipeline,
    pipeline_with,
    run_both,
    run_cli,
    snapshot,
)
from pg import PASSWORD, PgRepo, PgServer, copy_pg_repo, make_pg_add_repo, pg_server  # noqa: F401 (fixture)

pytestmark = [pytest.mark.postgres]  # slow too (conftest.py)

REPO = harness.TWIN_REPO
"""``-b`` value of side-by-side runs: each tool's working directory holds ``repo/``."""

BUTLER = harness.PIPETASK.parent / "butler"
"""daf_butler's command line, which registers what ``run-qbb`` wrote."""

_database_numbers = itertools.count()


def new_database(prefix: str) -> str:
    """Return a database name not used before in this session."""
    return f"{prefix}_{next(_database_numbers)}"


def no_password(*texts: str) -> None:
    """Assert that none of ``texts`` (outputs, files) contains the repo's password."""
    for text in texts:
        assert PASSWORD not in text, f"password leaked in:\n{text[-3000:]}"


def outputs(results: dict[str, subprocess.CompletedProcess[str]]) -> list[str]:
    """The stdout and stderr of every process of a `harness.run_both` result."""
    return [text for proc in results.values() for text in (proc.stdout, proc.stderr)]


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert ``proc`` succeeded and printed no password; return it."""
    assert proc.returncode == 0, f"{proc.args}\nexit {proc.returncode}\n{proc.stderr[-3000:]}"
    no_password(proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope="module")
def pg_template(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> PgRepo:
    """The default test repo (3 detectors, 3 AddTasks) with its registry on the server; copied, never run on."""
    base = tmp_path_factory.mktemp("pg_template")
    return make_pg_add_repo(pg_server, base / REPO, new_database("template"), pipeline_dir=base)


def pg_copy(server: PgServer, template: PgRepo, root: Path) -> PgRepo:
    """A fresh copy of ``template`` at ``root`` with a database of its own."""
    root.parent.mkdir(parents=True, exist_ok=True)
    return copy_pg_repo(server, template, root, new_database("repo"))


@pytest.fixture
def twins(tmp_path: Path, pg_server: PgServer, pg_template: PgRepo) -> Twins:
    """One PostgreSQL repo per tool, ``tmp_path/<tool>/repo``, each in its own database."""
    for tool in TOOLS:
        pg_copy(pg_server, pg_template, tmp_path / tool / REPO)
    return Twins(base=tmp_path, template=pg_template.repo)


# ---------------------------------------------------------------------------
# Side by side with pipetask
# ---------------------------------------------------------------------------


def same(twins: Twins, argv: Sequence[Any], *, expect_ok: bool = True) -> dict[str, Any]:
    """`harness.assert_same`, and no password in either tool's output; return the lite snapshot."""
    results, snaps = assert_same(twins, argv, expect_ok=expect_ok)
    no_password(*outputs(results))
    return snaps["lite"]


def test_core_run_scenarios_side_by_side(tmp_path: Path, twins: Twins) -> None:
    """New run, resume, replace, failing task and ``-j 2``, one after the other on the same two repos."""
    p = twins.pipeline
    new = ["run", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", p, "--register-dataset-types"]
    snap = same(twins, [*new, "-d", "detector IN (0, 1)"])
    assert sorted(datasets_by_detector(snap, "add_dataset3")) == [0, 1]

    snap = same(twins, ["run", "-b", REPO, "-o", "out", "-p", p, "--extend-run", "--skip-existing"])
    assert sorted(datasets_by_detector(snap, "add_dataset3")) == [0, 1, 2]
    assert find_collection(snap, "out")["children"] == ["out/<timestamp>", "test/in"]

    snap = same(twins, ["run", "-b", REPO, "-o", "out", "-p", p, "--replace-run"])
    assert find_collection(snap, "out")["children"] == ["out/<timestamp#1>", "test/in"]

    failing = make_failing_pipeline(tmp_path / "failing.yaml")
    snap = same(twins, ["run", "-b", REPO, "-i", "test/chain", "-o", "failed", "-p", failing], expect_ok=False)
    assert sorted(datasets_by_detector(snap, "add_dataset3", "failed/<timestamp>")) == [0, 2]

    snap = same(twins, ["run", "-b", REPO, "-i", "test/chain", "-o", "par", "--output-run", "par/run", "-p", p,
                        "-j", "2"])
    assert sorted(datasets_by_detector(snap, "add_dataset3", "par/run")) == [0, 1, 2]


def test_batch_flow_side_by_side(twins: Twins) -> None:
    """What a batch system runs: a graph, init-outputs and quanta as files, then one registration."""
    before = twins.snapshots()["lite"]
    steps = [
        ["qgraph", "-b", REPO, "-i", "test/chain", "-o", "out", "-p", twins.pipeline, "--qgraph-datastore-records",
         "-q", "g.qg"],
        ["pre-exec-init-qbb", REPO, "g.qg"],
        ["run-qbb", REPO, "g.qg"],
    ]
    for argv in steps:
        results = run_both(twins, argv)
        for proc in results.values():
            ok(proc)
        # Files only: the registry is as it was.
        snaps = check_same(twins, argv, results)
        assert diff_snapshots(before, snaps["lite"], names=("before", " ".join(map(str, argv[:1])))) == ""

    transfer = ["transfer-from-graph", "g.qg", REPO, "--register-dataset-types", "--update-output-chain"]
    results = {
        tool: subprocess.run([str(BUTLER), *transfer], cwd=twins.dir(tool), env=harness.env(), capture_output=True,
                             text=True, timeout=300, stdin=subprocess.DEVNULL, check=False)
        for tool in TOOLS
    }
    for proc in results.values():
        ok(proc)
    snap = check_same(twins, ["butler", *transfer], results)["lite"]
    assert sorted(datasets_by_detector(snap, "add_dataset3")) == [0, 1, 2]
    assert find_collection(snap, "out")["children"][1:] == ["test/in"]


# ---------------------------------------------------------------------------
# Several users at once
# ---------------------------------------------------------------------------


class Gated:
    """The gated pipeline, its gate directory, and a repo where runs ``out0..out3`` ran one after the other.

    Attributes
    ----------
    pipeline : `pathlib.Path`
        Three AddTasks, ``task1`` a `gated_tasks.GateTask` on `gates`.
    gates : `pathlib.Path`
        Gate directory: a run waits at ``task1`` while ``gates/<run>`` exists.
    reference : `pathlib.Path`
        Repo root where ``command(reference, i)`` ran for i = 0..3, in turn.
    """

    def __init__(self, base: Path, server: PgServer, template: PgRepo) -> None:
        self.gates = base / "gates"
        self.gates.mkdir()
        self.pipeline = pipeline_with(base / "gated.yaml", "gated_tasks.GateTask", {"gate_dir": f"'{self.gates}'"})
        self.reference = pg_copy(server, template, base / "reference").repo.root
        for i in range(4):
            ok(run_cli(self.command(self.reference, i)))

    def command(self, root: Path, i: int) -> list[str]:
        """User ``i``'s command line: ``-o out{i} --output-run out{i}/run``, ``-j 2``."""
        return ["run", "-b", str(root), "-i", "test/chain", "-o", f"out{i}", "--output-run", f"out{i}/run",
                "-p", str(self.pipeline), "--register-dataset-types", "-j", "2"]

    def gate(self, i: int) -> Path:
        """The gate of user ``i``'s run."""
        return self.gates / gate_name(f"out{i}/run")

    def reached(self, i: int) -> bool:
        """Whether a quantum of user ``i``'s run is at (or past) its gate."""
        return any(self.gates.glob(f"{gate_name(f'out{i}/run')}.*.reached"))

    def expected(self, users: Sequence[int]) -> dict[str, Any]:
        """The reference snapshot restricted to the runs of ``users``."""
        others = [f"out{i}" for i in range(4) if i not in users]
        return snapshot(self.reference, ignore_runs_prefix=others)


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer, pg_template: PgRepo) -> Gated:
    """The module's `Gated` (its reference runs take a while: made once)."""
    return Gated(tmp_path_factory.mktemp("gated"), pg_server, pg_template)


@pytest.fixture
def fresh_gates(gated: Gated) -> Iterator[Gated]:
    """`gated` with no gate and no 'reached' mark before and after the test."""
    def clear() -> None:
        for path in gated.gates.iterdir():
            path.unlink()

    clear()
    yield gated
    clear()


def start(argv: Sequence[str], log: Path) -> subprocess.Popen:
    """Start ``pipetask-lite argv`` in the background with its stderr going to ``log``."""
    with log.open("w") as stderr:
        return harness.start_cli(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)


def wait_until(condition, what: str, timeout: float = 180.0) -> None:
    """Poll ``condition()`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)


@pytest.mark.parametrize("users", [2, 4])
def test_users_at_once(tmp_path: Path, pg_server: PgServer, pg_template: PgRepo, fresh_gates: Gated,
                       users: int) -> None:
    """``users`` runs started together on one repo end as if run one after the other."""
    root = pg_copy(pg_server, pg_template, tmp_path / "repo").repo.root
    logs = [tmp_path / f"log{i}" for i in range(users)]
    procs = [start(fresh_gates.command(root, i), log) for i, log in enumerate(logs)]
    codes = [proc.wait(timeout=300) for proc in procs]
    texts = [log.read_text() for log in logs]
    assert codes == [0] * users, "\n".join(f"--- user {i}: exit {c}\n{t[-2000:]}" for i, (c, t) in
                                           enumerate(zip(codes, texts)))
    no_password(*texts)
    expected = fresh_gates.expected(range(users))
    assert diff_snapshots(expected, snapshot(root), names=("one after the other", "at once")) == ""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_one_user_stopped_while_others_run(tmp_path: Path, pg_server: PgServer, pg_template: PgRepo,
                                           fresh_gates: Gated, signum: int) -> None:
    """User 0 is stopped while users 1 and 2 wait at their gates; all three end as if run in turn.

    Every run waits at ``task1`` until the test opens its gate, so the
    others are known to be mid-run (connected, quanta in flight) when user
    0 is stopped there.  After Ctrl-C its gate opens so its running quanta
    finish; it prints ``to resume: ...``, which completes it.  After SIGKILL
    the documented resume is the command with ``--extend-run
    --skip-existing --clobber-outputs``.
    """
    g = fresh_gates
    root = pg_copy(pg_server, pg_template, tmp_path / "repo").repo.root
    logs = [tmp_path / f"log{i}" for i in range(3)]
    for i in range(3):
        g.gate(i).touch()
    procs = [start(g.command(root, i), log) for i, log in enumerate(logs)]
    try:
        for i in range(3):
            wait_until(lambda i=i: g.reached(i), f"user {i} reaching its gate")
        victim = procs[0]
        victim.send_signal(signum)
        if signum == signal.SIGINT:
            wait_until(lambda: "SIGINT received" in logs[0].read_text(), "user 0 acknowledging Ctrl-C")
            g.gate(0).unlink()
            assert victim.wait(timeout=120) == 130, logs[0].read_text()[-3000:]
        else:
            victim.wait(timeout=60)
            g.gate(0).unlink()
        # Still held at their gates: the stop happened while they ran.
        assert [proc.poll() for proc in procs[1:]] == [None, None]
        for i in (1, 2):
            g.gate(i).unlink()
        assert [proc.wait(timeout=300) for proc in procs[1:]] == [0, 0], "\n".join(
            log.read_text()[-2000:] for log in logs[1:])
    finally:
        for gate in (g.gate(i) for i in range(3)):
            gate.unlink(missing_ok=True)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    texts = [log.read_text() for log in logs]
    no_password(*texts)
    assert "Traceback" not in texts[0]
    # The others are unharmed: exactly their uninterrupted results.
    others = snapshot(root, ignore_runs_prefix="out0")
    assert diff_snapshots(g.expected([1, 2]), others, names=("uninterrupted", "beside a stopped run")) == ""

    # ... and user 0 was stopped part way: task2 never started for it.
    assert datasets_by_detector(snapshot(root), "add_dataset3", "out0/run") == {}

    if signum == signal.SIGINT:
        line = next(line for line in texts[0].splitlines() if line.startswith("to resume: "))
        words = shlex.split(line.removeprefix("to resume: "))
        assert words[0] == "pipetask-lite"
        resumed = run_cli(words[1:])
    else:
        resumed = run_cli([*g.command(root, 0), "--extend-run", "--skip-existing", "--clobber-outputs"])
    ok(resumed)
    assert diff_snapshots(g.expected([0, 1, 2]), snapshot(root), names=("uninterrupted", "resumed")) == ""


# ---------------------------------------------------------------------------
# Credentials and bad input
# ---------------------------------------------------------------------------


def test_password_never_shown(tmp_path: Path, pg_server: PgServer, pg_template: PgRepo) -> None:
    """A run at DEBUG level with a log file and ``--summary``, and ``--explain``: no password anywhere."""
    repo = pg_copy(pg_server, pg_template, tmp_path / "repo").repo
    assert PASSWORD in (repo.root / "butler.yaml").read_text()
    log, summary = tmp_path / "run.log", tmp_path / "summary.json"
    argv = ["run", "-b", str(repo.root), "-i", "test/chain", "-o", "out", "-p", str(repo.pipeline),
            "--register-dataset-types", "--summary", str(summary)]
    ok(run_cli(["--log-level", "DEBUG", "--log-file", str(log), *argv]))
    no_password(log.read_text(), summary.read_text())
    assert "Executed 9 quanta successfully" in log.read_text()
    for b in (str(repo.root), str(repo.root / "butler.yaml"), pg_server.url(repo_database(repo.root))):
        explained = ok(run_cli(["--explain", *argv[:2], b, *argv[3:]]))
        assert "def main()" in explained.stdout


def repo_database(root: Path) -> str:
    """The database named in a repo's ``butler.yaml``."""
    return yaml.safe_load((root / "butler.yaml").read_text())["registry"]["db"].rsplit("/", 1)[1]


def write_config(root: Path, registry: dict[str, Any]) -> Path:
    """Point the repo at ``root`` at another registry (the datastore stays)."""
    config = yaml.safe_load((root / "butler.yaml").read_text())
    config["registry"].update(registry)
    (root / "butler.yaml").write_text(yaml.safe_dump(config))
    return root


def test_credentials_from_db_auth_file(tmp_path: Path, pg_server: PgServer, pg_template: PgRepo) -> None:
    """docs/postgresql.md's form: no password in the repo config, daf_butler finds it in db-auth.yaml."""
    root = pg_copy(pg_server, pg_template, tmp_path / "repo").repo.root
    database = repo_database(root)
    write_config(root, {"db": pg_server.url(database, password=None)})
    auth = tmp_path / "db-auth.yaml"
    auth.write_text(yaml.safe_dump([{"url": pg_server.url(database, password=None), "username": "butler",
                                     "password": PASSWORD}]))
    auth.chmod(0o600)  # daf_butler refuses a file others can read
    argv = ["run", "-b", str(root), "-i", "test/chain", "-o", "out", "-p", str(pg_template.repo.pipeline),
            "--register-dataset-types"]
    ok(harness.run_cli(argv, env=harness.env({"LSST_DB_AUTH": str(auth)})))
    assert sorted(datasets_by_detector(snapshot_with_auth(root, auth), "add_dataset3")) == [0, 1, 2]


def snapshot_with_auth(root: Path, auth: Path) -> dict[str, Any]:
    """`harness.snapshot` of a repo whose credentials are in the db-auth file ``auth``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LSST_DB_AUTH", str(auth))
        return snapshot(root)


WRONG = "Wr0ng-Pa55-for-tests"


def _bad(kind: str, server: PgServer, root: Path) -> None:
    """Break the repo at ``root`` as ``kind`` says (the server is stopped by the test itself)."""
    database = repo_database(root)
    if kind == "wrong-password":
        write_config(root, {"db": server.url(database, password=WRONG)})
    elif kind == "password-key":  # the seed-config form: user in the URL, password as its own key
        write_config(root, {"db": server.url(database, password=None), "password": WRONG})
    elif kind == "no-btree-gist":
        bare = new_database("bare")
        server.create_database(bare, btree_gist=False)
        write_config(root, {"db": server.url(bare)})
    elif kind == "no-such-database":
        write_config(root, {"db": server.url("no_such_database")})


@pytest.mark.parametrize("subcommand, kind, says", [
    ("run", "server-down", "Connection refused"),
    ("run", "wrong-password", "password authentication failed"),
    ("run", "password-key", "password authentication failed"),
    ("run", "no-btree-gist", "btree_gist"),
    ("run", "no-such-database", 'database "no_such_database" does not exist'),
    ("qgraph", "wrong-password", "password authentication failed"),
])
def test_bad_repo_database(tmp_path: Path, pg_server: PgServer, pg_template: PgRepo, subcommand: str, kind: str,
                           says: str) -> None:
    """A last line naming ``-b``, exit 1, no traceback, no password (right or wrong).

    That the line is the only one is `test_bad_repo_database_is_one_line`.
    """
    root = pg_copy(pg_server, pg_template, tmp_path / "repo").repo.root
    _bad(kind, pg_server, root)
    argv = [subcommand, "-b", str(root), "-i", "test/chain", "-o", "out", "-p", str(pg_template.repo.pipeline)]
    if kind == "server-down":
        with pg_server.down():
            proc = run_cli(argv, stdin=subprocess.DEVNULL)
    else:
        proc = run_cli(argv, stdin=subprocess.DEVNULL)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    assert lines[-1].startswith(f"pipetask-lite {subcommand}: error: -b/--butler-config: "), proc.stderr
    assert says in lines[-1]
    assert "Traceback" not in proc.stderr
    no_password(proc.stdout, proc.stderr)
    assert WRONG not in proc.stdout + proc.stderr


def test_bad_repo_database_is_one_line(tmp_path: Path, pg_server: PgServer, pg_template: PgRepo) -> None:
    """The error line alone: daf_butler's "ERROR: Failed to instantiate Butler from config ..." log is not shown.

    Fails until ``pipetask_lite._util.open_butler`` drops that record (it
    re-raises, and the error boundary prints the exception itself).
    """
    root = pg_copy(pg_server, pg_template, tmp_path / "repo").repo.root
    _bad("wrong-password", pg_server, root)
    proc = run_cli(["run", "-b", str(root), "-i", "test/chain", "-o", "out", "-p", str(pg_template.repo.pipeline)],
                   stdin=subprocess.DEVNULL)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
