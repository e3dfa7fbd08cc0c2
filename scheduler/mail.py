"""E-mail delivery of inbox rows: optional, through SMTP, at most one message per row.

Each row is claimed in a transaction before anything is sent (a row in `email_deliveries`
keyed by the inbox row's key), so two schedulers never both send it; the claim is marked
`sent`, `failed` (retried up to a few attempts) or `no_address` afterwards. A claim whose
process died before finishing is taken over after a lease (15 minutes by default), so a
crash delays a message rather than losing it. The table lives beside the views but is not a
view: a rebuild leaves it alone, which is what keeps delivery idempotent across rebuilds.

Messages carry only the inbox row's text (issue numbers, levels, deadlines, officials'
names): never a resident's name, contact details or words. Logs name rows by key only.
"""

from __future__ import annotations

import hashlib
import smtplib
import weakref
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from types import TracebackType
from typing import Any, Protocol
from uuid import uuid4

from projections.inbox import COLUMNS, created_at
from projections.store import ViewDB, iso

TABLE = """
CREATE TABLE IF NOT EXISTS email_deliveries (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    claim TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    claimed_at TEXT NOT NULL,
    finished_at TEXT,
    error TEXT
)"""

SUBJECTS = {
    "reminder": "Deadline reminder",
    "escalation": "Issue escalated",
    "committee": "Issue referred to the standing committee",
    "duty": "Recurring duty",
}


class Mailer(Protocol):
    """Sends one message; raises `smtplib.SMTPException` or `OSError` when it could not."""

    sender: str

    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """An SMTP client that keeps one connection for a run of messages (use it as a context manager)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.username = username
        self.password = password
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        try:
            self._smtp.send_message(message)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


_TABLE_LOCK = 0x4D41494C  # "MAIL": serialises the table's creation between processes on PostgreSQL


_ENSURED: weakref.WeakSet[ViewDB] = weakref.WeakSet()  # view databases this process has set up


def ensure_table(db: ViewDB) -> None:
    """Create the deliveries table if missing (safe when several schedulers start at once); once
    per view database and process, not on every run."""
    if db in _ENSURED:
        return
    with db.transaction() as tx:
        if db.dialect == "postgres":
            # CREATE TABLE IF NOT EXISTS is not safe against a concurrent creator on PostgreSQL.
            tx.execute("SELECT pg_advisory_xact_lock(?)", [_TABLE_LOCK])
        tx.execute(TABLE)
    _ENSURED.add(db)


def pending(
    db: ViewDB, *, since: datetime, now: datetime, lease: timedelta, max_attempts: int, limit: int
) -> list[dict[str, Any]]:
    """Inbox rows created since `since` that nobody has delivered, nor is delivering, nor gave up on."""
    columns = ", ".join(f"i.{c}" for c in COLUMNS)
    with db.read() as tx:
        rows = tx.fetchall(
            f"SELECT {columns} FROM inbox i LEFT JOIN email_deliveries d ON d.key = i.key "
            "WHERE i.created_at >= ? AND (d.key IS NULL OR (d.status = 'failed' AND d.attempts < ?) "
            "OR (d.status = 'claimed' AND d.claimed_at < ?)) ORDER BY i.created_at, i.key LIMIT ?",
            [iso(since), max_attempts, iso(now - lease), limit],
        )
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def claim(db: ViewDB, key: str, *, now: datetime, lease: timedelta, max_attempts: int) -> str | None:
    """Claim an inbox row for sending; the claim's token, or None when someone else has it or it is done."""
    token = uuid4().hex
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO email_deliveries (key, status, claim, attempts, claimed_at) "
            "VALUES (?, 'claimed', ?, 1, ?) ON CONFLICT (key) DO NOTHING",
            [key, token, iso(now)],
        )
        tx.execute(
            "UPDATE email_deliveries SET status = 'claimed', claim = ?, attempts = attempts + 1, "
            "claimed_at = ?, finished_at = NULL, error = NULL WHERE key = ? AND claim <> ? "
            "AND ((status = 'failed' AND attempts < ?) OR (status = 'claimed' AND claimed_at < ?))",
            [token, iso(now), key, token, max_attempts, iso(now - lease)],
        )
        row = tx.fetchone("SELECT claim FROM email_deliveries WHERE key = ?", [key])
    return token if row is not None and row[0] == token else None


def finish(db: ViewDB, key: str, token: str, *, status: str, now: datetime, error: str | None = None) -> None:
    """Record how a claimed delivery ended (only if the claim is still ours)."""
    with db.transaction() as tx:
        tx.execute(
            "UPDATE email_deliveries SET status = ?, finished_at = ?, error = ? WHERE key = ? AND claim = ?",
            [status, iso(now), error, key, token],
        )


def deliveries(db: ViewDB) -> dict[str, tuple[str, int]]:
    """Every delivery's status and attempts, by inbox key."""
    with db.read() as tx:
        rows = tx.fetchall("SELECT key, status, attempts FROM email_deliveries")
    return {str(key): (str(status), int(attempts)) for key, status, attempts in rows}


def compose(row: dict[str, Any], *, sender: str, to: list[str]) -> EmailMessage:
    """The e-mail for one inbox row: its text only, and a Message-ID derived from its key."""
    message = EmailMessage()
    subject = SUBJECTS.get(row["kind"], "Notification")
    message["Subject"] = f"[Caseline] {subject}" + (f": issue {row['number']}" if row["number"] else "")
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(created_at(row))
    # The same row always gets the same Message-ID, so a receiver can drop a repeat after a takeover.
    message["Message-ID"] = f"<{hashlib.sha256(row['key'].encode()).hexdigest()[:32]}@caseline>"
    message.set_content(f"{row['message']}\n\nThis notification is also in your Caseline inbox.\n")
    return message
