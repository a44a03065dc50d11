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
