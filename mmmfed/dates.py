"""Calendar dates as :class:`datetime.date` accepts them, without building one: the check behind
the ``date-time`` format of :mod:`mmmfed.schemas` and the dateTimeStamp of :mod:`mmmfed.proofs`,
which run for every Item a gateway verifies (the ``datetime.date`` call and its ``ValueError``
cost about as much as the regular expressions before them)."""

from __future__ import annotations

# Days in each month of a leap year (index 1..12); February has 28 in other years.
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_calendar_date(year: int, month: int, day: int) -> bool:
    """True exactly when ``datetime.date(year, month, day)`` would not raise: years 1-9999, months
    1-12, a day of that month in the proleptic Gregorian calendar (29 February in leap years:
    divisible by 4, and by 400 if by 100)."""
    if not (1 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month]):
        return False
    return month != 2 or day != 29 or (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
