"""The portal's calls to the services' public APIs: short timeouts, and an answer that
says what happened instead of an exception a page would turn into a 500."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests


@dataclass(frozen=True)
class Answer:
    status: int  # the service's HTTP status, or 503 when it did not answer
    body: dict[str, Any]

    @property
    def unavailable(self) -> bool:
        return self.status >= 500


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
        self.intake_url = intake_url.rstrip("/")
        self.queue_url = queue_url.rstrip("/")
        self.feedback_url = feedback_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "Loket-Portal/1"

    def contact_options(self, language: str) -> Answer:
        return self._call("GET", f"{self.intake_url}/v1/contact-options", params={"lang": language})

    def catalogue(self, language: str) -> Answer:
        return self._call("GET", f"{self.intake_url}/v1/catalogue", params={"lang": language})

    def submit(self, body: dict[str, Any], form_id: str) -> Answer:
        """A customer's request, with the portal's key; the form's id makes a double
        submit (or a reload) one request."""
        if not self.api_key:
            return Answer(503, {})
        return self._call(
            "POST",
            f"{self.intake_url}/v1/requests",
            json=body,
            headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": form_id},
        )

    def suggestions(self, text: str, language: str, limit: int = 3) -> Answer:
        return self._call(
            "GET",
            f"{self.feedback_url}/v1/knowledge/search",
            params={"q": text[:200], "lang": language, "limit": limit},
        )

    def article(self, article_id: str) -> Answer:
        return self._call("GET", f"{self.feedback_url}/v1/knowledge/articles/{quote(article_id)}")

    def track(self, reference: str, token: str) -> Answer:
        return self._call(
            "GET", f"{self.queue_url}/v1/track/{quote(reference)}", params={"token": token}
        )

    def reply(self, reference: str, token: str, message: str, form_id: str) -> Answer:
        """The customer's message on their request; the form's id makes a double submit
        one message."""
        return self._call(
            "POST",
            f"{self.intake_url}/v1/requests/{quote(reference)}/replies",
            json={"token": token, "message": message},
            headers={"Idempotency-Key": form_id},
        )

    def survey(self, token: str) -> Answer:
        return self._call("GET", f"{self.feedback_url}/v1/surveys/{quote(token)}")

    def answer_survey(self, token: str, score: int, comment: str | None) -> Answer:
        return self._call(
            "POST",
            f"{self.feedback_url}/v1/surveys/{quote(token)}",
            json={"score": score, "comment": comment} if comment else {"score": score},
        )

    def _call(self, method: str, url: str, **kwargs: Any) -> Answer:
        try:
            response = self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException:
            return Answer(503, {})
        try:
            body = response.json()
        except ValueError:
            body = {}
        return Answer(response.status_code, body if isinstance(body, dict) else {})
