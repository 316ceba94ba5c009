"""Independent references for the native core, used by tests only: audioop (Python < 3.13)
or audioop-lts (>= 3.13) for G.711, numpy for arithmetic and spectra."""

import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: F401  (audioop-lts provides the same module name on 3.13+)

assert sys.version_info >= (3, 11)
