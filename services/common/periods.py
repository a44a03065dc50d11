"""The period a report covers, as the reports' query strings give it (`since`, `until`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from marshmallow import RAISE, Schema, ValidationError

from services.common.errors import ApiError
from services.common.events import Timestamp, to_utc

REPORTS_FROM = datetime(2000, 1, 1, tzinfo=UTC)
REPORTS_TO = datetime(2200, 1, 1, tzinfo=UTC)
DEFAULT_PERIOD = timedelta(days=7)


class ReportMoment(Timestamp):
    """A moment with its zone, or a plain date (`2026-11-30`): the start of that day in
    the desk's time zone, which `report_period` applies. Reports cover the desk's own
    history: far-off dates are typing errors, and dates near year 1 or 9999 overflow the
    arithmetic of periods."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> date | datetime:
        moment: date | datetime
        if isinstance(value, str) and len(value) == 10:
            try:
                moment = date.fromisoformat(value)
            except ValueError:
                raise ValidationError("Not a valid date (YYYY-MM-DD).") from None
            within = REPORTS_FROM.date() <= moment < REPORTS_TO.date()
        else:
            moment = super()._deserialize(value, attr, data, **kwargs)
            within = REPORTS_FROM <= moment < REPORTS_TO
        if not within:
            raise ValidationError("Must be between 2000 and 2200.")
        return moment


class ReportQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    since = ReportMoment(load_default=None)
    until = ReportMoment(load_default=None)


def report_period(query: dict[str, Any], zone: tzinfo, now: datetime) -> tuple[datetime, datetime]:
    """[since, until) in UTC: until defaults to now, since to a week before until."""

    def moment(value: date | datetime) -> datetime:
        if isinstance(value, datetime):
            return to_utc(value)
        return to_utc(datetime.combine(value, time(), tzinfo=zone))

    until = moment(query["until"]) if query["until"] else now
    since = moment(query["since"]) if query["since"] else until - DEFAULT_PERIOD
    if since >= until:
        raise ApiError(
            422, "validation_failed", "The period is empty.", {"since": ["Must be before until."]}
        )
    return since, until
