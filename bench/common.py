"""What the benchmarks share: a fresh PostgreSQL database, a free port, and waiting for the sandbox."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse


def recreate_database(db_url: str) -> None:
    import psycopg2

    url = urlparse(db_url)
    conn = psycopg2.connect(host=url.hostname, port=url.port or 5432, user=url.username or "postgres",
                            dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        name = url.path.lstrip("/")
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_sandbox(process: subprocess.Popen, sandbox_url: str, log: Path | None = None) -> None:
    """Until the sandbox answers on its control API; the benchmark stops if it exits or never comes up."""
    import requests

    see = f"; see {log}" if log else ""
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"the sandbox exited with {process.returncode}{see}")
        try:
            requests.get(f"{sandbox_url}/_sandbox/clock", timeout=1)
            return
        except OSError:  # requests' connection errors and timeouts are OSErrors
            time.sleep(0.1)
    raise SystemExit(f"the sandbox did not start{see}")
