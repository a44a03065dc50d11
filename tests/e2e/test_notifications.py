"""The customer is told, by real processes over a real SMTP server, at every step."""

from __future__ import annotations

import re

import requests

from tests.support import bearer, valid_request, wait_until


def test_the_customer_is_told_of_every_step_in_one_thread(desk):
    address = f"e2e-{desk.namespace}@example.org"
    body = valid_request(requester={"name": "Ann", "email": address, "language": "nl"})
    accepted = requests.post(
        f"{desk.urls['intake']}/v1/requests",
        json=body,
        headers=bearer(desk.keys["portal"]),
        timeout=10,
    ).json()
    confirmation = wait_until(lambda: desk.smtp.to(address), timeout=30, what="the confirmation")[0]
    assert accepted["reference"] in confirmation["Subject"]
    assert "ontvangen" in confirmation["Subject"]

    # The link in the message, opened as it is, shows the customer's request on the portal's
    # status page (through the gateway `make run` starts, as under Docker Compose), in Dutch.
    link = re.search(r"https?://\S+/track/\S+", confirmation.get_body(("plain",)).get_content())
    assert link.group() == accepted["status_url"]
    assert link.group().startswith(f"{desk.public_url}/track/")
    page = requests.get(link.group(), timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert accepted["reference"] in page.text and '<html lang="nl">' in page.text
    assert "Wacht op een medewerker" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    wrong = requests.get(link.group().replace("token=", "token=x"), timeout=5)
    assert wrong.status_code == 404 and accepted["reference"] not in wrong.text

    claimed = requests.post(
        f"{desk.urls['queue']}/v1/queues/frontoffice/next",
        headers=bearer(desk.keys["agent"]),
        timeout=10,
    )
    assert claimed.status_code == 200
    ticket_id = claimed.json()["id"]
    while claimed.json()["reference"] != accepted["reference"]:  # earlier tests' tickets
        claimed = requests.post(
            f"{desk.urls['queue']}/v1/queues/frontoffice/next",
            headers=bearer(desk.keys["agent"]),
            timeout=10,
        )
        ticket_id = claimed.json()["id"]
    wait_until(lambda: len(desk.smtp.to(address)) == 2, timeout=30, what="the second message")
    taken = desk.smtp.to(address)[1]
    assert taken["In-Reply-To"] == confirmation["Message-ID"]
    assert "in behandeling" in taken.get_body(("plain",)).get_content()

    def logged() -> list[dict]:
        answer = requests.get(
            f"{desk.urls['notify']}/v1/deliveries",
            params={"ticket_id": ticket_id},
            headers=bearer(desk.keys["agent"]),
            timeout=5,
        )
        done = [d for d in answer.json()["deliveries"] if d["outcome"] == "sent"]
        return done if len(done) == 2 else []

    log = wait_until(logged, timeout=30, what="both deliveries in the log")
    assert {d["template"] for d in log} == {"received", "in_progress"}
    assert {d["recipient"] for d in log} == {"e***@example.org"}

    def in_history() -> list[dict]:
        ticket = requests.get(
            f"{desk.urls['queue']}/v1/tickets/{ticket_id}",
            headers=bearer(desk.keys["agent"]),
            timeout=5,
        ).json()
        return [h for h in ticket["history"] if h["kind"] == "notification_sent"]

    assert len(wait_until(lambda: len(in_history()) == 2 and in_history(), timeout=30)) == 2


def test_the_portals_first_page_shows_every_channel_with_its_hours_and_wait(desk):
    page = requests.get(f"{desk.public_url}/?lang=en", timeout=5)
    assert page.status_code == 200
    for words in ("Choose how to reach us", "Opening hours", "Expected wait", "Europe/Amsterdam"):
        assert words in page.text
    assert page.text.count('<th scope="row">') == 6  # every channel, none forced first
