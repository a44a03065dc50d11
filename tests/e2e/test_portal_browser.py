"""The customer portal in a real browser (Debian's Chromium, driven by Playwright) on a
whole desk started as `make run` starts it, with a real SMTP receiver: the customer's
paths from the first page to the survey, every page checked with axe-core, the forms
again with JavaScript off, and a page whose backend is down.

The portal stores nothing, so one desk (SQLite) serves these; the services' storage on
both databases is what the other end-to-end tests cover."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from services.common.vocabulary import CHANNELS, STATUSES
from tests import support
from tests.support import REPO, bearer, wait_until

pytestmark = pytest.mark.parametrize("desk", ["sqlite"], indirect=True)
# The counter is open whenever these tests run: a number from home is taken only then.
DESK_CHANGES = {"opening_hours.walk_in": "always"}

CHROMIUM = "/usr/bin/chromium"
AXE = REPO / ".venv" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 A and AA; a violation of impact serious or critical fails the test.
AXE_RUN = """async () => (await axe.run(document, {runOnly: {type: 'tag', values:
  ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(desk) -> Path:
    """Screenshots of every page, under the test run's output folder."""
    folder = REPO / "test-output" / desk.namespace / "portal"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser) -> Iterator[Page]:
    # The pages forbid every script (CSP); the test's own axe-core needs to run anyway.
    context = browser.new_context(bypass_csp=True, locale="en-GB")
    yield context.new_page()
    context.close()


def checked(page: Page, shots: Path, name: str) -> None:
    """axe-core on the page as it is now, and its screenshot."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(AXE_RUN)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert violations == [], f"{name}: {violations}"


# What no console page may show as its text: a key where people expect words (issue 34).
# Keys that are also plain words ("problem", "room", "phone") cannot be told from words.
_DESK = yaml.safe_load((REPO / "config" / "loket.yaml").read_text())
RAW_KEYS = {
    key
    for key in (
        *STATUSES,
        *CHANNELS,
        *(queue["id"] for queue in _DESK["queues"]),
        *(category["id"] for category in _DESK["catalogue"]),
        *(f["name"] for category in _DESK["catalogue"] for f in category["fields"]),
        *(
            o["value"]
            for c in _DESK["catalogue"]
            for f in c["fields"]
            for o in f.get("options", [])
        ),
    )
    if "_" in key or key in ("queued", "frontoffice", "facilities", "web", "email")
}


def at_work(page: Page, shots: Path, name: str) -> None:
    """A console page as an agent sees it all day: axe-core clean, no key in its text,
    and its screenshots on a wide screen (1440 x 900) and a laptop (1024 x 768)."""
    text = re.sub(r"\S+@\S+", " ", page.locator("body").inner_text())  # addresses are data
    shown = {key for key in RAW_KEYS if re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text)}
    assert not shown, f"{name} shows keys {sorted(shown)}"
    before = page.viewport_size
    try:
        for width, height in ((1440, 900), (1024, 768)):
            page.set_viewport_size({"width": width, "height": height})
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"{name} is {wide} px wide at {width}: it scrolls sideways"
            checked(page, shots, f"{name}-{width}")
    finally:
        page.set_viewport_size(before)


def unfold(page: Page, change: str) -> None:
    """Opens one of the changes folded in the ticket's side panel, as an agent clicks it."""
    page.locator("aside.side summary", has_text=change).click()


def mail_to(desk, address: str, containing: str) -> EmailMessage:
    def found() -> EmailMessage | None:
        for message in desk.smtp.messages:
            if address in message["To"] and containing in _text(message):
                return message
        return None

    return wait_until(found, timeout=30, what=f"an e-mail to {address} with {containing!r}")


def _text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def link_in(message: EmailMessage, path: str) -> str:
    return re.search(rf"(http\S+{path}\S+)", _text(message)).group(1)


def submit_request(desk, channel: str, email: str, **extra: str) -> dict:
    """A facilities request from a front-end, as the phone system or a web form sends it."""
    body = {"channel": channel, "category": "room_temperature", "subject": "The room is cold",
            "description": "The room is cold.", "fields": {"room": "2.01", "problem": "too_cold"},
            "requester": {"name": "Caller", "email": email, "language": "en"}, **extra}  # fmt: skip
    answer = requests.post(f"{desk.urls['intake']}/v1/requests", json=body,
                           headers=bearer(desk.keys["portal"]), timeout=10)  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()


def tracked(desk, accepted: dict) -> bool:
    answer = requests.get(f"{desk.urls['queue']}/v1/track/{accepted['reference']}",
                          params={"token": accepted["tracking_token"]}, timeout=5)  # fmt: skip
    return answer.status_code == 200


def add_article(desk) -> None:
    created = requests.post(
        f"{desk.urls['feedback']}/v1/knowledge/articles",
        json={"title": "Reset your password yourself", "language": "en",
              "body": "Open the self-service page and choose Forgot password.\n\n"
                      "A reset link arrives by e-mail within a minute."},
        headers=bearer(desk.keys["supervisor"]),
        timeout=5,
    )  # fmt: skip
    assert created.status_code == 201, created.text


def test_a_customer_asks_follows_replies_and_rates_in_the_browser(desk, page, shots):
    add_article(desk)
    page.goto(f"{desk.public_url}/?lang=en")
    expect(page.locator("h1")).to_have_text("Service desk")
    checked(page, shots, "01-home")
    page.get_by_role("link", name="Ask a question").first.click()
    checked(page, shots, "02-ask")
    page.get_by_role("link", name="Password reset").click()
    checked(page, shots, "03-form")

    # A mistake: the user name left out, and an e-mail address cut short.
    page.get_by_label("Short description").fill("Cannot sign in to my workstation")
    page.get_by_label("What is the matter?").fill("My password expired this morning.")
    page.get_by_label("Workstation").check()
    page.get_by_label("Only me").check()
    page.get_by_label("Your name").fill("Jan Jansen")
    page.get_by_label("Your e-mail address").fill("jan.jansen@")
    page.get_by_role("button", name="Send request").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("User name: enter an answer.")
    expect(summary).to_contain_text("Enter an e-mail address like name@example.com.")
    expect(page.get_by_label("Short description")).to_have_value(
        "Cannot sign in to my workstation"
    )  # what was typed is kept
    checked(page, shots, "04-form-errors")
    summary.get_by_role("link", name="User name: enter an answer.").click()
    expect(page.get_by_label("User name")).to_be_focused()

    page.get_by_label("User name").fill("jjansen")
    page.get_by_label("Your e-mail address").fill("jan.jansen@example.org")
    page.get_by_role("button", name="Send request").click()
    # Before sending: an article that may answer it; sending stays one click away.
    suggestion = page.get_by_role("link", name="Reset your password yourself")
    expect(suggestion).to_be_visible()
    checked(page, shots, "05-suggestions")
    article = page.context.new_page()  # as a customer opens it beside the form
    article.goto(f"{desk.public_url}{suggestion.get_attribute('href')}")
    expect(article.locator("h1")).to_have_text("Reset your password yourself")
    expect(article.locator("article")).to_contain_text("choose Forgot password")
    checked(article, shots, "05b-article")
    article.close()
    page.get_by_role("button", name="Send anyway").click()

    expect(page.locator(".panel")).to_contain_text("we have received your request")
    reference = re.search(r"LKT-\d+", page.locator("h1").inner_text()).group(0)
    checked(page, shots, "06-confirmation")

    # The link in the confirmation e-mail opens the same status page.
    confirmation = mail_to(desk, "jan.jansen@example.org", reference)
    page.goto(link_in(confirmation, f"/track/{reference}"))
    expect(page.locator(".status")).to_be_visible()
    page.get_by_label("Your message").fill("I am at my desk until five.")
    page.get_by_role("button", name="Send message").click()
    expect(page.locator(".notice")).to_have_text("Your message was added to your request.")
    checked(page, shots, "07-status")

    # An agent resolves it; the resolution e-mail's survey link opens the survey.
    agent, queue = bearer(desk.keys["agent"]), desk.urls["queue"]
    tickets = requests.get(f"{queue}/v1/tickets", params={"limit": 200}, headers=agent,
                           timeout=5).json()["tickets"]  # fmt: skip
    [ticket] = [t for t in tickets if t["reference"] == reference]
    resolve = {"to": "resolved", "public_note": "Password reset."}
    for path, body in (("claim", {"reason": "browser test"}), ("status", resolve)):
        answer = requests.post(f"{queue}/v1/tickets/{ticket['id']}/{path}", json=body,
                               headers=agent, timeout=5)  # fmt: skip
        assert answer.status_code == 200, answer.text
    invitation = mail_to(desk, "jan.jansen@example.org", "/survey/")
    page.goto(link_in(invitation, "/survey/"))
    checked(page, shots, "08-survey")
    page.get_by_label("4 — satisfied").check()
    page.get_by_role("button", name="Send").click()
    expect(page.locator("h1")).to_have_text("Thank you")
    checked(page, shots, "09-survey-thanks")

    # A reply after the resolution reopens the request.
    page.goto(link_in(confirmation, f"/track/{reference}"))
    page.get_by_label("Your message").fill("It expired again.")
    page.get_by_role("button", name="Send message").click()
    # The post and its redirect finish before the page is reloaded.
    expect(page.locator(".notice")).to_have_text("Your message was added to your request.")
    wait_until(
        lambda: page.reload() and "Waiting for an agent" in page.locator(".status").inner_text(),
        timeout=30,
        what="the request reopened",
    )


def test_a_customer_asks_to_be_called_back_in_dutch(desk, page, shots):
    page.goto(f"{desk.public_url}/?lang=nl")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    page.get_by_role("link", name="Laat u terugbellen").first.click()
    checked(page, shots, "11-callback-nl")
    page.get_by_role("link", name="Netwerk of wifi werkt niet").click()
    checked(page, shots, "12-callback-form-nl")
    page.get_by_role("button", name="Verzoek versturen").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Kies wanneer wij u mogen bellen.")
    expect(summary).to_contain_text("Uw telefoonnummer: vul dit in.")
    expect(summary).to_contain_text("Verbinding: kies een antwoord.")
    checked(page, shots, "13-callback-errors-nl")

    page.get_by_label("Korte omschrijving").fill("Wifi valt weg")
    page.get_by_label("Wat is er aan de hand?").fill("De wifi valt steeds weg.")
    page.get_by_label("Wifi").check()
    page.get_by_label("Locatie").fill("Kamer 3.14")
    slot = page.get_by_label("Wanneer mogen wij bellen?")
    chosen = slot.locator("option").nth(1)
    window = chosen.inner_text()
    slot.select_option(chosen.get_attribute("value"))
    page.get_by_label("Uw naam").fill("Els de Vries")
    page.get_by_label("Uw e-mailadres").fill("els@example.org")
    page.get_by_label("Uw telefoonnummer").fill("020 123 4567")
    page.get_by_role("button", name="Verzoek versturen").click()
    expect(page.locator(".panel")).to_contain_text("wij hebben uw verzoek ontvangen")
    checked(page, shots, "14-callback-confirmation-nl")
    reference = re.search(r"LKT-\d+", page.locator("h1").inner_text()).group(0)
    # The call-back e-mail names the chosen window, in the desk's zone.
    hours = re.findall(r"\d\d:\d\d", window)
    assert len(hours) == 2, window
    message = mail_to(desk, "els@example.org", reference)
    assert all(hour in _text(message) for hour in hours), _text(message)


def test_a_customer_books_a_time_at_the_counter_and_cancels_it(desk, page, shots):
    page.goto(f"{desk.public_url}/?lang=en")
    page.get_by_role("link", name="Book a time at the counter").click()
    checked(page, shots, "15-appointment-categories")
    page.get_by_role("link", name="Network or Wi-Fi not working").click()
    page.get_by_role("button", name="Book this time").click()
    expect(page.locator(".error-summary")).to_contain_text("Choose a time to come.")
    page.get_by_label("Short description").fill("Laptop will not join the Wi-Fi")
    page.get_by_label("What is the matter?").fill("Please look at it with me.")
    page.get_by_label("Wi-Fi").check()
    page.get_by_label("Location").fill("Room 2.07")
    slot = page.get_by_label("When do you come?")
    chosen = slot.locator("option").nth(1)
    when = chosen.inner_text()
    slot.select_option(chosen.get_attribute("value"))
    page.get_by_label("Your name").fill("Mo Visser")
    page.get_by_label("Your e-mail address").fill("mo@example.org")
    checked(page, shots, "16-appointment-form")
    page.get_by_role("button", name="Book this time").click()
    expect(page.locator(".panel")).to_contain_text("we have received your request")
    start, end = re.findall(r"\d\d:\d\d", when)
    expect(page.locator("dd.appointment")).to_contain_text(f"{start}\N{EN DASH}{end}")
    expect(page.locator("dd.status")).to_have_text("Booked: check in at the kiosk when you arrive")
    expect(page.locator(".updates")).to_contain_text("check in at the kiosk with your reference")
    checked(page, shots, "17-appointment-booked")
    reference = re.search(r"LKT-\d+", page.locator("h1").inner_text()).group(0)
    # The confirmation brings the time into the customer's calendar.
    confirmation = mail_to(desk, "mo@example.org", f"{start}\N{EN DASH}{end}")
    calendars = [p for p in confirmation.walk() if p.get_content_type() == "text/calendar"]
    assert calendars and "METHOD:REQUEST" in calendars[0].get_content()
    # Another time, chosen from the status page; the calendar entry moves with it.
    page.get_by_role("link", name="Another time").click()
    times = page.get_by_label("When do you come instead?")
    instead = times.locator("option").nth(2)
    start, end = re.findall(r"\d\d:\d\d", instead.inner_text())
    times.select_option(instead.get_attribute("value"))
    checked(page, shots, "18-appointment-move")
    page.get_by_role("button", name="Move to this time").click()
    expect(page.locator(".notice")).to_contain_text("Your appointment is moved")
    expect(page.locator("dd.appointment")).to_contain_text(f"{start}\N{EN DASH}{end}")
    mail_to(desk, "mo@example.org", "is now on")
    page.get_by_role("button", name="Cancel this appointment").click()
    expect(page.locator(".notice")).to_have_text(
        "Your appointment is cancelled; the time is free for someone else."
    )
    token = re.search(r"token=([^&]+)", page.url).group(1)
    track = f"{desk.urls['queue']}/v1/track/{reference}"
    wait_until(
        lambda: (
            requests.get(track, params={"token": token}, timeout=5).json()["status"] == "cancelled"
        ),
        timeout=20,
        what="the cancelled ticket",
    )
    withdrawn = mail_to(desk, "mo@example.org", "is cancelled")
    entries = [p.get_content() for p in withdrawn.walk() if p.get_content_type() == "text/calendar"]
    assert entries and all("METHOD:CANCEL" in e for e in entries)


def test_the_forms_work_with_javascript_off(desk, browser, shots):
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    try:
        page.goto(f"{desk.public_url}/ask/network_problem?lang=en")
        page.get_by_label("Short description").fill("No Wi-Fi on floor 3")
        page.get_by_label("What is the matter?").fill("Nothing connects since nine.")
        page.get_by_label("Wi-Fi").check()
        page.get_by_label("Location").fill("Floor 3, east wing")
        page.get_by_label("Your name").fill("Ann")
        page.get_by_label("Your e-mail address").fill("ann@example.org")
        page.get_by_role("button", name=re.compile("Send")).click()
        # Either the confirmation, or first the knowledge base's suggestions.
        expect(page.locator(".panel, #suggestions-title").first).to_be_visible()
        if page.locator("#suggestions-title").count():
            page.get_by_role("button", name="Send anyway").click()
        expect(page.locator(".panel")).to_contain_text("we have received your request")
        page.get_by_label("Your message").fill("Floor 4 too.")
        page.get_by_role("button", name="Send message").click()
        expect(page.locator(".notice")).to_have_text("Your message was added to your request.")
        page.screenshot(path=str(shots / "21-no-javascript.png"), full_page=True)
    finally:
        context.close()


def test_an_agent_works_a_ticket_with_javascript_off(desk, browser, shots, people):
    accepted = submit_request(desk, "web", "no.script@example.org")
    wait_until(lambda: tracked(desk, accepted), timeout=20, what="the ticket")
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    try:
        sign_in(page, desk, "ann", people["ann"][1])
        page.goto(f"{desk.public_url}/desk/find?q={accepted['reference']}")
        page.get_by_label("Why out of order").fill("walked up to my desk")
        page.get_by_role("button", name="Take this ticket").click()
        expect(page.locator(".notice")).to_have_text("You hold this ticket now.")
        unfold(page, "Change priority")  # a disclosure opens without script
        page.get_by_label("Priority", exact=True).select_option("2")
        page.get_by_label("Reason").fill("the whole floor is cold")
        page.locator("#priority-form").get_by_role("button", name="Save").click()
        expect(page.locator("dd.priority")).to_have_text("2 (high)")
        page.get_by_label("Message", exact=True).fill("The heating is on again.")
        page.get_by_role("button", name="Send and resolve").click()
        expect(page.locator(".notice")).to_have_text("Sent, and the ticket is resolved.")
        expect(page.locator("dd.status")).to_have_text("Resolved")
        page.screenshot(path=str(shots / "48-ticket-no-javascript.png"), full_page=True)
    finally:
        context.close()
    mail_to(desk, "no.script@example.org", "The heating is on again.")


def test_a_wrong_link_gets_a_page_that_says_so(desk, page, shots):
    response = page.goto(f"{desk.public_url}/track/LKT-000001?token=not-the-token&lang=en")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Request not found")
    checked(page, shots, "32-not-found")


def test_a_status_page_whose_queue_service_is_down_says_so(desk, page, shots, tmp_path):
    """A portal whose queue service does not answer (nothing listens at its address)."""
    port = support.free_port()
    env = {**desk.env, "LOKET_PORTAL_HTTP_PORT": str(port),
           "LOKET_QUEUE_URL": f"http://127.0.0.1:{support.free_port()}",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}  # fmt: skip
    portal = support.Proc(support.python_module("services", "portal", "web"), env)
    try:
        wait_until(lambda: support.http_ok(f"http://127.0.0.1:{port}/healthz"), timeout=30,
                   what="the second portal")  # fmt: skip
        response = page.goto(f"http://127.0.0.1:{port}/track/LKT-000001?token=x&lang=en")
        assert response.status == 503
        expect(page.locator("h1")).to_have_text("Briefly unavailable")
        expect(page.locator("main")).to_contain_text("nothing is lost")
        checked(page, shots, "31-unavailable")
    finally:
        portal.stop()


# The console: people sign in and work the queue.


@pytest.fixture(scope="module")
def people(desk) -> dict[str, tuple[str, str]]:
    """The console's accounts, written where the desk reads them (no restart)."""
    support.write_accounts(Path(desk.env["LOKET_VAR_DIR"]) / "accounts.yaml")
    return support.PEOPLE


def sign_in(page: Page, desk, name: str, password: str) -> None:
    page.goto(f"{desk.public_url}/desk/")
    expect(page).to_have_url(re.compile(r"/desk/sign-in\?next="))
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_agent_signs_in_takes_the_fair_next_and_resolves(desk, page, shots, people):
    page.goto(f"{desk.public_url}/desk/")
    at_work(page, shots, "41-sign-in")
    sign_in(page, desk, "ann", "not her password")
    expect(page.locator(".error-summary")).to_contain_text("not right")
    at_work(page, shots, "42-sign-in-wrong")
    sign_in(page, desk, "ann", people["ann"][1])
    expect(page.locator("h1")).to_have_text("Tickets")
    cookie = next(c for c in page.context.cookies() if c["name"] == "loket_desk")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/desk"

    # An older phone contact and a newer web form of the same priority, in facilities:
    # the open page shows them as they arrive, without a reload.
    facilities = page.locator(".nav-queues li", has_text="Facilities").locator(".count")
    before = int(facilities.inner_text())
    started = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    phone = submit_request(desk, "phone", "ann.caller@example.org", contact_started_at=started)
    web = submit_request(desk, "web", "wim@example.org")
    expect(facilities).to_have_text(str(before + 2), timeout=25_000)
    rows = page.locator("table.list tbody tr")
    expect(rows.filter(has_text=web["reference"])).to_be_visible(timeout=25_000)
    # The list in fair order: the phone contact, older, before the web form.
    expect(rows.filter(has_text=phone["reference"])).to_contain_text("Phone")
    expect(rows.filter(has_text=web["reference"])).to_contain_text("Self-service portal")
    listed = [row.split()[0] for row in rows.all_inner_texts()]
    assert listed.index(phone["reference"]) < listed.index(web["reference"])
    at_work(page, shots, "43-tickets")
    page.get_by_role("button", name="Take next: Facilities").click()
    expect(page.locator("h1")).to_contain_text(phone["reference"])  # first contact first
    expect(page.locator("dd.status")).to_have_text("In progress")
    side = page.locator("aside.side")
    expect(side).to_contain_text("Room too cold or too warm")  # the category's name
    expect(side).to_contain_text("Too cold")  # the choice's label, not too_cold
    # The keyboard: "i" writes a note, "?" lists the shortcuts, Escape leaves the field.
    page.keyboard.press("i")
    expect(page.get_by_role("radio", name="Internal note")).to_be_checked()
    expect(page.get_by_label("Message", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(page.locator("#to-customer")).to_be_checked()
    page.keyboard.press("Escape")
    at_work(page, shots, "44-ticket")
    # The same ticket in Dutch: every word of it, the desk file's as well.
    page.goto(f"{page.url.split('?')[0]}?lang=nl")
    expect(page.locator("dd.status")).to_have_text("In behandeling")
    expect(page.locator("aside.side")).to_contain_text("Ruimte te koud of te warm")
    at_work(page, shots, "44-ticket-nl")
    page.goto(f"{page.url.split('?')[0]}?lang=en")

    expect(page.locator("#status-form")).to_be_hidden()  # folded until it is wanted
    unfold(page, "Change status")
    page.get_by_label("New status").select_option("resolved")
    page.locator("#status-form").get_by_label("Message to the customer").fill(
        "The heating is on again."
    )
    page.locator("#status-form").get_by_label("Internal note").fill("Valve 3 was stuck.")
    page.locator("#status-form").get_by_role("button", name="Save").click()
    expect(page.locator(".notice")).to_have_text("Status changed.")
    expect(page.locator(".thread .note", has_text="Valve 3 was stuck.")).to_be_visible()
    told = mail_to(desk, "ann.caller@example.org", "The heating is on again.")
    assert "Valve 3" not in _text(told)  # internal notes never reach the customer
    # The message sent is marked delivered where it stands in the thread, not a line.
    page.reload()
    reply = page.locator(".thread .reply", has_text="The heating is on again.")
    expect(reply.locator(".delivery.sent").first).to_contain_text("E-mail delivered")
    expect(page.locator(".thread")).not_to_contain_text("attempt 1")

    # Found by the reference the customer quotes; held by ann, in "my tickets" until then.
    page.goto(f"{desk.public_url}/desk/")
    page.get_by_label("Reference, requester or words").fill("wim@example.org")
    page.get_by_label("Status", exact=True).select_option("")
    page.get_by_role("button", name="Show").click()
    at_work(page, shots, "46-found")
    page.get_by_role("link", name=web["reference"]).click()
    expect(page.locator("h1")).to_contain_text(web["reference"])
    page.goto(f"{desk.public_url}/desk/find?q={web['reference'].lower()}")
    expect(page.locator("h1")).to_contain_text(web["reference"])
    page.get_by_label("Why out of order").fill("caller on the line")
    page.get_by_role("button", name="Take this ticket").click()
    expect(page.locator(".notice")).to_have_text("You hold this ticket now.")
    # Write to the customer, and keep a note, without changing the status.
    page.get_by_label("Message", exact=True).fill("We are looking at the thermostat.")
    page.locator("#reply-form").get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".notice")).to_have_text("Added to the conversation.")
    page.get_by_role("radio", name="Internal note").check()
    page.get_by_label("Message", exact=True).fill("Checked the building system.")
    page.locator("#reply-form").get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".thread .note", has_text="Checked the building system.")).to_be_visible()
    expect(page.locator("dd.status")).to_have_text("In progress")
    written = mail_to(desk, "wim@example.org", "We are looking at the thermostat.")
    assert "building system" not in _text(written)
    unfold(page, "Transfer")
    page.get_by_label("To queue").select_option("it_backoffice")
    page.get_by_label("Note for the team").fill("Thermostat is on the network: IT.")
    page.locator("#transfer-form").get_by_role("button", name="Save").click()
    expect(page.locator(".notice")).to_have_text("Transferred.")
    at_work(page, shots, "45-ticket-transferred")
    history = requests.get(
        f"{desk.urls['queue']}/v1/tickets/{web['reference']}",
        headers=bearer(desk.keys["agent"]),
        timeout=5,
    ).json()["history"]
    assert {"ann"} <= {entry["actor"] for entry in history}  # the person, not the portal

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/desk/sign-in"))
    page.goto(f"{desk.public_url}/desk/")
    expect(page).to_have_url(re.compile(r"/desk/sign-in"))

    # The back office takes it over and resolves it; the customer's status page shows
    # the message written earlier and never the internal note.
    sign_in(page, desk, "eve", people["eve"][1])
    page.get_by_label("Queue", exact=True).select_option("it_backoffice")
    page.get_by_label("Status", exact=True).select_option("queued")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("link", name=web["reference"])).to_be_visible()
    page.goto(f"{desk.public_url}/desk/")
    page.get_by_role("button", name="Take next: IT back office").click()
    expect(page.locator("h1")).to_contain_text(web["reference"])
    # Reply and resolve in one action.
    page.get_by_label("Message", exact=True).fill("The thermostat is replaced.")
    page.get_by_role("button", name="Send and resolve").click()
    expect(page.locator(".notice")).to_have_text("Sent, and the ticket is resolved.")
    expect(page.locator("dd.status")).to_have_text("Resolved")
    mail_to(desk, "wim@example.org", "The thermostat is replaced.")
    status = requests.get(f"{desk.urls['queue']}/v1/track/{web['reference']}", timeout=5,
                          params={"token": web["tracking_token"]}).json()  # fmt: skip
    shown = " ".join(u["message"] or "" for u in status["updates"])
    assert "We are looking at the thermostat." in shown and "building system" not in shown


