"""The supervisor's reports as tables of people's words and locale-formatted numbers: the
page shows them and `/desk/reports/<name>.csv` downloads the same rows (decision 0028).

A cell a spreadsheet would run as a formula (one starting with =, +, -, @, a tab or a
carriage return) is written with a leading apostrophe in the CSV; a plain number such as
-3 stays a number (OWASP's CSV injection guidance).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from babel.numbers import format_decimal, format_percent

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What the page shows for a figure there is none of (no answers, nothing decided yet).
NONE = "\u2013"
PLAIN_NUMBER = re.compile(r"-?\d[\d.,]*( ?%)?")


@dataclass(frozen=True)
class Table:
    """One report table: its rows as the page shows them, and the bars drawn beside it
    (label and value, the numbers being in the table)."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    chart: list[dict[str, Any]] = field(default_factory=list)
    chart_max: float = 0.0
    chart_suffix: str = ""


def csv_cell(value: str) -> str:
    if value.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def as_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in table.columns])
    writer.writerows([csv_cell(c) for c in row] for row in table.rows)
    return out.getvalue()


class Numbers:
    """Numbers as the page's language writes them (CLDR: `3,5` in Dutch, `3.5` in English)."""

    def __init__(self, locale: str, texts: Mapping[str, str]) -> None:
        self.locale, self.texts = locale, texts

    def count(self, n: int | None) -> str:
        return NONE if n is None else format_decimal(n, locale=self.locale)

    def share(self, ratio: float | None) -> str:
        return NONE if ratio is None else format_percent(ratio, locale=self.locale)

    def decimal(self, value: float | None, digits: int = 2) -> str:
        if value is None:
            return NONE
        return format_decimal(value, "#,##0." + "0" * digits, locale=self.locale)

    def minutes(self, seconds: float | None) -> str:
        if seconds is None:
            return NONE
        return self.texts["n_min"].format(n=self.decimal(seconds / 60, 1))

    def seconds(self, value: float | None) -> str:
        return NONE if value is None else self.texts["n_s"].format(n=self.decimal(value, 0))

    def signed(self, n: int) -> str:
        return ("+" if n > 0 else "") + self.count(n)


def service_level_tables(
    report: Mapping[str, Any],
    label: Mapping[str, Callable[[Any], str]],
    texts: Mapping[str, str],
    numbers: Numbers,
) -> list[Table]:
    """First response and resolution met, first-contact resolution, handling time,
    transfers and jumps: one table per priority, queue and channel, the total last."""
    columns = [
        texts["sl_tickets"],
        texts["sl_first_response"],
        texts["sl_resolution"],
        texts["sl_first_contact"],
        texts["sl_handling"],
        texts["sl_transfers"],
        texts["sl_jumps"],
    ]

    def met(group: Mapping[str, Any], target: str) -> str:
        decided = group[f"{target}_met"] + group[f"{target}_breached"]
        if not decided:
            return NONE
        share = numbers.share(group[f"{target}_compliance"])
        return texts["sl_met_of"].format(
            share=share, met=numbers.count(group[f"{target}_met"]), of=numbers.count(decided)
        )

    def row(name: str, group: Mapping[str, Any]) -> list[str]:
        return [
            name,
            numbers.count(group["tickets"]),
            met(group, "first_response"),
            met(group, "resolution"),
            numbers.share(group["first_contact_resolution"]),
            numbers.minutes(group["mean_handling_seconds"]),
            numbers.count(group["transfers"]),
            numbers.count(group["queue_jumps"]),
        ]

    tables = []
    for grouping in ("priority", "queue", "channel"):
        groups = report.get(f"by_{grouping}", [])
        named = [(label[grouping](g["group"]), g) for g in groups]
        rows = [row(name, g) for name, g in named]
        if groups:
            rows.append(row(texts["sl_total"], report["total"]))
        chart = [
            {"label": name, "value": round((g["first_response_compliance"] or 0) * 100)}
            for name, g in named
        ]
        tables.append(
            Table(
                f"service-levels-by-{grouping}",
                texts[f"sl_by_{grouping}"],
                [texts[f"group_{grouping}"], *columns],
                rows,
                chart,
                100,
                "%",
            )
        )
    return tables


