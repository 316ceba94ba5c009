"""POST Call/ (SPEC §2.3) with the RTP ingress: the call gets its ports, streams run on it,
bad fields are 400 naming them. Needs the plane's register_call with the ingress hub."""

from __future__ import annotations

import pytest

from tests.control.api.helpers import assert_error, base, register_call, start, wait_for


def test_register_an_rtp_call_and_stream_it(client, live, account):
    call = register_call(client, account)
    assert {"call_uuid", "rtp_host", "inbound_port", "outbound_port"} <= set(call)
    assert call["inbound_port"] != call["outbound_port"]
    # the 201 names the call it created, on the base the request came in on
    named = f"located-{client.kind}"
    response = client.post(f"{base(account, alias=True)}/Call", headers=account.headers,
                           data={"ingress": "rtp", "call_uuid": named})
    assert response.status_code == 201, response.text
    location = response.headers["location"]
    assert location == f"{base(account, alias=True)}/Call/{named}/"
    assert client.get(location, headers=account.headers).json()["call_uuid"] == named
    assert client.delete(location, headers=account.headers).status_code == 204
    stream = start(client, account, call["call_uuid"], live.ws_url + "/rtp")
    wait_for(lambda: client.get(f"{base(account)}/Call/{call['call_uuid']}/Stream/{stream}/",
                                headers=account.headers).json()["status"] == "in-progress",
             what="the stream to carry audio")
    assert client.delete(f"{base(account)}/Call/{call['call_uuid']}/",
                         headers=account.headers).status_code == 204


@pytest.mark.parametrize("body, words", [
    ({"ingress": "carrier-pigeon"}, "ingress"),
    ({"ingress": "rtp", "codec": "G729"}, "codec"),
    ({"ingress": "rtp", "sample_rate": 44100}, "sample_rate"),
    ({"ingress": "rtp", "rtp_remote": "nowhere"}, "rtp_remote"),
])
def test_register_call_rejects_bad_fields(h1, account, body, words):
    assert_error(h1.post(f"{base(account)}/Call/", headers=account.headers, json=body), 400,
                 words)
