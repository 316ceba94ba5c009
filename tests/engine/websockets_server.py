"""A `websockets` (asyncio) TLS server in its own process, for engine tests: prints its port,
writes every connection's request headers and messages as JSON lines to a file, and exits
after the first connection closes (or after a time limit).

    python -m tests.engine.websockets_server CERT_PEM KEY_PEM OUT_FILE
"""

import asyncio
import json
import ssl
import sys

from websockets.asyncio.server import serve

LIMIT_S = 30


async def main(cert: str, key: str, out_path: str) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    done = asyncio.Event()

    async def handler(ws):
        with open(out_path, "a") as out:
            out.write(json.dumps({"headers": dict(ws.request.headers.raw_items()),
                                  "path": ws.request.path}) + "\n")
            try:
                async for message in ws:
                    out.write(json.dumps({"message": json.loads(message)}) + "\n")
            finally:
                out.write(json.dumps({"close_code": ws.close_code}) + "\n")
                done.set()

    async with serve(handler, "127.0.0.1", 0, ssl=ctx) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        try:
            await asyncio.wait_for(done.wait(), LIMIT_S)
        except asyncio.TimeoutError:
            pass


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
