"""English and Simplified Chinese for the pages.

Messages are keyed by their English text (`_("Case board")`), so English needs no catalogue
beyond the names of the domain's values (`label("stage", "in_progress")`); the Chinese
catalogue (`catalogue_zh.py`) holds both. A message missing from it shows in English, and a
test checks that every message the templates and pages use is translated.

The language comes from the `lang` cookie (set by the switch link), else from the browser's
`Accept-Language`, else English.

Refusals (a domain error's stable `code` and English `message`, as the JSON API answers them)
are translated by `t.refusal(code, message)`: the catalogue's `REFUSALS_ZH` holds, per code,
each English message's shape with its values as named placeholders (`"Issue {number} has no
leader yet; assign one first."`) and the Chinese for it. A value is kept as it is (an item's
number, a name, a date), except a placeholder named by `REFUSAL_PARTS_ZH` (an action, a
problem with a value...), translated by that table in turn, or one named in `LABELLED`,
shown by its label (`{stage}` → 办理中). A message no shape matches shows in English. The
test in `tests/unit/test_refusal_translations.py` builds every refusal the code can raise
and fails when one has no Chinese.
"""

from __future__ import annotations

import re
from typing import Any

from api.pages.catalogue_zh import LABELS_ZH, MESSAGES_ZH, REFUSAL_PARTS_ZH, REFUSALS_ZH

LANGUAGES = {"en": "en", "zh": "zh-Hans"}
DEFAULT = "en"

LABELS_EN: dict[str, dict[str, str]] = {
    "stage": {
        "opened": "Opened",
        "assigned": "Assigned",
        "in_progress": "In progress",
        "resolved": "Resolved",
        "closed": "Closed",
        "registered": "Registered and explained",
    },
    "area": {
        "development": "Development",
        "environment": "Environment",
        "security": "Public security",
        "livelihood": "Daily life",
        "culture": "Culture",
        "conduct": "Cadres' conduct",
    },
    "level": {
        "grid": "Grid",
        "village": "Village / community",
        "town": "Town / street",
        "district": "District",
    },
    "horizon": {"immediate": "Immediate", "near": "Near term", "mid": "Mid term", "long": "Long term"},
    "kind": {
        "opinion": "Opinion",
        "suggestion": "Suggestion",
        "difficulty": "Difficulty",
        "dispute": "Neighbour dispute",
        "disaster": "Disaster or accident",
    },
    "channel": {
        "household_visit": "Household visit",
        "down_visit": "Down-visit",
        "reception": "Reception",
        "hotline": "Hotline or letter",
        "online": "Online",
        "proposal": "Representative's proposal",
        "survey": "Survey",
    },
    "route": {
        "fix_at_once": "Fix at once",
        "coordinate": "Coordinate",
        "register_and_explain": "Register and explain",
    },
    "verdict": {
        "satisfied": "Satisfied",
        "basically_satisfied": "Basically satisfied",
        "dissatisfied": "Dissatisfied",
    },
    "meeting": {
        "analysis": "Analysis meeting",
        "assignment": "Assignment meeting",
        "evaluation": "Evaluation meeting",
        "hearing": "Proposal hearing",
    },
    "role": {
        "public": "Public",
        "recorder": "Recorder",
        "officer": "Case officer",
        "supervisor": "Supervisor",
        "admin": "Administrator",
        "scheduler": "Scheduler",
    },
    "event": {
        "Opened": "Opened",
        "OpinionLinked": "Opinion merged",
        "LeaderAssigned": "Leader assigned",
        "LeadershipHandedOver": "Handed over",
        "DeadlineExtended": "Deadline extended",
        "Escalated": "Escalated",
        "ReferredToStandingCommittee": "Referred to the standing committee",
        "ProgressReported": "Progress reported",
        "CoordinationRequested": "Coordination requested",
        "CoordinationAnswered": "Coordination answered",
        "InspectionRecorded": "Inspection recorded",
        "Disclosed": "Disclosed",
        "ResolutionReported": "Resolution reported",
        "EvaluationRecorded": "Evaluation recorded",
        "Closed": "Closed",
        "ClosedAsFixed": "Closed as fixed at once",
        "Reopened": "Reopened",
        "RegisteredAndExplained": "Registered and explained",
        "Revisited": "Revisited",
        "ClockPaused": "Clock paused",
        "ClockResumed": "Clock resumed",
        "ReminderDue": "Reminder sent",
    },
    "field": {
        "title": "Title",
        "area": "Area",
        "level": "Level",
        "leader": "Leader",
        "department": "Department",
        "goals": "Goals",
        "measures": "Measures",
        "deadline": "Deadline",
        "progress": "Progress",
        "resolution": "Resolution",
        "outcome": "Outcome",
        "note": "Note",
        "number": "Number",
        "to": "Successor",
        "reason": "Reason",
        "approver": "Approved by",
        "request": "Request",
        "answer": "Answer",
        "inspector": "Inspector",
        "findings": "Findings",
        "confirmed": "Confirmed",
        "fields": "Fields to publish",
        "where": "Where published",
        "summary": "Summary",
        "evaluator": "Evaluator",
        "verdict": "Verdict",
        "comment": "Comment",
        "new_deadline": "New deadline",
        "explanation": "Explanation",
        "revisit_at": "Revisit on",
        "kind": "Kind",
        "channel": "Channel",
        "unit": "Unit or grid",
        "place": "Place",
        "text": "What was said",
        "name": "Name",
        "phone": "Phone",
        "address": "Address",
        "latitude": "Latitude",
        "longitude": "Longitude",
        "feedback": "Feedback given",
        "horizon": "Horizon",
        "description": "Description",
        "held_at": "Held on",
        "attendees": "Attendees",
        "decision": "Decision",
        "issue": "Item",
        "opinion_ids": "Opinions",
        "contact": "Contact",
        "username": "Name",
        "password": "Password",
        "form": "Form",
    },
}


