"""429 (per-account token bucket) and 503 (engine at capacity) over real sockets, on a daemon
configured with small limits."""

from __future__ import annotations

import pytest

from tests.control.api.conftest import LiveDaemon, client_for, settings_for
from tests.control.api.helpers import assert_error, base, start, wait_for


@pytest.fixture(scope="module")
def small(tmp_path_factory, certs):
    server = LiveDaemon(settings_for(tmp_path_factory.mktemp("small"), certs, max_streams=1,
                                     rate_limit_per_s=0.01, rate_limit_burst=4), certs).start()
    yield server
    server.stop()


@pytest.mark.parametrize("kind", ["h1", "h2c", "h2-tls"])
def test_engine_full_is_503_with_retry_after(small, kind):
    account = small.account()
    call = small.open_call(account)
    with client_for(small, kind) as client:
        stream = start(client, account, call, small.ws_url + "/only")
        response = client.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                               json={"service_url": small.ws_url + "/second"})
        assert_error(response, 503, "limit")
        assert int(response.headers["retry-after"]) >= 1
        client.delete(f"{base(account)}/Call/{call}/Stream/{stream}/", headers=account.headers)
        # (the account's 4 requests are spent: watch the engine, not the API)
        wait_for(lambda: small.run_sync(lambda: small.running.engine.get(stream).status.ended),
                 what="the stream to end")


@pytest.mark.parametrize("kind", ["h1", "h2c", "h2-tls"])
def test_rate_limit_is_per_account_429_with_retry_after(small, kind):
    busy, calm = small.account(), small.account()
    with client_for(small, kind) as client:
        for _ in range(4):  # the burst
            assert client.get(f"{base(busy)}/Usage/Stream/", headers=busy.headers
                              ).status_code == 200
        response = client.get(f"{base(busy)}/Usage/Stream/", headers=busy.headers)
        assert_error(response, 429, "Too many requests")
        assert int(response.headers["retry-after"]) >= 1
        # another account is not affected
        assert client.get(f"{base(calm)}/Usage/Stream/", headers=calm.headers
                          ).status_code == 200
