"""Feedback's rules, free of Flask, SQL and the broker: surveys and report figures."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

SURVEY_VALID_FOR = timedelta(days=14)

QUESTION = {
    "nl": "Hoe tevreden bent u over de afhandeling van uw verzoek {reference}? (1 tot 5)",
    "en": "How satisfied are you with how we handled your request {reference}? (1 to 5)",
}


def new_survey_token() -> str:
    """192 random bits: the survey link is the only key to one answer."""
    return secrets.token_urlsafe(24)


def question(language: str, reference: str) -> str:
    return QUESTION.get(language, QUESTION["en"]).format(reference=reference)


def is_open(expires_at: datetime, now: datetime) -> bool:
    return now < expires_at


def csat_group(group: str, answers: int, average: Any, satisfied: int | None) -> dict[str, Any]:
    """One row of the satisfaction report: satisfied is a score of 4 or 5."""
    return {
        "group": group,
        "answers": answers,
        "average": round(float(average), 2) if average is not None else None,
        "satisfied_share": round((satisfied or 0) / answers, 4) if answers else None,
    }


def csat_by_day(answers: list[tuple[datetime, int]], zone: tzinfo) -> list[dict[str, Any]]:
    """Satisfaction per day in the desk's zone (`2026-12-04`), the days with answers in
    order: the trend."""
    days: dict[str, list[int]] = {}
    for answered_at, score in answers:
        days.setdefault(answered_at.astimezone(zone).date().isoformat(), []).append(score)
    return [
        csat_group(day, len(scores), sum(scores) / len(scores), sum(s >= 4 for s in scores))
        for day, scores in sorted(days.items())
    ]


def previous_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The period of the same length just before [since, until)."""
    return since - (until - since), since


def contact_reasons(current: Mapping[str, int], previous: Mapping[str, int]) -> list[dict]:
    """Counts per group with their share and the change against the previous period."""
    total = sum(current.values())
    rows = []
    for group in sorted(set(current) | set(previous), key=lambda g: (-current.get(g, 0), g)):
        count, before = current.get(group, 0), previous.get(group, 0)
        rows.append(
            {
                "group": group,
                "count": count,
                "share": round(count / total, 4) if total else 0.0,
                "previous_count": before,
                "change": count - before,
                "change_ratio": round((count - before) / before, 4) if before else None,
            }
        )
    return rows


@dataclass(frozen=True)
class SurgeRule:
    min_contacts: int = 10
    factor: float = 3.0
    window: timedelta = timedelta(hours=1)
    baseline: timedelta = timedelta(days=7)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> SurgeRule:
        config = config or {}
        return cls(
            min_contacts=int(config.get("surge_min_contacts", 10)),
            factor=float(config.get("surge_factor", 3)),
            window=timedelta(minutes=int(config.get("window_minutes", 60))),
            baseline=timedelta(days=int(config.get("baseline_days", 7))),
        )

    def hourly_baseline(self, contacts_before_window: int) -> float:
        return contacts_before_window / (self.baseline.total_seconds() / 3600)

    def is_surge(self, contacts_in_window: int, hourly_baseline: float) -> bool:
        """At least `min_contacts` in the window and `factor` times the usual rate."""
        usual = hourly_baseline * self.window.total_seconds() / 3600
        return contacts_in_window >= self.min_contacts and contacts_in_window >= self.factor * usual


def marked_snippet(snippet: str, start: str, stop: str) -> str:
    """The snippet as safe HTML: the article's text escaped, then its matches in <b>."""
    return html.escape(snippet, quote=True).replace(start, "<b>").replace(stop, "</b>")


def search_words(query: str) -> list[str]:
    """The words of a customer's question; punctuation and search syntax are dropped."""
    return re.findall(r"\w+", query.lower())[:20]


# What a prepared answer may leave for the console to fill in, for the ticket it answers.
PLACEHOLDERS = ("name", "reference", "agent")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def unknown_placeholders(text: str) -> list[str]:
    """The `{...}` in a prepared answer that are not one of PLACEHOLDERS: a typo such as
    `{naam}` would otherwise reach a customer as it was typed."""
    return sorted({found for found in _PLACEHOLDER.findall(text) if found not in PLACEHOLDERS})
