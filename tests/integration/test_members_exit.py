"""Exit and death (issue 4, "Must show" 5): refund = pokok + wajib - arrears, posted as a
payable and paid; the ledger balances; the member keeps a login but no member functions."""

import pytest
from sqlalchemy import select

from kmp import errors
from kmp.extensions import db
from kmp.ledger.chart import CASH, REFUND_PAYABLE
from kmp.ledger.models import Account
from kmp.ledger.queries import check_ledger
from kmp.timeutil import add_months, business_date
from members.exits import services as exits_services
from members.register.models import ExitCase, ExitKind, ExitStatus, Member
from members.register.states import MemberStatus
from members.savings import billing
from members.savings import deposits as savings_deposits
from members.savings.allocator import EXIT_SETOFF_ACCOUNT
from members.savings.models import Obligation
from tests.integration.members_support import (
    admit,
    apply_member,
)

S = MemberStatus


@pytest.fixture
def board(make_user):
    return {"bendahara": make_user("pengurus", "bendahara"), "pengurus": make_user("pengurus")}


def _natural(code):
    return (
        db.session.scalar(
            select(Account.balance_idr * Account.normal_sign).where(Account.code == code)
        )
        or 0
    )


def _member_owing(board, n: int, paid_wajib: int, billed_months: int):
    """An active member with pokok paid, ``billed_months`` wajib bills (Rp 25.000 each) and
    ``paid_wajib`` paid in cash (the oldest bills first)."""
    member = admit(apply_member(n), **board)
    start = add_months(business_date().replace(day=1), -(billed_months - 1))
    member.joined_date = start
    for i in range(billed_months):
        billing.bill_wajib(add_months(start, i))
    if paid_wajib:
        savings_deposits.record_receipt(
            member,
            purpose="wajib",
            amount_idr=paid_wajib,
            method="cash",
            by_user=board["bendahara"],
            request_token=f"w{n}",
        )
    db.session.commit()
    return member


@pytest.fixture
def member_with_savings(board):
    return _member_owing(board, 1, paid_wajib=75_000, billed_months=4)  # owes 25.000


def test_refund_is_pokok_plus_wajib_minus_arrears_and_the_ledger_balances(
    board, member_with_savings
):
    member = member_with_savings
    cash_before = _natural(CASH)
    quote = exits_services.compute_refund(member)
    assert (quote.pokok_idr, quote.wajib_idr, quote.arrears_idr) == (100_000, 75_000, 25_000)
    assert quote.refund_idr == 150_000
    case = exits_services.request_exit(member, member.user, "Pindah kota")
    db.session.commit()
    assert member.status is S.EXIT_REQUESTED
    exits_services.approve_exit(case, board["pengurus"])
    db.session.commit()
    assert member.status is S.EXITED and member.exited_date is not None
    assert (case.status, case.refund_idr, case.arrears_idr) == (ExitStatus.PAYABLE, 150_000, 25_000)
    assert case.refund_idr == case.pokok_idr + case.wajib_idr - case.arrears_idr
    assert _natural(REFUND_PAYABLE) == 150_000
    assert _natural(f"equity:savings:principal:{member.member_no}") == 0
    assert _natural(f"equity:savings:mandatory:{member.member_no}") == 0
    assert _natural(EXIT_SETOFF_ACCOUNT) == 25_000
    # the set-off closed the unpaid month; the member shows no arrears after the exit
    assert billing.arrears_idr(member.id) == 0 and billing.all_open_idr(member.id) == 0
    assert check_ledger().ok
    exits_services.pay_exit_refund(case, board["bendahara"], "bank", "TRF-001")
    db.session.commit()
    assert case.status is ExitStatus.PAID and _natural(REFUND_PAYABLE) == 0
    assert _natural("asset:bank") == -150_000 and _natural(CASH) == cash_before
    assert check_ledger().ok
    with pytest.raises(errors.IllegalTransition):
        exits_services.pay_exit_refund(case, board["bendahara"], "cash")


