"""The floor: floor.c, one non-blocking send() (or SSL_write_ex) of a pre-built masked frame
per fork per tick, compiled here with the system C compiler (`cc -O2`; TLS links OpenSSL).
`run` writes the frames with mediacore's encoder, then replaces this process with the C
program (exec, same pid, same pinned core), which fills the same record."""

from __future__ import annotations

import functools
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile

from benches.fanout import record as rec
from benches.fanout.clients.base import Plan, epoch_ms, payloads, profile

SOURCE = pathlib.Path(__file__).resolve().parent.parent / "floor.c"


def build(out_dir: str, tls: bool) -> str:
    """The compiled floor in `out_dir` (built once per directory). Raises CalledProcessError."""
    exe = os.path.join(out_dir, "floor_tls" if tls else "floor")
    if not os.path.exists(exe):
        extra = ["-DFLOOR_TLS", "-lssl", "-lcrypto"] if tls else []
        cmd = [shutil.which("cc") or "cc", "-O2", "-o", exe + ".tmp", str(SOURCE), *extra]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        os.replace(exe + ".tmp", exe)
    return exe


@functools.cache
def available(transport: str) -> str | None:
    if shutil.which("cc") is None:
        return "no C compiler (cc) on PATH"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            build(tmp, transport == "tls")
        except subprocess.CalledProcessError as exc:
            return f"cc failed: {exc.stderr.decode(errors='replace').strip()[:200]}"
    return None


def write_messages(path: str, frames: int) -> None:
    """u32 count, u32 length each, then the frames: `start` and `frames` media frames."""
    prof, audio, now = profile(0), payloads(), epoch_ms()
    messages = [prof.frame(prof.start(now))]
    buf = bytearray(prof.max_frame_size(len(audio[0])))
    for n in range(frames):
        size = prof.media_frame_into(buf, 0, now + 20 * n, audio[n % len(audio)])
        messages.append(bytes(buf[:size]))
    with open(path, "wb") as out:
        out.write(struct.pack(f"<{1 + len(messages)}I", len(messages), *map(len, messages)))
        out.writelines(messages)


def run(plan: Plan, record: rec.Record) -> None:
    out_dir = os.path.dirname(plan.record)
    exe = build(out_dir, plan.tls)
    messages = plan.record + ".messages"
    write_messages(messages, plan.frames)
    host, port = plan.host_port
    args = [exe, host, str(port), str(plan.forks), str(plan.frames), str(plan.warmup),
            plan.record, messages] + ([plan.ca_file] if plan.tls else [])
    record.close()
    os.execv(exe, args)
