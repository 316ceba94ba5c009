"""/openapi.json matches what the API does: schemathesis generates requests from it (valid
and invalid, JSON and form bodies) against the live daemon and checks that nothing answers
5xx, that every status code, header, content type and body is the documented one. A bounded
number of examples per operation keeps it to seconds."""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(live):
    # the fuzzing phase (bounded by max_examples below); the coverage phase's exhaustive
    # boundary cases would take minutes
    config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
    return schemathesis.openapi.from_url(f"{live.http_url}/openapi.json", config=config)


@pytest.fixture(scope="module")
def schema_call(live, account):
    return live.open_call(account)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(max_examples=10, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_api_conforms_to_its_openapi_document(case, live, account, schema_call):
    # half the cases act on the real account and call, so more than 401/404 is exercised
    if case.path_parameters and hash(repr(case.body)) % 2 == 0:
        if "auth_id" in case.path_parameters:
            case.path_parameters["auth_id"] = account.auth_id
        if "call_uuid" in case.path_parameters and case.method != "DELETE":
            case.path_parameters["call_uuid"] = schema_call
    case.call_and_validate(headers=account.headers, checks=CHECKS)


def test_document_describes_both_body_encodings_and_errors(live, api_schema):
    import httpx

    document = httpx.get(f"{live.http_url}/openapi.json").json()
    start = document["paths"]["/v1/Account/{auth_id}/Call/{call_uuid}/Stream/"]["post"]
    assert set(start["requestBody"]["content"]) == {"application/json",
                                                    "application/x-www-form-urlencoded"}
    assert {"202", "400", "401", "404", "405", "413", "429", "503"} <= set(start["responses"])
    assert "422" not in str(document)
