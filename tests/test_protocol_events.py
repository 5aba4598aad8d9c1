"""fastws.protocol._events: frozen dataclasses."""

from __future__ import annotations

import dataclasses

import pytest

import fastws.protocol as protocol
from fastws.protocol import BinaryMessage, Message, Ping, TextMessage


def test_events_are_frozen_and_compare_by_value():
    event = TextMessage("hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = "changed"  # type: ignore[misc]
    assert event == TextMessage("hi", True) and event != BinaryMessage(b"hi")
    assert isinstance(event, Message) and hash(Ping(b"x")) == hash(Ping(b"x"))


def test_public_names():
    assert sorted(protocol.__all__) == protocol.__all__
    for name in protocol.__all__:
        if not name.isupper():  # constants aside, everything is defined in the package
            assert getattr(protocol, name).__module__.startswith("fastws.protocol")