def test_an_agent_downloads_what_an_email_carried(desk, page, shots, people):
    scan = b"%PDF-1.4\n% a scanned invoice\n"
    mail = EmailMessage()
    mail["From"], mail["Subject"] = "Rita <rita@example.org>", "Invoice attached"
    mail["Message-ID"] = f"<{datetime.now(UTC).timestamp()}@example.org>"
    mail.set_content("Please see the invoice attached.")
    mail.add_attachment(scan, maintype="application", subtype="pdf", filename="factuur €.pdf")
    page_in_mail = b"<script>alert(1)</script>"
    mail.add_attachment(page_in_mail, maintype="text", subtype="html", filename="page.html")
    answer = requests.post(
        f"{desk.urls['intake']}/v1/inbound/email",
        data=mail.as_bytes(),
        headers={**bearer(desk.keys["portal"]), "Content-Type": "message/rfc822"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    accepted = answer.json()
    wait_until(lambda: tracked(desk, accepted), timeout=20)
    sign_in(page, desk, "ann", people["ann"][1])
    page.goto(f"{desk.public_url}/desk/find?q={accepted['reference']}")
    expect(page.locator("h1")).to_contain_text(accepted["reference"])
    files = page.locator("aside.side .attachments")
    expect(files).to_contain_text("factuur €.pdf")
    at_work(page, shots, "56-ticket-attachments")
    with page.expect_download() as saving:
        files.get_by_role("link", name="factuur €.pdf").click()
    assert saving.value.suggested_filename == "factuur €.pdf"
    assert Path(saving.value.path()).read_bytes() == scan
    # A page in an e-mail is a file to save, never a page of the console.
    href = files.get_by_role("link", name="page.html").get_attribute("href")
    got = page.request.get(f"{desk.public_url}{href}")
    assert got.status == 200 and got.body() == page_in_mail
    assert got.headers["content-disposition"].startswith('attachment; filename="page.html"')
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"].startswith("sandbox")
    assert got.headers["cache-control"] == "no-store"
    page.context.clear_cookies()  # signed out: nothing to download
    gone = page.request.get(f"{desk.public_url}{href}", max_redirects=0)
    assert gone.status in (302, 303) and "/desk/sign-in" in gone.headers["location"]


def test_a_walk_in_is_called_to_a_counter_and_the_waiting_room_sees_it(
    desk, browser, page, shots, people
):
    walk_in = submit_request(desk, "walk_in", "walk.in@example.org")
    number = walk_in["ticket_number"]
    assert re.fullmatch(r"C-\d{3}", number), number  # the facilities queue's letter
    wait_until(lambda: tracked(desk, walk_in), timeout=20, what="the walk-in")
    # The waiting room's television: no sign-in, sound turned on once by whoever sets it up.
    room = browser.new_context(bypass_csp=True, locale="nl-NL").new_page()
    room.set_viewport_size({"width": 1440, "height": 900})
    room.goto(f"{desk.public_url}/counter/display?queue=facilities&lang=nl")
    expect(room.locator(".line")).to_contain_text("Wachtend")
    room.get_by_role("button", name="Geluid aan").click()
    expect(room.get_by_role("button", name="Geluid uit")).to_have_attribute("aria-pressed", "true")

    sign_in(page, desk, "ann", people["ann"][1])
    page.get_by_role("link", name="Counter", exact=True).click()
    at_work(page, shots, "60-counter-choose")
    page.get_by_label("Counter", exact=True).fill("3")
    page.get_by_label("For the queue").select_option(label="Facilities")
    page.get_by_role("button", name="Start at this counter").click()
    expect(page.locator("h1")).to_have_text("Counter 3 · Facilities")
    expect(page.locator("#counter-line table")).to_contain_text(number)
    at_work(page, shots, "61-counter")
    while page.locator(".called-number").count() == 0 or (
        page.locator(".called-number").inner_text() != number
    ):  # earlier walk-ins of this desk first, in fair order
        page.get_by_role("button", name="Call next").click()
        expect(page.locator(".notice")).to_have_text("The next number is called.")
    at_work(page, shots, "62-counter-called")

    # Without a reload, the television shows it large, with the counter and a chime.
    expect(room.locator(".now .number")).to_have_text(number, timeout=10_000)
    expect(room.locator(".now .to")).to_have_text("balie 3")
    expect(room.locator("body")).to_have_attribute("data-announced", re.compile(number))
    # Asked in one script: the board is swapped in whole, maybe between two steps.
    size = room.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('.now .number')).fontSize)"
    )
    assert size >= 120, f"the number is {size} px: not readable from 5 m"
    screen = room.locator("body").inner_text()
    assert "Caller" not in screen and walk_in["reference"] not in screen  # numbers only
    at_work(room, shots, "63-waiting-room-display")
    room.context.close()

    # Too soon to record that the person did not come: the counter says why.
    page.get_by_role("button", name="Did not come").click()
    expect(page.locator(".error-summary")).to_contain_text("at least 60 seconds apart")
    page.get_by_role("button", name="Call again").click()
    expect(page.locator(".notice")).to_have_text("The number is called again.")
    page.get_by_role("button", name="Start serving").click()
    expect(page.locator("dd.status")).to_have_text("In progress")
    token = {"token": walk_in["tracking_token"]}
    track = f"{desk.urls['queue']}/v1/track/{walk_in['reference']}"
    status = requests.get(track, params=token, timeout=5).json()
    assert status["ticket_number"] == number
    assert any("counter 3" in (u["message"] or "") for u in status["updates"])
    page.goto(walk_in["status_url"])  # what the visitor follows on their phone
    expect(page.locator(".ticket-number")).to_have_text(number)
    expect(page.locator(".updates")).to_contain_text("please go to counter 3")
    checked(page, shots, "64-status-with-number")


