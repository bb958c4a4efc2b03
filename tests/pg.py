"""A throwaway PostgreSQL server for the tests, and butler repos whose registry is on it.

`PgServer.start` runs ``initdb`` and ``pg_ctl`` from `PG_BIN` in a new
temporary directory, on a free port of 127.0.0.1 (and a Unix socket in that
directory for the superuser), with a login role `USER` whose password is
`PASSWORD`.  Each butler repo gets its own database (`PgServer.create_database`,
with ``btree_gist`` as daf_butler requires); `make_pg_add_repo` fills one like
`harness.make_add_repo`, and `copy_pg_repo` copies it cheaply with
``CREATE DATABASE ... TEMPLATE``.

The session fixture `pg_server` fails (under ``CI``) or skips (elsewhere) with
a message saying how to install the server when its binaries are missing:
``make test`` installs Debian's ``postgresql`` package where it can.

Public API
----------
`PgServer`, `PgRepo`, `make_pg_add_repo`, `copy_pg_repo`, the fixture
`pg_server`, and the constants `PG_BIN`, `USER`, `PASSWORD`.
"""

from __future__ import annotations

__all__ = ["PASSWORD", "PG_BIN", "USER", "PgRepo", "PgServer", "copy_pg_repo", "make_pg_add_repo", "pg_server"]

import contextlib
import dataclasses
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import AddRepo, make_add_repo

PG_BIN = Path(os.environ.get("PIPETASK_LITE_PG_BIN", "/usr/lib/postgresql/15/bin"))
"""Directory of ``initdb``, ``pg_ctl`` and ``postgres`` (Debian's PostgreSQL 15)."""

USER = "butler"
"""The login role every test repo connects as."""

PASSWORD = "Pg-t3st-S3cret-7f1c"
"""`USER`'s password: distinctive, so that finding it anywhere in output is a leak."""

SUPERUSER = "postgres"
"""The server's superuser, reached through the Unix socket without a password."""


