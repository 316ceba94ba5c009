"""Build the native core: every ``mediacore/_native/*.pyx`` becomes one extension module.

A ``.pyx`` names the hand-written C files it needs in a ``# distutils: sources = ...``
comment, so adding a module needs no change here.

Build switches (environment variables, read at build time):

- ``MEDIACORE_DEBUG=1``: ``-O0 -g3``, assertions on, Cython bounds and wrap-around checks.
- ``MEDIACORE_SANITIZE=address`` (or ``undefined``, or ``address,undefined``): compile and link
  with the sanitizers. Run the tests with the sanitizer runtime preloaded, e.g.
  ``LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 pytest tests/native``.
- ``MEDIACORE_ANNOTATE=1``: write Cython's HTML annotation next to each ``.pyx``.
- ``MEDIACORE_NO_AVX2=1``: leave out the hand-written AVX2 kernels (portable C only).
- ``MEDIACORE_NO_OPENSSL=1``: leave out the native TLS client (``tls.pyx``); the engine then
  uses the stdlib's ``ssl`` module for wss. It is also left out, with a note, when the OpenSSL
  headers (Debian: ``libssl-dev``) are not there.
"""

import glob
import os
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup


def flag(name):
    return os.environ.get(name, "") not in ("", "0", "false", "no")


debug = flag("MEDIACORE_DEBUG")
sanitize = os.environ.get("MEDIACORE_SANITIZE", "").strip()

compile_args = ["-std=c11", "-fno-strict-aliasing", "-ffp-contract=off", "-Wall", "-Wextra",
                "-Wno-unused-parameter", "-Wno-unused-function", "-Wno-missing-field-initializers"]
link_args = []
macros = []
if sys.platform == "win32":
    compile_args = []
if debug:
    compile_args += ["-O0", "-g3", "-UNDEBUG"]
else:
    compile_args += ["-O3"]
if sanitize:
    compile_args += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g"]
    link_args += [f"-fsanitize={sanitize}"]
if flag("MEDIACORE_NO_AVX2"):
    macros.append(("MC_NO_AVX2", "1"))


def have_openssl_headers():
    """Whether a C file including OpenSSL's headers and calling into libssl compiles and links."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.errors import CompileError, LinkError
    from setuptools._distutils.sysconfig import customize_compiler

    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("#include <openssl/ssl.h>\nint main(void) { return SSL_CTX_new(0) != 0; }\n")
        try:
            objects = compiler.compile([src], output_dir=tmp)
            compiler.link_executable(objects, os.path.join(tmp, "probe"),
                                     libraries=["ssl", "crypto"])
        except (CompileError, LinkError):
            return False
    return True


sources = sorted(glob.glob("mediacore/_native/*.pyx"))
if flag("MEDIACORE_NO_OPENSSL") or not have_openssl_headers():
    print("mediacore: building without the native TLS client (no OpenSSL headers, or "
          "MEDIACORE_NO_OPENSSL); wss uses the stdlib ssl module", file=sys.stderr)
    sources.remove("mediacore/_native/tls.pyx")

extensions = [
    Extension(
        "mediacore._native." + os.path.splitext(os.path.basename(pyx))[0],
        [pyx],
        include_dirs=["mediacore/_native"],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        define_macros=macros,
    )
    for pyx in sources
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        annotate=flag("MEDIACORE_ANNOTATE"),
        compiler_directives={
            "boundscheck": debug,
            "wraparound": debug,
            "initializedcheck": debug,
            "cdivision": True,
            "embedsignature": True,
        },
    ),
)