def test_a_visitor_takes_a_number_at_the_kiosk(desk, page, shots):
    page.goto(f"{desk.public_url}/counter/kiosk?lang=nl")
    expect(page.locator("h1")).to_have_text("Neem een nummer")
    at_work(page, shots, "65-kiosk")
    page.get_by_label("Uw naam (als u wilt)").fill("Rita")
    page.get_by_role("button", name="Ruimte te koud of te warm").click()
    number = page.locator(".ticket-number.big")
    expect(number).to_have_text(re.compile(r"^C-\d{3}$"))
    expect(page.get_by_role("img", name="Een code om te scannen")).to_be_visible()
    # For the next visitor the screen goes back by itself; whoever stands there may stay.
    expect(page.locator("#returns")).to_be_visible()
    expect(page.locator("#seconds")).not_to_have_text("30", timeout=3000)  # counting down
    page.get_by_role("button", name="Open houden").click()
    expect(page.locator("#returns")).to_be_hidden()
    at_work(page, shots, "66-kiosk-number")
    page.get_by_role("link", name="Klaar").click()
    expect(page.locator("h1")).to_have_text("Neem een nummer")


def test_a_customer_takes_a_number_from_home_and_is_told_when_their_turn_nears(desk, page, shots):
    page.goto(f"{desk.public_url}/?lang=nl")
    page.get_by_role("link", name="Neem thuis al een nummer").click()
    checked(page, shots, "67-from-home-categories")
    page.get_by_role("link", name="Laptop kapot").click()
    page.get_by_label("Uw naam").fill("Noor de Vries")
    page.get_by_label("Per sms").check()
    page.get_by_role("button", name="Neem een nummer").click()
    expect(page.locator(".error-summary")).to_contain_text("Uw mobiele nummer")
    page.get_by_label("Per e-mail").check()
    page.get_by_label("Uw e-mailadres").fill("noor@example.org")
    checked(page, shots, "68-from-home-form")
    page.get_by_role("button", name="Neem een nummer").click()
    number = page.locator(".ticket-number")
    expect(number).to_have_text(re.compile(r"^B-\d{3}$"))  # the IT back office's letter
    checked(page, shots, "69-from-home-number")
    taken = number.inner_text()
    confirmation = mail_to(desk, "noor@example.org", "Uw nummer voor de balie is")
    assert taken in _text(confirmation)
    # Nobody ahead in this queue's line: the message to set out comes at once, and once.
    near = mail_to(desk, "noor@example.org", "U bent bijna aan de beurt aan de balie.")
    assert near["Subject"].endswith(f"nummer {taken}") and "U bent de volgende" in _text(near)
    reference = re.search(r"LKT-\d+", near["Subject"]).group(0)
    # At the kiosk, the reference checks the number in.
    page.goto(f"{desk.public_url}/counter/kiosk?lang=nl")
    page.get_by_label("Het kenmerk in uw bevestiging").fill(reference)
    page.get_by_role("button", name="Aanmelden").click()
    expect(page.locator("h1")).to_have_text("Welkom: u bent aangemeld")
    expect(page.locator(".ticket-number.big")).to_have_text(taken)
    checked(page, shots, "70-from-home-checked-in")
    told = [m for m in desk.smtp.messages if "noor@example.org" in m["To"]]
    assert sum("bijna aan de beurt" in m["Subject"] for m in told) == 1


