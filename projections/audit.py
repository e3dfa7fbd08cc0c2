"""The audit trail: every event of an issue with actor, time, meeting and the leader in charge at
that moment; the chain of leaders with their intervals; and each missed deadline attributed to
whoever held the item when it passed.

The view keeps the chains of leaders and the missed deadlines of every issue (`leader_terms`,
`missed_deadlines`), which the accountability ledger reads across issues. One issue's trail,
event by event, is read from the event log itself (`trail`), by the same handlers run over its
history in memory: a table with a row per issue event would be a second copy of the log, and
writing it was about 28 % of a rebuild's time (bench/README.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from projections.store import Tx, iso
from projections.view import Appends, Keys, Names, View, ViewState, chunks, topic, upsert, values_of

_BASE_FIELDS = ("originator_id", "originator_version", "timestamp", "originator_topic", "actor", "meeting_id")

TABLES = {
    "leader_terms": """
CREATE TABLE IF NOT EXISTS {leader_terms} (
    issue_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    leader TEXT NOT NULL,
    department TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    reason TEXT,
    PRIMARY KEY (issue_id, seq)
)""",
    "missed_deadlines": """
CREATE TABLE IF NOT EXISTS {missed_deadlines} (
    issue_id TEXT NOT NULL,
    deadline TEXT NOT NULL,
    leader TEXT NOT NULL,
    department TEXT,
    level TEXT NOT NULL,
    noticed_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (issue_id, deadline)
)""",
}

INDEXES = [
    "CREATE INDEX IF NOT EXISTS ix_terms_leader ON {leader_terms} (leader)",
    "CREATE INDEX IF NOT EXISTS ix_terms_department ON {leader_terms} (department)",
    "CREATE INDEX IF NOT EXISTS ix_missed_leader ON {missed_deadlines} (leader)",
]


TERM_COLUMNS = ("issue_id", "seq", "leader", "department", "started_at", "ended_at", "reason")
MISSED_COLUMNS = ("issue_id", "deadline", "leader", "department", "level", "noticed_at", "outcome")
_TERM_VALUES = values_of(TERM_COLUMNS)


def _detail(event: Any) -> str:
    """The event's own fields as JSON: times in ISO 8601 UTC, ids as text, keys sorted."""
    fields = dict(vars(event))
    for name in _BASE_FIELDS:
        fields.pop(name, None)
    return orjson.dumps(fields, default=str, option=_DETAIL).decode()


_DETAIL = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


class Terms:
    """The leader chains of issues (every term, in order), loaded together for a page's issues."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.complete = False
        self.chains: dict[str, list[dict[str, Any]]] = {}
        self.changed: dict[tuple[str, int], dict[str, Any]] = {}

    def begin(self, tx: Tx, keys: Keys) -> None:
        if self.complete:
            return
        missing = [key for key in keys.get("Issue", ()) if key not in self.chains]
        for key in missing:
            self.chains[key] = []
        select = f"SELECT {', '.join(TERM_COLUMNS)} FROM {self.table} WHERE issue_id IN "
        for part in chunks(missing):
            for row in tx.fetchall(f"{select}({', '.join('?' * len(part))}) ORDER BY issue_id, seq", part):
                self.chains[row[0]].append(dict(zip(TERM_COLUMNS, row, strict=True)))

    def current(self, key: str) -> dict[str, Any] | None:
        """The issue's open term: the leader holding it now (None before assignment and once closed)."""
        chain = self.chains.get(key)
        return chain[-1] if chain and chain[-1]["ended_at"] is None else None

    def start(self, key: str, leader: str, department: str | None, at: str, reason: str | None) -> None:
        chain = self.chains.setdefault(key, [])
        seq = chain[-1]["seq"] + 1 if chain else 1
        term = {
            "issue_id": key, "seq": seq, "leader": leader, "department": department, "started_at": at,
            "ended_at": None, "reason": reason,
        }  # fmt: skip
        chain.append(term)
        self.changed[(key, seq)] = term

    def end(self, term: dict[str, Any], at: str) -> None:
        term["ended_at"] = at
        self.changed[(term["issue_id"], term["seq"])] = term

    def write(self, tx: Tx) -> None:
        terms = [_TERM_VALUES(term) for term in self.changed.values()]
        upsert(tx, self.table, ("issue_id", "seq"), TERM_COLUMNS, terms)
        self.changed.clear()

    def forget(self) -> None:
        self.chains.clear()
        self.complete = False

    def __len__(self) -> int:
        return len(self.chains)


