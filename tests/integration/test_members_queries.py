"""Read side for other features: census, capital basis, login -> member, hooks."""

import pytest

from kmp import errors, signals
from kmp.extensions import db
from kmp.ledger.chart import GATEWAY_CLEARING
from kmp.ledger.services import post_entry
from members.ad import services as ad_services
from members.articles import services as articles_services
from members.census import services as census_services
from members.importer.services import COLUMNS, import_members
from members.officers import queries as officers_queries
from members.register import admission as register_admission
from members.register.states import MemberStatus
from members.savings import billing
from members.savings import deposits as savings_deposits
from members.savings import queries as savings_queries
from tests.integration.members_support import (
    admit,
    apply_member,
    pay_pokok,
)


@pytest.fixture
def board(make_user):
    user = make_user("pengurus", "bendahara")
    return {"bendahara": user, "pengurus": user}


def test_census_of_eligible_members(app, board, monkeypatch):
    voter = admit(apply_member(1), **board)
    arrears = admit(apply_member(2, group="kurir"), **board)
    applicant = apply_member(3)
    pay_pokok(applicant, board["bendahara"])
    payload = ad_services.current_ad().to_payload()
    next(g for g in payload["groups"] if g["code"] == "pengguna")["members_vote"] = False
    articles_services.update_ad(payload, board["pengurus"], "pengguna tanpa suara")
    db.session.commit()
    admit(apply_member(4, group="pengguna"), **board)
    monkeypatch.setattr(billing, "arrears_months", lambda ids, on: {arrears.id: 4})
    census = census_services.eligible_members(ad_services.current_ad())
    assert [(e.member_id, e.group_code) for e in census] == [(voter.id, "pengemudi")]
    assert census[0].user_id == voter.user_id
    monkeypatch.setattr(billing, "arrears_months", lambda ids, on: {arrears.id: 3})
    assert {e.member_id for e in census_services.eligible_members(ad_services.current_ad())} == {
        voter.id,
        arrears.id,
    }
    assert [
        e.member_id
        for e in census_services.eligible_members(ad_services.current_ad(), group="kurir")
    ] == [arrears.id]


def test_imported_member_with_partial_pokok_is_not_eligible():
    lines = [
        ",".join(COLUMNS),
        ",A,3174011505900001,081300000001,,pengemudi,2024-01-01,gojek,X1,100000,0,0,",
        ",B,3174011505900002,081300000002,,pengemudi,2024-01-01,gojek,X2,50000,0,0,",
    ]
    assert import_members(("\n".join(lines) + "\n").encode()).ok
    db.session.commit()
    census = census_services.eligible_members(ad_services.current_ad())
    assert [e.member_no for e in census] == ["DRV-2024-000001"]


def test_capital_basis_year_end_and_average():
    lines = [
        ",".join(COLUMNS),
        ",A,3174011505900001,081300000001,,pengemudi,2024-01-01,gojek,X1,100000,0,0,2025-01-01",
        ",B,3174011505900002,081300000002,,kurir,2025-07-01,gojek,X2,100000,120000,500,2025-07-01",
    ]
    assert import_members(("\n".join(lines) + "\n").encode()).ok
    db.session.commit()
    rows = {r.member_no: r for r in savings_queries.capital_basis(2025)}
    a, b = rows["DRV-2024-000001"], rows["KUR-2025-000001"]
    assert (a.capital_idr, a.months) == (100_000, 12)
    assert (b.capital_idr, b.months) == (220_000, 6)  # sukarela excluded
    average = {r.member_no: r for r in savings_queries.capital_basis(2025, "average_month_end")}
    assert average["DRV-2024-000001"].capital_idr == 100_000
    assert average["KUR-2025-000001"].capital_idr == 220_000 * 6 // 12
    assert savings_queries.capital_basis(2023) == []
    assert [r.member_no for r in savings_queries.capital_basis(2025, group="kurir")] == [
        "KUR-2025-000001"
    ]


def test_member_accounts_hook(app, board):
    member = admit(apply_member(1), **board)
    from kmp import signals

    def hook(user):
        return signals.ask(signals.member_accounts_requested, app, user=user)

    ids = hook(member.user)
    # the four savings accounts and the applicant account that held pokok before admission
    assert len(ids) == 5
    assert hook(board["pengurus"]) == []


def test_gateway_payment_completes_admission(app, board):
    member = apply_member(1)
    register_admission.approve_member(member, board["pengurus"])
    lines = savings_deposits.savings_credit_lines(member.id, "pokok", 100_000)
    assert lines == [(register_admission.applicant_account_code(member), 100_000)]
    with pytest.raises(errors.DomainError, match="melebihi"):
        savings_deposits.savings_credit_lines(member.id, "pokok", 100_001)
    # what the payments service does: post its receipt entry, then send the signal
    post_entry(
        idempotency_key="midtrans:x:receipt",
        description="Midtrans",
        lines=[(GATEWAY_CLEARING, 100_000), (lines[0][0], -100_000)],
        source_kind="payment",
    )
    signals.payment_settled.send("pokok", member_id=member.id, purpose="pokok", amount_idr=100_000)
    db.session.commit()
    assert member.status is MemberStatus.ACTIVE and member.member_no


def test_seed_is_idempotent(app):
    from kmp.demo import seed_demo
    from kmp.ledger.queries import check_ledger
    from members.register.models import Member, MemberStaff

    seed_demo()
    db.session.commit()
    count = db.session.query(Member).count()
    seed_demo()
    db.session.commit()
    assert db.session.query(Member).count() == count >= 12
    driver = db.session.query(Member).filter(Member.email == "driver@demo.kmp.id").one()
    assert (
        driver.status is MemberStatus.ACTIVE and register_admission.pokok_status(driver).fully_paid
    )
    company = db.session.query(Member).filter(Member.company_name == "PT Ojek Nusantara").one()
    assert db.session.query(MemberStaff).filter(MemberStaff.member_id == company.id).count() == 2
    assert check_ledger().ok
    problems = {row.problem for row in officers_queries.certification_watchlist()}
    assert problems == {"expiring"}  # the bendahara's certificate ends in 45 days
