"""Admission: pokok receipts, approval, activation, numbering, the review queue, receipts."""

import re

import pytest
from sqlalchemy import func, select

from kmp import errors, signals, timeutil
from kmp.errors import IllegalTransition
from kmp.extensions import db
from kmp.ledger.chart import CASH, REFUND_PAYABLE
from kmp.ledger.models import Account, JournalEntry
from kmp.ledger.queries import balances_of_member, check_ledger
from members.ad import services as ad_services
from members.articles import services as articles_services
from members.exits import services as exits_services
from members.register import admission as register_admission
from members.register import services as register_services
from members.register.models import ExitCase, ExitKind, ExitStatus, Member
from members.register.states import MemberStatus
from members.savings import deposits as savings_deposits
from members.savings.models import Receipt
from tests.integration.members_support import (
    admit,
    apply_member,
    pay_pokok,
)

S = MemberStatus
YEAR = timeutil.business_date().year


@pytest.fixture
def board(make_user):
    return {"bendahara": make_user("pengurus", "bendahara"), "pengurus": make_user("pengurus")}


def _balance(code):
    return (
        db.session.scalar(
            select(Account.balance_idr * Account.normal_sign).where(Account.code == code)
        )
        or 0
    )


def test_paid_then_approved_becomes_active_with_number_accounts_and_signal(board):
    admitted = []

    def receiver(sender, member=None, **kwargs):
        admitted.append(member.id)

    signals.member_admitted.connect(receiver)
    try:
        member = apply_member(1)
        receipt = pay_pokok(member, board["bendahara"])
        assert member.status is S.APPLIED
        assert receipt.number == f"KWT-{YEAR}-000001"
        assert _balance(register_admission.applicant_account_code(member)) == 100_000
        register_admission.approve_member(member, board["pengurus"])
        db.session.commit()
    finally:
        signals.member_admitted.disconnect(receiver)
    assert admitted == [member.id]
    assert member.status is S.ACTIVE
    assert member.member_no == f"DRV-{YEAR}-000001"
    assert member.joined_date == timeutil.business_date()
    balances = balances_of_member(member.id)
    assert balances[f"equity:savings:principal:{member.member_no}"] == 100_000
    assert {
        f"equity:savings:mandatory:{member.member_no}",
        f"liability:savings:voluntary:{member.member_no}",
        f"liability:shu-payable:{member.member_no}",
    } <= balances.keys()
    assert _balance(register_admission.applicant_account_code(member)) == 0
    assert _balance(CASH) == 100_000
    assert register_admission.pokok_status(member).fully_paid
    assert check_ledger().ok


def test_approved_then_paid_in_instalments(board):
    member = apply_member(1, group="kurir")
    register_admission.approve_member(member, board["pengurus"])
    db.session.commit()
    assert member.status is S.APPROVED
    pay_pokok(member, board["bendahara"], amount=40_000)
    assert member.status is S.APPROVED
    assert register_admission.pokok_status(member).remaining_idr == 60_000
    pay_pokok(member, board["bendahara"], amount=60_000)
    assert member.status is S.ACTIVE and member.member_no == f"KUR-{YEAR}-000001"
    assert register_admission.pokok_status(member).paid_idr == 100_000
    assert check_ledger().ok


def test_numbers_are_per_group_and_sequential(board):
    a = admit(apply_member(1), **board)
    b = admit(apply_member(2), **board)
    c = admit(apply_member(3, group="pengguna"), **board)
    assert [a.member_no, b.member_no, c.member_no] == [
        f"DRV-{YEAR}-000001",
        f"DRV-{YEAR}-000002",
        f"PGN-{YEAR}-000001",
    ]


def test_counter_is_atomic_and_never_goes_back():
    assert register_services.reserve_numbers("XYZ", 2030, 3) == 1
    assert register_services.reserve_numbers("XYZ", 2030) == 4
    register_services.raise_counter("XYZ", 2030, 2)
    assert register_services.reserve_numbers("XYZ", 2030) == 5
    register_services.raise_counter("XYZ", 2030, 50)
    assert register_services.reserve_numbers("XYZ", 2030) == 51


