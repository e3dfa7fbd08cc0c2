"""Counting a store's reads or loads per aggregate id, for tests that show a thing is read once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest


def count_calls(
    monkeypatch: pytest.MonkeyPatch, target: object, name: str, into: Counter[UUID] | None = None
) -> Counter[UUID]:
    """Count the calls of `target.name` per aggregate id (given first or as `originator_id`), from
    here until `monkeypatch` is undone, in `into` if given."""
    calls: Counter[UUID] = Counter() if into is None else into
    original: Callable[..., Any] = getattr(target, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[kwargs.get("originator_id", args[0] if args else None)] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, counted)
    return calls


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch, target: object, name: str) -> Iterator[Counter[UUID]]:
    """`count_calls` within the block only."""
    with monkeypatch.context() as patch:
        yield count_calls(patch, target, name)
