"""Fixtures of the integration tests that need the read side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.settings import Settings
from projections.projector import Projector
from tests.integration.viewtools import main_projector


@pytest.fixture
def projector(settings: Settings) -> Iterator[Projector]:
    """The projector `caseline project` would run over the `settings` store, closed afterwards."""
    with main_projector(settings) as built:
        yield built