def _free_port() -> int:
    # The port may be taken again before the server binds it; pg_ctl -w would
    # then fail loudly, never silently connect to someone else's server.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class PgServer:
    """A PostgreSQL server in a temporary directory, for one test session.

    Attributes
    ----------
    base : `pathlib.Path`
        Directory holding the data directory, the Unix socket and the log.
    port : `int`
        TCP port on 127.0.0.1.
    run_as : `list` [`str`]
        Command prefix running the server's programs as an unprivileged user
        (``initdb`` refuses root): ``runuser -u postgres --`` under root, else
        empty.
    """

    base: Path
    port: int
    run_as: list[str]

    @property
    def data(self) -> Path:
        """The data directory (``initdb -D``)."""
        return self.base / "data"

    @property
    def log(self) -> Path:
        """The server's log file."""
        return self.base / "server.log"

    @classmethod
    def start(cls) -> PgServer:
        """Create a cluster in a new temporary directory and start it.

        Returns
        -------
        server : `PgServer`
            The running server, with role `USER` (password `PASSWORD`).

        Raises
        ------
        RuntimeError
            If run as root and there is no ``postgres`` system user to run
            the server as.
        subprocess.CalledProcessError
            If ``initdb`` or ``pg_ctl`` fails (their output is in the error).
        """
        base = Path(tempfile.mkdtemp(prefix="pipetask-lite-pg-"))
        run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root, and there is no 'postgres' user to run the server as") from None
            os.chown(base, owner.pw_uid, owner.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        server = cls(base=base, port=_free_port(), run_as=run_as)
        server._program("initdb", "-D", server.data, "-U", SUPERUSER, "--auth-local=trust",
                        "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
        server.resume()
        server.sql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        return server

    def _program(self, name: str, *args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.run_as, str(PG_BIN / name), *map(str, args)], check=True,
                              capture_output=True, text=True, timeout=120)

    def resume(self) -> None:
        """Start (or restart) the server on `port` and wait until it accepts connections."""
        # Durability off: the cluster is thrown away, and fsync is most of a
        # small commit's time.
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=200"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._program("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", options, "start")

    def pause(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended)."""
        self._program("pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """Stop the server for the body of a ``with`` block, then start it again."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def remove(self) -> None:
        """Stop the server if it runs and delete its directory."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._program("pg_ctl", "-D", self.data, "-w", "-m", "immediate", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str, *, password: str | None = PASSWORD, user: str = USER) -> str:
        """Return the SQLAlchemy URL of ``database`` (without a password if ``password`` is `None`)."""
        userinfo = user if password is None else f"{user}:{password}"
        return f"postgresql://{userinfo}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, *, database: str = "postgres") -> list[tuple]:
        """Run one statement as the superuser (autocommit) and return its rows, if any."""
        import psycopg

        # Autocommit: CREATE DATABASE cannot run in a transaction.
        with psycopg.connect(host=str(self.base), port=self.port, user=SUPERUSER, dbname=database,
                             autocommit=True) as connection:
            cursor = connection.execute(statement)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str, *, template: str | None = None, btree_gist: bool = True) -> None:
        """Create database ``name`` owned by `USER`.

        Parameters
        ----------
        name : `str`
            Database name (a plain identifier).
        template : `str`, optional
            Copy this database (its tables, rows and extensions) instead of
            starting empty.
        btree_gist : `bool`, optional
            Enable the ``btree_gist`` extension daf_butler requires (as an
            administrator would); ignored with ``template``.
        """
        if template is None:
            self.sql(f"CREATE DATABASE {name} OWNER {USER}")
            if btree_gist:
                self.sql("CREATE EXTENSION btree_gist", database=name)
        else:
            # A template must have no sessions; the test process's own
            # butlers may still hold pooled connections to it.
            self.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     f"WHERE datname = '{template}' AND pid <> pg_backend_pid()")
            self.sql(f"CREATE DATABASE {name} OWNER {USER} TEMPLATE {template}")


@dataclasses.dataclass(frozen=True)
class PgRepo:
    """A butler repo (datastore in ``repo.root``) whose registry is database ``database``.

    Attributes
    ----------
    repo : `harness.AddRepo`
        The repo's contents, as `harness.make_add_repo` describes them.
    database : `str`
        Its registry's database on the server.
    """

    repo: AddRepo
    database: str


def make_pg_add_repo(server: PgServer, root: Path | str, database: str, **kwargs) -> PgRepo:
    """`harness.make_add_repo` with the registry in a new database ``database``.

    The seed config names the database by a URL with `USER`'s password in it,
    so the repo's ``butler.yaml`` carries the password, as a shared repo's
    config does when its credentials are not kept in ``db-auth.yaml``.
    ``kwargs`` go to `harness.make_add_repo`.
    """
    server.create_database(database)
    repo = make_add_repo(root, seed_config={"registry": {"db": server.url(database)}}, **kwargs)
    return PgRepo(repo=repo, database=database)


def copy_pg_repo(server: PgServer, src: PgRepo, root: Path | str, database: str) -> PgRepo:
    """Copy ``src``: its database into a new one, ``database``, and its directory to ``root``.

    ``root``'s ``butler.yaml`` is rewritten to name the new database; the
    datastore's file locations are relative to the root, so they hold as they are.
    """
    server.create_database(database, template=src.database)
    root = Path(shutil.copytree(src.repo.root, root))
    config = root / "butler.yaml"
    old, new = server.url(src.database), server.url(database)
    assert old in config.read_text(), f"{config} does not name {old}"
    config.write_text(config.read_text().replace(old, new))
    return PgRepo(repo=src.repo.with_root(root), database=database)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server; stopped and deleted at the end."""
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / name).exists()]
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing.append("psycopg (pip install -e '.[test]')")
    if missing:
        message = (f"PostgreSQL tests need {', '.join(missing)} (from {PG_BIN}); `make test` installs "
                   "Debian's postgresql package (apt-get install postgresql) where it runs as root")
        if os.environ.get("CI"):
            pytest.fail(message)  # never a silent skip in CI
        pytest.skip(message)
    server = PgServer.start()
    try:
        yield server
    finally:
        server.remove()
