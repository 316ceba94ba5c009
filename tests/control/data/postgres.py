"""A throwaway PostgreSQL cluster for the store tests, when CI did not start one.

CI (.ci/run) starts a cluster and exports MEDIACORE_TEST_POSTGRES_URL. Locally the fixture
starts one itself from Debian's binaries: initdb into a temporary directory (as the
`postgres` user when running as root, which initdb refuses), listening on a unix socket in
that directory only (no TCP port to collide with).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

ENV = "MEDIACORE_TEST_POSTGRES_URL"


def binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


class Cluster:
    def __init__(self, bin_dir: str) -> None:
        self.bin_dir = bin_dir
        self.dir = tempfile.mkdtemp(prefix="mediacore-pg-")
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.url = f"postgresql+psycopg://postgres@/postgres?host={self.dir}"

    def _run(self, *args: str) -> None:
        cmd = [os.path.join(self.bin_dir, args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)

    def start(self) -> Cluster:
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        self._run("pg_ctl", "-D", self.data, "-w", "-l", os.path.join(self.dir, "log"),
                  "-o", f"-c listen_addresses='' -k {self.dir} -c fsync=off", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
