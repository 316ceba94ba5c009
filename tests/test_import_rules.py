"""The import rule of ARCHITECTURE.md, checked on the source: control -> mediacore.engine ->
mediacore.{wire, ingress, codec, ...} -> mediacore._native. Nothing in mediacore imports
control; the sans-IO and native-face modules import neither Trio nor a clock."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# modules that must stay free of I/O frameworks and clocks
PURE = ("mediacore/wire", "mediacore/codec", "mediacore/resample", "mediacore/jitter",
        "mediacore/framing", "mediacore/_native", "mediacore/ingress/rtp",
        "mediacore/ingress/rtp_receiver", "mediacore/ingress/rtp_playback",
        "mediacore/ingress/telephone_event", "mediacore/ingress/audiosocket")
# the sans-IO ingress modules may import each other, never the Trio ones
PURE_INGRESS = tuple(p.replace("/", ".") for p in PURE if p.startswith("mediacore/ingress/"))
IO_MODULES = {"trio", "anyio", "asyncio", "socket", "time", "datetime", "ssl", "selectors"}


def sources(*roots):
    for root in roots:
        base = ROOT / root
        if base.is_dir():
            yield from sorted(base.rglob("*.py"))
            yield from sorted(base.rglob("*.pyx"))
        for suffix in (".py", ".pyx"):
            if base.with_suffix(suffix).is_file():
                yield base.with_suffix(suffix)


def imported(path):
    """Top-level names a file imports (Cython files are scanned line by line)."""
    text = path.read_text()
    if path.suffix == ".pyx":
        names = set()
        for line in text.splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from", "cimport"):
                names.add(words[1])
        return names
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_package_has_sources_to_check():
    assert any(sources("mediacore"))


@pytest.mark.parametrize("path", list(sources("mediacore")), ids=lambda p: str(p.relative_to(ROOT)))
def test_mediacore_never_imports_control(path):
    assert not {n for n in imported(path) if n == "control" or n.startswith("control.")}


# The fan-out kernel is the engine's socket writer, in C (send(2), the TLS object's write, a
# monotonic clock for its write log), the native TLS client its TLS layer (OpenSSL on the
# engine's sockets), the OS timer its media clock's wait, and the call step its tick per call
# (it drives the fan-out kernel): native, but I/O by design; only the engine uses them.
ENGINE_IO_NATIVE = ("mediacore/_native/fanout.pyx", "mediacore/_native/tls.pyx",
                    "mediacore/_native/timer.pyx", "mediacore/_native/calltick.pyx")


def pure_sources():
    return [p for p in sources(*PURE) if p.relative_to(ROOT).as_posix() not in ENGINE_IO_NATIVE]


@pytest.mark.parametrize("path", pure_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_modules_import_no_io_or_clock(path):
    bad = {n for n in imported(path) if n.split(".")[0] in IO_MODULES}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", list(sources(*PURE)), ids=lambda p: str(p.relative_to(ROOT)))
def test_lower_layers_never_import_the_engine_or_ingress(path):
    up = {n for n in imported(path)
          if n.startswith(("mediacore.engine", "mediacore.ingress")) and n not in PURE_INGRESS}
    assert not up, f"{path.relative_to(ROOT)} imports {sorted(up)}"


@pytest.mark.parametrize("path", list(sources("mediacore")), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_engine_uses_the_fanout_kernel_and_native_tls(path):
    rel = path.relative_to(ROOT).as_posix()
    if rel.startswith("mediacore/engine/") or rel in ENGINE_IO_NATIVE:
        return
    assert not {"mediacore._native.fanout", "mediacore._native.tls",
                "mediacore._native.timer", "mediacore._native.calltick"} & imported(path)


def control_violations(path):
    return {n for n in imported(path)
            if n.startswith(("mediacore._native", "mediacore.wire", "mediacore.ingress"))
            or (n.startswith("mediacore.engine.") and n.split(".")[2].startswith("_"))}


def test_control_uses_only_the_engine_api():
    """control may import mediacore, mediacore.engine and the typed faces the engine API
    exposes (codec formats), never the native core, the wire or ingress layers, or the
    engine's private modules."""
    bad = {str(p.relative_to(ROOT)): control_violations(p) for p in sources("control")}
    assert not {k: v for k, v in bad.items() if v}


def test_the_checker_sees_violations(tmp_path):
    """The rules above are only worth something if `imported` finds what they look for."""
    py = tmp_path / "m.py"
    py.write_text("import trio\nfrom control.api import app\nfrom mediacore._native import x\n")
    pyx = tmp_path / "m.pyx"
    pyx.write_text("from time cimport y\nimport control\n")
    assert imported(py) == {"trio", "control.api", "mediacore._native"}
    assert imported(pyx) == {"time", "control"}
    assert control_violations(py) == {"mediacore._native"}
