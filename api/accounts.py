"""Credentials beside the event log: argon2 password hashes, hashed API keys, and the counters
of the rate limits.

Grants and revocations are events of the `Account` aggregate; this store only keeps the
secrets' hashes, so a leaked log reveals no credential and a rotated secret leaves no trace.
API keys are high-entropy random tokens (`cl_<id>_<secret>`), so a SHA-256 of the secret is
enough and keeps key checks fast; passwords get argon2 (pwdlib). The rate limits' counters live
here too, in the one database every worker process shares, so that the limits hold for the
server as a whole rather than per process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg
from pwdlib import PasswordHash

from api.settings import Settings
from api.storage import setup_lock
from projections.store import switch_to_wal

PASSWORDS = PasswordHash.recommended()
# A hash to verify against when the user does not exist, so timing does not reveal names.
_DUMMY_HASH = PASSWORDS.hash("caseline-timing-equaliser")


class CredentialStore:
    """Password hashes by account name and API keys by key id (SQLite or PostgreSQL)."""

    def __init__(self, settings: Settings) -> None:
        self._lock = threading.Lock()
        self._postgres = settings.database_url is not None
        if settings.database_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._db: Any = sqlite3.connect(
                Path(settings.data_dir) / "credentials.sqlite", check_same_thread=False, isolation_level=None
            )
            # WAL: a key check never waits for a rate-limit count being written, and a count syncs
            # once rather than for a rollback journal's several steps.
            switch_to_wal(self._db)
            self._prefix = ""
        else:
            self._db = psycopg.connect(settings.database_url, autocommit=True)
            self._prefix = f'"{settings.database_schema}".' if settings.database_schema else ""
        self._pruned = 0
        with setup_lock(settings):
            if self._postgres and settings.database_schema:
                self._db.execute(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"')
            self._run(
                f"CREATE TABLE IF NOT EXISTS {self._prefix}caseline_passwords "
                "(name TEXT PRIMARY KEY, password_hash TEXT NOT NULL)"
            )
            self._run(
                f"CREATE TABLE IF NOT EXISTS {self._prefix}caseline_api_keys "
                "(key_id TEXT PRIMARY KEY, account TEXT NOT NULL, secret_sha256 TEXT NOT NULL, "
                "revoked INTEGER NOT NULL DEFAULT 0)"
            )
            self._run(
                f"CREATE TABLE IF NOT EXISTS {self._prefix}caseline_rate_hits "
                "(purpose TEXT NOT NULL, client TEXT NOT NULL, minute BIGINT NOT NULL, "
                "hits INTEGER NOT NULL, PRIMARY KEY (purpose, client, minute))"
            )

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self._postgres:
            sql = sql.replace("?", "%s")
        with self._lock:
            cursor = self._db.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    def set_password(self, name: str, password: str) -> None:
        digest = PASSWORDS.hash(password)
        self._run(
            f"INSERT INTO {self._prefix}caseline_passwords (name, password_hash) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
            (name, digest),
        )

    def check_password(self, name: str, password: str) -> bool:
        rows = self._run(
            f"SELECT password_hash FROM {self._prefix}caseline_passwords WHERE name = ?", (name,)
        )
        if not rows:
            PASSWORDS.verify(password, _DUMMY_HASH)
            return False
        return bool(PASSWORDS.verify(password, rows[0][0]))

    def create_api_key(self, account: str) -> tuple[str, str]:
        """A new key for `account`: returns (key id, the full key to hand over once)."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        self._run(
            f"INSERT INTO {self._prefix}caseline_api_keys (key_id, account, secret_sha256) VALUES (?, ?, ?)",
            (key_id, account, hashlib.sha256(secret.encode()).hexdigest()),
        )
        return key_id, f"cl_{key_id}_{secret}"

    def revoke_api_key(self, key_id: str) -> None:
        self._run(f"UPDATE {self._prefix}caseline_api_keys SET revoked = 1 WHERE key_id = ?", (key_id,))

    def account_for_key(self, key: str) -> str | None:
        """The account a presented key belongs to, or None if it is unknown, wrong or revoked."""
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "cl" or len(key) > 200:
            return None
        rows = self._run(
            f"SELECT account, secret_sha256, revoked FROM {self._prefix}caseline_api_keys WHERE key_id = ?",
            (parts[1],),
        )
        if not rows:
            return None
        account, digest, revoked = rows[0]
        presented = hashlib.sha256(parts[2].encode()).hexdigest()
        if revoked or not hmac.compare_digest(presented, digest):
            return None
        return str(account)

    def count_hit(self, purpose: str, client: str, minute: int) -> int:
        """Count one more request of `client` for `purpose` in `minute`; returns the minute's count.

        One atomic upsert, so concurrent workers never lose a hit; minutes already over are
        deleted the first time this process sees a new one."""
        if minute != self._pruned:
            self._pruned = minute
            self._run(f"DELETE FROM {self._prefix}caseline_rate_hits WHERE minute < ?", (minute,))
        rows = self._run(
            f"INSERT INTO {self._prefix}caseline_rate_hits AS t (purpose, client, minute, hits) "
            "VALUES (?, ?, ?, 1) ON CONFLICT (purpose, client, minute) DO UPDATE SET hits = t.hits + 1 "
            "RETURNING hits",
            (purpose, client, minute),
        )
        return int(rows[0][0])

    def close(self) -> None:
        self._db.close()
