"""mmmfed.dates: the calendar check behind the date-time format and proofs' ``created``."""

from __future__ import annotations

import datetime

import pytest

from mmmfed.dates import is_calendar_date


def _date_accepts(year: int, month: int, day: int) -> bool:
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("year", [0, 1, 4, 100, 400, 1900, 1999, 2000, 2024, 2026, 2100, 9996, 9999, 10000])
def test_is_calendar_date_accepts_exactly_what_datetime_date_accepts(year: int) -> None:
    """Every month 0-13 and day 0-32 of years around the leap-year and range edges."""
    for month in range(14):
        for day in range(33):
            assert is_calendar_date(year, month, day) == _date_accepts(year, month, day), (year, month, day)
