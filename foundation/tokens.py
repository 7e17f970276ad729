"""The local token issuer of a single-machine run: one signing key in the data folder, and
the bearer tokens it signs.

In a cluster an OIDC provider issues the management API's tokens; on a laptop (`make run`,
the e2e suite, the demo) there is none, so the process that starts the platform generates an
ES256 key pair on first run (`<data-dir>/auth/`), gives the orchestrator the public half
(`AUTH_PUBLIC_KEY_FILE`) and mints tokens with the private half. Tokens carry the standard
claims (`iss`, `aud`, `sub`, `iat`, `exp`) and the roles in `roles`, as an OIDC provider
configured for the platform would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

LOCAL_ISSUER = "saga-platform-local"
API_AUDIENCE = "saga-api"
ALGORITHM = "ES256"
ROLES_CLAIM = "roles"
PRIVATE_KEY_FILE = "signing-key.pem"
PUBLIC_KEY_FILE = "signing-key.pub.pem"
# A local token outlives a working day, not a week: `make run` prints fresh ones each start.
DEFAULT_TTL_SECONDS = 12 * 3600


@dataclass(frozen=True)
class LocalIssuer:
    """The key pair under `folder` (created on first use) and the tokens it signs."""

    folder: Path
    issuer: str = LOCAL_ISSUER
    audience: str = API_AUDIENCE

    @property
    def private_key_file(self) -> Path:
        return self.folder / PRIVATE_KEY_FILE

    @property
    def public_key_file(self) -> Path:
        return self.folder / PUBLIC_KEY_FILE

    def ensure_key(self) -> LocalIssuer:
        """Generates the key pair unless it exists; the private key is readable by its
        owner only (it mints any role)."""
        if self.private_key_file.exists() and self.public_key_file.exists():
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor = os.open(self.private_key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(private)
        self.public_key_file.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return self

    def mint(
        self,
        subject: str,
        roles: Iterable[str],
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        name: str | None = None,
    ) -> str:
        """A signed token for `subject` with `roles`."""
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "exp": now + int(ttl_seconds),
            ROLES_CLAIM: sorted(set(roles)),
        }
        if name:
            claims["name"] = name
        return jwt.encode(claims, self.private_key_file.read_bytes(), algorithm=ALGORITHM)

    def orchestrator_env(self) -> dict[str, str]:
        """What the orchestrator needs to check this issuer's tokens."""
        return {
            "AUTH_PUBLIC_KEY_FILE": str(self.public_key_file),
            "AUTH_ISSUER": self.issuer,
            "AUTH_AUDIENCE": self.audience,
        }


def local_issuer(data_dir: Path) -> LocalIssuer:
    """The local issuer of the platform whose data lives in `data_dir`."""
    return LocalIssuer(data_dir / "auth").ensure_key()
