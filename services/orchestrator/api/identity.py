"""Who is calling: bearer tokens (signed JWTs) checked with PyJWT, and the roles they carry.

Two key sources, one check: a public key file (the local issuer of `make run`,
`foundation.tokens`) or an OIDC provider's JWKS (clusters; keys fetched and cached by
PyJWT's `PyJWKClient`, refetched when a token names a key id it has not seen). Either way
the signature, `exp`, `iss` and `aud` are required and verified, only asymmetric algorithms
are accepted (a token can never choose `none` or an HMAC keyed with the public key), and the
roles come from one claim (`roles` by default; a dotted path such as `realm_access.roles`
reaches into a provider's nested claim).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

# Asymmetric only: the key material the API holds is public.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
# Clock skew tolerated on `exp`, `nbf` and `iat`.
LEEWAY_SECONDS = 30


class Role(StrEnum):
    """What a caller may do (docs/api.md, "Identities and roles")."""

    VIEWER = "viewer"  # read runs, history, approvals, stock
    OPERATOR = "operator"  # read everything, change runs, place and cancel orders, replay
    APPROVER = "approver"  # read what a viewer reads, decide approvals


@dataclass(frozen=True)
class Identity:
    """The verified caller: the token's subject and the platform roles it holds."""

    subject: str
    roles: frozenset[Role]
    name: str | None = None

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)


# The identity of every call when authentication is turned off (AUTH_DISABLED=true).
ANONYMOUS = Identity("anonymous", frozenset(Role), None)


class InvalidToken(Exception):
    """The token is missing a claim, expired, not for this API, or not signed by the issuer."""


class TokenVerifier:
    """Checks tokens of one issuer for one audience, with a key file or a JWKS URL."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        public_key_file: Path | None = None,
        jwks_url: str | None = None,
        roles_claim: str = "roles",
        algorithms: Sequence[str] = ALGORITHMS,
    ) -> None:
        if (public_key_file is None) == (jwks_url is None):
            raise ValueError("give exactly one of a public key file and a JWKS URL")
        unsafe = set(algorithms) - set(ALGORITHMS)
        if unsafe:
            raise ValueError(f"algorithms not allowed: {', '.join(sorted(unsafe))}")
        self.issuer = issuer
        self.audience = audience
        self.roles_claim = roles_claim
        self.algorithms = list(algorithms)
        self._key: bytes | None = None
        self._jwks: jwt.PyJWKClient | None = None
        if public_key_file is not None:
            self._key = public_key_file.read_bytes()
        else:
            self._jwks = jwt.PyJWKClient(str(jwks_url), cache_keys=True, lifespan=300, timeout=5)

    def verify(self, token: str) -> Identity:
        """The token's identity, or `InvalidToken` saying why not."""
        try:
            key: Any = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._key
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError as error:
            raise InvalidToken(f"the issuer's keys cannot be fetched: {error}") from None
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        subject = str(claims["sub"]).strip()
        if not subject:
            raise InvalidToken("the token's subject is empty")
        name = claims.get("name") or claims.get("preferred_username")
        return Identity(subject, roles_of(claims, self.roles_claim), str(name) if name else None)


def roles_of(claims: dict[str, Any], claim: str) -> frozenset[Role]:
    """The platform roles in `claim` (a dotted path; a list, or a space-separated string as
    OAuth scopes are); names the platform does not know are ignored."""
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    names = value.split() if isinstance(value, str) else value
    if not isinstance(names, list):
        return frozenset()
    known = {role.value: role for role in Role}
    return frozenset(known[name] for name in names if isinstance(name, str) and name in known)
