"""Coverage-guided fuzzing of the server→engine parser with atheris.

    python -m tests.wire.fuzz_parse -runs=200000          # bounded run
    python -m tests.wire.fuzz_parse -max_total_time=600   # longer, by time

The property: whatever bytes arrive, `parse_plivo` and `parse_twilio` return an event or
None, or raise WireProtocolError; any other exception is a crash that atheris reports with
the input that caused it. tests/wire/test_fuzz.py runs a short bounded session in CI.
"""

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports(include=["mediacore", "json", "binascii"]):
    from mediacore.wire.errors import WireProtocolError
    from mediacore.wire.parse import parse_plivo, parse_twilio

SEEDS = [
    b'{"event":"playAudio","media":{"contentType":"audio/x-l16","sampleRate":"16000",'
    b'"payload":"AAAA"}}',
    b'{"event":"checkpoint","streamId":"s","name":"n"}',
    b'{"event":"sendDTMF","dtmf":"12#"}',
    b'{"event":"media","media":{"payload":"/w=="}}',
    b'{"event":"mark","mark":{"name":"x"}}',
]


def one_input(data: bytes) -> None:
    for parse in (parse_plivo, parse_twilio):
        try:
            parse(data)
        except WireProtocolError:
            pass


def main(argv: list[str]) -> None:
    # Start from valid messages: an empty (or no) corpus directory gets the seeds.
    dirs = [arg for arg in argv[1:] if not arg.startswith("-")]
    if not dirs:
        dirs = [os.path.join(tempfile.gettempdir(), "mediacore-wire-corpus")]
        argv = [*argv, dirs[0]]
    os.makedirs(dirs[0], exist_ok=True)
    if not os.listdir(dirs[0]):
        for i, seed in enumerate(SEEDS):
            with open(os.path.join(dirs[0], f"seed{i}"), "wb") as f:
                f.write(seed)
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
