"""HTTP contract of the web processes (errors, auth, request ids, health, metrics, docs),
through each service's real application on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import re

import pytest
from sqlalchemy import func, select

from services.intake import storage as intake_storage
from tests.support import bearer, valid_request

SERVICES = ("intake", "queue", "notify", "feedback")


def app_for(service, make_settings, **extra):
    module = importlib.import_module(f"services.{service}.app")
    return module.create_app(make_settings(service, **extra))


@pytest.fixture
def intake(make_settings):
    app = app_for("intake", make_settings, LOKET_MAX_BODY_BYTES="4096")
    yield app.test_client(), app
    app.extensions["loket"].engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_serves_health_readiness_metrics_and_its_openapi(service, make_settings):
    app = app_for(service, make_settings)
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["database"] == "ok" and ready.json["outbox_backlog"] == 0
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert f'loket_outbox_backlog{{service="{service}"}} 0.0' in metrics.text
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert {"/healthz", "/readyz", "/metrics", "/openapi.json"} <= set(spec["paths"])
    documented = set(spec["paths"])
    routed = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
    }
    assert routed == documented, "every route is documented and every documented path routed"
    app.extensions["loket"].engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_unknown_paths_and_methods_answer_in_the_contract_error_format(service, make_settings):
    app = app_for(service, make_settings)
    client = app.test_client()
    missing = client.get("/v1/does-not-exist")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong = client.delete("/healthz")
    assert wrong.status_code == 405 and wrong.json["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]
    app.extensions["loket"].engine.dispose()


def test_a_request_is_stored_with_its_event_in_one_transaction(intake, keys):
    client, app = intake
    response = client.post("/v1/requests", json=valid_request(), headers=bearer(keys["portal"]))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "received"
    assert body["reference"].startswith("LKT-") and len(body["reference"]) >= 10
    assert body["status_url"].endswith(
        f"/track/{body['reference']}?token={body['tracking_token']}&lang=en"
    )
    engine = app.extensions["loket"].engine
    with engine.connect() as conn:
        stored = conn.execute(select(intake_storage.requests)).one()
        events = conn.execute(select(intake_storage.outbox)).all()
    assert f"LKT-{stored.seq:06d}" == body["reference"]
    assert body["tracking_token"] not in str(stored._mapping)
    assert [e.type for e in events] == ["ticket.created"]
    assert f'"reference":"{body["reference"]}"' in events[0].body


def test_references_increase(intake, keys):
    client, _ = intake
    refs = [
        client.post("/v1/requests", json=valid_request(), headers=bearer(keys["portal"])).json[
            "reference"
        ]
        for _ in range(3)
    ]
    assert refs == sorted(refs) and len(set(refs)) == 3


def test_the_request_id_is_echoed_and_becomes_the_correlation_id(intake, keys):
    client, app = intake
    headers = {**bearer(keys["portal"]), "X-Request-ID": "portal-req-42"}
    response = client.post("/v1/requests", json=valid_request(), headers=headers)
    assert response.headers["X-Request-ID"] == "portal-req-42"
    with app.extensions["loket"].engine.connect() as conn:
        body = conn.scalar(select(intake_storage.outbox.c.body))
    assert '"correlation_id":"portal-req-42"' in body
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 36


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "unauthorized"),
        ({"Authorization": "Basic abc"}, 401, "unauthorized"),
        ({"Authorization": "Bearer wrong-key"}, 401, "unauthorized"),
    ],
)
def test_requests_without_a_valid_key_are_refused(intake, headers, status, code):
    client, app = intake
    response = client.post("/v1/requests", json=valid_request(), headers=headers)
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with app.extensions["loket"].engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(intake_storage.requests)) == 0


def test_a_key_may_only_submit_for_its_channels_and_staff_may_not_submit(intake, keys):
    client, _ = intake
    walk_in = valid_request(channel="walk_in")
    refused = client.post("/v1/requests", json=walk_in, headers=bearer(keys["phone"]))
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "channel_not_allowed"
    phone = client.post("/v1/requests", json=valid_request(channel="phone"),
                        headers=bearer(keys["phone"]))  # fmt: skip
    assert phone.status_code == 201
    agent = client.post("/v1/requests", json=valid_request(), headers=bearer(keys["agent"]))
    assert agent.status_code == 403


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"", "application/json", 400, "malformed_json"),
        (b"[1, 2, 3]", "application/json", 422, "validation_failed"),
        (b'"a string"', "application/json", 422, "validation_failed"),
        (b"x" * 5000, "application/json", 413, "payload_too_large"),
    ],
)
def test_malformed_bodies_get_a_clear_error(intake, keys, body, content_type, status, code):
    client, _ = intake
    response = client.post("/v1/requests", data=body, content_type=content_type,
                           headers=bearer(keys["portal"]))  # fmt: skip
    assert response.status_code == status
    assert response.json["error"]["code"] == code


def test_invalid_fields_are_each_named(intake, keys):
    client, _ = intake
    body = valid_request(channel="fax", requester={"name": "x", "email": "nope"}, status="done")
    response = client.post("/v1/requests", json=body, headers=bearer(keys["portal"]))
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert set(fields) == {"channel", "requester.email", "status"}


def test_injection_strings_are_stored_verbatim(intake, keys):
    client, app = intake
    nasty = "Robert'); DROP TABLE requests;-- <script>alert(1)</script> {{7*7}}"
    response = client.post("/v1/requests", json=valid_request(subject=nasty, description=nasty),
                           headers=bearer(keys["portal"]))  # fmt: skip
    assert response.status_code == 201
    with app.extensions["loket"].engine.connect() as conn:
        assert conn.scalar(select(intake_storage.requests.c.subject)) == nasty


def test_http_durations_are_labelled_by_route_template_not_raw_path(make_settings):
    app = app_for("queue", make_settings)
    client = app.test_client()
    client.get("/v1/track/LKT-123456?token=secret-token")
    text = client.get("/metrics").text
    assert 'route="/v1/track/<reference>"' in text
    assert "LKT-123456" not in text and "secret-token" not in text
    app.extensions["loket"].engine.dispose()


def test_invented_http_methods_add_no_metric_series(make_settings):
    app = app_for("notify", make_settings)
    client = app.test_client()
    for n in range(50):
        client.open("/v1/subscriptions", method=f"PROBE{n}")
    text = client.get("/metrics").text
    assert "PROBE" not in text
    assert 'method="other"' in text
    app.extensions["loket"].engine.dispose()


def test_a_database_that_does_not_answer_gets_a_503_to_retry_not_a_500(
    backend, make_settings, keys, tmp_path
):
    unreachable = {
        "sqlite": f"sqlite:///{tmp_path}/no-such-folder/intake.db",
        "postgresql": "postgresql://postgres@127.0.0.1:1/loket_nowhere?connect_timeout=2",
    }[backend]
    app = app_for("intake", make_settings, LOKET_INTAKE_DATABASE_URL=unreachable)
    answer = app.test_client().post(
        "/v1/requests", json=valid_request(), headers=bearer(keys["portal"])
    )
    assert answer.status_code == 503
    assert answer.json["error"]["code"] == "unavailable"
    assert int(answer.headers["Retry-After"]) > 0
    app.extensions["loket"].engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_a_nul_character_anywhere_is_refused_before_it_reaches_the_database(
    service, make_settings, keys
):
    # Found by schemathesis: PostgreSQL refuses NUL in text, which answered 500.
    app = app_for(service, make_settings)
    client = app.test_client()
    answer = client.get("/openapi.json", query_string={"q": "a\x00b"})
    assert answer.status_code == 422
    assert answer.json["error"]["fields"] == {"q": ["Must not contain NUL characters."]}
    body = {"outer": {"list": ["fine", "bad\x00"]}}
    answer = client.post("/openapi.json", json=body, headers=bearer(keys["admin"]))
    assert answer.status_code == 422
    assert "outer.list.1" in answer.json["error"]["fields"]
    app.extensions["loket"].engine.dispose()


def test_reports_refuse_dates_outside_the_desks_history(make_settings, keys):
    # Found by schemathesis: since=0444-03-07 overflowed the period arithmetic (500).
    app = app_for("feedback", make_settings)
    answer = app.test_client().get(
        "/v1/reports/contact-reasons",
        query_string={"since": "0444-03-07T13:50:34Z"},
        headers=bearer(keys["supervisor"]),
    )
    assert answer.status_code == 422
    assert "since" in answer.json["error"]["fields"]
    app.extensions["loket"].engine.dispose()


def test_reports_take_a_plain_date_as_the_start_of_that_day_in_the_desks_zone(make_settings, keys):
    app = app_for("feedback", make_settings)
    client = app.test_client()
    answer = client.get(
        "/v1/reports/csat",
        query_string={"since": "2026-11-30", "until": "2026-12-01"},
        headers=bearer(keys["supervisor"]),
    )
    assert answer.status_code == 200, answer.json
    # Europe/Amsterdam, the default desk's zone: midnight there is 23:00 UTC the day before.
    assert (answer.json["since"], answer.json["until"]) == (
        "2026-11-29T23:00:00.000Z",
        "2026-11-30T23:00:00.000Z",
    )
    for bad in ("2026-13-01", "1999-12-31"):
        refused = client.get(
            "/v1/reports/csat", query_string={"since": bad}, headers=bearer(keys["supervisor"])
        )
        assert refused.status_code == 422 and "since" in refused.json["error"]["fields"]
    app.extensions["loket"].engine.dispose()


@pytest.mark.parametrize("service", ["queue", "notify", "feedback"])
def test_every_timestamp_an_api_answers_is_utc_with_its_zone_in_one_form(
    service, make_settings, keys
):
    app = app_for(service, make_settings)
    client = app.test_client()
    admin = bearer(keys["admin"])
    if service == "notify":
        client.post(
            "/v1/subscriptions",
            json={"url": "https://hooks.example.org/x", "events": ["ticket.*"],
                  "secret": "s" * 32},
            headers=admin,
        )  # fmt: skip
        text = client.get("/v1/subscriptions", headers=admin).text
    elif service == "feedback":
        article = {"title": "Printer", "body": "Open tray two.", "language": "en"}
        client.post("/v1/knowledge/articles", headers=admin, json=article)
        text = client.get("/v1/knowledge/articles").text
    else:
        text = client.get("/v1/queues", headers=admin).text
    moments = re.findall(r'"(\d{4}-\d\d-\d\dT[^"]*)"', text)
    assert moments or service == "queue"
    for moment in moments:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", moment), moment
    app.extensions["loket"].engine.dispose()
