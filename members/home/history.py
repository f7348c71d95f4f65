"""The demo's year behind it (``flask kmp seed-demo``): every month since January of the last
fiscal year billed for simpanan wajib and paid, as it would have happened, with the clock set
back to the day (``kmp.timeutil.clock_at``); some members fall behind (the arrears list), the
demo driver's wajib comes by check-off from PT Ojek Nusantara this year, the driver keeps some
sukarela and has a withdrawal waiting; then last year's books are recorded and closed into a
real SHU (``kmp.ledger.books.seed.seed_books_year``).

Idempotent: receipts and remittances carry request tokens per member and month, billing skips
months already billed, the books seed records a year once and closes it once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kmp.extensions import db
from kmp.ledger.books.seed import seed_books_year
from kmp.timeutil import add_months, business_date, clock_at
from members.partners import links as partner_links
from members.partners import remittances
from members.register.models import Member, MemberKind
from members.register.states import MemberStatus
from members.savings import deposits as savings_deposits
from members.savings import withdrawals
from members.savings.billing import bill_wajib

DRIVER_NIK = "3174011505900001"
OJEK_NIB = "9120001234567"
#: Members who fall behind: NIK -> the months (``YYYY-MM``, relative: 0 = this month) unpaid.
#: Joko stopped paying five months ago; Andi missed two months; Hendra last month.
BEHIND = {
    "3201011010930005": (-5, -4, -3, -2, -1, 0),
    "3172012001940007": (-3, -2),
    "3671010807910009": (-1,),
}
PAY_DAY = 8  # members pay on the 8th; this month's bills are open until then


def _months_since(start: dt.date, today: dt.date) -> list[dt.date]:
    months, month = [], dt.date(start.year, start.month, 1)
    while month <= today:
        months.append(month)
        month = add_months(month, 1)
    return months


def _offset(month: dt.date, today: dt.date) -> int:
    return (month.year - today.year) * 12 + month.month - today.month


def seed_year(users: dict) -> None:
    today = business_date()
    year = today.year - 1
    bendahara = users["bendahara"]
    members = db.session.scalars(
        select(Member)
        .where(Member.status == MemberStatus.ACTIVE, Member.joined_date.is_not(None))
        .order_by(Member.id)
    ).all()
    driver = next((m for m in members if m.nik == DRIVER_NIK), None)
    ojek = next((m for m in members if m.nib == OJEK_NIB), None)
    if driver is not None and ojek is not None and not partner_links.links_of_member(driver):
        with clock_at(dt.date(year, 12, 1), 11):
            partner_links.link_worker(driver, ojek, driver.platform_worker_id)
    for month in _months_since(dt.date(year, 1, 1), today):
        with clock_at(month, 0, 30):  # the monthly billing job
            bill_wajib(month)
        pay_day = month.replace(day=PAY_DAY)
        if pay_day > today:
            continue
        offset = _offset(month, today)
        payers = [m for m in members if offset not in BEHIND.get(m.nik or "", ())]
        with clock_at(pay_day, 10):
            for member in payers:
                if member.joined_date <= pay_day:
                    _pay_month(member, month, bendahara, ojek, today.year)
        for member in payers:  # who joined after the 8th pays the first month on joining
            if pay_day < member.joined_date < add_months(month, 1):
                with clock_at(member.joined_date, 15):
                    _pay_month(member, month, bendahara, ojek, today.year)
        if driver is not None and month == dt.date(year, 5, 1):
            with clock_at(pay_day, 11):
                savings_deposits.record_receipt(
                    driver,
                    purpose="sukarela",
                    amount_idr=750_000,
                    method="cash",
                    by_user=bendahara,
                    request_token="demo-sukarela-driver",  # noqa: S106
                )
    # Last year's own income and expenses, approved, then the year closed into SHU.
    with clock_at(dt.date(year + 1, 1, 15), 14):
        seed_books_year(year, users, close=True)
    if driver is not None:
        withdrawals.request_withdrawal(
            driver,
            150_000,
            by_user=driver.user,
            request_token="demo-withdrawal-driver",  # noqa: S106
            note="Untuk servis motor",
        )
    db.session.flush()


def _pay_month(
    member: Member, month: dt.date, bendahara, ojek: Member | None, this_year: int
) -> None:
    from members.ad.services import current_ad

    group = current_ad().get_group(member.group_code)
    amount = group.wajib_idr if group else 0
    if not amount:
        return
    tag = f"{month.year}{month.month:02d}"
    if member.nik == DRIVER_NIK and ojek is not None and month.year == this_year:
        # This year PT Ojek Nusantara deducts the driver's wajib from the driver's earnings.
        remittances.submit_remittance(
            ojek,
            remittance_ref=f"OJK-CHECKOFF-{tag}",
            total_idr=amount,
            lines=[remittances.RemittanceLineIn(member.platform_worker_id, "wajib", amount)],
            source="manual",
            by_user=bendahara,
        )
        return
    company = member.kind == MemberKind.COMPANY
    savings_deposits.record_receipt(
        member,
        purpose="wajib",
        amount_idr=amount,
        method="bank" if company else "cash",
        by_user=bendahara,
        request_token=f"demo-wajib-{member.id}-{tag}",
    )
