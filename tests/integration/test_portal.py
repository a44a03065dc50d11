"""The customer portal's own behaviour: languages, safety headers, and services that do
not answer. Its pages against a whole running desk are in tests/e2e."""

from __future__ import annotations

import html
import re
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_network
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml
from sqlalchemy import select
from werkzeug.serving import make_server

from services.intake import storage as intake_storage
from services.intake.app import create_app as create_intake
from services.portal.app import create_app
from services.portal.settings import PortalSettings
from tests.receivers import send_json
from tests.support import PEOPLE, REPO, bearer, free_port, require_redis, valid_request


@pytest.fixture
def portal():
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: the services are down
    settings = PortalSettings(
        http_host="127.0.0.1", http_port=0, intake_url=closed, queue_url=closed,
        feedback_url=closed,
        default_language="nl", backend_timeout_seconds=1.0,
    )  # fmt: skip
    return create_app(settings).test_client()


def test_a_service_that_does_not_answer_gets_a_clear_page_not_a_500(portal):
    for path in ("/track/LKT-000001?token=abc", "/survey/abc"):
        page = portal.get(path)
        assert page.status_code == 503
        assert "Even niet beschikbaar" in page.text and "Traceback" not in page.text
    posted = portal.post("/survey/abc", data={"score": "3"})
    assert posted.status_code == 503
    home = portal.get("/")
    assert home.status_code == 200 and "kanalen nu niet laten zien" in home.text
    # Every call to a service is timed and counted by service and outcome.
    metrics = portal.get("/metrics").text
    for service in ("queue", "feedback", "intake"):
        assert f'loket_portal_backend_seconds_count{{outcome="failed",service="{service}"}}' in (
            metrics
        )
    # And, like every web process, the contract's request durations by route template.
    assert ('loket_http_request_duration_seconds_count{method="GET",'
            'route="/track/<reference>",service="portal",status="503"}') in metrics  # fmt: skip


def test_the_language_comes_from_the_link_then_the_browser_then_the_desk(portal):
    assert '<html lang="nl">' in portal.get("/").text  # the desk's default
    english = portal.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text
    linked = portal.get("/?lang=nl", headers={"Accept-Language": "en"})
    assert '<html lang="nl">' in linked.text
    # The switch keeps the rest of the link (the token) and names the other language.
    page = portal.get("/track/LKT-000001?token=abc&lang=en")
    assert 'href="?token=abc&amp;lang=nl"' in page.text and "Nederlands" in page.text


def test_every_page_forbids_scripts_framing_and_leaking_its_address(portal):
    for path in ("/", "/track/LKT-000001?token=abc", "/no/such/page"):
        page = portal.get(path)
        assert "script-src" not in page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "<script" not in page.text
    assert portal.get("/no/such/page").status_code == 404


