"""Turning the log's stored events back into event objects for the views, faster than the library.

The library's mapper parses each event's JSON with the standard `json` module and an object hook
(a Python call for every JSON object, its `_type_` objects among them). For the projector, which
decodes every event of the log on a rebuild, `EventDecoder` parses with orjson and then walks the
result once, replacing each `{"_type_": name, "_data_": data}` object, innermost first as the hook
does, with what the transcoder's own transcoding for `name` decodes from `data`. The event object
is then made as the mapper makes it (the class from the topic, the state as its `__dict__`, the
originator id through the library's convertor), so handlers see exactly what the mapper would give
them (tests hold the two equal, event for event, over a log the workflow wrote).

Whatever this path does not cover goes to the mapper: a cipher or compressor, another transcoder
or mapper, an event class that upcasts (`class_version`), any stored state orjson refuses (`NaN`,
`Infinity`) or may read otherwise (a number of 2**63 or more: an integer beyond 64 bits becomes a
float in orjson), and any that fails to decode, so errors are the library's own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    Notification,
    Transcoding,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

# Per topic: the event class and how the recorder's originator id becomes the event's.
_Kind = tuple[type[Any], Callable[[UUID | str], UUID | str]]


class EventDecoder:
    """`mapper.to_domain_event` for notifications, with orjson parsing (see the module docstring)."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._mapper = mapper
        transcoder = mapper.transcoder
        plain = type(mapper) is Mapper and mapper.cipher is None and mapper.compressor is None
        self._names: dict[str, Transcoding] | None = (
            transcoder.names if plain and type(transcoder) is JSONTranscoder else None
        )
        self._kinds: dict[str, _Kind | None] = {}

    def __call__(self, notification: Notification) -> Any:
        names = self._names
        if names is None:
            return self._mapper.to_domain_event(notification)
        try:
            kind = self._kinds[notification.topic]
        except KeyError:
            kind = self._kinds[notification.topic] = self._kind(notification)
        if kind is None:
            return self._mapper.to_domain_event(notification)
        try:
            state = orjson.loads(notification.state)
            if type(state) is not dict or "class_version" in state or "_type_" in state:
                return self._mapper.to_domain_event(notification)
            for name, value in state.items():
                if type(value) is dict:
                    # Most are a time or an id: decoded here, without a call of `_decoded`.
                    data = value.get("_data_", value)
                    if (
                        len(value) == 2
                        and "_type_" in value
                        and type(data) is not dict
                        and type(data) is not list
                    ):
                        state[name] = names[value["_type_"]].decode(data)
                    else:
                        state[name] = _decoded(value, names)
                elif type(value) is list:
                    state[name] = _decoded(value, names)
                elif type(value) is float and not -_BIG < value < _BIG:
                    raise _BigNumberError
        except Exception:  # the mapper decodes it again, and raises its own error if it fails too
            return self._mapper.to_domain_event(notification)
        cls, convert = kind
        state["originator_id"] = convert(notification.originator_id)
        state["originator_version"] = notification.originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    @staticmethod
    def _kind(notification: Notification) -> _Kind | None:
        """The class of a topic's events and their id convertor; None if the class upcasts."""
        cls = resolve_topic(notification.topic)
        if getattr(cls, "class_version", 1) != 1:
            return None
        return cls, find_id_convertor(cls, cast(Hashable, type(notification.originator_id)))


def _decoded(value: Any, names: dict[str, Transcoding]) -> Any:
    """A parsed JSON array or object with its `_type_` objects decoded, innermost first, as the
    mapper's object hook does (an unknown name raises KeyError: the mapper then raises its own)."""
    if type(value) is list:
        for at, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                value[at] = _decoded(item, names)
            elif type(item) is float and not -_BIG < item < _BIG:
                raise _BigNumberError
        return value
    if len(value) == 2 and "_type_" in value and "_data_" in value:
        data = value["_data_"]
        if type(data) is dict or type(data) is list:
            data = _decoded(data, names)
        return names[value["_type_"]].decode(data)
    for name, item in value.items():
        if type(item) is dict or type(item) is list:
            value[name] = _decoded(item, names)
        elif type(item) is float and not -_BIG < item < _BIG:
            raise _BigNumberError
    return value


# orjson reads an integer beyond 64 bits as a float, where `json` keeps every digit; such a float
# is at least 2**63 in size, so one that large is left to the mapper, whatever it was written as.
_BIG = 2.0**63


class _BigNumberError(ValueError):
    """Raised when a parsed number may have been an integer orjson could not hold."""
