"""Issue 19, must-show 1: the versioned rate table with effective dates; the quote CLI.

Income 1.000.000 -> JKK 10.000 + JKM 6.800 = 16.800, with JHT 36.800; income 2.500.000 ->
25.000 + 6.800 + 50.000 = 81.800; JKN class III -> the participant pays 35.000 per person; a
rate change effective next month bills the old rate this month (and the new one next month).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from kmp.errors import DomainError
from kmp.extensions import db
from kmp.timeutil import add_months, business_date, now_utc, set_clock
from members.protection import rates
from members.protection.billing import bill_contributions
from members.protection.models import Contribution
from members.savings.models import Obligation
from tests.integration.protection_support import enrolled_member, spouse


def _total(lines) -> int:
    return sum(line.amount_idr for line in lines)


def test_bpu_rates_at_the_lowest_bracket_and_at_two_and_a_half_million():
    low = rates.quote(("jkk", "jkm"), income_idr=1_000_000)
    assert [(line.programme, line.amount_idr) for line in low] == [("jkk", 10_000), ("jkm", 6_800)]
    assert _total(low) == 16_800
    assert _total(rates.quote(("jkk", "jkm", "jht"), income_idr=1_000_000)) == 36_800
    high = rates.quote(("jkk", "jkm", "jht"), income_idr=2_500_000)
    assert [line.amount_idr for line in high] == [25_000, 6_800, 50_000]
    assert _total(high) == 81_800
    assert rates.brackets_in_force(business_date())[0] == 1_000_000


def test_jkn_class_three_participant_pays_35000_per_person():
    (line,) = rates.quote(("jkn",), jkn_class="3")
    assert line.amount_idr == 35_000
    assert line.rate.amount_idr == 42_000 and line.rate.participant_idr == 35_000
    (family,) = rates.quote(("jkn",), jkn_class="3", persons=3)
    assert family.amount_idr == 105_000
    assert rates.quote(("jkn",), jkn_class="1")[0].amount_idr == 150_000
    assert rates.quote(("jkn",), jkn_class="2")[0].amount_idr == 100_000


def test_rounding_is_half_up_to_the_rupiah():
    assert rates.percent_of(1_000_050, 100) == 10_001  # 10.000,50 -> 10.001
    assert rates.percent_of(1_000_049, 100) == 10_000
    assert rates.percent_of(1_300_000, 24) == 3_120


def test_a_rate_change_next_month_bills_the_old_rate_this_month(make_user):
    bendahara, pengurus = make_user("bendahara"), make_user("pengurus")
    member = enrolled_member(1, bendahara, pengurus, jht=True, income=2_500_000)
    this_month = business_date().replace(day=1)
    next_month = add_months(this_month, 1)
    rates.add_rate("jkk", effective_from=next_month, rate_bp=150, note="uji", by_user=pengurus)
    rates.add_rate("jkm", effective_from=next_month, amount_idr=7_500, by_user=pengurus)
    db.session.commit()
    bill_contributions(this_month)  # again: a no-op, still the old rates
    db.session.commit()

    def amounts(period):
        rows = db.session.execute(
            select(Contribution.programme, Contribution.full_idr).where(
                Contribution.member_id == member.id, Contribution.period == period
            )
        )
        return dict(rows.all())

    assert amounts(this_month) == {"jkk": 25_000, "jkm": 6_800, "jht": 50_000}
    # A month later the new versions are in force.
    later = now_utc() + dt.timedelta(days=32)
    set_clock(lambda: later)
    result = bill_contributions(next_month)
    db.session.commit()
    assert amounts(next_month) == {"jkk": 37_500, "jkm": 7_500, "jht": 50_000}
    assert result.created == {"jkk": 1, "jkm": 1, "jht": 1}
    assert (
        _total(rates.quote(("jkk", "jkm", "jht"), income_idr=2_500_000, month=this_month)) == 81_800
    )
    # Each contribution is an obligation in its programme's trust liability.
    accounts = dict(
        db.session.execute(
            select(Obligation.kind, Obligation.account_code).where(
                Obligation.member_id == member.id, Obligation.period == next_month
            )
        ).all()
    )
    assert accounts == {
        "bpjs_jkk": "liability:bpjs-deposits:jkk",
        "bpjs_jkm": "liability:bpjs-deposits:jkm",
        "bpjs_jht": "liability:bpjs-deposits:jht",
    }


def test_the_past_cannot_be_rewritten_and_a_billed_month_keeps_its_rate(make_user):
    bendahara, pengurus = make_user("bendahara"), make_user("pengurus")
    this_month = business_date().replace(day=1)
    with pytest.raises(DomainError, match="surut"):
        rates.add_rate("jkk", effective_from=add_months(this_month, -1), rate_bp=100)
    with pytest.raises(DomainError, match="tanggal 1"):
        rates.add_rate("jkk", effective_from=this_month.replace(day=2), rate_bp=100)
    rates.add_rate("jkk", effective_from=this_month, rate_bp=120)  # not billed yet: allowed
    db.session.rollback()
    enrolled_member(2, bendahara, pengurus)  # bills this month
    with pytest.raises(DomainError, match="sudah ditagih"):
        rates.add_rate("jkk", effective_from=this_month, rate_bp=120)
    with pytest.raises(DomainError):
        rates.add_rate(
            "jkn",
            effective_from=add_months(this_month, 1),
            amount_idr=42_000,
            participant_idr=50_000,
            jkn_class="3",
        )


def test_jkn_family_is_billed_per_person(make_user):
    bendahara, pengurus = make_user("bendahara"), make_user("pengurus")
    member = enrolled_member(3, bendahara, pengurus, tk=False, jkn_class="3", family=[spouse()])
    row = db.session.scalar(select(Contribution).where(Contribution.member_id == member.id))
    assert (row.programme, row.persons, row.full_idr) == ("jkn", 2, 70_000)


def test_bracket_list_is_versioned(make_user):
    pengurus = make_user("pengurus")
    next_month = add_months(business_date().replace(day=1), 1)
    rates.set_brackets(
        [1_000_000, 2_000_000, 3_000_000], effective_from=next_month, by_user=pengurus
    )
    db.session.commit()
    assert 2_500_000 in rates.brackets_in_force(business_date())
    assert rates.brackets_in_force(next_month) == [1_000_000, 2_000_000, 3_000_000]


def test_quote_cli_prints_each_programme_and_the_total(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["bpjs", "quote", "--income", "2500000", "--programs", "jkk,jkm,jht"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("jkk amount_idr=25000")
    assert lines[1].startswith("jkm amount_idr=6800")
    assert lines[2].startswith("jht amount_idr=50000")
    assert lines[-1] == "total_idr=81800"
    bad = runner.invoke(args=["bpjs", "quote", "--income", "2500000", "--programs", "jkk,xyz"])
    assert bad.exit_code != 0 and "xyz" in bad.output