def test_a_caller_who_hung_up_is_called_back_and_not_reached_goes_back_in_line(
    desk, page, shots, people
):
    # The phone system: a call that rang until the caller gave up.
    calls = f"{desk.urls['intake']}/v1/calls"
    ringing = {"event": "newCall", "callId": "pbx-4711", "from": "0687654321", "to": "0205550100",
               "direction": "in"}  # fmt: skip
    for event in (ringing, {"event": "hangup", "callId": "pbx-4711", "cause": "cancel"}):
        sent = requests.post(calls, data=event, headers=bearer(desk.keys["phone"]), timeout=5)
        assert sent.status_code == 200, sent.text
    tickets = f"{desk.urls['queue']}/v1/tickets"

    def the_call_back() -> dict | None:
        wanted = {"requester": "+31687654321", "channel": "callback"}
        found = requests.get(
            tickets, params=wanted, headers=bearer(desk.keys["agent"]), timeout=5
        ).json()["tickets"]
        return found[0] if found else None

    callback = wait_until(the_call_back, timeout=20, what="the call-back in the queue")
    sign_in(page, desk, "ann", people["ann"][1])
    page.goto(f"{desk.public_url}/desk/tickets/{callback['id']}")
    page.get_by_label("Why out of order (recorded)").fill("calling back the missed call")
    page.get_by_role("button", name="Take this ticket").click()
    expect(page.get_by_role("link", name="Call +31687654321")).to_have_attribute(
        "href", "tel:+31687654321"
    )
    at_work(page, shots, "71-call-back")
    page.get_by_label("Not reached: try again later").check()
    page.locator("#callback-note").fill("Rang eight times")
    page.get_by_role("button", name="Record the call").click()
    expect(page.locator(".notice")).to_have_text("The call is recorded.")
    expect(page.locator("dd.status")).to_have_text("In the queue")
    expect(page.locator(".thread")).to_contain_text("Called back: not reached")
    assert page.locator(".thread").inner_text().count("Rang eight times") == 1
    expect(page.locator("dd.callback")).to_have_text(re.compile(r"^\w{3} \d+ \w{3} \d\d:\d\d$"))
    at_work(page, shots, "72-call-back-not-reached")
    # The worklist: call-backs waiting, each with when to call again and how often tried.
    page.get_by_role("link", name="Call-backs waiting").click()
    row = page.locator("tr", has=page.get_by_role("link", name=callback["reference"]))
    expect(row.locator(".callback")).to_contain_text("Call again from")
    expect(row.locator(".callback")).to_contain_text("tried 1x")
    at_work(page, shots, "73-call-backs-waiting")
    # Two more calls that do not reach the caller: the desk asks, by SMS as the phone
    # system gave only the number (in the desk's language), for another time, with the
    # link to choose it.
    not_reached_again(desk, callback["id"], times=2)
    link = f"{desk.public_url}/track/{callback['reference']}/callback?token="

    def the_sms() -> dict | None:
        texts = [received.json() for received in desk.sms.requests()]
        asking = (t for t in texts if link in t["text"] and "niet telefonisch" in t["text"])
        return next(asking, None)

    asked = wait_until(the_sms, timeout=30, what="the SMS asking for another time")
    assert asked["to"] == "+31687654321"
    assert asked["text"].startswith("We konden u niet telefonisch bereiken")