@pytest.fixture
def intake_server(make_settings):
    """A real intake (both databases), served over HTTP until the test stops it."""
    app = create_intake(make_settings("intake"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    app.extensions["loket"].engine.dispose()


def _portal_on(intake_server, keys, **extra):
    """A portal whose every service is the real intake served for the test."""
    url = f"http://127.0.0.1:{intake_server.server_port}"
    values = {"backend_timeout_seconds": 5.0, **extra}
    settings = PortalSettings(
        http_host="127.0.0.1", http_port=0, intake_url=url, queue_url=url, feedback_url=url,
        default_language="en", api_key=keys["portal"], **values,
    )  # fmt: skip
    return create_app(settings).test_client()


def test_a_form_sent_while_intake_is_down_comes_back_with_everything_typed(intake_server, keys):
    portal = _portal_on(intake_server, keys, backend_timeout_seconds=1.0)
    form = portal.get("/ask/room_temperature?lang=en")
    assert form.status_code == 200 and "Room" in form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    form_id = re.search(r'name="form_id" value="([^"]+)"', form.text).group(1)
    typed = {"csrf": csrf, "form_id": form_id, "subject": "Freezing in 3.14",
             "description": "It is 14 degrees.", "field-room": "3.14",
             "field-problem": "too_cold", "name": "Ann", "email": "ann@example.org",
             "suggested": "1"}  # fmt: skip
    intake_server.shutdown()
    intake_server.server_close()
    sent = portal.post("/ask/room_temperature?lang=en", data=typed)
    assert sent.status_code == 503
    assert "has not been sent yet" in sent.text
    assert "Freezing in 3.14" in sent.text and "It is 14 degrees." in sent.text
    assert f'value="{form_id}"' in sent.text  # the same form: sent again, still one request


def test_the_first_page_says_how_to_reach_the_desk(intake_server, keys):
    home = _portal_on(intake_server, keys).get("/?lang=en")
    assert home.status_code == 200
    assert '<a href="tel:+31205550100">+31 20 555 0100</a>' in home.text
    assert '<a href="mailto:servicedesk@example.org">servicedesk@example.org</a>' in home.text
    assert "City Hall, Amstel 1, Amsterdam" in home.text and "Counter 3, ground floor" in home.text


def test_the_kiosk_gives_numbers_in_the_building_only_and_only_with_its_own_key(
    intake_server, keys
):
    assert _portal_on(intake_server, keys).get("/counter/kiosk").status_code == 503  # no key
    elsewhere = (ip_network("10.0.0.0/8"),)  # the test client comes from 127.0.0.1
    away = _portal_on(intake_server, keys, kiosk_api_key=keys["portal"], kiosk_networks=elsewhere)
    refused = away.get("/counter/kiosk?lang=en")
    assert refused.status_code == 403 and "taken in the waiting room" in refused.text
    here = (ip_network("127.0.0.0/8"),)
    kiosk = _portal_on(intake_server, keys, kiosk_api_key=keys["portal"], kiosk_networks=here)
    form = kiosk.get("/counter/kiosk?lang=en")
    assert form.status_code == 200 and "Room too cold or too warm" in form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    expired = kiosk.post("/counter/kiosk?lang=en", data={"category": "room_temperature"})
    assert expired.status_code == 400
    visitor = {"csrf": csrf, "category": "room_temperature", "name": "Ann"}
    taken = kiosk.post("/counter/kiosk?lang=en", data=visitor)
    assert taken.status_code == 201, taken.text
    assert ">C-001<" in taken.text and '<svg role="img"' in taken.text
    unknown = kiosk.post("/counter/kiosk?lang=en", data={"csrf": csrf, "category": "nope"})
    assert unknown.status_code == 422 and "Choose what your question is about." in unknown.text


@pytest.fixture
def open_counter_intake(make_settings, tmp_path):
    """A real intake of a desk whose counter is always open, served over HTTP."""
    config = yaml.safe_load((REPO / "config" / "loket.yaml").read_text())
    config["opening_hours"]["walk_in"] = "always"
    (tmp_path / "desk.yaml").write_text(yaml.safe_dump(config))
    app = create_intake(make_settings("intake", LOKET_CONFIG=str(tmp_path / "desk.yaml")))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    app.extensions["loket"].engine.dispose()


def test_an_appointment_checks_in_at_the_kiosk_by_its_reference(open_counter_intake, keys):
    url = f"http://127.0.0.1:{open_counter_intake.server_port}"
    here = (ip_network("127.0.0.0/8"),)
    kiosk = _portal_on(open_counter_intake, keys, kiosk_api_key=keys["portal"], kiosk_networks=here)
    slots = requests.get(f"{url}/v1/appointments/slots", headers=bearer(keys["portal"]), timeout=5)
    start = slots.json()["slots"][0]["start"]  # within the next quarter of an hour
    body = {**valid_request(channel="walk_in"), "start": start}
    booking = requests.post(
        f"{url}/v1/appointments", json=body, headers=bearer(keys["portal"]), timeout=5
    )
    reference = booking.json()["reference"]
    form = kiosk.get("/counter/kiosk?lang=en")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    check_in = "/counter/kiosk/check-in?lang=en"
    unknown = kiosk.post(check_in, data={"csrf": csrf, "reference": "LKT-999999"})
    assert unknown.status_code == 404 and "cannot find that appointment" in unknown.text
    arrived = kiosk.post(check_in, data={"csrf": csrf, "reference": reference.lower()})
    assert arrived.status_code == 200, arrived.text
    assert ">A-001<" in arrived.text and f"checked in for {start[11:16]}" in arrived.text
    # A number taken from home checks in the same way, with the number it has.
    walk_in = valid_request(channel="walk_in")
    taken = requests.post(f"{url}/v1/requests", json=walk_in, headers=bearer(keys["portal"]),
                          timeout=5).json()  # fmt: skip
    here_now = kiosk.post(check_in, data={"csrf": csrf, "reference": taken["reference"]})
    assert here_now.status_code == 200, here_now.text
    assert "Welcome: you are checked in" in here_now.text
    assert f">{taken['ticket_number']}<" in here_now.text


def test_one_address_sends_so_many_requests_an_hour_and_the_next_comes_back_typed(
    intake_server, keys
):
    """Each request is confirmed to the address typed in it: a script on one address may
    not make the desk mail strangers without end (issue 33, 6)."""
    portal = _portal_on(intake_server, keys, requests_per_address_hour=2)

    def send(subject: str):
        form = portal.get("/ask/room_temperature?lang=en")
        typed = {name: re.search(rf'name="{name}" value="([^"]+)"', form.text).group(1)
                 for name in ("csrf", "form_id")}  # fmt: skip
        typed |= {"subject": subject, "description": "It is 14 degrees.", "field-room": "3.14",
                  "field-problem": "too_cold", "name": "Ann", "email": "ann@example.org",
                  "suggested": "1"}  # fmt: skip
        return portal.post("/ask/room_temperature?lang=en", data=typed)

    assert [send(f"Cold {n}").status_code for n in range(2)] == [303, 303]
    refused = send("Cold, the third time")
    assert refused.status_code == 429
    assert "many requests came from this address in the last hour" in refused.text
    assert "Cold, the third time" in refused.text
    assert refused.headers["Retry-After"] == "3600"


class _SlowQueue(BaseHTTPRequestHandler):
    """A queue service that knows a request only after `known_after` questions."""

    def do_GET(self):
        self.server.asked += 1
        if self.server.asked <= self.server.known_after:
            send_json(self, 404, {"error": {"code": "not_found", "message": "No such request."}})
        else:
            send_json(self, 200, {"reference": "LKT-000001", "status": "queued",
                                  "queue_position": 1, "updates": []})  # fmt: skip

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_queue():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowQueue)
    server.asked, server.known_after = 0, 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_request_made_a_moment_ago_is_waited_for_without_holding_a_worker(slow_queue):
    from services.portal.pages import FRESH_SECONDS, fresh_mark

    url = f"http://127.0.0.1:{slow_queue.server_address[1]}"
    settings = PortalSettings(
        http_host="127.0.0.1", http_port=0, intake_url=url, queue_url=url, feedback_url=url,
        default_language="en", backend_timeout_seconds=1.0,
    )  # fmt: skip
    app = create_app(settings)
    portal = app.test_client()
    with app.test_request_context():
        mark = fresh_mark("LKT-000001", "abc")
        old = fresh_mark("LKT-000001", "abc", time.time() - FRESH_SECONDS - 5)
    slow_queue.known_after = 100  # not in the queue yet
    waiting = portal.get(f"/track/LKT-000001?token=abc&new=1&fresh={mark}")
    assert waiting.status_code == 200 and "being registered" in waiting.text
    assert '<meta http-equiv="refresh" content="1">' in waiting.text
    assert slow_queue.asked == 1  # asked once: the page itself looks again, not a worker
    # A mark the portal did not make, for another token, or too old: answered at once.
    for link in (
        "/track/LKT-000001?token=abc&new=1",
        "/track/LKT-000001?token=abc&new=1&fresh=1.forged",
        f"/track/LKT-000001?token=wrong&new=1&fresh={mark}",
        f"/track/LKT-000001?token=abc&fresh={old}",
    ):
        slow_queue.asked = 0
        assert portal.get(link).status_code == 404, link
        assert slow_queue.asked == 1
    slow_queue.asked, slow_queue.known_after = 0, 0  # it has arrived
    page = portal.get(f"/track/LKT-000001?token=abc&new=1&fresh={mark}")
    assert page.status_code == 200 and "we have received your request" in page.text


def test_sign_in_failures_are_counted_here_while_the_shared_store_is_down(accounts_file):
    """Redis down: sign-in still answers, and ten wrong passwords still lock."""
    closed = f"http://127.0.0.1:{free_port()}"
    settings = PortalSettings(
        http_host="127.0.0.1", http_port=0, intake_url=closed, queue_url=closed,
        feedback_url=closed, default_language="en", backend_timeout_seconds=1.0,
        accounts_file=accounts_file,
        sign_in_storage_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens
    )  # fmt: skip
    client = create_app(settings).test_client()
    page = client.get("/desk/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    for _ in range(10):
        wrong = client.post("/desk/sign-in", data={"csrf": csrf, "name": "ann", "password": "x"})
        assert wrong.status_code == 401
    right = client.post("/desk/sign-in", data={"csrf": csrf, "name": "ann",
                                               "password": PEOPLE["ann"][1]})  # fmt: skip
    assert right.status_code == 429


def test_the_console_cookie_is_for_https_only_when_the_desk_is_served_over_https(
    accounts_file,
):
    closed = f"http://127.0.0.1:{free_port()}"
    for secure in (True, False):
        settings = PortalSettings(
            http_host="127.0.0.1", http_port=0, intake_url=closed, queue_url=closed,
            feedback_url=closed, default_language="en", backend_timeout_seconds=1.0,
            accounts_file=accounts_file, secure_cookies=secure,
        )  # fmt: skip
        client = create_app(settings).test_client()
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/desk/sign-in").text).group(1)
        signed = client.post("/desk/sign-in", data={"csrf": csrf, "name": "ann",
                                                    "password": PEOPLE["ann"][1]})  # fmt: skip
        assert signed.status_code == 303
        cookie = signed.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/desk" in cookie
        assert ("Secure" in cookie) is secure


def test_the_console_speaks_dutch_or_english_and_keeps_the_choice(accounts_file):
    closed = f"http://127.0.0.1:{free_port()}"
    settings = PortalSettings(
        http_host="127.0.0.1", http_port=0, intake_url=closed, queue_url=closed,
        feedback_url=closed, default_language="nl", backend_timeout_seconds=1.0,
        accounts_file=accounts_file,
    )  # fmt: skip
    client = create_app(settings).test_client()
    dutch = client.get("/desk/sign-in")  # the desk's default
    assert '<html lang="nl">' in dutch.text and "Inloggen" in dutch.text
    assert 'href="/desk/sign-in?lang=en"' in dutch.text
    assert "Sign in" in client.get("/desk/sign-in?lang=en").text
    assert "Sign in" in client.get("/desk/sign-in").text  # kept in the session
    browser = create_app(settings).test_client()
    assert "Sign in" in browser.get("/desk/sign-in", headers={"Accept-Language": "en"}).text


def test_an_open_queue_page_refreshing_itself_does_not_keep_a_session_alive(
    accounts_file, monkeypatch
):
    from services.portal import console

    closed = f"http://127.0.0.1:{free_port()}"
    settings = PortalSettings(
        http_host="127.0.0.1", http_port=0, intake_url=closed, queue_url=closed,
        feedback_url=closed, default_language="en", backend_timeout_seconds=1.0,
        accounts_file=accounts_file, idle_minutes=30,
    )  # fmt: skip
    client = create_app(settings).test_client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/desk/sign-in").text).group(1)
    client.post("/desk/sign-in", data={"csrf": csrf, "name": "ann", "password": PEOPLE["ann"][1]})
    started = time.time()
    live = {"HX-Request": "true"}
    for minutes in (10, 20, 29):  # htmx asks for the navigation while nobody touches the page
        monkeypatch.setattr(console.time, "time", lambda m=minutes: started + m * 60)
        client.get("/desk/nav")
        client.get("/desk/?part=list", headers=live)  # and for the list, and the thread
        client.get("/desk/tickets/t1/thread?seen=1", headers=live)
    monkeypatch.setattr(console.time, "time", lambda: started + 31 * 60)
    assert client.get("/desk/nav").status_code == 302  # signed out: to sign-in
    # The open page's next refresh sends the whole page to sign-in, not the form into it.
    ended = client.get("/desk/?part=list", headers=live)
    assert ended.status_code == 204 and ended.headers["HX-Redirect"] == "/desk/sign-in"


def test_a_refresh_of_an_unchanged_part_answers_204_and_a_changed_one_the_part(accounts_file):
    closed = f"http://127.0.0.1:{free_port()}"
    settings = PortalSettings(
        http_host="127.0.0.1", http_port=0, intake_url=closed, queue_url=closed,
        feedback_url=closed, default_language="en", backend_timeout_seconds=1.0,
        accounts_file=accounts_file,
    )  # fmt: skip
    client = create_app(settings).test_client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/desk/sign-in").text).group(1)
    client.post("/desk/sign-in", data={"csrf": csrf, "name": "ann", "password": PEOPLE["ann"][1]})
    live = {"HX-Request": "true"}
    first = client.get("/desk/nav?shown=", headers=live)
    shown = re.search(r'hx-get="/desk/nav\?shown=([0-9a-f]{16})"', first.text).group(1)
    assert client.get(f"/desk/nav?shown={shown}", headers=live).status_code == 204
    other = client.get("/desk/nav?shown=0123456789abcdef", headers=live)
    assert other.status_code == 200 and f"shown={shown}" in other.text
    # What the part shows changed (here: its language), so the whole part comes back.
    dutch = client.get(f"/desk/nav?lang=nl&shown={shown}", headers=live)
    assert dutch.status_code == 200 and f"shown={shown}" not in dutch.text


def _console(accounts_file, tmp_path, storage_url="memory://", namespace="", **extra):
    """A console whose services are down (sign-in and sign-out need none of them)."""
    closed = f"http://127.0.0.1:{free_port()}"
    settings = PortalSettings(
        http_host="127.0.0.1",
        http_port=0,
        intake_url=closed,
        queue_url=closed,
        feedback_url=closed,
        default_language="en",
        backend_timeout_seconds=1.0,
        accounts_file=accounts_file,
        sessions_file=tmp_path / "portal-sessions.db",
        sign_in_storage_url=storage_url,
        namespace=namespace,
        secret_key="the-same-for-every-process-of-this-test-desk",
        **extra,
    )
    return create_app(settings)


def _sign_in(client, name="ann"):
    """Signs in; answers the CSRF token of the new session."""
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/desk/sign-in").text).group(1)
    password = PEOPLE[name][1]
    signed = client.post("/desk/sign-in", data={"csrf": csrf, "name": name, "password": password})
    assert signed.status_code == 303
    with client.session_transaction("/desk/") as kept:
        return kept["csrf"]


@pytest.mark.parametrize("store", ["file", "redis"])
def test_a_cookie_copied_before_sign_out_opens_nothing_after_it_in_any_process(
    accounts_file, tmp_path, namespace, store
):
    storage_url = require_redis() if store == "redis" else "memory://"
    # Two apps on one store: two web processes of one desk.
    first, second = (_console(accounts_file, tmp_path, storage_url, namespace) for _ in "12")
    client = first.test_client()
    csrf = _sign_in(client)
    stolen = client.get_cookie("loket_desk", path="/desk").value
    thief = second.test_client()
    thief.set_cookie("loket_desk", stolen, path="/desk")
    assert thief.get("/desk/sign-in").status_code == 302  # signed in: sent on to the desk
    assert client.post("/desk/sign-out", data={"csrf": csrf}).status_code == 303
    # The copy is a cookie of a session that no longer is: to sign-in, GET and POST.
    again = thief.get("/desk/nav")
    assert again.status_code == 302 and again.headers["Location"].startswith("/desk/sign-in")
    thief.set_cookie("loket_desk", stolen, path="/desk")  # replayed as it was, again
    posted = thief.post("/desk/tickets/t1/notes", data={"csrf": csrf, "text": "x"})
    assert posted.status_code == 302 and posted.headers["Location"].startswith("/desk/sign-in")
    assert thief.get("/desk/sign-in").status_code == 200  # the sign-in form itself


def test_a_session_in_use_ends_after_its_absolute_lifetime(accounts_file, tmp_path, monkeypatch):
    from services.portal import console

    app = _console(accounts_file, tmp_path, idle_minutes=30, session_hours=12)
    client = app.test_client()
    started = time.time()
    _sign_in(client)
    for minutes in range(20, 12 * 60, 20):  # at work all day, never idle for long
        monkeypatch.setattr(console.time, "time", lambda m=minutes: started + m * 60)
        assert client.get("/desk/sign-in").status_code == 302, minutes
    monkeypatch.setattr(console.time, "time", lambda: started + 12 * 3600 + 60)
    assert client.get("/desk/sign-in").status_code == 200  # the form: signed out


def test_the_session_file_is_the_owners_only(accounts_file, tmp_path):
    app = _console(accounts_file, tmp_path)
    _sign_in(app.test_client())
    assert (tmp_path / "portal-sessions.db").stat().st_mode & 0o777 == 0o600
    for extra in tmp_path.glob("portal-sessions.db-*"):
        assert extra.stat().st_mode & 0o777 == 0o600, extra


def test_a_console_whose_session_store_does_not_answer_lets_nobody_in(accounts_file, tmp_path):
    app = _console(accounts_file, tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/desk/sign-in").text).group(1)
    answer = client.post(
        "/desk/sign-in", data={"csrf": csrf, "name": "ann", "password": PEOPLE["ann"][1]}
    )
    assert answer.status_code == 503
    assert client.get("/desk/").status_code == 302  # to sign-in: no session was begun


def test_wrong_passwords_lock_a_name_only_from_the_address_that_tried(accounts_file, tmp_path):
    """OWASP: an attacker's failures must not lock the person out from their own place;
    a name tried from everywhere together is still locked, more slowly."""
    app = _console(accounts_file, tmp_path)

    def attempt(address, password):
        client = app.test_client()
        form = client.get("/desk/sign-in").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        form = {"csrf": csrf, "name": "ann", "password": password}
        return client.post("/desk/sign-in", data=form, environ_base={"REMOTE_ADDR": address})

    for _ in range(10):
        assert attempt("203.0.113.9", "guess").status_code == 401
    assert attempt("203.0.113.9", PEOPLE["ann"][1]).status_code == 429  # locked there
    assert attempt("198.51.100.7", PEOPLE["ann"][1]).status_code == 303  # not at her desk
    for n in range(90):  # a hundred an hour from everywhere: nine each from ten more
        assert attempt(f"192.0.2.{n // 9}", "guess").status_code == 401
    assert attempt("198.51.100.8", PEOPLE["ann"][1]).status_code == 429


def test_sessions_nobody_ended_are_swept_at_most_once_a_minute(tmp_path):
    from services.portal.sessions import Session, SqliteSessions

    store = SqliteSessions(tmp_path / "sessions.db")
    store.put("closed-browser", Session("ann", 0.0, 0.0), expires_in=10)
    store.put("agent", Session("ben", 100.0, 100.0), expires_in=3600)  # sweeps: past 10 s
    assert store.get("closed-browser") is None
    store.put("short", Session("cas", 100.0, 100.0), expires_in=1)
    store.put("agent", Session("ben", 100.0, 130.0), expires_in=3600)  # within the minute
    assert store.get("short") is not None
    store.put("agent", Session("ben", 100.0, 161.0), expires_in=3600)
    assert store.get("short") is None and store.get("agent").person == "ben"


def test_a_number_taken_from_home_asks_how_to_tell_the_customer_and_gives_the_number(
    open_counter_intake, keys
):
    portal = _portal_on(open_counter_intake, keys)
    assert '<a href="/counter/from-home?lang=en">Take a number from home</a>' in (
        portal.get("/?lang=en").text
    )
    listed = portal.get("/counter/from-home?lang=en")
    assert listed.status_code == 200 and 'href="/counter/from-home/room_temperature' in listed.text
    form = portal.get("/counter/from-home/room_temperature?lang=en")
    assert form.status_code == 200 and "How shall we tell you that your turn nears?" in form.text
    typed = {name: re.search(rf'name="{name}" value="([^"]+)"', form.text).group(1)
             for name in ("csrf", "form_id")}  # fmt: skip
    typed |= {"name": "Zoë Ñúñez-Öztürk", "tell_by": "sms", "email": "zoë@exämple.org"}
    no_number = portal.post("/counter/from-home/room_temperature?lang=en", data=typed)
    assert no_number.status_code == 422
    assert 'href="#phone">Your mobile number' in no_number.text
    assert 'value="zoë@exämple.org"' in no_number.text  # what was typed stays
    typed |= {"tell_by": "email", "description": "A key for room 3.14"}
    taken = portal.post("/counter/from-home/room_temperature?lang=en", data=typed)
    assert taken.status_code == 303 and taken.headers["Location"].startswith("/track/LKT-")
    with open_counter_intake.app.extensions["loket"].engine.connect() as conn:
        made = conn.execute(select(intake_storage.requests)).one()
    assert (made.channel, made.ticket_number) == ("walk_in", "C-001")
    assert made.requester["preferred_contact"] == "email"
    assert made.requester["name"] == "Zoë Ñúñez-Öztürk"
    assert (made.subject, made.description) == ("Room too cold or too warm", "A key for room 3.14")


def test_no_number_from_home_while_the_counter_is_closed(make_settings, tmp_path, keys):
    config = yaml.safe_load((REPO / "config" / "loket.yaml").read_text())
    tomorrow = (datetime.now(ZoneInfo("Europe/Amsterdam")) + timedelta(days=1)).strftime("%a")
    config["opening_hours"]["walk_in"] = {tomorrow.lower(): "09:00-12:00"}
    (tmp_path / "desk.yaml").write_text(yaml.safe_dump(config))
    app = create_intake(make_settings("intake", LOKET_CONFIG=str(tmp_path / "desk.yaml")))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        portal = _portal_on(server, keys)
        assert "/counter/from-home" not in portal.get("/?lang=en").text
        for path in ("/counter/from-home", "/counter/from-home/room_temperature"):
            closed = portal.get(f"{path}?lang=en")
            assert closed.status_code == 200 and "The counter is closed now" in closed.text
            assert 'href="/appointments?lang=en"' in closed.text
    finally:
        server.shutdown()
        app.extensions["loket"].engine.dispose()


class _DisplayQueue(BaseHTTPRequestHandler):
    """A queue service whose display does not change."""

    def do_GET(self):
        send_json(self, 200, {
            "called": [{"ticket_number": "A-001", "counter": "3",
                        "called_at": "2026-12-04T10:00:00+00:00"}],
            "waiting": 2,
            "expected_wait": {"estimated_wait_seconds": 300, "estimated_wait_low_seconds": 200,
                              "estimated_wait_high_seconds": 400},
        })  # fmt: skip

    def log_message(self, *args):
        pass


def test_the_waiting_rooms_screen_refreshes_for_nothing_while_nothing_changes():
    """The screen asks twice a second: an unchanged board answers 204 (bench/counter.py
    found every refresh answered whole while its digest was written into the link
    encoded)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DisplayQueue)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        settings = PortalSettings(
            http_host="127.0.0.1", http_port=0, intake_url=url, queue_url=url,
            feedback_url=url, default_language="en", backend_timeout_seconds=2.0,
        )  # fmt: skip
        portal = create_app(settings).test_client()
        board = portal.get("/counter/display?queue=frontoffice&part=board&lang=en")
        assert board.status_code == 200 and ">A-001<" in board.text
        again = html.unescape(re.search(r'hx-get="([^"]+)"', board.text).group(1))
        assert re.search(r"shown=[0-9a-f]{16}$", again), again
        assert portal.get(again).status_code == 204
    finally:
        server.shutdown()
        server.server_close()
