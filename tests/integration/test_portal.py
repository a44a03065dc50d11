"""The customer portal's own behaviour: languages, safety headers, and services that do
not answer. Its pages against a whole running desk are in tests/e2e."""

from __future__ import annotations

import pytest

from services.portal.app import create_app
from services.portal.settings import PortalSettings
from tests.support import free_port


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