def test_a_caller_who_hung_up_chooses_a_time_from_the_sms_and_keeps_their_place(desk, page, shots):
    calls = f"{desk.urls['intake']}/v1/calls"
    for event in (
        {"event": "newCall", "callId": "pbx-0800", "from": "+31 6 5555 0800", "to": "0205550100",
         "direction": "in"},
        {"event": "hangup", "callId": "pbx-0800", "cause": "noAnswer"},
    ):  # fmt: skip
        sent = requests.post(calls, json=event, headers=bearer(desk.keys["phone"]), timeout=5)
        assert sent.status_code == 200, sent.text

    def the_sms() -> dict | None:
        texts = [r.json() for r in desk.sms.requests() if r.json()["to"] == "+31655550800"]
        return texts[0] if texts else None

    told = wait_until(the_sms, timeout=30, what="the SMS that the desk calls back")
    assert told["text"].startswith("We bellen u terug (LKT-")
    link = re.search(r"(http\S+/callback\?\S+)", told["text"]).group(1)
    page.goto(link.replace("lang=nl", "lang=en"))
    expect(page.locator("h1")).to_have_text("Choose a time for us to call you")
    checked(page, shots, "74a-callback-any-time")
    first = page.locator("#slot option").nth(1)
    page.locator("#slot").select_option(first.get_attribute("value"))
    page.get_by_role("button", name="Call me at this time").click()
    expect(page.locator(".notice")).to_contain_text("we will call you")
    expect(page.locator("dd.callback-window")).to_be_visible()
    # Chosen: the link now opens the status page, which offers no second choice.
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/track/LKT-\d+\?"))
    expect(page.get_by_role("link", name="Kies een tijd waarop we u bellen")).to_have_count(0)
    expect(page.locator("dd.callback-window")).to_be_visible()


