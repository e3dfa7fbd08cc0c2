"""English and Simplified Chinese for the pages.

Messages are keyed by their English text (`_("Case board")`), so English needs no catalogue
beyond the names of the domain's values (`label("stage", "in_progress")`); the Chinese
catalogue (`catalogue_zh.py`) holds both. A message missing from it shows in English, and a
test checks that every message the templates and pages use is translated.

The language comes from the `lang` cookie (set by the switch link), else from the browser's
`Accept-Language`, else English.
"""

from __future__ import annotations

from typing import Any

from api.pages.catalogue_zh import LABELS_ZH, MESSAGES_ZH

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


class Translator:
    """`t("text")` and `t.label(kind, value)` in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self._messages = MESSAGES_ZH if self.lang == "zh" else {}
        self._labels = LABELS_ZH if self.lang == "zh" else LABELS_EN

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