class State(ViewState):
    """The leader chains, and the deadlines a page saw missed."""

    def __init__(self, t: Names) -> None:
        self.terms = Terms(t["leader_terms"])
        self.missed = Appends(t["missed_deadlines"], MISSED_COLUMNS)
        self.rows = (self.terms,)
        self.appends = (self.missed,)


def _assigned(state: State, event: Any, key: str, at: str) -> None:
    # The first assignment starts the chain at 1 (an issue is assigned once, before any hand-over).
    state.terms.start(key, event.leader, event.department, at, "assigned")


def _handed_over(state: State, event: Any, key: str, at: str) -> None:
    term = state.terms.current(key)
    if term is not None:
        state.terms.end(term, at)
    state.terms.start(key, event.leader, term["department"] if term else None, at, event.reason)


def _missed(state: State, event: Any, key: str, at: str) -> None:
    term = state.terms.current(key)
    escalated = type(event).__name__ == "Escalated"
    outcome = f"escalated to {event.to_level}" if escalated else "referred to the standing committee"
    state.missed.add(
        (
            key, iso(event.for_deadline), event.leader, term["department"] if term else None,
            getattr(event, "from_level", "district"), at, outcome,
        )
    )  # fmt: skip


def _closed(state: State, event: Any, key: str, at: str) -> None:
    term = state.terms.current(key)
    if term is not None:
        state.terms.end(term, at)


def _reopened(state: State, event: Any, key: str, at: str) -> None:
    chain = state.terms.chains.get(key)
    if chain and state.terms.current(key) is None:
        last = chain[-1]
        state.terms.start(key, last["leader"], last["department"], at, "reopened")


# The events that move the leader chain or miss a deadline: the view's handlers.
_MOVES: dict[str, Callable[[State, Any, str, str], None]] = {
    "LeaderAssigned": _assigned,
    "LeadershipHandedOver": _handed_over,
    "Escalated": _missed,
    "ReferredToStandingCommittee": _missed,
    "Closed": _closed,
    "ClosedAsFixed": _closed,
    "Reopened": _reopened,
}


def record(state: State, event: Any, key: str) -> None:
    """Move the leader chain, or record a missed deadline."""
    _MOVES[type(event).__name__](state, event, key, iso(event.timestamp))


def trail(history: Iterable[Any]) -> dict[str, list[dict[str, Any]]]:
    """One issue's audit trail from its events, oldest first: each event with its actor, time,
    meeting, the leader in charge once it had happened, and its own fields (`detail`); the chain of
    leaders; and the missed deadlines. The chain and the missed deadlines are those the view holds
    for the issue: the same handlers make them, here in memory."""
    state = State({"leader_terms": "", "missed_deadlines": ""})
    state.rebuilding()  # every row in memory: nothing to load
    events = []
    key = ""
    for event in history:
        key = str(event.originator_id)
        name = type(event).__name__
        if name in _MOVES:
            record(state, event, key)
        term = state.terms.current(key)
        meeting = getattr(event, "meeting_id", None)
        events.append(
            {
                "version": event.originator_version, "at": iso(event.timestamp), "event": name,
                "actor": getattr(event, "actor", None), "meeting_id": str(meeting) if meeting else None,
                "leader": term["leader"] if term else getattr(event, "leader", None),
                "detail": orjson.loads(_detail(event)),
            }
        )  # fmt: skip
    return {
        "events": events,
        "leaders": [
            {column: term[column] for column in TERM_COLUMNS[1:]} for term in state.terms.chains.get(key, [])
        ],
        "missed_deadlines": sorted(
            (dict(zip(MISSED_COLUMNS[1:], row[1:], strict=True)) for row in state.missed.rows),
            key=lambda missed: str(missed["deadline"]),
        ),
    }


VIEW = View(
    name="audit",
    tables=TABLES,
    state=State,
    indexes=INDEXES,
    handlers={topic("Issue", name): record for name in _MOVES},
    retired=("audit_events",),  # a row per issue event, until the trail was read from the log
)