@pytest.mark.parametrize(
    ("paid", "months", "owed", "refund", "waived"),
    [
        (60_000, 5, 65_000, 95_000, 0),  # arrears below the capital (160.000)
        (25_000, 6, 125_000, 0, 0),  # arrears equal to the capital (125.000)
        (0, 5, 125_000, 0, 25_000),  # arrears above the capital (100.000)
    ],
)
def test_exit_refund_deducts_open_obligations_floor_zero(board, paid, months, owed, refund, waived):
    member = _member_owing(board, 3, paid_wajib=paid, billed_months=months)
    assert billing.arrears_idr(member.id) == owed
    quote = exits_services.compute_refund(member)
    assert quote.owed_idr == owed and quote.refund_idr == refund
    case = exits_services.request_exit(member, member.user)
    exits_services.approve_exit(case, board["pengurus"])
    db.session.commit()
    assert case.refund_idr == refund and case.arrears_idr == owed - waived
    assert _natural(REFUND_PAYABLE) == refund
    assert _natural(EXIT_SETOFF_ACCOUNT) == owed - waived
    assert billing.all_open_idr(member.id) == 0  # closed: set off, or waived beyond capital
    waived_rows = db.session.scalars(
        select(Obligation).where(Obligation.closed_reason.is_not(None))
    ).all()
    assert sum(o.remaining_idr for o in waived_rows) == waived
    assert check_ledger().ok


def test_sukarela_is_paid_out_with_the_refund_unless_kept(board):
    member = _member_owing(board, 4, paid_wajib=25_000, billed_months=1)
    savings_deposits.record_receipt(
        member,
        purpose="sukarela",
        amount_idr=40_000,
        method="cash",
        by_user=board["bendahara"],
        request_token="s4",
    )
    case = exits_services.request_exit(member, member.user)
    exits_services.approve_exit(case, board["pengurus"])
    db.session.commit()
    assert case.refund_idr == 100_000 + 25_000 + 40_000 and case.sukarela_idr == 40_000
    assert _natural(f"liability:savings:voluntary:{member.member_no}") == 0
    other = _member_owing(board, 5, paid_wajib=25_000, billed_months=1)
    savings_deposits.record_receipt(
        other,
        purpose="sukarela",
        amount_idr=40_000,
        method="cash",
        by_user=board["bendahara"],
        request_token="s5",
    )
    case = exits_services.request_exit(other, other.user)
    exits_services.approve_exit(case, board["pengurus"], keep_sukarela=True)
    db.session.commit()
    assert case.refund_idr == 125_000 and case.sukarela_idr == 0
    assert _natural(f"liability:savings:voluntary:{other.member_no}") == 40_000
    assert check_ledger().ok


def test_the_member_number_is_never_reused(board, member_with_savings):
    member = member_with_savings
    case = exits_services.request_exit(member, member.user)
    exits_services.approve_exit(case, board["pengurus"])
    db.session.commit()
    newcomer = admit(apply_member(2), **board)
    assert member.member_no.endswith("000001") and newcomer.member_no.endswith("000002")


