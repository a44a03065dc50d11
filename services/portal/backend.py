"""The portal's calls to the services' public APIs: short timeouts, and an answer that
says what happened instead of an exception a page would turn into a 500."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from prometheus_client import Histogram

KEEP_SECONDS = 60.0
BACKEND_CALLS = Histogram(
    "loket_portal_backend_seconds",
    "The portal's calls to the services, by service and outcome (ok, refused: a 4xx, "
    "failed: a 5xx or no answer)",
    ["service", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def _observe(service: str, status: int | None, started: float) -> None:
    """A call's time by its outcome: ok, refused (a 4xx), failed (a 5xx or no answer)."""
    outcome = "failed" if status is None or status >= 500 else "refused" if status >= 400 else "ok"
    BACKEND_CALLS.labels(service, outcome).observe(time.perf_counter() - started)


@dataclass(frozen=True)
class Answer:
    status: int  # the service's HTTP status, or 503 when it did not answer
    body: dict[str, Any]

    @property
    def unavailable(self) -> bool:
        """Down, or too busy right now (429): either way, try again shortly."""
        return self.status >= 500 or self.status == 429


@dataclass(frozen=True)
class Download:
    """A file as intake answered it: its status, bytes, and the headers that make it a
    download (type, name), or status 503 when intake did not answer."""

    status: int
    content: bytes = b""
    content_type: str = "application/octet-stream"
    disposition: str = "attachment"


