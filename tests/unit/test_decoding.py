"""The projector's event decoder gives what the library's mapper gives, or leaves it to the mapper.

No I/O: stored events are made with a mapper configured as the application configures its own
(JSON, with the UUID, decimal and datetime transcodings), then decoded both ways.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    Notification,
    UUIDAsHex,
)

from projections.decoding import EventDecoder

T0 = datetime(2026, 3, 3, 9, 0, 0, 123456, tzinfo=UTC)


class Thing(Aggregate):
    """A test aggregate whose events carry every kind of value the transcoder knows."""

    class Happened(Aggregate.Event):
        payload: Any

    class Renamed(Aggregate.Event):
        """Version 2: `name` was `title` in version 1 (so stored version-1 events are upcast)."""

        class_version = 2
        name: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["name"] = state.pop("title")


def mapper(**options: Any) -> Mapper[UUID]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder, **options)


def notification(
    state: dict[str, Any] | bytes, *, cls: type[Any] = Thing.Happened, using: Mapper[UUID]
) -> Any:
    """A notification of a `cls` event whose stored state is `state` (encoded by the mapper's
    transcoder when a dict, taken as it is when bytes)."""
    event = cls(originator_id=uuid4(), originator_version=3, timestamp=T0, **_fields(cls))
    stored = using.to_stored_event(event)
    data = state if isinstance(state, bytes) else using.transcoder.encode({"timestamp": T0, **state})
    return Notification(
        id=7,
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=data,
    )


def _fields(cls: type[Any]) -> dict[str, Any]:
    return {"name": "x"} if cls is Thing.Renamed else {"payload": None}


def same(left: Any, right: Any) -> bool:
    """Same class, same attributes in the same order, and each value of the same type."""
    return (
        type(left) is type(right)
        and list(vars(left).items()) == list(vars(right).items())
        and [type(value) for value in vars(left).values()] == [type(value) for value in vars(right).values()]
    )


NESTED = {
    "payload": {
        "ids": [uuid4(), [uuid4(), T0], {"at": T0}],
        "amount": Decimal("12.50"),
        "when": T0,
        "plain": {"_type_": "uuid_hex", "_data_": "not decoded: three keys", "extra": 1},
        "text": "Neighbours dispute the parking spaces; 路灯",
        "number": 3.25,
        "none": None,
    }
}


def test_decodes_every_kind_of_value_at_every_depth_as_the_mapper_does() -> None:
    # Given an event whose fields nest UUIDs, datetimes and decimals in lists and objects
    using = mapper()
    stored = notification(NESTED, using=using)
    # When it is decoded by the projector's decoder and by the mapper
    decoded, expected = EventDecoder(using)(stored), using.to_domain_event(stored)
    # Then the two are the same, down to the types of the values
    assert same(decoded, expected)
    assert isinstance(decoded.payload["ids"][1][0], UUID)
    assert decoded.payload["plain"] == NESTED["payload"]["plain"]


@pytest.mark.parametrize(
    "state",
    [
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-03T09:00:00+00:00"},"payload":18446744073709551616}',
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-03T09:00:00+00:00"},"payload":[-9223372036854775809]}',
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-03T09:00:00+00:00"},"payload":Infinity}',
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-03T09:00:00+00:00"},"payload":null,"class_version":1}',
    ],
    ids=["an integer past 64 bits", "a negative one in a list", "Infinity", "a stored class version"],
)
def test_leaves_to_the_mapper_what_orjson_refuses_or_the_mapper_treats_specially(state: bytes) -> None:
    using = mapper()
    stored = notification(state, using=using)
    assert same(EventDecoder(using)(stored), using.to_domain_event(stored))


def test_an_event_class_that_upcasts_is_decoded_by_the_mapper() -> None:
    # Given a version-1 event of a class now at version 2 (a field renamed)
    using = mapper()
    stored = notification(
        {"title": "old name"}, cls=Thing.Renamed, using=using
    )  # stored without a class_version: version 1
    # When it is decoded, Then it is upcast as the mapper upcasts it
    decoded = EventDecoder(using)(stored)
    assert decoded.name == "old name"
    assert same(decoded, using.to_domain_event(stored))


def test_a_mapper_with_a_compressor_decodes_everything_itself() -> None:
    using = mapper(compressor=ZlibCompressor())
    event = Thing.Happened(originator_id=uuid4(), originator_version=1, timestamp=T0, payload=[T0])
    stored = using.to_stored_event(event)
    found = Notification(id=1, **vars(stored))
    assert same(EventDecoder(using)(found), using.to_domain_event(found))


def test_an_unknown_transcoding_raises_the_mappers_error() -> None:
    using = mapper()
    state = json.dumps({"payload": {"_type_": "no_such_type", "_data_": "x"}}).encode()
    stored = notification(state, using=using)
    with pytest.raises(MapperDeserialisationError) as expected:
        using.to_domain_event(stored)
    with pytest.raises(MapperDeserialisationError) as raised:
        EventDecoder(using)(stored)
    assert str(raised.value) == str(expected.value)
