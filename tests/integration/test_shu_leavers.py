"""Issue 16, item 8 / "Exit": members who leave during the year get jasa modal and jasa usaha
as the AD says (``leavers_get_jasa_modal`` / ``leavers_get_jasa_usaha``, default both), the
jasa modal on their pokok + wajib while they were members, pro rata by months."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from kmp.extensions import db
from kmp.ledger.chart import REFUND_PAYABLE, member_account_code
from kmp.ledger.services import post_entry
from kmp.money import allocate
from members.register.states import MemberStatus
from payouts import services
from tests.integration.governance_factories import set_ad
from tests.integration.payouts_support import book_surplus, fiscal_year, shu_member

SHU = 10_000_000
CAPITAL = 100_000 + 200_000  # pokok + wajib of each member, paid 1 February


@pytest.fixture
def year():
    fy = fiscal_year()
    stayer = shu_member("pengemudi", wajib=200_000, trips=100)
    leaver = shu_member("pengemudi", wajib=200_000, trips=100)
    # the exit on 15 June: pokok and wajib go to the refund payable, the balance is 0 after
    post_entry(
        idempotency_key=f"test:exit:{leaver.id}",
        description="pengembalian uji",
        lines=[
            (member_account_code("pokok", leaver.member_no), 100_000),
            (member_account_code("wajib", leaver.member_no), 200_000),
            (REFUND_PAYABLE, -CAPITAL),
        ],
        source_kind="test",
        entry_date=dt.date(fy, 6, 15),
    )
    leaver.status = MemberStatus.EXITED
    leaver.exited_date = dt.date(fy, 6, 15)
    book_surplus(SHU)
    db.session.commit()
    return fy, stayer, leaver


def _pools(fy):
    """The pengemudi group's jasa modal and jasa usaha pools, computed independently."""
    from members.ad.services import current_ad

    ad = current_ad()
    table = allocate(SHU, list(ad.allocation_pairs()))
    groups = allocate(table["jasa_anggota"], [(g.code, g.shu_weight_bp) for g in ad.groups])
    halves = allocate(
        groups["pengemudi"], [("modal", ad.jasa_modal_bp), ("usaha", ad.jasa_usaha_bp)]
    )
    return halves["modal"], halves["usaha"]


def _shares(fy):
    comp = services.compute_allocation(fy)
    group = comp.result.group("pengemudi")
    return {
        no: (jm, ju)
        for no, jm, ju in zip(
            group.member_no, group.jasa_modal_idr, group.jasa_usaha_idr, strict=True
        )
    }


def test_by_default_a_leaver_gets_both_pro_rata(year):
    fy, stayer, leaver = year
    modal, usaha = _pools(fy)
    shares = _shares(fy)
    # the leaver was a member at the month ends of January..May: 5 months on Rp 300.000
    weight = Fraction(CAPITAL * 5, CAPITAL * 5 + CAPITAL * 12)
    assert abs(shares[leaver.member_no][0] - modal * weight) < 1
    assert shares[leaver.member_no][0] > 0
    assert shares[leaver.member_no][0] + shares[stayer.member_no][0] == modal
    assert shares[leaver.member_no][1] == shares[stayer.member_no][1] == usaha // 2


def test_the_ad_can_withhold_jasa_modal_from_leavers(year):
    fy, stayer, leaver = year
    set_ad(leavers_get_jasa_modal=False)
    db.session.commit()
    modal, usaha = _pools(fy)
    shares = _shares(fy)
    assert shares[leaver.member_no] == (0, usaha // 2)
    assert shares[stayer.member_no][0] == modal


def test_the_ad_can_withhold_jasa_usaha_from_leavers(year):
    fy, stayer, leaver = year
    set_ad(leavers_get_jasa_usaha=False)
    db.session.commit()
    modal, usaha = _pools(fy)
    shares = _shares(fy)
    assert shares[leaver.member_no][1] == 0 and shares[leaver.member_no][0] > 0
    assert shares[stayer.member_no][1] == usaha


def test_neither_or_exclude_leaves_the_leaver_out(year):
    fy, stayer, leaver = year
    set_ad(leavers_get_jasa_modal=False, leavers_get_jasa_usaha=False)
    db.session.commit()
    assert leaver.member_no not in _shares(fy)
    set_ad(exited_members="exclude", leavers_get_jasa_modal=False, leavers_get_jasa_usaha=False)
    db.session.commit()
    assert set(_shares(fy)) == {stayer.member_no}


def test_the_average_basis_averages_the_months_as_a_member(year):
    fy, _stayer, leaver = year
    set_ad(capital_basis="average_month_end")
    db.session.commit()
    basis = services.leaver_capital(fy, "average_month_end", [leaver.id])
    # January's month end: pokok + wajib not paid yet (paid 1 February); Feb..May: 300.000
    assert basis[leaver.id] == (0 + 4 * CAPITAL) // 5
    assert services.leaver_capital(fy, "year_end", [leaver.id])[leaver.id] == CAPITAL