class Backend:
    def __init__(
        self,
        intake_url: str,
        queue_url: str,
        feedback_url: str,
        timeout: float,
        api_key: str | None = None,
    ):
        self.api_key = api_key
        self._kept_answers: dict[tuple[str, str], tuple[float, Answer]] = {}
        self._lock = threading.Lock()
        self.intake_url = intake_url.rstrip("/")
        self.queue_url = queue_url.rstrip("/")
        self.feedback_url = feedback_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        # The services are named by their URLs; no proxy or netrc from the environment
        # (reading them is a fifth of each call's CPU, bench/portal.py).
        self.http.trust_env = False
        self.http.headers["User-Agent"] = "Loket-Portal/1"
        if api_key:
            # On every call, public ones too: the services give the portal's key a rate
            # budget of its own instead of counting every customer as one address.
            self.http.headers["Authorization"] = f"Bearer {api_key}"

    def contact_options(self, language: str) -> Answer:
        return self._call(
            "intake", "GET", f"{self.intake_url}/v1/contact-options", params={"lang": language}
        )

    def callback_hours(self, language: str) -> Answer:
        """The contact options for their opening hours, which change only with the desk's
        configuration: kept like the catalogue."""
        return self._kept(("contact-options", language), lambda: self.contact_options(language))

    def _kept(self, key: tuple[str, str], fetch: Callable[[], Answer]) -> Answer:
        """Answers that change only with the desk's configuration are asked for at most
        once a minute, and the last good one stands in while intake does not answer: a
        form the customer filled in is shown again with everything typed, never lost."""
        with self._lock:
            kept = self._kept_answers.get(key)
        if kept is not None and time.monotonic() - kept[0] < KEEP_SECONDS:
            return kept[1]
        answer = fetch()
        if answer.status == 200:
            with self._lock:
                self._kept_answers[key] = (time.monotonic(), answer)
            return answer
        return kept[1] if kept is not None else answer

    def catalogue(self, language: str) -> Answer:
        return self._kept(
            ("catalogue", language),
            lambda: self._call(
                "intake", "GET", f"{self.intake_url}/v1/catalogue", params={"lang": language}
            ),
        )

    def submit(self, body: dict[str, Any], form_id: str) -> Answer:
        """A customer's request, with the portal's key; the form's id makes a double
        submit (or a reload) one request."""
        if not self.api_key:
            return Answer(503, {})
        return self._call(
            "intake",
            "POST",
            f"{self.intake_url}/v1/requests",
            json=body,
            headers={"Idempotency-Key": form_id},
        )

    def suggestions(self, text: str, language: str, limit: int = 3) -> Answer:
        return self._call(
            "feedback",
            "GET",
            f"{self.feedback_url}/v1/knowledge/search",
            params={"q": text[:200], "lang": language, "limit": limit},
        )

    def article(self, article_id: str) -> Answer:
        return self._call(
            "feedback", "GET", f"{self.feedback_url}/v1/knowledge/articles/{quote(article_id)}"
        )

    def track(self, reference: str, token: str) -> Answer:
        return self._call(
            "queue", "GET", f"{self.queue_url}/v1/track/{quote(reference)}", params={"token": token}
        )

    def take_number(self, body: dict[str, Any], form_id: str, kiosk_key: str) -> Answer:
        """A walk-in's number, taken at the kiosk with the kiosk's own key."""
        return self._call(
            "intake",
            "POST",
            f"{self.intake_url}/v1/requests",
            json=body,
            headers={"Idempotency-Key": form_id, "Authorization": f"Bearer {kiosk_key}"},
        )

    def appointment_slots(self, category: str | None = None) -> Answer:
        params: dict[str, Any] = {"days": 14, **({"category": category} if category else {})}
        return self._call(
            "intake", "GET", f"{self.intake_url}/v1/appointments/slots", params=params
        )

    def book(self, body: dict[str, Any], form_id: str) -> Answer:
        """A time at the counter, with the portal's key (its channels include walk_in)."""
        if not self.api_key:
            return Answer(503, {})
        return self._call(
            "intake",
            "POST",
            f"{self.intake_url}/v1/appointments",
            json=body,
            headers={"Idempotency-Key": form_id},
        )

    def move_appointment(self, reference: str, token: str, start: str) -> Answer:
        return self._call(
            "intake",
            "POST",
            f"{self.intake_url}/v1/appointments/{quote(reference)}/move",
            params={"token": token},
            json={"start": start},
        )

    def choose_callback_window(self, reference: str, token: str, window: dict[str, str]) -> Answer:
        return self._call(
            "queue",
            "POST",
            f"{self.queue_url}/v1/track/{quote(reference)}/callback-window",
            params={"token": token},
            json=window,
        )

    def cancel_appointment(self, reference: str, token: str) -> Answer:
        return self._call(
            "intake",
            "POST",
            f"{self.intake_url}/v1/appointments/{quote(reference)}/cancel",
            params={"token": token},
        )

    def check_in(self, reference: str, kiosk_key: str) -> Answer:
        """An appointment's arrival at the kiosk, with the kiosk's own key."""
        return self._call(
            "intake",
            "POST",
            f"{self.intake_url}/v1/appointments/{quote(reference)}/check-in",
            headers={"Authorization": f"Bearer {kiosk_key}"},
        )

    def display(self, queue: str | None) -> Answer:
        """The waiting room's screen: the numbers called, to which counter, and the wait."""
        params = {"queue": queue} if queue else {}
        return self._call("queue", "GET", f"{self.queue_url}/v1/display", params=params)

    def reply(self, reference: str, token: str, message: str, form_id: str) -> Answer:
        """The customer's message on their request; the form's id makes a double submit
        one message."""
        return self._call(
            "intake",
            "POST",
            f"{self.intake_url}/v1/requests/{quote(reference)}/replies",
            json={"token": token, "message": message},
            headers={"Idempotency-Key": form_id},
        )

    def survey(self, token: str) -> Answer:
        return self._call("feedback", "GET", f"{self.feedback_url}/v1/surveys/{quote(token)}")

    def answer_survey(self, token: str, score: int, comment: str | None) -> Answer:
        return self._call(
            "feedback",
            "POST",
            f"{self.feedback_url}/v1/surveys/{quote(token)}",
            json={"score": score, "comment": comment} if comment else {"score": score},
        )

    def as_person(self, person: str, service: str, method: str, path: str, **kwargs: Any) -> Answer:
        """A call for a signed-in person of the console: the portal's key, naming them;
        the service checks their role and records them."""
        if not self.api_key:
            return Answer(503, {})
        base = {"intake": self.intake_url, "queue": self.queue_url,
                "feedback": self.feedback_url}[service]  # fmt: skip
        headers = {**kwargs.pop("headers", {}), "X-Loket-On-Behalf-Of": person}
        return self._call(service, method, f"{base}{path}", headers=headers, **kwargs)

    def download(self, person: str, path: str) -> Download:
        """A file from intake for a signed-in person, as the file's bytes."""
        if not self.api_key:
            return Download(503)
        started = time.perf_counter()
        try:
            response = self.http.get(
                f"{self.intake_url}{path}",
                headers={"X-Loket-On-Behalf-Of": person},
                timeout=self.timeout,
            )
        except requests.RequestException:
            _observe("intake", None, started)
            return Download(503)
        _observe("intake", response.status_code, started)
        if response.status_code != 200:
            return Download(response.status_code)
        return Download(
            200,
            response.content,
            response.headers.get("Content-Type", "application/octet-stream"),
            response.headers.get("Content-Disposition", "attachment"),
        )

    def _call(self, service: str, method: str, url: str, **kwargs: Any) -> Answer:
        started = time.perf_counter()
        try:
            response = self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException:
            _observe(service, None, started)
            return Answer(503, {})
        _observe(service, response.status_code, started)
        try:
            body = response.json()
        except ValueError:
            body = {}
        return Answer(response.status_code, body if isinstance(body, dict) else {})
