"""Report tables as the page and its CSV show them (services/portal/reports.py)."""

from __future__ import annotations

import csv
import io

from services.portal.reports import Numbers, Table, as_csv, csv_cell
from services.portal.texts import DESK_TEXTS


def test_a_cell_a_spreadsheet_would_run_is_written_as_text():
    for formula in ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(formula) == "'" + formula
    for plain in ("-3", "-12%", "Heating", "75 % (3 of 4)"):
        assert csv_cell(plain) == plain


def test_the_csv_has_the_tables_header_and_rows_and_reads_back_the_same():
    table = Table("t", "T", ["Queue", "Requests"], [["=HYPERLINK(1)", "3"], ["Front", "-1"]])
    rows = list(csv.reader(io.StringIO(as_csv(table))))
    assert rows == [["Queue", "Requests"], ["'=HYPERLINK(1)", "3"], ["Front", "-1"]]


def test_numbers_are_written_as_the_pages_language_writes_them():
    dutch = Numbers("nl_NL", DESK_TEXTS["nl"])
    english = Numbers("en_GB", DESK_TEXTS["en"])
    assert (dutch.share(0.755), english.share(0.755)) == ("76%", "76%")
    assert (dutch.decimal(3.333), english.decimal(3.333)) == ("3,33", "3.33")
    assert (dutch.minutes(90), english.minutes(1234567 * 60)) == ("1,5 min", "1,234,567.0 min")
    assert dutch.share(None) == "\u2013" and english.signed(2) == "+2"
