"""The server secret that seals auth tokens at rest (see control/accounts.py).

Given in the configuration (`secret`, a Fernet key), or read from a file; on first start the
file is created with a new key, readable by its owner only (0600). Losing the secret makes
the stored tokens unusable for signing (accounts then need new tokens); it never reveals
them. Several daemons that share one PostgreSQL database must share the secret.
"""

from __future__ import annotations

import os
import pathlib

from cryptography.fernet import Fernet


def load_or_create(path: str | os.PathLike) -> bytes:
    path = pathlib.Path(path)
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: when two processes start at once, one writes and the other reads its key
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
        f.flush()
        os.fsync(f.fileno())
    return key