def test_exit_journey_through_the_pages(client, login_as, csrf_token, board, member_with_savings):
    member = member_with_savings
    login_as(user=member.user)
    page = client.get("/anggota/keluar").get_data(as_text=True)
    assert 'data-testid="refund-quote"' in page and "Rp 150.000" in page
    token = csrf_token("/anggota/keluar")
    response = client.post("/anggota/keluar", data={"csrf_token": token, "reason": "Pensiun"})
    assert response.status_code == 422  # confirmation box not ticked: nothing written
    assert db.session.scalar(select(ExitCase)) is None
    response = client.post(
        "/anggota/keluar", data={"csrf_token": token, "reason": "Pensiun", "confirm": "1"}
    )
    assert response.status_code == 302
    case = db.session.scalar(select(ExitCase))

    login_as(user=board["pengurus"])
    token = csrf_token(f"/pengurus/keluar/{case.id}")
    response = client.post(
        f"/pengurus/keluar/{case.id}", data={"csrf_token": token, "action": "approve"}
    )
    assert response.status_code == 303
    response = client.post(
        f"/pengurus/keluar/{case.id}/bayar", data={"csrf_token": token, "method": "cash"}
    )
    assert response.status_code == 403  # paying is the bendahara's job

    login_as(user=board["bendahara"])
    token = csrf_token(f"/pengurus/keluar/{case.id}")
    response = client.post(
        f"/pengurus/keluar/{case.id}/bayar",
        data={"csrf_token": token, "method": "cash", "reference": "kas"},
    )
    assert response.status_code == 303
    db.session.expire_all()
    case = db.session.get(ExitCase, case.id)
    assert case.status is ExitStatus.PAID and case.refund_idr == 150_000
    assert check_ledger().ok

    # The former member can log in and sees a notice, but no member functions.
    login_as(user=member.user)
    assert client.get("/beranda").headers["Location"] == "/anggota"
    html = client.get("/anggota").get_data(as_text=True)
    assert 'data-testid="not-active-notice"' in html and 'data-status="exited"' in html
    assert client.get("/anggota/kartu").status_code == 403
    assert client.get("/anggota/keluar").status_code == 403
    assert client.get("/anggota/profil/data.json").status_code == 200
    # The board still sees the whole history.
    login_as(user=board["pengurus"])
    html = client.get(f"/pengurus/anggota/{member.id}").get_data(as_text=True)
    assert member.member_no in html and 'data-status="exited"' in html
    assert "mengajukan keluar" in html and "Pensiun" in html


def test_death_is_paid_to_the_heir(client, login_as, csrf_token, board):
    member = admit(apply_member(1), **board)
    login_as(user=board["pengurus"])
    path = f"/pengurus/anggota/{member.id}/keluar"
    token = csrf_token(f"/pengurus/anggota/{member.id}")
    response = client.post(path, data={"csrf_token": token, "kind": "death"}, follow_redirects=True)
    assert "Nama ahli waris wajib diisi" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Member, member.id).status is S.ACTIVE
    response = client.post(
        path,
        data={
            "csrf_token": token,
            "kind": "death",
            "heir_name": "Sri Wahyuni",
            "heir_relationship": "istri",
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    case = db.session.scalar(select(ExitCase))
    assert case.kind is ExitKind.DEATH and case.member.status is S.DECEASED
    assert "Sri Wahyuni" in client.get(f"/pengurus/keluar/{case.id}").get_data(as_text=True)
    exits_services.approve_exit(case, board["pengurus"])
    exits_services.pay_exit_refund(case, board["bendahara"], "cash", "diterima Sri Wahyuni")
    db.session.commit()
    assert case.member.status is S.EXITED and case.refund_idr == 100_000
    assert check_ledger().ok


def test_a_request_can_be_cancelled(board):
    member = admit(apply_member(1), **board)
    case = exits_services.request_exit(member, member.user)
    with pytest.raises(errors.Conflict, match="menunggu keputusan"):
        exits_services.request_exit(member, member.user)
    with pytest.raises(errors.DomainError, match="Alasan"):
        exits_services.cancel_exit(case, board["pengurus"], "")
    exits_services.cancel_exit(case, board["pengurus"], "Anggota berubah pikiran")
    db.session.commit()
    assert member.status is S.ACTIVE and case.status is ExitStatus.CANCELLED


@pytest.mark.parametrize(
    ("role", "get", "post"),
    [
        ("pengurus", 200, 303),
        ("bendahara", 200, 303),
        ("pengawas", 200, 403),
        ("admin", 403, 403),
        ("anggota", 403, 403),
        ("partner", 403, 403),
    ],
)
def test_exit_page_roles(client, login_as, csrf_token, board, role, get, post):
    member = admit(apply_member(1), **board)
    case = exits_services.request_exit(member, member.user)
    db.session.commit()
    login_as(role)
    assert client.get("/pengurus/keluar").status_code == get
    assert client.get(f"/pengurus/keluar/{case.id}").status_code == get
    token = csrf_token("/anggota/langkah" if get == 403 else "/pengurus/keluar")
    response = client.post(
        f"/pengurus/keluar/{case.id}", data={"csrf_token": token, "action": "cancel", "reason": "x"}
    )
    assert response.status_code == post
