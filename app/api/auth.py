"""Bearer tokens with roles viewer < allocator < admin, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from app.config import ApiKey, Role, Settings
from app.domain.errors import Forbidden, Unauthorized

log = logging.getLogger("vouchers.auth")

RANK: dict[Role, int] = {"viewer": 0, "allocator": 1, "admin": 2}
TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret


@dataclass(frozen=True)
class Principal:
    user: str
    role: Role

    def require(self, role: Role) -> None:
        if RANK[self.role] < RANK[role]:
            raise Forbidden(f"This needs the {role} role; the token has {self.role}.")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class Authenticator:
    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = [(_digest(k.token), Principal(k.user, k.role)) for k in keys]

    def authenticate(self, header: str | None) -> Principal:
        if header is None:
            raise Unauthorized("Send Authorization: Bearer <token>.")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send Authorization: Bearer <token>.")
        presented = _digest(token.strip())
        found: Principal | None = None
        for digest, principal in self._keys:  # every key is compared, match or not
            if hmac.compare_digest(digest, presented):
                found = principal
        if found is None:
            raise Unauthorized("The token is not valid.")
        return found


def resolve_api_keys(settings: Settings) -> list[ApiKey]:
    """The configured keys, or one admin token created once and kept in the data dir."""
    if settings.api_keys:
        return settings.api_keys
    token = _read_or_create_token(admin_token_path(settings))
    return [ApiKey(token=token, role="admin", user="admin@localhost")]


def admin_token_path(settings: Settings) -> Path:
    return (settings.data_dir / TOKEN_FILE).resolve()


def _read_or_create_token(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token
