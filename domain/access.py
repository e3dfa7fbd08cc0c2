"""Accounts and their grants: who may act in which role, recorded as events.

Secrets never enter the log: password hashes and API-key hashes live in a credential store
beside it (see `api.accounts`); the events record who granted what to whom, and when.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from domain.base import CaselineAggregate
from domain.errors import AccountStateError
from domain.rules import MAX_NAME, Role, choice, optional_text, text


class Account(CaselineAggregate):
    """A person or machine that signs in, with one role and (for officers) a department."""

    TOPIC = "caseline:Account"

    class Created(CaselineAggregate.Created):
        TOPIC = "caseline:Account.Created"

    @classmethod
    def open(cls, *, id: UUID, name: str, role: str, department: str | None, granted_by: str) -> Account:
        """Open an account with a role."""
        return cls(
            id=id,
            name=text(name, field="name", limit=MAX_NAME),
            role=choice(role, Role, field="role").value,
            department=optional_text(department, field="department", limit=MAX_NAME),
            granted_by=granted_by,
        )

    @event("Opened", topic="caseline:Account.Opened")
    def __init__(self, *, id: UUID, name: str, role: str, department: str | None, granted_by: str) -> None:
        self.name = name
        self.role = role
        self.department = department
        self.active = True
        self.api_keys: list[str] = []

    def grant(self, *, role: str, department: str | None, granted_by: str) -> None:
        """Change the account's role (and department)."""
        if not self.active:
            raise AccountStateError(f"Account {self.name} is revoked; open a new one instead.")
        chosen = choice(role, Role, field="role").value
        dept = optional_text(department, field="department", limit=MAX_NAME)
        if (chosen, dept) != (self.role, self.department):
            self._granted(role=chosen, department=dept, granted_by=granted_by)

    @event("RoleGranted", topic="caseline:Account.RoleGranted")
    def _granted(self, role: str, department: str | None, granted_by: str) -> None:
        self.role = role
        self.department = department

    def revoke(self, *, revoked_by: str, reason: str) -> None:
        """Stop the account from signing in (and its API keys from working)."""
        if not self.active:
            raise AccountStateError(f"Account {self.name} is already revoked.")
        self._revoked(revoked_by=revoked_by, reason=text(reason, field="reason"))

    @event("Revoked", topic="caseline:Account.Revoked")
    def _revoked(self, revoked_by: str, reason: str) -> None:
        self.active = False

    def issue_key(self, *, key_id: str, issued_by: str) -> None:
        """Record that an API key (identified by its public id, never its secret) was issued."""
        if not self.active:
            raise AccountStateError(f"Account {self.name} is revoked; it cannot get keys.")
        self._key_issued(key_id=key_id, issued_by=issued_by)

    @event("ApiKeyIssued", topic="caseline:Account.ApiKeyIssued")
    def _key_issued(self, key_id: str, issued_by: str) -> None:
        self.api_keys.append(key_id)

    def revoke_key(self, *, key_id: str, revoked_by: str) -> None:
        """Record that an API key stopped working."""
        if key_id not in self.api_keys:
            raise AccountStateError(f"Account {self.name} has no active key {key_id}.")
        self._key_revoked(key_id=key_id, revoked_by=revoked_by)

    @event("ApiKeyRevoked", topic="caseline:Account.ApiKeyRevoked")
    def _key_revoked(self, key_id: str, revoked_by: str) -> None:
        self.api_keys.remove(key_id)
