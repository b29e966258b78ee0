"""Cognito JWT verification for REST (DRF) and WebSockets (Channels).

A token is accepted only if its RS256 signature verifies against the pool's JWKS, it has not
expired, its issuer is the pool, it is an *access* token, and it was issued to our app client.
`clientId` is the token's `sub` — never anything the caller sends in a body (docs/rules.md).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from tulip import logs

log = logging.getLogger("tulip.auth")

TRADER_GROUP = "traders"
STAFF_GROUP = "ops"
# Clock skew allowed on exp/iat between us and the token issuer (docs/rules.md, clock independence:
# clocks only approximately agree); short so an expired token stays expired.
LEEWAY_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller. DRF sets request.user to this."""

    client_id: str
    username: str
    groups: frozenset[str]

    is_authenticated = True

    @property
    def is_trader(self) -> bool:
        return TRADER_GROUP in self.groups

    @property
    def is_staff(self) -> bool:
        return STAFF_GROUP in self.groups


class TokenRejected(Exception):
    """The token is missing, malformed, forged, expired or not for us. Message is safe to show."""


_jwks_lock = threading.Lock()
_jwks_clients: dict[str, jwt.PyJWKClient] = {}


def _jwks_client(url: str) -> jwt.PyJWKClient:
    # One cached client per JWKS URL: keys are fetched once and refreshed on an unknown kid.
    with _jwks_lock:
        client = _jwks_clients.get(url)
        if client is None:
            client = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)
            _jwks_clients[url] = client
        return client


def verify_token(token: str) -> Principal:
    cfg = settings.TULIP
    if not cfg.cognito_jwks_url or not cfg.cognito_app_client_id:
        log.error("Cognito is not configured; rejecting every token")
        raise TokenRejected("Authentication is not configured.")
    try:
        signing_key = _jwks_client(cfg.cognito_jwks_url).get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError:
        log.warning("JWKS endpoint unreachable")
        raise TokenRejected("Token keys are unavailable; retry shortly.") from None
    except (jwt.PyJWKClientError, jwt.DecodeError):
        raise TokenRejected("The token is malformed or signed with an unknown key.") from None
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            issuer=cfg.cognito_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "sub", "token_use"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("The token has expired.") from None
    except jwt.InvalidIssuerError:
        raise TokenRejected("The token was not issued by this user pool.") from None
    except jwt.InvalidTokenError:
        raise TokenRejected("The token is invalid.") from None
    if claims.get("token_use") != "access":
        raise TokenRejected("An access token is required (token_use must be 'access').")
    if claims.get("client_id") != cfg.cognito_app_client_id:
        raise TokenRejected("The token was issued to another app client.")
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise TokenRejected("The token has no subject.")
    groups = claims.get("cognito:groups") or []
    return Principal(
        client_id=sub,
        username=str(claims.get("username", "")),
        groups=frozenset(str(g) for g in groups) if isinstance(groups, list) else frozenset(),
    )


class CognitoJWTAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Principal, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <access token>'.")
        try:
            principal = verify_token(token.strip())
        except TokenRejected as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        logs.bind(clientId=principal.client_id)
        return principal, token

    def authenticate_header(self, request: Request) -> str:
        # Having a challenge makes DRF answer 401 (not 403) when credentials are missing.
        return 'Bearer realm="tulip"'


class InGroup(permissions.BasePermission):
    """Authenticated with a verified token (else 401) and a member of `group` (else 403)."""

    group = ""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, Principal):
            raise exceptions.NotAuthenticated("Authentication is required: send a Bearer token.")
        return self.group in user.groups


class IsTrader(InGroup):
    group = TRADER_GROUP
    message = "This account may not trade (not in the 'traders' group)."


class IsStaff(InGroup):
    group = STAFF_GROUP
    message = "Staff only (the 'ops' group)."
