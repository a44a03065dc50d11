"""What the console sends the queue for a ticket's forms: pure, without a desk."""

from services.portal.console import ACTIONS, _action_body


def test_a_priority_written_with_other_digits_is_sent_as_no_priority_not_a_crash():
    assert "priority" in ACTIONS
    # "²" is a digit to str.isdigit() and not to int(): it was a 500.
    for typed in ("²", "٣", "", "x", "-1"):
        assert _action_body("priority", {"priority": typed, "reason": "r"})["priority"] == 0
    assert _action_body("priority", {"priority": "2", "reason": "r"}) == {
        "priority": 2,
        "reason": "r",
    }
