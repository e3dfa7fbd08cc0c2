"""One voice from the people: recorded, routed, merged into an issue, answered."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from domain.base import CaselineAggregate
from domain.errors import InvalidInputError, OpinionAlreadyMergedError
from domain.rules import (
    MAX_NAME,
    Area,
    Channel,
    Kind,
    Route,
    choice,
    optional_text,
    text,
)


class Opinion(CaselineAggregate):
    """What one household told a recorder; the reporter's contact lives outside the log."""

    TOPIC = "caseline:Opinion"

    class Created(CaselineAggregate.Created):
        TOPIC = "caseline:Opinion.Created"

    @classmethod
    def record(
        cls,
        *,
        id: UUID,
        kind: str,
        area: str,
        channel: str,
        unit: str,
        text_: str,
        recorder: str,
        place: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        contact_ref: UUID | None = None,
        actor: str,
    ) -> Opinion:
        """Record a voice in the visit log."""
        if (latitude is None) != (longitude is None):
            raise InvalidInputError("location", "give both latitude and longitude, or neither")
        if latitude is not None and not -90 <= latitude <= 90:
            raise InvalidInputError("latitude", "must be between -90 and 90")
        if longitude is not None and not -180 <= longitude <= 180:
            raise InvalidInputError("longitude", "must be between -180 and 180")
        return cls(
            id=id,
            kind=choice(kind, Kind, field="kind").value,
            area=choice(area, Area, field="area").value,
            channel=choice(channel, Channel, field="channel").value,
            unit=text(unit, field="unit", limit=MAX_NAME),
            place=optional_text(place, field="place", limit=MAX_NAME * 2),
            latitude=latitude,
            longitude=longitude,
            text=text(text_, field="text"),
            recorder=text(recorder, field="recorder", limit=MAX_NAME),
            contact_ref=contact_ref,
            actor=actor,
        )

    @event("Recorded", topic="caseline:Opinion.Recorded")
    def __init__(
        self,
        *,
        id: UUID,  # set by the library before __init__ runs
        kind: str,
        area: str,
        channel: str,
        unit: str,
        place: str | None,
        latitude: float | None,
        longitude: float | None,
        text: str,
        recorder: str,
        contact_ref: UUID | None,
        actor: str,
    ) -> None:
        self.kind = kind
        self.area = area
        self.channel = channel
        self.unit = unit
        self.place = place
        self.latitude = latitude
        self.longitude = longitude
        self.text = text
        self.recorder = recorder
        self.contact_ref = contact_ref
        self.route: str | None = None
        self.route_reason: str | None = None
        self.issue_id: UUID | None = None
        self.issue_number: str | None = None
        self.answers: list[str] = []

    @property
    def answered(self) -> bool:
        """Whether the reporter has heard back at least once."""
        return bool(self.answers)

    def route_to(self, route: str, reason: str, *, actor: str, meeting_id: UUID | None) -> None:
        """Decide how this voice will be handled: fix at once, coordinate, or register and explain."""
        chosen = choice(route, Route, field="route").value
        reason = text(reason, field="reason")
        if chosen == self.route and reason == self.route_reason:
            return
        self._routed(route=chosen, reason=reason, actor=actor, meeting_id=meeting_id)

    @event("Routed", topic="caseline:Opinion.Routed")
    def _routed(self, route: str, reason: str, actor: str, meeting_id: UUID | None) -> None:
        self.route = route
        self.route_reason = reason

    def merge_into(self, issue_id: UUID, issue_number: str, *, actor: str, meeting_id: UUID | None) -> None:
        """Make this voice part of a rectification item."""
        if self.issue_id == issue_id:
            return
        if self.issue_id is not None:
            raise OpinionAlreadyMergedError(self.issue_number or str(self.issue_id))
        self._merged(issue_id=issue_id, actor=actor, meeting_id=meeting_id, issue_number=issue_number)

    @event("Merged", topic="caseline:Opinion.Merged")
    def _merged(
        self, issue_id: UUID, actor: str, meeting_id: UUID | None, issue_number: str | None = None
    ) -> None:
        self.issue_id = issue_id
        self.issue_number = issue_number

    def answer(self, feedback: str, *, by: str, actor: str) -> None:
        """Record the feedback the reporter received ("your voice has an echo")."""
        self._answered(
            feedback=text(feedback, field="feedback"),
            by=text(by, field="by", limit=MAX_NAME),
            actor=actor,
        )

    @event("Answered", topic="caseline:Opinion.Answered")
    def _answered(self, feedback: str, by: str, actor: str) -> None:
        self.answers.append(feedback)
