"""The only clock of KMP. Store UTC, show Asia/Jakarta, book by the Jakarta business date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")
UTC = dt.UTC

_clock: Callable[[], dt.datetime] | None = None


def now_utc() -> dt.datetime:
    """The current instant as an aware UTC datetime (tests may freeze it with ``set_clock``)."""
    if _clock is not None:
        value = _clock()
        if value.tzinfo is None:
            raise ValueError("the clock must return an aware datetime")
        return value.astimezone(UTC)
    return dt.datetime.now(UTC)


def set_clock(clock: Callable[[], dt.datetime] | None) -> None:
    """Replace the clock (tests, simulations); ``None`` restores the real clock."""
    global _clock
    _clock = clock


def to_jakarta(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: KMP only handles aware instants")
    return instant.astimezone(JAKARTA)


def business_date(instant: dt.datetime | None = None) -> dt.date:
    """The Jakarta calendar date an instant belongs to (the date money is booked on)."""
    return to_jakarta(instant or now_utc()).date()


def fiscal_year_of(day: dt.date) -> int:
    """Fiscal year = calendar year (1 January – 31 December, Jakarta dates)."""
    return day.year


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(text: str) -> dt.date:
    """``'2026-03' -> date(2026, 3, 1)``; raises ``ValueError`` with a clear message."""
    try:
        year_s, month_s = text.split("-")
        if len(year_s) != 4 or len(month_s) != 2:
            raise ValueError
        return dt.date(int(year_s), int(month_s), 1)
    except ValueError:
        raise ValueError(f"month must be YYYY-MM, got {text!r}") from None


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


@contextmanager
def clock_at(day: dt.date, hour: int = 9, minute: int = 0) -> Iterator[dt.datetime]:
    """Run a block as if it were ``day`` at ``hour:minute`` in Jakarta (the demo's backdated
    history); the previous clock is restored afterwards."""
    previous = _clock
    moment = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=JAKARTA)
    set_clock(lambda: moment)
    try:
        yield moment.astimezone(UTC)
    finally:
        set_clock(previous)
