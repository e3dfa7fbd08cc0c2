"""Tokens: short-lived JWTs (HS256 pinned; `exp`, `sub`, `aud` required) and who is asking."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from domain.rules import Actor, Role

AUDIENCE = "caseline"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    """The caller: a signed-in account, a machine with an API key, or the anonymous public."""

    name: str
    role: Role
    department: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(self.name, role=self.role)

    def at_least(self, *roles: Role) -> bool:
        return self.role in roles


ANONYMOUS = Principal("public", Role.PUBLIC)


def load_secret(configured: str | None, data_dir: Path) -> str:
    """The signing secret: configured, or generated once and kept (0600) in the data folder."""
    if configured:
        if len(configured) < 32:
            raise ValueError("CASELINE_JWT_SECRET must be at least 32 characters")
        return configured
    path = data_dir / "jwt.secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret


def issue_token(name: str, *, secret: str, minutes: int, now: datetime | None = None) -> str:
    moment = now or datetime.now(tz=UTC)
    claims = {"sub": name, "aud": AUDIENCE, "iat": moment, "exp": moment + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str) -> str | None:
    """The subject of a valid token, or None (bad signature, expired, wrong audience, alg=none…)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) else None