def not_reached_again(desk, ticket_id: str, times: int) -> None:
    """An agent takes the call-back out of order, calls, and does not reach the caller."""
    agent = bearer(desk.keys["agent"])
    for _ in range(times):
        taken = requests.post(
            f"{desk.urls['queue']}/v1/tickets/{ticket_id}/claim",
            json={"reason": "calling back"},
            headers=agent,
            timeout=5,
        )
        assert taken.status_code == 200, taken.text
        called = requests.post(
            f"{desk.urls['queue']}/v1/tickets/{ticket_id}/callback-attempts",
            json={"outcome": "not_reached", "note": "No answer"}, headers=agent, timeout=5,
        )  # fmt: skip
        assert called.status_code == 200, called.text


def test_a_customer_the_desk_could_not_reach_chooses_another_time_from_the_e_mail(
    desk, page, shots
):
    asked = submit_request(desk, "callback", "rosa@example.org",
                           requester={"name": "Rosa", "email": "rosa@example.org",
                                      "phone": "+31612345678", "language": "en"})  # fmt: skip
    wait_until(lambda: tracked(desk, asked), timeout=30, what="the call-back in the queue")
    found = requests.get(
        f"{desk.urls['queue']}/v1/tickets",
        params={"requester": "rosa@example.org"},
        headers=bearer(desk.keys["agent"]),
        timeout=5,
    )
    ticket = found.json()["tickets"][0]
    not_reached_again(desk, ticket["id"], times=3)
    message = mail_to(desk, "rosa@example.org", "Choose a time for us to call")
    page.goto(link_in(message, f"/track/{asked['reference']}/callback"))
    expect(page.locator("h1")).to_have_text("We could not reach you by phone")
    checked(page, shots, "74-callback-another-time")
    page.get_by_role("button", name="Call me at this time").click()
    expect(page.locator("#slot-error")).to_be_visible()
    checked(page, shots, "75-callback-another-time-error")
    first = page.locator("#slot option").nth(1)
    page.locator("#slot").select_option(first.get_attribute("value"))
    page.get_by_role("button", name="Call me at this time").click()
    expect(page.locator(".notice")).to_contain_text("we will call you")
    expect(page.locator("dd.callback-window")).to_be_visible()
    checked(page, shots, "76-callback-another-time-chosen")
    status = requests.get(f"{desk.urls['queue']}/v1/track/{asked['reference']}",
                          params={"token": asked["tracking_token"]}, timeout=5).json()  # fmt: skip
    assert status["status"] == "queued" and status["callback_not_before"]


def test_an_agent_on_the_phone_sees_the_caller_and_records_the_call_solved_on_it(
    desk, page, shots, people
):
    # The caller asked before, from the same number: the desk knows who it probably is.
    earlier = submit_request(desk, "web", "piet@example.org",
                             requester={"name": "Piet Jansen", "email": "piet@example.org",
                                        "phone": "+31 6 1111 2222", "language": "en"})  # fmt: skip
    wait_until(lambda: tracked(desk, earlier), timeout=30, what="the earlier request")
    calls = f"{desk.urls['intake']}/v1/calls"
    for event in (
        {"event": "newCall", "callId": "pbx-5150", "from": "0611112222", "to": "0205550100",
         "direction": "in"},
        {"event": "answer", "callId": "pbx-5150", "user": "ann"},
    ):  # fmt: skip
        sent = requests.post(calls, json=event, headers=bearer(desk.keys["phone"]), timeout=5)
        assert sent.status_code == 200, sent.text
    sign_in(page, desk, "ann", people["ann"][1])
    pop = page.locator(".screen-pop")
    expect(pop).to_contain_text("Probably Piet Jansen")
    expect(pop.get_by_role("link", name=earlier["reference"])).to_be_visible()
    at_work(page, shots, "77-screen-pop")
    pop.get_by_role("link", name="Record this call").click()
    expect(page.locator("h1")).to_have_text("Record a contact")
    expect(page.locator(".contact-who")).to_contain_text(earlier["reference"])
    page.get_by_label("Category").select_option(label="Password reset")
    page.get_by_role("button", name="Choose", exact=True).click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Piet Jansen")
    expect(page.locator("#phone")).to_have_value("+31611112222")
    expect(page.get_by_label("Phone", exact=True)).to_be_checked()
    at_work(page, shots, "78-record-a-call")
    page.get_by_label("Short description").fill("Locked out after the holidays")
    page.get_by_label("What is the matter?").fill("Typed the old password three times.")
    page.get_by_label("User name").fill("pjansen")
    page.get_by_label("Workstation").check()
    page.get_by_role("button", name="Record", exact=True).click()
    expect(page.locator(".error-summary")).to_contain_text("Choose the outcome.")
    at_work(page, shots, "79-record-a-call-errors")
    page.get_by_label("Solved during the contact").check()
    page.get_by_label("What solved it").fill("Reset the password; he signed in while on the phone.")
    page.get_by_role("button", name="Record", exact=True).click()
    notice = page.locator(".notice")
    expect(notice).to_contain_text("Recorded and resolved: LKT-")
    at_work(page, shots, "80-call-recorded")
    reference = re.search(r"LKT-\d+", notice.inner_text()).group(0)

    def resolved() -> dict | None:
        found = requests.get(f"{desk.urls['queue']}/v1/tickets/{reference}",
                             headers=bearer(desk.keys["supervisor"]), timeout=5)  # fmt: skip
        return found.json() if found.status_code == 200 else None

    ticket = wait_until(resolved, timeout=30, what="the recorded call in the queue")
    assert (ticket["channel"], ticket["status"]) == ("phone", "resolved")
    assert ticket["requester"]["email"] == "piet@example.org"
    # The contact started when the call came in: the wait is the phone system's.
    shown = requests.get(calls, params={"agent": "ann"}, headers=bearer(desk.keys["supervisor"]),
                         timeout=5).json()["calls"]  # fmt: skip
    call = next(c for c in shown if c["call_id"] == "pbx-5150")
    assert ticket["contact_started_at"][:19] == call["started_at"][:19]