def csat_table(
    grouping: str,
    groups: list[Mapping[str, Any]],
    label: Callable[[Any], str],
    texts: Mapping[str, str],
    numbers: Numbers,
) -> Table:
    rows = [
        [
            label(g["group"]),
            numbers.count(g["answers"]),
            numbers.decimal(g["average"]),
            numbers.share(g["satisfied_share"]),
        ]
        for g in groups
    ]
    chart = [{"label": label(g["group"]), "value": g["average"] or 0} for g in groups]
    columns = [texts[f"group_{grouping}"], texts["answers_n"], texts["average"], texts["satisfied"]]
    return Table(
        f"satisfaction-by-{grouping}", texts[f"csat_by_{grouping}"], columns, rows, chart, 5
    )


def reasons_table(
    grouping: str,
    groups: list[Mapping[str, Any]],
    label: Callable[[Any], str],
    texts: Mapping[str, str],
    numbers: Numbers,
) -> Table:
    def change(g: Mapping[str, Any]) -> str:
        shown = numbers.signed(g["change"])
        if g["change_ratio"] is not None:
            shown += f" ({'+' if g['change_ratio'] > 0 else ''}{numbers.share(g['change_ratio'])})"
        return shown

    rows = [
        [label(g["group"]), numbers.count(g["count"]), numbers.share(g["share"]), change(g)]
        for g in groups
    ]
    chart = [{"label": label(g["group"]), "value": g["count"]} for g in groups]
    columns = [texts[f"group_{grouping}"], texts["count"], texts["share"], texts["trend"]]
    top = max((g["count"] for g in groups), default=0)
    return Table(
        f"contact-reasons-by-{grouping}", texts[f"reasons_by_{grouping}"], columns, rows, chart, top
    )


def calls_table(
    report: Mapping[str, Any],
    day: Callable[[str], str],
    texts: Mapping[str, str],
    numbers: Numbers,
) -> Table:
    """The phone per day: calls offered, the service level (answered within the desk
    file's seconds), abandoned calls and the call-backs they got, the mean answer time;
    the period's total last."""
    seconds = report.get("service_level_seconds", 20)

    def row(name: str, counts: Mapping[str, Any]) -> list[str]:
        level = NONE
        if counts["offered"]:
            level = texts["sl_met_of"].format(
                share=numbers.share(counts["service_level"]),
                met=numbers.count(counts["answered_in_time"]),
                of=numbers.count(counts["offered"]),
            )
        abandoned = numbers.count(counts["abandoned"])
        if counts["abandoned"]:
            abandoned += f" ({numbers.share(counts['abandoned_share'])})"
        return [
            name,
            numbers.count(counts["offered"]),
            numbers.count(counts["answered"]),
            level,
            abandoned,
            numbers.count(counts["callbacks"]),
            numbers.seconds(counts["mean_answer_seconds"]),
        ]

    days = report.get("days", [])
    rows = [row(day(d["day"]), d) for d in days]
    if days:
        rows.append(row(texts["sl_total"], report["total"]))
    chart = [
        {"label": day(d["day"]), "value": round((d["service_level"] or 0) * 100)} for d in days
    ]
    columns = [
        texts["group_day"],
        texts["calls_offered"],
        texts["calls_answered"],
        texts["calls_in_time"].format(n=seconds),
        texts["calls_abandoned"],
        texts["calls_callbacks"],
        texts["calls_answer_time"],
    ]
    return Table("phone-by-day", texts["calls_by_day"], columns, rows, chart, 100, "%")


def waits_table(
    waits: Mapping[str, Any],
    channel: Callable[[Any], str],
    texts: Mapping[str, str],
    numbers: Numbers,
) -> Table:
    """Mean / longest wait (and how many were taken) per hour and channel."""

    def cell(hour: int, name: str) -> str:
        found = waits["by"].get((hour, name))
        if not found:
            return NONE
        mean = numbers.decimal(found["mean_wait_seconds"] / 60, 1)
        longest = numbers.decimal(found["max_wait_seconds"] / 60, 1)
        return f"{mean} / {longest} min ({numbers.count(found['count'])})"

    rows = [
        [f"{hour:02d}:00", *(cell(hour, c) for c in waits["channels"])]
        for hour in waits["active_hours"]
    ]
    columns = [texts["hour"], *(channel(c) for c in waits["channels"])]
    return Table("waits-over-the-day", texts["waits_title"], columns, rows)
