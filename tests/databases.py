"""A real PostgreSQL server for the tests: Debian's `postgresql` package, a new cluster in a
temporary folder, on a free localhost port, with trust authentication (nothing but this machine
can reach it). Run as root, the server runs as the `postgres` user (it refuses to run as root)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from core.api.process import free_port

USER = "vision"


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A running server; yields its URL without a database (postgresql://vision@127.0.0.1:PORT)."""
    binaries = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="vision-postgres-"))
    run_as = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    quiet = {"capture_output": True, "text": True, "timeout": 120}
    subprocess.run([*run_as, binaries / "initdb", "-D", data, "-U", USER, "--auth=trust", "-E", "UTF8"], check=True,
                   **quiet)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*run_as, binaries / "pg_ctl", "-D", data, "-o", options, "-l", folder / "server.log", "-w",
                    "start"], check=True, **quiet)
    try:
        yield f"postgresql://{USER}@127.0.0.1:{port}"
    finally:
        subprocess.run([*run_as, binaries / "pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True,
                       timeout=60, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def new_database(server_url: str) -> str:
    """A new, empty database on the server; its URL."""
    import sqlalchemy as sa

    name = f"log_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{server_url.replace('postgresql://', 'postgresql+psycopg://')}/postgres",
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{server_url}/{name}"
