"""What the console sends the queue for a ticket's forms: pure, without a desk."""

from services.portal.console import ACTIONS, _action_body, _if_match


def test_a_priority_written_with_other_digits_is_sent_as_no_priority_not_a_crash():
    assert "priority" in ACTIONS
    # "²" is a digit to str.isdigit() and not to int(): it was a 500.
    for typed in ("²", "٣", "", "x", "-1"):
        assert _action_body("priority", {"priority": typed, "reason": "r"})["priority"] == 0
    assert _action_body("priority", {"priority": "2", "reason": "r"}) == {
        "priority": 2,
        "reason": "r",
    }


def test_only_a_counter_is_sent_as_the_version_the_agent_saw():
    assert _if_match({"version": "7"}) == {"If-Match": '"7"'}
    for forged in ("", "²", "7 ", '7", "8', "9" * 10_000):
        assert _if_match({"version": forged}) == {}, forged
    assert _if_match({}) == {}


def test_the_reply_box_writes_a_message_or_changes_the_status_with_it_in_one_change():
    from services.portal.console import _endpoint

    plain = {"to": "customer", "message": "Hello", "then": ""}
    assert _endpoint("reply", plain) == "messages"
    assert _action_body("reply", plain) == {"message": "Hello", "public": True}
    resolve = {"to": "customer", "message": "Fixed.", "then": "resolved"}
    assert _endpoint("reply", resolve) == "status"
    assert _action_body("reply", resolve) == {"to": "resolved", "public_note": "Fixed."}
    noted = {"to": "note", "message": "Asked IT.", "then": "waiting_on_customer"}
    assert _action_body("reply", noted) == {
        "to": "waiting_on_customer",
        "internal_note": "Asked IT.",
    }
    # Nothing typed: the status alone; a status the box does not offer is a plain message.
    assert _action_body("reply", {"to": "customer", "message": "", "then": "resolved"}) == {
        "to": "resolved"
    }
    assert _endpoint("reply", {"to": "customer", "message": "x", "then": "closed"}) == "messages"


def test_a_recorded_contacts_outcome_and_typed_wait_are_checked_in_the_agents_words():
    from services.portal.contacts import _checked_extra, _from_call

    assert _checked_extra("", "", "") == {"outcome": "err_outcome"}
    assert _checked_extra("solved", "", "") == {"resolution": "err_resolution"}
    assert _checked_extra("solved", "Reset it.", "2,5") == {}
    assert _checked_extra("ticket", "", "12") == {}
    for wrong in ("-1", "1441", "twelve", "1e9", "nan"):
        assert _checked_extra("ticket", "", wrong) == {"waited": "err_waited"}, wrong
    # The screen pop's call: who it probably is, when it came in, how long they waited.
    call = {"call_id": "c1", "from": "+31611112222", "started_at": "2026-12-05T09:00:00.000Z",
            "answered_at": "2026-12-05T09:01:30.000Z",
            "caller": {"name": "Piet", "email": None, "language": "en"}}  # fmt: skip
    assert _from_call(call) == {
        "channel": "phone",
        "phone": "+31611112222",
        "name": "Piet",
        "email": "",
        "language": "en",
        "started_at": "2026-12-05T09:00:00.000Z",
        "waited": "1.5",
    }
    assert _from_call({**call, "answered_at": None, "caller": None})["waited"] == ""
