"""Over a log the workflow wrote, the projector's decoder gives back what the library's mapper does."""

from __future__ import annotations

from typing import Any

from api.settings import Settings
from domain.clock import FakeClock
from domain.workflow import Workflow
from projections.decoding import EventDecoder
from tests.integration.viewtools import main_projector, write_history


def test_every_event_of_a_written_log_decodes_as_the_mapper_decodes_it(
    settings: Settings, workflow: Workflow, clock: FakeClock
) -> None:
    # Given a log with every kind of event the workflow writes (items, voices, duties, receipts)
    head = write_history(workflow, clock, at_least=600)
    with main_projector(settings) as projector:
        mapper = projector.log.mapper
        decode = EventDecoder(mapper)
        # When each notification is decoded both ways
        notifications = projector.log.page(1, head)
        kinds = {notification.topic for notification in notifications}
        # Then the events are the same: class, attributes in order, and the type of every value
        for notification in notifications:
            decoded, expected = decode(notification), mapper.to_domain_event(notification)
            assert type(decoded) is type(expected)
            assert list(vars(decoded).items()) == list(vars(expected).items())
            assert types(decoded) == types(expected)
    assert len(notifications) == head
    assert len(kinds) >= 19, sorted(kinds)  # nineteen kinds of event, receipts and duties among them


def types(event: Any) -> list[type[Any]]:
    return [type(value) for value in vars(event).values()]