def test_an_agent_at_the_counter_finds_the_customer_by_name_and_records_a_ticket_in_line(
    desk, page, shots, people
):
    earlier = submit_request(desk, "web", "ines@example.org",
                             requester={"name": "Inês Würtz", "email": "ines@example.org",
                                        "language": "en"})  # fmt: skip
    wait_until(lambda: tracked(desk, earlier), timeout=30, what="the earlier request")
    sign_in(page, desk, "ann", people["ann"][1])
    page.get_by_role("link", name="Record a contact").click()
    page.get_by_label("Phone number, e-mail address or name").fill("Würtz")
    page.get_by_role("button", name="Look up").click()
    found = page.locator(".found li", has=page.get_by_role("link", name=earlier["reference"]))
    expect(found).to_contain_text("Inês Würtz")
    at_work(page, shots, "81-record-a-visit-found")
    found.get_by_role("link", name="Use these details").click()
    page.get_by_label("Category").select_option(label="Broken laptop")
    page.get_by_role("button", name="Choose", exact=True).click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Inês Würtz")
    page.get_by_label("Walk-in counter").check()
    page.get_by_label("Short description").fill("Laptop does not start")
    page.get_by_label("What is the matter?").fill("Brought it to the counter.")
    page.get_by_label("Asset tag").fill("NB-0042")
    page.get_by_label("Does not start").check()
    page.get_by_label("Waited before you answered (minutes)").fill("12")
    page.get_by_label("A ticket in line").check()
    page.get_by_role("button", name="Record", exact=True).click()
    notice = page.locator(".notice")
    expect(notice).to_contain_text("waits in line")
    reference = re.search(r"LKT-\d+", notice.inner_text()).group(0)

    def queued() -> dict | None:
        found = requests.get(f"{desk.urls['queue']}/v1/tickets/{reference}",
                             headers=bearer(desk.keys["agent"]), timeout=5)  # fmt: skip
        return found.json() if found.status_code == 200 else None

    ticket = wait_until(queued, timeout=30, what="the recorded visit in the queue")
    assert (ticket["channel"], ticket["status"]) == ("walk_in", "queued")
    # Its place counts from when the customer began to wait, twelve minutes before.
    waited = datetime.fromisoformat(ticket["created_at"]) - datetime.fromisoformat(
        ticket["contact_started_at"]
    )
    assert timedelta(minutes=11) < waited < timedelta(minutes=13)


def test_two_people_on_one_ticket_the_stale_change_comes_back_with_its_text(
    desk, browser, page, shots, people
):
    """The second change, made on a view the first has since changed, is refused with
    what changed shown and what was typed kept (issue 34: two people, one ticket)."""
    asked = submit_request(desk, "web", "two.agents@example.org")
    wait_until(lambda: tracked(desk, asked), timeout=30, what="the ticket in the queue")
    sign_in(page, desk, "ann", people["ann"][1])
    page.goto(f"{desk.public_url}/desk/find?q={asked['reference']}")
    page.get_by_label("Why out of order").fill("the caller is on the line")
    page.get_by_role("button", name="Take this ticket").click()
    expect(page.locator(".notice")).to_have_text("You hold this ticket now.")

    other = browser.new_context(bypass_csp=True, locale="en-GB")
    try:
        supervisor = other.new_page()
        sign_in(supervisor, desk, "ben", people["ben"][1])
        supervisor.goto(f"{desk.public_url}/desk/find?q={asked['reference']}")
        supervisor.get_by_role("radio", name="Internal note").check()
        supervisor.get_by_label("Message", exact=True).fill("The room was painted today.")
        supervisor.locator("#reply-form").get_by_role("button", name="Send", exact=True).click()
        expect(supervisor.locator(".notice")).to_have_text("Added to the conversation.")
    finally:
        other.close()

    # Ann's open page shows the colleague's note as it is written, and says her view of
    # the ticket is older; a change she makes on it anyway is refused, not made.
    expect(page.locator("#thread .note", has_text="The room was painted today.")).to_be_visible(
        timeout=25_000
    )
    expect(page.locator("#thread .changed")).to_contain_text("changed since you opened it")
    unfold(page, "Change status")
    page.locator("#status-form").get_by_label("New status").select_option("resolved")
    page.locator("#status-form").get_by_label("Message to the customer").fill("It was the window.")
    page.locator("#status-form").get_by_role("button", name="Save").click()
    expect(page.locator(".error-summary")).to_contain_text("Someone changed this ticket")
    expect(page.locator(".thread .note", has_text="The room was painted today.")).to_be_visible()
    expect(page.locator("dd.viewers")).to_contain_text("ben")  # who else has it open
    expect(page.locator("#status-form").get_by_label("Message to the customer")).to_have_value(
        "It was the window."
    )
    expect(page.locator("dd.status")).to_have_text("In progress")
    expect(page.locator("#status-form").get_by_label("New status")).to_have_value("resolved")
    at_work(page, shots, "47-ticket-changed-meanwhile")
    page.locator("#status-form").get_by_role("button", name="Save").click()
    expect(page.locator(".notice")).to_have_text("Status changed.")


