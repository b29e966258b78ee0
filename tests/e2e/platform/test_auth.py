"""Auth over real HTTP against the running stack: every way a token can be wrong is a 401 with the
contract error body; a valid token without trading rights is a 403."""

from __future__ import annotations

import time

import pytest

from tests.support.stack import StackHandle

PROTECTED = "/orders"


def _assert_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["correlationId"] == response.headers["X-Correlation-Id"]
    assert "Traceback" not in response.text


def test_valid_trader_token_is_accepted(stack: StackHandle) -> None:
    with stack.http(stack.token("alice")) as http:
        assert http.get(PROTECTED).status_code == 200
        assert http.get("/readyz").status_code == 200


def test_missing_token_is_401(stack: StackHandle) -> None:
    with stack.http() as http:
        response = http.get(PROTECTED)
    _assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer", "Basic YWxpY2U6eA==", "Bearer not.a.jwt", "Token x"])
def test_malformed_authorization_is_401(stack: StackHandle, header: str) -> None:
    with stack.http() as http:
        _assert_error(http.get(PROTECTED, headers={"Authorization": header}), 401, "unauthorized")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},  # expired
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},  # other pool
        {"token_use": "id"},  # an id token is not an access token
        {"client_id": "some-other-app"},  # issued to another app client
        {"exp": None},  # no expiry at all
    ],
    ids=["expired", "wrong-issuer", "id-token", "wrong-client", "no-exp"],
)
def test_wrong_claim_is_401(stack: StackHandle, claims: dict[str, object]) -> None:
    with stack.http(stack.forge_token(**claims)) as http:
        _assert_error(http.get(PROTECTED), 401, "unauthorized")


def test_forged_signature_is_401(stack: StackHandle) -> None:
    header, payload, signature = stack.token("alice").split(".")
    tampered = payload[:-4] + ("AAAA" if not payload.endswith("AAAA") else "BBBB")
    with stack.http(f"{header}.{tampered}.{signature}") as http:
        _assert_error(http.get(PROTECTED), 401, "unauthorized")


def test_token_signed_by_another_key_is_401(stack: StackHandle) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": f"https://cognito-idp.us-east-1.amazonaws.com/"
                     f"{stack.env['COGNITO_USER_POOL_ID']}",
              "sub": "x", "client_id": stack.env["COGNITO_APP_CLIENT_ID"],
              "token_use": "access", "exp": int(time.time()) + 600}
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "dummy"})
    with stack.http(forged) as http:
        _assert_error(http.get(PROTECTED), 401, "unauthorized")


def test_invalid_token_on_anonymous_endpoint_is_still_401(stack: StackHandle) -> None:
    with stack.http("garbage") as http:
        _assert_error(http.get("/readyz"), 401, "unauthorized")


def test_valid_token_without_trader_rights_is_403(stack: StackHandle) -> None:
    with stack.http(stack.token("ops")) as http:
        _assert_error(http.get(PROTECTED), 403, "forbidden")
    with stack.http(stack.forge_token(**{"cognito:groups": None})) as http:
        _assert_error(http.get(PROTECTED), 403, "forbidden")


def test_client_id_is_the_token_subject(stack: StackHandle) -> None:
    forged = stack.forge_token(sub="11111111-2222-4333-8444-555555555555")
    with stack.http(forged) as http:
        response = http.get(PROTECTED)
    assert response.status_code == 200
    assert response.json()["items"] == []
