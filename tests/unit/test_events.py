import json

import pytest
from marshmallow import ValidationError

from services.common.events import Event, UnstorableEvent, isoformat, parse_event, utcnow


def test_envelope_round_trip_keeps_every_field():
    event = Event(type="ticket.created", data={"a": 1}, source="intake", correlation_id="r-1")
    parsed = parse_event(event.to_json().encode())
    assert parsed == event
    raw = json.loads(event.to_json())
    assert set(raw) == {"id", "type", "version", "occurred_at", "source", "correlation_id",
                        "causation_id", "data"}  # fmt: skip
    assert raw["occurred_at"].endswith("Z")


def test_caused_event_keeps_correlation_and_names_its_cause():
    first = Event(type="ticket.created", data={}, source="intake", correlation_id="req-7")
    follow = first.caused("ticket.queued", {"x": 1}, source="queue")
    assert follow.correlation_id == "req-7"
    assert follow.causation_id == first.id
    assert follow.id != first.id


def test_unknown_envelope_fields_are_ignored():
    raw = json.loads(Event(type="a.b", data={}, source="s").to_json())
    raw["specversion"] = "1.0"
    assert parse_event(json.dumps(raw).encode()).type == "a.b"


def envelope(**changes):
    raw = {"id": "0b0e8f6e-8f0e-4f6e-9a51-8a7d6f5e4c3b", "type": "a.b", "version": 1,
           "occurred_at": "2026-01-01T00:00:00Z", "source": "s", "data": {}}  # fmt: skip
    raw.update(changes)
    return json.dumps(raw).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"type": "ticket.created"}',
        envelope(id="nope"),
        envelope(type="A B"),
        envelope(version="1"),
        envelope(version=0),
        envelope(occurred_at="yesterday"),
        envelope(data=[]),
        envelope(source=""),
    ],
)
def test_unusable_envelopes_are_refused(body):
    with pytest.raises(ValidationError):
        parse_event(body)


def test_isoformat_is_utc_with_z():
    assert isoformat(utcnow()).endswith("Z")


def test_text_beyond_ascii_travels_and_text_that_is_not_unicode_is_refused_where_made():
    event = Event(type="a.b", data={"name": "Jürgen Иван 😀"}, source="s")
    assert parse_event(event.to_json().encode()).data == {"name": "Jürgen Иван 😀"}
    # What Python's e-mail parser makes of raw bytes it cannot decode: no database and no
    # consumer can store it, so it must not leave its producer.
    broken = Event(type="a.b", data={"name": "J\udcc3\udcbcrgen"}, source="s")
    with pytest.raises(UnstorableEvent):
        broken.to_json()