def test_deposit_refusals(board, make_user):
    member = apply_member(1)
    with pytest.raises(errors.DomainError, match="melebihi sisa simpanan pokok") as caught:
        pay_pokok(member, board["bendahara"], amount=100_001)
    assert caught.value.field == "amount_idr"
    db.session.rollback()
    with pytest.raises(IllegalTransition, match="tidak bisa diterima"):
        savings_deposits.record_receipt(
            member,
            purpose="wajib",
            amount_idr=25_000,
            method="cash",
            by_user=board["bendahara"],
            request_token="t1",
        )
    db.session.rollback()
    with pytest.raises(errors.DomainError, match="lebih dari Rp 0"):
        pay_pokok(member, board["bendahara"], amount=-5)
    db.session.rollback()
    admit(member, **board)
    with pytest.raises(errors.Conflict, match="sudah lunas"):
        pay_pokok(member, board["bendahara"], amount=1000)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Receipt)) == 1
    assert check_ledger().ok


def test_instalments_refused_when_the_ad_says_so(board, make_user):
    payload = ad_services.current_ad().to_payload()
    next(g for g in payload["groups"] if g["code"] == "pengemudi")["pokok_instalments_allowed"] = (
        False
    )
    articles_services.update_ad(payload, make_user("admin"), "pokok lunas sekaligus")
    db.session.commit()
    member = apply_member(1)
    with pytest.raises(errors.DomainError, match="lunas sekaligus: Rp 100.000"):
        pay_pokok(member, board["bendahara"], amount=50_000)
    db.session.rollback()
    pay_pokok(member, board["bendahara"], amount=100_000)


def test_illegal_moves_are_refused(board):
    member = apply_member(1)
    with pytest.raises(IllegalTransition, match="Alasan penolakan"):
        register_admission.reject_member(member, board["pengurus"], " ")
    db.session.rollback()
    register_admission.reject_member(member, board["pengurus"], "Data tidak cocok dengan KTP")
    db.session.commit()
    with pytest.raises(IllegalTransition, match="'ditolak' menjadi 'disetujui'"):
        register_admission.approve_member(member, board["pengurus"])
    db.session.rollback()
    assert member.status is S.REJECTED and member.member_no is None
    assert not register_admission.activate_if_ready(member)


def test_rejected_applicant_gets_the_pokok_back(board):
    member = apply_member(1)
    pay_pokok(member, board["bendahara"], amount=30_000)
    register_admission.reject_member(member, board["pengurus"], "Bukan pengemudi aktif")
    db.session.commit()
    case = db.session.scalar(select(ExitCase))
    assert (case.kind, case.status, case.refund_idr) == (
        ExitKind.APPLICATION,
        ExitStatus.PAYABLE,
        30_000,
    )
    assert _balance(REFUND_PAYABLE) == 30_000
    exits_services.pay_exit_refund(case, board["bendahara"], "cash")
    db.session.commit()
    assert _balance(REFUND_PAYABLE) == 0 and _balance(CASH) == 0
    assert check_ledger().ok


def test_withdrawn_applicant(client, login_as, csrf_token, board):
    member = apply_member(1)
    login_as(user=member.user)
    token = csrf_token("/anggota/langkah")
    assert client.post("/anggota/batal", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Member, member.id).status is S.WITHDRAWN


# --------------------------------------------------------------------------- pages


def test_bendahara_records_a_cash_receipt(client, login_as, csrf_token, board):
    member = apply_member(1)
    login_as(user=board["bendahara"])
    page = client.get(f"/pengurus/anggota/{member.id}/setoran").get_data(as_text=True)
    token = re.search(r'name="token"[^>]*value="([^"]+)"', page).group(1)
    data = {
        "purpose": "pokok",
        "amount": "100.000",
        "method": "cash",
        "reference": "kas",
        "received_on": timeutil.business_date().isoformat(),
        "token": token,
        "csrf_token": csrf_token(f"/pengurus/anggota/{member.id}/setoran"),
    }
    response = client.post(f"/pengurus/anggota/{member.id}/setoran", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    number = f"KWT-{YEAR}-000001"
    assert response.headers["Location"] == f"/kwitansi/{number}"
    html = client.get(f"/kwitansi/{number}").get_data(as_text=True)
    assert 'data-testid="receipt-number">' + number in html and "Rp 100.000" in html
    again = client.post(f"/pengurus/anggota/{member.id}/setoran", data=data)
    assert again.status_code == 303  # the same token: one receipt, one entry
    assert db.session.scalar(select(func.count()).select_from(Receipt)) == 1
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 1


def test_receipt_form_refusals_write_nothing(client, login_as, csrf_token, board):
    member = apply_member(1)
    login_as(user=board["bendahara"])
    path = f"/pengurus/anggota/{member.id}/setoran"
    for amount, words in (("seratus", "Tulis jumlah"), ("200000", "melebihi sisa")):
        response = client.post(
            path,
            data={
                "purpose": "pokok",
                "amount": amount,
                "method": "cash",
                "token": "tok-" + amount,
                "csrf_token": csrf_token(path),
            },
        )
        assert response.status_code == 422
        assert words in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Receipt)) == 0


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("bendahara", 200),
        ("pengurus", 403),
        ("pengawas", 403),
        ("admin", 403),
        ("anggota", 403),
        ("partner", 403),
    ],
)
def test_receipt_page_roles(client, login_as, role, status):
    member = apply_member(1)
    login_as(role)
    assert client.get(f"/pengurus/anggota/{member.id}/setoran").status_code == status