def test_a_supervisor_reads_the_reports_and_resolves_a_problem_for_every_customer(
    desk, page, shots, people
):
    sign_in(page, desk, "ann", people["ann"][1])
    page.goto(f"{desk.public_url}/desk/reports")
    expect(page.locator("h1")).to_have_text("Not for your role")  # an agent: 403
    at_work(page, shots, "50-not-for-your-role")
    page.get_by_role("button", name="Sign out").click()

    # Two customers hit by one broken lift, linked to one problem.
    hit = [submit_request(desk, "web", f"lift{n}@example.org") for n in (1, 2)]
    wait_until(lambda: all(tracked(desk, r) for r in hit), timeout=30, what="the tickets")
    sign_in(page, desk, "ben", people["ben"][1])
    # From each ticket's page: the first to a new problem, the second to that problem.
    for n, accepted in enumerate(hit):
        page.goto(f"{desk.public_url}/desk/find?q={accepted['reference']}")
        unfold(page, "Link to a problem")
        form = page.locator("#problem-form")
        if n == 0:
            form.get_by_label("Problem", exact=True).select_option("new")
            form.get_by_label("Title of a new problem").fill("Lift 2 out of order")
        else:
            form.get_by_label("Problem", exact=True).select_option(label="Lift 2 out of order (1)")
        form.get_by_role("button", name="Link").click()
        expect(page.locator(".notice")).to_have_text("Linked to the problem.")

    # An article for customers and agents, written in the console.
    page.goto(f"{desk.public_url}/desk/")
    page.get_by_role("link", name="Knowledge articles").click()
    page.get_by_role("link", name="Write an article").click()
    at_work(page, shots, "52a-article-form")
    page.get_by_label("Title").fill("When the lift is out of order")
    page.get_by_label("Language").select_option("en")
    page.get_by_label("Text").fill("Use lift 1 or the stairs.\n\nWe fix lifts within a day.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice")).to_have_text("Article saved.")
    at_work(page, shots, "52-knowledge")
    found = requests.get(f"{desk.urls['feedback']}/v1/knowledge/search", timeout=5,
                         params={"q": "lift stairs", "lang": "en"}).json()["results"]  # fmt: skip
    assert found[0]["title"] == "When the lift is out of order"

    # A prepared answer, written once for every colleague; a placeholder typo is refused.
    page.get_by_role("link", name="Prepared answers").click()
    page.get_by_role("link", name="Write a prepared answer").click()
    page.get_by_label("Title (what agents choose it by)").fill("Heating fixed")
    page.get_by_label("Queue", exact=True).select_option("facilities")
    page.get_by_label("Text in English").fill("Dear {naam}, the heating works again.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".error-summary")).to_contain_text("{naam}")
    page.get_by_label("Text in English").fill(
        "Dear {name}, the heating for {reference} works again. Regards, {agent}"
    )
    page.get_by_label("Text in Dutch").fill("Beste {name}, de verwarming doet het weer.")
    at_work(page, shots, "53-prepared-answer-form")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice")).to_have_text("Answer saved.")
    at_work(page, shots, "53-prepared-answers")

    # In the reply box: the answer filled in for the ticket, then the article's link, and
    # sent with the resolution in one action.
    asked = submit_request(desk, "web", "answered@example.org")
    wait_until(lambda: tracked(desk, asked), timeout=30, what="the ticket in the queue")
    page.goto(f"{desk.public_url}/desk/find?q={asked['reference']}")
    page.get_by_label("Why out of order").fill("a supervisor answers this one")
    page.get_by_role("button", name="Take this ticket").click()
    page.get_by_label("Message", exact=True).fill("Thank you for waiting.")
    page.get_by_label("Prepared answer").select_option(label="Heating fixed")
    page.get_by_role("button", name="Insert", exact=True).click()
    expected = f"Dear Caller, the heating for {asked['reference']} works again. Regards, ben"
    message = page.get_by_label("Message", exact=True)
    expect(message).to_have_value(f"Thank you for waiting.\n\n{expected}")
    page.get_by_label("Knowledge article").select_option(label="When the lift is out of order")
    page.get_by_role("button", name="Insert its link").click()
    expect(message).to_have_value(re.compile(r"When the lift is out of order: http\S+/help/"))
    at_work(page, shots, "54-ticket-answer-inserted")
    page.get_by_role("button", name="Send and resolve").click()
    expect(page.locator(".notice")).to_have_text("Sent, and the ticket is resolved.")
    sent = mail_to(desk, "answered@example.org", expected)
    article_link = re.search(r"http\S+/help/\S+", _text(sent)).group(0)
    assert requests.get(article_link, timeout=5).status_code == 200  # the link works

    # The wallboard: the waiting per queue and channel, who works what, live.
    waiting = submit_request(desk, "web", "board@example.org")
    wait_until(lambda: tracked(desk, waiting), timeout=30, what="the ticket in the queue")
    page.goto(f"{desk.public_url}/desk/find?q={waiting['reference']}")
    page.get_by_label("Why out of order").fill("a supervisor looks at this one")
    page.get_by_role("button", name="Take this ticket").click()
    page.get_by_role("link", name="Wallboard").click()
    expect(page.locator("h1")).to_have_text("Wallboard")
    expect(page.locator(".tile").first).to_contain_text("waiting")
    expect(page.locator("table", has_text="Self-service portal").first).to_be_visible()
    expect(page.locator("#board tr", has_text="ben")).to_contain_text(waiting["reference"])
    at_work(page, shots, "55-wallboard")

    page.get_by_role("link", name="Reports").click()
    expect(page.locator("h1")).to_have_text("Reports")
    # The survey answered earlier in this module, by channel: a chart and its numbers.
    expect(page.locator("table", has_text="Self-service portal").first).to_be_visible()
    section = page.locator("#service-levels-by-channel")
    expect(section.locator("tbody tr").last).to_contain_text("All")
    at_work(page, shots, "51-reports")
    # The download holds the rows the page shows, cell for cell.
    for table in ("service-levels-by-channel", "satisfaction-by-channel"):
        shown = page.locator(f"#{table} table")
        expected = [[c.strip() for c in shown.locator("thead th").all_inner_texts()]] + [
            [c.strip() for c in row.locator("th, td").all_inner_texts()]
            for row in shown.locator("tbody tr").all()
        ]
        with page.expect_download() as download:
            page.locator(f"#{table}").get_by_role("link", name="Download as CSV").click()
        assert download.value.suggested_filename.startswith(f"{table}-7d-")
        with open(download.value.path(), encoding="utf-8", newline="") as saved:
            assert list(csv.reader(saved)) == expected
    section = page.locator("section", has_text="Lift 2 out of order")
    section.get_by_label("Resolution").fill("The lift is repaired.")
    section.get_by_role("button", name="Resolve").click()
    expect(page.locator(".notice")).to_contain_text("every linked customer is told")
    for n in (1, 2):
        mail_to(desk, f"lift{n}@example.org", "The lift is repaired.")
    assert sum("lift1@example.org" in m["To"] and "repaired" in _text(m)
               for m in desk.smtp.messages) == 1  # fmt: skip


def test_the_console_refuses_forged_forms_and_locks_after_ten_wrong_passwords(desk, people):
    console = f"{desk.public_url}/desk"

    def attempt(browser: requests.Session, name: str, password: str, csrf: str | None):
        form = {"name": name, "password": password, **({"csrf": csrf} if csrf else {})}
        return browser.post(f"{console}/sign-in", data=form, timeout=5, allow_redirects=False)

    def token(browser: requests.Session) -> str:
        form = browser.get(f"{console}/sign-in", timeout=5)
        return re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)

    with requests.Session() as browser:
        browser.headers["Accept-Language"] = "en"
        csrf = token(browser)
        assert attempt(browser, "ben", people["ben"][1], None).status_code == 400  # forged
        for _ in range(10):
            assert attempt(browser, "ben", "guess", csrf).status_code == 401
        locked = attempt(browser, "ben", people["ben"][1], csrf)
        assert locked.status_code == 429 and "locked" in locked.text
        # Another person is not locked out by ben's attacker.
        assert attempt(browser, "cas", people["cas"][1], csrf).status_code == 303
    with requests.Session() as elsewhere:
        # Nor is ben himself, from his own address: the lock is the attacker's address's
        # (through the gateway make run starts, which names each client's address).
        elsewhere.mount("http://", support.FromAddress("127.0.0.3"))
        assert attempt(elsewhere, "ben", people["ben"][1], token(elsewhere)).status_code == 303
    with requests.Session() as browser:  # a disabled person cannot sign in
        assert attempt(browser, "dora", people["dora"][1], token(browser)).status_code == 401


def test_long_forms_beyond_ascii_and_oversize_ones_leave_a_pooled_connection_usable(desk):
    """Through gunicorn, as a browser's kept-alive connection: a long answer written beyond
    ASCII (percent-encoded to several times its length) is checked, not refused unread;
    one beyond the body limit gets a page, and the next request on that connection works."""
    form = f"{desk.portal_url}/ask/password_reset?lang=en"
    with requests.Session() as browser:
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get(form, timeout=5).text)
        answers = {"csrf": csrf.group(1), "subject": "Wachtwoord — Jürgen Müller",
                   "description": "Mijn wachtwoord is verlopen — ü ✓ " * 4000,
                   "field-account": "jmüller", "field-system": "workstation",
                   "name": "Jürgen Müller", "email": "jürgen@exämple.org",
                   "suggested": "1"}  # fmt: skip
        long = browser.post(form, data=answers, timeout=10)
        assert long.status_code == 422, long.status_code
        assert "What is the matter?: too long (at most 5000 characters)." in long.text
        assert "Wachtwoord — Jürgen Müller" in long.text  # what was typed is kept
        oversize = browser.post(form, data={**answers, "description": "x" * 2_000_000},
                                timeout=10)  # fmt: skip
        assert oversize.status_code == 413 and "Too much text" in oversize.text
        assert browser.get(form, timeout=5).status_code == 200
