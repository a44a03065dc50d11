"""Every endpoint of every service, called as anonymous, client, agent, supervisor and
admin, through each service's real application and database: every denial asserted."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.support import bearer, on_behalf

CALLERS = ("anonymous", "client", "portal", "agent", "supervisor", "admin",
           "agent via portal", "supervisor via portal", "admin via portal",
           "disabled person via portal", "client for a person", "agent for a person")  # fmt: skip

# Who may call what: the contract's roles, written down once more so that a change to an
# endpoint's protection is a change to this table. Staff roles include those below them;
# a client is only a client; the portal's key submits as a client does and, naming a
# signed-in person, is that person; no other key may name one.
STAFF = {"agent", "supervisor", "admin"}
ALLOWED = {
    "public": set(CALLERS),
    "client": {"client", "portal"},
    "e-mail gateway": {"client"},
    "counter front-end": {"client"},  # a client key with channel walk_in
    "phone system": {"client"},  # a client key with channel phone
    "agent": {role for role in STAFF} | {f"{role} via portal" for role in STAFF},
    # A front-end, or an agent recording a phone or counter contact in the console.
    "client or agent": {"client", "portal"} | STAFF | {f"{role} via portal" for role in STAFF},
    "supervisor": {"supervisor", "admin", "supervisor via portal", "admin via portal"},
    "admin": {"admin", "admin via portal"},
}
ENDPOINTS = {
    "intake": {
        ("get", "/v1/catalogue"): "public",
        ("get", "/v1/contact-options"): "public",
        ("post", "/v1/requests"): "client or agent",
        ("get", "/v1/reports/calls"): "supervisor",
        ("post", "/v1/inbound/email"): "e-mail gateway",  # a client key with channel email
        ("post", "/v1/requests/{reference}/replies"): "public",  # the tracking token is the key
        ("get", "/v1/attachments/{attachment_id}"): "agent",
        ("get", "/v1/appointments/slots"): "client",
        ("post", "/v1/appointments"): "counter front-end",
        ("post", "/v1/appointments/{reference}/cancel"): "public",  # the tracking token
        ("post", "/v1/appointments/{reference}/move"): "public",  # the tracking token
        ("post", "/v1/appointments/{reference}/check-in"): "counter front-end",
        ("post", "/v1/calls"): "phone system",
        ("get", "/v1/calls"): "agent",
    },
    "queue": {
        ("get", "/v1/queues"): "agent",
        ("get", "/v1/estimates"): "public",
        ("post", "/v1/queues/{queue}/next"): "agent",
        ("get", "/v1/tickets"): "agent",
        ("get", "/v1/tickets/{ticket_id}"): "agent",
        ("post", "/v1/tickets/{ticket_id}/claim"): "agent",
        ("post", "/v1/tickets/{ticket_id}/status"): "agent",
        ("post", "/v1/tickets/{ticket_id}/transfer"): "agent",
        ("post", "/v1/tickets/{ticket_id}/messages"): "agent",
        ("post", "/v1/tickets/{ticket_id}/priority"): "agent",
        ("get", "/v1/reports/waits"): "supervisor",
        ("get", "/v1/reports/service-levels"): "supervisor",
        ("get", "/v1/reports/board"): "supervisor",
        ("get", "/v1/track/{reference}"): "public",  # the tracking token is the key
        ("post", "/v1/track/{reference}/callback-window"): "public",  # the tracking token
        ("post", "/v1/counters/{counter}/call"): "agent",
        ("post", "/v1/counters/{counter}/recall"): "agent",
        ("post", "/v1/tickets/{ticket_id}/no-show"): "agent",
        ("post", "/v1/tickets/{ticket_id}/reactivate"): "agent",
        ("post", "/v1/tickets/{ticket_id}/callback-attempts"): "agent",
        ("get", "/v1/display"): "public",  # numbers and counters only: it hangs on a wall
    },
    "notify": {
        ("post", "/v1/subscriptions"): "admin",
        ("get", "/v1/subscriptions"): "admin",
        ("delete", "/v1/subscriptions/{subscription_id}"): "admin",
        ("get", "/v1/deliveries"): "agent",
    },
    "feedback": {
        ("get", "/v1/surveys/{token}"): "public",  # the survey token is the key
        ("post", "/v1/surveys/{token}"): "public",
        ("get", "/v1/reports/csat"): "supervisor",
        ("get", "/v1/reports/contact-reasons"): "supervisor",
        ("get", "/v1/problems"): "supervisor",
        ("post", "/v1/problems"): "supervisor",
        ("post", "/v1/problems/{problem_id}/tickets"): "supervisor",
        ("post", "/v1/problems/{problem_id}/resolve"): "supervisor",
        ("get", "/v1/knowledge/search"): "public",
        ("get", "/v1/knowledge/articles"): "public",
        ("post", "/v1/knowledge/articles"): "supervisor",
        ("get", "/v1/knowledge/articles/{article_id}"): "public",
        ("put", "/v1/knowledge/articles/{article_id}"): "supervisor",
        ("delete", "/v1/knowledge/articles/{article_id}"): "supervisor",
        ("get", "/v1/answers"): "agent",
        ("post", "/v1/answers"): "supervisor",
        ("get", "/v1/answers/{answer_id}"): "agent",
        ("put", "/v1/answers/{answer_id}"): "supervisor",
        ("delete", "/v1/answers/{answer_id}"): "supervisor",
    },
}
# Every process also serves these, to probes and Prometheus on the internal network (the
# gateway does not route them).
for _table in ENDPOINTS.values():
    _table.update(
        {("get", p): "public" for p in ("/healthz", "/readyz", "/metrics", "/openapi.json")}
    )

KEY_OF = {"client": "portal", "agent": "agent", "supervisor": "supervisor", "admin": "admin",
          "portal": "portal_app"}  # fmt: skip
PERSON_OF = {"agent": "ann", "supervisor": "ben", "admin": "cas"}


def caller_headers(caller: str, keys: dict[str, str]) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller.endswith(" via portal"):
        role = caller.removesuffix(" via portal")
        return on_behalf(keys["portal_app"], PERSON_OF.get(role, "dora"))
    if caller.endswith(" for a person"):
        return on_behalf(keys[KEY_OF[caller.removesuffix(" for a person")]], "ann")
    return bearer(keys[KEY_OF[caller]])


@pytest.fixture(params=sorted(ENDPOINTS))
def service_app(request, make_settings):
    module = importlib.import_module(f"services.{request.param}.app")
    app = module.create_app(make_settings(request.param))
    yield request.param, app
    app.extensions["loket"].engine.dispose()


def operations(spec: dict) -> dict[tuple[str, str], dict]:
    return {
        (method, path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    }


def test_every_endpoint_answers_each_role_as_the_table_says(service_app, keys):
    service, app = service_app
    client = app.test_client()
    documented = operations(client.get("/openapi.json").json)
    assert set(documented) == set(ENDPOINTS[service]), "a new endpoint needs a row here"
    for (method, path), protection in ENDPOINTS[service].items():
        # The documented security and the table agree.
        assert ("security" in documented[(method, path)]) == (protection != "public"), path
        url = re.sub(r"\{[a-z_]+\}", "x0000000-0000-4000-8000-000000000000", path)
        for caller in CALLERS:
            headers = caller_headers(caller, keys)
            answer = client.open(url, method=method.upper(), headers=headers, json={})
            where = f"{method.upper()} {path} as {caller}"
            if caller in ALLOWED[protection]:
                assert answer.status_code not in (401, 403), where
            elif caller == "anonymous":
                assert answer.status_code == 401, where
                assert answer.json["error"]["code"] == "unauthorized", where
                assert answer.headers["WWW-Authenticate"].startswith("Bearer"), where
            else:
                assert answer.status_code == 403, where
                # The portal's key is a submitter without the e-mail channel: told which
                # rule it broke. Every other refusal is a role's.
                channel_rule = caller == "portal" and protection in (
                    "e-mail gateway",
                    "counter front-end",
                    "phone system",
                )
                expected = "channel_not_allowed" if channel_rule else "forbidden"
                assert answer.json["error"]["code"] == expected, where
            assert answer.status_code < 500, where


def test_a_key_that_is_not_known_is_refused_like_no_key(service_app):
    service, app = service_app
    client = app.test_client()
    for (method, path), protection in ENDPOINTS[service].items():
        if protection == "public":
            continue
        url = re.sub(r"\{[a-z_]+\}", "x", path)
        answer = client.open(url, method=method.upper(), headers=bearer("lkt_" + "A" * 43), json={})
        assert answer.status_code == 401, path


# Beyond roles, one rule of ownership (decision 0018): a ticket an agent holds is changed
# by that agent or a supervisor (or admin); another agent gets 403 until it takes the
# ticket over with a reason (a claim).
HOLDER_RULE = {"holder": 200, "other agent": 403, "supervisor": 200, "admin": 200}


@pytest.mark.parametrize(
    ("change", "body"),
    [
        ("status", {"to": "waiting_on_third_party"}),
        ("priority", {"priority": 2, "reason": "vip"}),
        ("transfer", {"to_queue": "facilities", "note": "for facilities"}),
    ],
)
def test_a_held_ticket_is_changed_only_as_the_ownership_rule_says(
    make_settings, keys, change, body
):
    from services.queue.app import create_app
    from tests.integration.test_queue_api import Desk

    app = create_app(make_settings("queue"))
    desk = Desk(app)
    callers = {"holder": "agent", "other agent": "other_agent", "supervisor": "supervisor",
               "admin": "admin"}  # fmt: skip
    try:
        for caller, expected in HOLDER_RULE.items():
            ticket = desk.arrive()
            claim = {"reason": "held by alice"}
            url = f"/v1/tickets/{ticket['ticket_id']}"
            desk.client.post(f"{url}/claim", json=claim, headers=bearer(keys["agent"]))
            answer = desk.client.post(
                f"{url}/{change}",
                json=body,
                headers=bearer(keys[callers[caller]]),
            )
            assert answer.status_code == expected, (caller, answer.json)
    finally:
        app.extensions["loket"].engine.dispose()
