"""A throwaway PostgreSQL server on loopback, for the tests of several workers and machines.

    python3 tests/pgserver.py start DIR    # prints the URL; .ci/run exports it
    python3 tests/pgserver.py stop DIR

The tests use SWEEP_TEST_POSTGRES_URL when it is set (CI), else start a server of their own
with `start` where PostgreSQL's binaries are installed (Debian: apt-get install postgresql),
else skip, saying why. The server trusts local connections and lives in DIR only.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

USER = "sweep"


class Unavailable(Exception):
    """No PostgreSQL server can be started here (the message says why)."""


def binaries() -> Path:
    """The folder of initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if debian:
        return Path(debian[-1]).parent
    raise Unavailable("PostgreSQL is not installed (no initdb; apt-get install postgresql)")


def _as_server_user() -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` user where we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as e:
        raise Unavailable("running as root, and no `postgres` user to run the server") from e
    runuser = shutil.which("runuser")
    if runuser is None:
        raise Unavailable("running as root and `runuser` is missing")
    return [runuser, "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(folder: Path) -> str:
    """Initialise and start a server in `folder`; returns its URL."""
    bin_dir, prefix = binaries(), _as_server_user()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o777)  # the server user writes here
    data = folder / "data"
    port = _free_port()
    run = [*prefix]
    _call(run + [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust"])
    options = f"-p {port} -h 127.0.0.1 -k {folder} -c fsync=off -c max_connections=50"
    _call(
        run
        + [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log")]
        + ["-w", "-t", "60", "start"]
    )
    url = f"postgresql://{USER}@127.0.0.1:{port}/postgres"
    (folder / "url").write_text(url)
    return url


def stop(folder: Path) -> None:
    folder = Path(folder).resolve()
    if (folder / "data").is_dir():
        subprocess.run(
            [*_as_server_user(), str(binaries() / "pg_ctl"), "-D", str(folder / "data")]
            + ["-m", "immediate", "stop"],
            capture_output=True,
        )


def create_database(url: str, name: str) -> str:
    """A new, empty database on the server at `url`; returns its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"


def reachable(url: str, timeout: float = 10) -> str | None:
    """None when the server answers, else why not."""
    import psycopg

    end = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=3).close()
            return None
        except psycopg.OperationalError as e:
            if time.monotonic() > end:
                return str(e).strip().splitlines()[0]
            time.sleep(0.5)


def _call(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise Unavailable(f"{Path(command[len(_as_server_user())]).name} failed: {' '.join(tail)}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit("usage: pgserver.py start|stop DIR")
    try:
        if sys.argv[1] == "start":
            print(start(Path(sys.argv[2])))
        else:
            stop(Path(sys.argv[2]))
    except Unavailable as e:
        sys.exit(f"no PostgreSQL server: {e}")