def test_a_member_sees_only_their_own_receipts(client, login_as, board):
    member = apply_member(1)
    other = apply_member(2)
    receipt = pay_pokok(other, board["bendahara"])
    login_as(user=member.user)
    assert client.get(f"/kwitansi/{receipt.number}").status_code == 404
    login_as(user=other.user)
    assert client.get(f"/kwitansi/{receipt.number}").status_code == 200


def test_queue_filters_and_bulk_approval(client, login_as, csrf_token, board):
    paid = apply_member(1)
    pay_pokok(paid, board["bendahara"])
    unpaid = apply_member(2)
    courier = apply_member(3, group="kurir")
    login_as(user=board["pengurus"])
    html = client.get("/pengurus/pendaftaran?pokok_lunas=ya").get_data(as_text=True)
    assert f'data-testid="pick-{paid.id}"' in html
    assert f'data-testid="pick-{unpaid.id}"' not in html
    html = client.get("/pengurus/pendaftaran?pokok_lunas=tidak&kelompok=kurir").get_data(
        as_text=True
    )
    assert f'data-testid="pick-{courier.id}"' in html
    assert f'data-testid="pick-{unpaid.id}"' not in html
    token = csrf_token("/pengurus/pendaftaran")
    response = client.post(
        "/pengurus/pendaftaran",
        data={
            "csrf_token": token,
            "action": "approve",
            "member_id": [str(paid.id), str(unpaid.id)],
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Member, paid.id).status is S.ACTIVE
    assert db.session.get(Member, unpaid.id).status is S.APPROVED
    html = client.get("/pengurus/pendaftaran").get_data(as_text=True)
    assert f'data-testid="pick-{paid.id}"' not in html


def test_bulk_reject_without_reason_writes_nothing(client, login_as, csrf_token, board):
    a, b = apply_member(1), apply_member(2)
    login_as(user=board["pengurus"])
    token = csrf_token("/pengurus/pendaftaran")
    response = client.post(
        "/pengurus/pendaftaran",
        data={
            "csrf_token": token,
            "action": "reject",
            "reason": "",
            "member_id": [str(a.id), str(b.id)],
        },
        follow_redirects=True,
    )
    assert "Tidak ada yang disimpan" in response.get_data(as_text=True)
    db.session.expire_all()
    assert {m.status for m in db.session.scalars(select(Member))} == {S.APPLIED}
    response = client.post(
        "/pengurus/pendaftaran",
        data={
            "csrf_token": token,
            "action": "reject",
            "reason": "Bukan pengemudi",
            "member_id": [str(a.id)],
        },
    )
    db.session.expire_all()
    assert db.session.get(Member, a.id).status is S.REJECTED
    assert db.session.get(Member, a.id).rejection_reason == "Bukan pengemudi"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("pengurus", 200),
        ("bendahara", 200),
        ("pengawas", 403),
        ("admin", 403),
        ("anggota", 403),
        ("partner", 403),
    ],
)
def test_queue_roles(client, login_as, role, status):
    login_as(role)
    assert client.get("/pengurus/pendaftaran").status_code == status


def test_the_member_sees_the_active_status_number_and_card(client, login_as, board):
    member = admit(apply_member(1), **board)
    login_as(user=member.user)
    html = client.get("/anggota").get_data(as_text=True)
    assert 'data-status="active"' in html
    assert f'data-testid="member-no">{member.member_no}' in html
    assert 'data-testid="balance-pokok"' in html and "Rp 100.000" in html
    card = client.get("/anggota/kartu").get_data(as_text=True)
    assert 'data-testid="member-card-qr"' in card and "<svg" in card
    assert f'data-value="{member.member_no}"' in card
    assert "<script>" not in card and "style=" not in card


def test_ledger_check_command_passes(app, board):
    admit(apply_member(1), **board)
    result = app.test_cli_runner().invoke(args=["kmp", "ledger-check"])
    assert result.exit_code == 0, result.output
    assert "ledger-check OK" in result.output