# Placeholders of a refusal's shape that hold a domain value: shown by its label (the label's
# key is the value, with spaces for underscores in messages: "in progress" is `in_progress`).
LABELLED = ("stage", "horizon", "level", "field")

Shapes = list[tuple[str, re.Pattern[str], str]]


def _pattern(shape: str) -> re.Pattern[str]:
    """The English shape as a pattern: literal text, and a named group per `{placeholder}`."""
    parts = re.split(r"\{(\w+)\}", shape)
    named: set[str] = set()
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
        elif part in named:
            out.append(f"(?P={part})")
        else:
            named.add(part)
            out.append(f"(?P<{part}>.+?)")
    return re.compile("".join(out), re.DOTALL)


def _shapes(table: dict[str, str]) -> Shapes:
    """A table's shapes, the most literal first (so the more particular of two that match wins)."""
    found = [(shape, _pattern(shape), text) for shape, text in table.items()]
    return sorted(found, key=lambda s: -len(re.sub(r"\{\w+\}", "", s[0])))


_REFUSALS_ZH = {code: _shapes(table) for code, table in REFUSALS_ZH.items()}
_PARTS_ZH = {name: _shapes(table) for name, table in REFUSAL_PARTS_ZH.items()}


class Translator:
    """`t("text")`, `t.label(kind, value)` and `t.refusal(code, message)` in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self._messages = MESSAGES_ZH if self.lang == "zh" else {}
        self._labels = LABELS_ZH if self.lang == "zh" else LABELS_EN
        self._refusals = _REFUSALS_ZH if self.lang == "zh" else {}
        self._parts = _PARTS_ZH if self.lang == "zh" else {}

    def __call__(self, message: str, **values: Any) -> str:
        text = self._messages.get(message, message)
        return text.format(**values) if values else text

    def label(self, kind: str, value: Any) -> str:
        """The name of a domain value (a stage, an area, an event...) in this language."""
        if value is None:
            return ""
        key = str(value)
        found = self._labels.get(kind, {}).get(key) or LABELS_EN.get(kind, {}).get(key)
        return found or key.replace("_", " ")

    def refusal(self, code: str, message: str) -> str:
        """A refusal in this language: its English message translated with its values, or the
        English message itself when the catalogue has no shape for it."""
        return self.find_refusal(code, message) or message

    def find_refusal(self, code: str, message: str, seen: set[tuple[str, str]] | None = None) -> str | None:
        """The refusal in this language (in English, the message itself), or None when the
        catalogue has no shape for it; `seen` collects the catalogue entries used."""
        if self.lang == DEFAULT:
            return message
        return self._fill(self._refusals.get(code, []), code, message, seen)

    def _fill(self, shapes: Shapes, table: str, text: str, seen: set[tuple[str, str]] | None) -> str | None:
        for shape, pattern, translated in shapes:
            found = pattern.fullmatch(text)
            if found is None:
                continue
            values = {name: self._part(name, value, seen) for name, value in found.groupdict().items()}
            if None in values.values():
                continue  # a part this shape cannot translate: another shape may
            if seen is not None:
                seen.add((table, shape))
            return translated.format(**values)
        return None

    def _part(self, name: str, value: str, seen: set[tuple[str, str]] | None) -> str | None:
        if name in self._parts:
            return self._fill(self._parts[name], name, value, seen)
        if name in LABELLED:
            labels = self._labels.get(name, {})
            return labels.get(value) or labels.get(value.replace(" ", "_"))
        return value


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language if it names one we have, else the browser's best, else English."""
    if cookie in LANGUAGES:
        return cookie
    best, best_q = DEFAULT, 0.0
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > best_q:
            best, best_q = primary, quality
    return best
