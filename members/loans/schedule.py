"""Instalment schedules in whole Rupiah, computed exactly (no Flask, no database).

Rates are exact fractions: the annual rate in basis points (``1800`` = 18 % a year = 1.5 % a
month); the monthly rate is ``annual_bp / 12 / 10000``. Every intermediate value is a
:class:`fractions.Fraction`; only instalment parts are rounded.

**The rounding rule** (also shown on the member's page): each Rupiah amount is rounded to the
nearest whole Rupiah, halves upwards (``round_half_up``). The principal parts are whole
Rupiah and the **last instalment absorbs every rounding remainder**: its principal part is
exactly the balance still outstanding, so the principal parts always sum to the loan and the
balance ends at Rp 0. Per method:

* ``flat``: interest every month = round(principal x monthly rate), the same each month;
  principal part = principal // months (rounded down), the last takes the remainder.
* ``annuity`` (equal instalments on the declining balance): the exact annuity payment
  ``P r / (1 - (1 + r)^-n)`` rounded; each month interest = round(previous balance x r) and
  principal = payment - interest; the last instalment pays the whole remaining balance plus
  its interest (so it may differ from the others by a few Rupiah).
* ``declining`` (equal principal): principal part = principal // months (rounded down), the
  last takes the remainder; interest = round(previous balance x r).

The effective annual rate (``effective_annual_rate``) is the internal rate of return of what
the member receives (the principal less the admin fee and provisi) against the instalments,
compounded monthly: ``(1 + i)^12 - 1``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction


class Method(enum.StrEnum):
    FLAT = "flat"
    ANNUITY = "annuity"
    DECLINING = "declining"


METHOD_LABELS = {
    Method.FLAT: "Flat (bunga tetap dari pokok awal)",
    Method.ANNUITY: "Anuitas (angsuran sama, bunga dari sisa pokok)",
    Method.DECLINING: "Menurun (pokok sama, bunga dari sisa pokok)",
}


def round_half_up(value: Fraction) -> int:
    """The nearest whole number, halves away from zero for positive values (upwards)."""
    if value < 0:
        return -round_half_up(-value)
    return int((value * 2 + 1) // 2)


def monthly_rate(annual_bp: int) -> Fraction:
    return Fraction(annual_bp, 12 * 10_000)


def due_date(start: dt.date, months: int) -> dt.date:
    """``months`` months after ``start``, the same day of the month (the month's last day
    when it is shorter: 31 January + 1 month = 28/29 February)."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return dt.date(year, month, day)


@dataclass(frozen=True)
class Row:
    no: int
    due_date: dt.date
    principal_idr: int
    interest_idr: int
    balance_idr: int  # outstanding principal after this instalment

    @property
    def total_idr(self) -> int:
        return self.principal_idr + self.interest_idr


@dataclass(frozen=True)
class Schedule:
    principal_idr: int
    annual_bp: int
    months: int
    method: Method
    rows: tuple[Row, ...]

    @property
    def interest_idr(self) -> int:
        return sum(r.interest_idr for r in self.rows)

    @property
    def total_idr(self) -> int:
        return self.principal_idr + self.interest_idr

    @property
    def first_instalment_idr(self) -> int:
        return self.rows[0].total_idr if self.rows else 0


def _check(principal_idr: int, annual_bp: int, months: int) -> None:
    for value, what in ((principal_idr, "principal"), (annual_bp, "rate"), (months, "months")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be an int")
    if principal_idr <= 0 or months <= 0 or annual_bp < 0:
        raise ValueError("principal and months must be positive, the rate not negative")
    if months > 600:
        raise ValueError("at most 600 months")


def build_schedule(
    principal_idr: int,
    annual_bp: int,
    months: int,
    method: Method | str,
    start: dt.date,
) -> Schedule:
    """The whole schedule (see the module doc for the rounding rule)."""
    _check(principal_idr, annual_bp, months)
    method = Method(method)
    r = monthly_rate(annual_bp)
    rows: list[Row] = []
    balance = principal_idr
    equal_principal = principal_idr // months
    if method is Method.ANNUITY and r:
        payment = round_half_up(principal_idr * r / (1 - (1 + r) ** -months))
    elif method is Method.ANNUITY:
        payment = round_half_up(Fraction(principal_idr, months))
    flat_interest = round_half_up(principal_idr * r)
    for no in range(1, months + 1):
        last = no == months
        if method is Method.FLAT:
            interest = flat_interest
            part = balance if last else equal_principal
        elif method is Method.DECLINING:
            interest = round_half_up(balance * r)
            part = balance if last else equal_principal
        else:
            interest = round_half_up(balance * r)
            part = balance if last else min(max(payment - interest, 0), balance)
        balance -= part
        rows.append(Row(no, due_date(start, no), part, interest, balance))
    return Schedule(principal_idr, annual_bp, months, method, tuple(rows))


def effective_annual_rate(received_idr: int, payments: list[int]) -> Fraction:
    """The effective annual rate (a fraction: 0.2 = 20 %) of receiving ``received_idr`` now
    and paying ``payments`` monthly: the monthly IRR by bisection, compounded over 12."""
    if received_idr <= 0 or not payments:
        raise ValueError("nothing received or nothing paid")
    with localcontext() as ctx:
        ctx.prec = 40
        received = Decimal(received_idr)
        flows = [Decimal(p) for p in payments]

        def npv(rate: Decimal) -> Decimal:
            total = -received
            factor = Decimal(1)
            for flow in flows:
                factor /= 1 + rate
                total += flow * factor
            return total

        low, high = Decimal("-0.99"), Decimal(1)
        while npv(high) > 0:
            high *= 2
        for _ in range(200):
            mid = (low + high) / 2
            if npv(mid) > 0:
                low = mid
            else:
                high = mid
        monthly = (low + high) / 2
        annual = (1 + monthly) ** 12 - 1
        return Fraction(annual).limit_denominator(10**12)


def percent_text(value: Fraction, places: int = 2) -> str:
    """``Fraction(183, 1000)`` -> ``"18,30 %"`` (Indonesian decimal comma)."""
    scaled = round_half_up(value * 100 * 10**places)
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**places)
    return f"{sign}{whole},{frac:0{places}d} %" if places else f"{sign}{whole} %"


def bp_text(bp: int, per: int = 1) -> str:
    """A rate in basis points as a percentage (``per=12``: the monthly rate of an annual)."""
    return percent_text(Fraction(bp, 10_000 * per))


CSV_HEADER = "no,due_date,principal_idr,interest_idr,total_idr,balance_idr"


def schedule_csv(schedule: Schedule) -> str:
    lines = [CSV_HEADER]
    for row in schedule.rows:
        lines.append(
            f"{row.no},{row.due_date.isoformat()},{row.principal_idr},{row.interest_idr},"
            f"{row.total_idr},{row.balance_idr}"
        )
    return "\n".join(lines) + "\n"
