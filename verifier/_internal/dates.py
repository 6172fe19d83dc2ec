"""Calendar arithmetic for metadata expiry and support periods, without ``datetime``.

A leaf module, so that the metadata model and the support periods share one date rule
without importing each other.
"""

from __future__ import annotations


def days_from_civil(year: int, month: int, day: int) -> int:
    # Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm);
    # calendar.timegm would pull calendar and datetime into ``import verifier``.
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
