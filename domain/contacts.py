"""Reporters' contact details: personal data kept outside the event log so it can be erased.

Events only ever hold an opaque `contact_ref`; the details live in a `ContactStore`
(rows in the same database, see `api.storage`). Erasing a contact deletes its row and
leaves the log intact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.errors import InvalidInputError
from domain.rules import MAX_NAME, optional_text


@dataclass(frozen=True)
class Contact:
    """How to reach a reporter. Personal data: never logged, never public."""

    name: str | None = None
    phone: str | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        for field in ("name", "phone", "address"):
            cleaned = optional_text(getattr(self, field), field=f"contact {field}", limit=MAX_NAME * 2)
            object.__setattr__(self, field, cleaned)  # frozen: normalise once, at construction
        if not (self.name or self.phone or self.address):
            raise InvalidInputError("contact", "give a name, a phone or an address, or no contact")

    def __repr__(self) -> str:  # keep personal data out of tracebacks and logs
        return "Contact(<redacted>)"


class ContactStore(Protocol):
    """Where contact details live, keyed by the opaque reference the events carry."""

    def put(self, ref: UUID, contact: Contact) -> None: ...

    def get(self, ref: UUID) -> Contact | None: ...

    def erase(self, ref: UUID) -> bool: ...

    def close(self) -> None: ...


class MemoryContacts:
    """A contact store in a dict: the fake for unit tests."""

    def __init__(self) -> None:
        self.rows: dict[UUID, Contact] = {}

    def put(self, ref: UUID, contact: Contact) -> None:
        self.rows.setdefault(ref, contact)

    def get(self, ref: UUID) -> Contact | None:
        return self.rows.get(ref)

    def erase(self, ref: UUID) -> bool:
        return self.rows.pop(ref, None) is not None

    def close(self) -> None:
        self.rows.clear()
