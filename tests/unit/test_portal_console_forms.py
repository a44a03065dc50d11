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
