"""The C sink (sink.c): built here with the system C compiler and OpenSSL, started with the
same command line as `python -m benches.fanout.sink`.

The binary is cached under ~/.cache/mediacore-fanout (or $XDG_CACHE_HOME), named for the hash
of the source and the compile command, so an edit of sink.c rebuilds it and every later run
starts at once. `unavailable()` says why it cannot be built here (no `cc`, no OpenSSL
headers), and the harness then runs the Python sink instead.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile

SOURCE = pathlib.Path(__file__).resolve().parent / "sink.c"
FLAGS = ["-O2", "-Wall", "-Wextra"]
LIBS = ["-lssl", "-lcrypto", "-lm"]


def cache_dir() -> pathlib.Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "mediacore-fanout"


def build() -> str:
    """The compiled sink (built once per source). Raises RuntimeError with cc's reason."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source + " ".join(FLAGS + LIBS).encode()).hexdigest()[:16]
    out = cache_dir()
    exe = out / f"sink-{digest}"
    if exe.exists():
        return str(exe)
    cc = shutil.which("cc")
    if cc is None:
        raise RuntimeError("no C compiler (cc) on PATH")
    out.mkdir(parents=True, exist_ok=True)
    # a unique temporary name, then an atomic rename: concurrent builds do not collide
    fd, tmp = tempfile.mkstemp(prefix=exe.name + ".", dir=out)
    os.close(fd)
    try:
        done = subprocess.run([cc, *FLAGS, "-o", tmp, str(SOURCE), *LIBS], capture_output=True,
                              timeout=120)
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()
            hint = " (OpenSSL headers missing: apt-get install libssl-dev)" \
                if "openssl/" in err else ""
            raise RuntimeError(f"cc failed{hint}: {err[:300]}")
        os.replace(tmp, exe)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return str(exe)


@functools.cache
def unavailable() -> str | None:
    """None when the C sink builds here, else why not."""
    try:
        build()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None


def command(args: list[str]) -> list[str]:
    """The C sink's command line for sink.py's `args`."""
    return [build(), *args]
