"""Collecting the one monthly bill: online (fake gateway), cash, sukarela auto-debit, platform
check-off (must-show 4), and the social-fund subsidy (must-show 5, second half)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.services import get_account, post_entry
from kmp.notify import Notification
from kmp.payments.factory import set_gateway
from kmp.payments.models import PaymentIntent
from kmp.timeutil import business_date
from members.partners import links as partners_links
from members.partners import remittances as partners_remittances
from members.protection import collection, coverage
from members.protection.billing import SOCIAL_FUND, add_subsidy_rule, sync_subsidies
from members.protection.remittance import remittance_file, trust_line
from members.register.services import new_request_token
from members.savings.deposits import record_receipt
from members.savings.models import Obligation, ObligationPayment
from tests.api.conftest import make_company
from tests.conftest import csrf_from
from tests.integration.protection_support import bill_this_month, enrolled_member, spouse
from tests.integration.savings_support import login_member


@pytest.fixture(autouse=True)
def fake_gateway(app):
    set_gateway(app, None)
    yield
    set_gateway(app, None)


@pytest.fixture
def board(make_user):
    return make_user("bendahara", "pengurus"), make_user("pengurus")


def balance(code: str) -> int:
    return get_account(code).natural_balance_idr


def _open_kinds(member_id: int) -> set[str]:
    return set(
        db.session.scalars(
            select(Obligation.kind).where(
                Obligation.member_id == member_id, Obligation.is_open.is_(True)
            )
        )
    )


def _simulate(client, location, outcome="settlement"):
    page = client.get(location)
    assert page.status_code == 200 and "SIMULASI" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(location, data={"csrf_token": token, "outcome": outcome})


def test_one_online_payment_settles_wajib_and_every_contribution(client, board):
    bendahara, pengurus = board
    member = enrolled_member(1, bendahara, pengurus, jkn_class="3", family=[spouse()])
    bill_this_month()
    assert _open_kinds(member.id) == {"wajib", "bpjs_jkk", "bpjs_jkm", "jkn"}
    assert [c.covered_until for c in coverage.coverage_for(member.id)] == [None, None, None]
    login_member(client, member)
    page = client.get("/anggota/perlindungan")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="bill-total">Rp 111.800<' in html
    response = client.post("/anggota/perlindungan/bayar", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    intent = db.session.scalar(select(PaymentIntent))
    assert (intent.purpose, intent.amount_idr) == ("bpjs", 111_800)
    assert len(intent.meta["targets"]) == 4
    # Pressing "Bayar" again gives the same checkout, not a second one.
    again = client.post("/anggota/perlindungan/bayar", data={"csrf_token": csrf_from(html)})
    assert again.headers["Location"] == response.headers["Location"]
    done = _simulate(client, response.headers["Location"])
    back = client.get(done.headers["Location"])
    assert "/anggota/perlindungan/pembayaran/" in back.headers["Location"]
    receipt = client.get(back.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="payment-paid"' in receipt
    db.session.expire_all()
    assert _open_kinds(member.id) == set()
    no = member.member_no
    assert balance(f"equity:savings:mandatory:{no}") == 25_000
    assert balance("liability:bpjs-deposits:jkk") == 10_000
    assert balance("liability:bpjs-deposits:jkm") == 6_800
    assert balance("liability:bpjs-deposits:jkn") == 70_000
    month_end = {c.programme: c.covered_until for c in coverage.coverage_for(member.id)}
    assert len(set(month_end.values())) == 1 and None not in month_end.values()
    message = db.session.scalar(
        select(Notification).where(
            Notification.kind == "payment_receipt", Notification.member_id == member.id
        )
    )
    assert message is not None and "Rp 111.800" in message.body


def test_cash_receipt_pays_the_bill_oldest_first_and_is_idempotent(board):
    bendahara, pengurus = board
    member = enrolled_member(2, bendahara, pengurus, jht=True)
    bill_this_month()
    token = new_request_token()
    receipt = collection.record_bill_receipt(
        member, amount_idr=30_000, method="cash", by_user=bendahara, request_token=token
    )
    db.session.commit()
    # Contributions come before wajib in a month (priority 40-42 < 50): accident cover first.
    paid = dict(
        db.session.execute(
            select(Obligation.kind, Obligation.paid_idr).where(Obligation.member_id == member.id)
        ).all()
    )
    assert sum(paid.values()) == 30_000
    assert paid["bpjs_jkk"] == 10_000 and paid["bpjs_jkm"] == 6_800
    same = collection.record_bill_receipt(
        member, amount_idr=30_000, method="cash", by_user=bendahara, request_token=token
    )
    assert same.id == receipt.id
    assert balance("asset:cash") >= 30_000


def test_auto_debit_from_sukarela_pays_the_whole_bill_once_a_day(board):
    bendahara, pengurus = board
    member = enrolled_member(3, bendahara, pengurus, auto_debit=True)
    bill_this_month()
    assert collection.run_auto_debits().short == 1  # no sukarela yet
    record_receipt(
        member,
        purpose="sukarela",
        amount_idr=100_000,
        method="cash",
        by_user=bendahara,
        request_token=new_request_token(),
    )
    db.session.commit()
    result = collection.run_auto_debits()
    db.session.commit()
    assert (result.paid, result.amount_idr) == (1, 41_800)
    assert _open_kinds(member.id) == set()
    assert balance(f"liability:savings:voluntary:{member.member_no}") == 100_000 - 41_800
    assert collection.run_auto_debits().paid == 0


def test_check_off_line_for_contributions_posted_twice_applied_once(board):
    bendahara, pengurus = board
    member = enrolled_member(4, bendahara, pengurus, jht=True, income=2_500_000)
    company = make_company(1, "PT Ojek Nusantara", bendahara, pengurus)
    partners_links.link_worker(member, company, None)
    db.session.commit()
    worker_id = member.platform_worker_id
    lines = [partners_remittances.RemittanceLineIn(worker_id, "bpjs", 81_800)]
    first, replayed = partners_remittances.submit_remittance(
        company, remittance_ref="CO-2026-01", total_idr=81_800, lines=lines
    )
    db.session.commit()
    again, replayed_again = partners_remittances.submit_remittance(
        company, remittance_ref="CO-2026-01", total_idr=81_800, lines=lines
    )
    db.session.commit()
    assert not replayed and replayed_again and again.id == first.id
    assert first.accepted_idr == 81_800 and first.rejected_idr == 0
    applied = db.session.scalar(
        select(func.sum(ObligationPayment.amount_idr)).where(
            ObligationPayment.member_id == member.id
        )
    )
    assert applied == 81_800
    assert _open_kinds(member.id) == set()
    assert balance("liability:bpjs-deposits:jkk") == 25_000
    assert balance("liability:bpjs-deposits:jht") == 50_000


def _fund_social(amount: int) -> None:
    post_entry(
        idempotency_key=f"uji-dana-sosial-{amount}",
        description="SHU tahun lalu: dana sosial (uji)",
        lines=[("asset:bank", amount), (SOCIAL_FUND, -amount)],
        source_kind="test",
    )
    db.session.commit()


def test_subsidy_reduces_the_bill_and_posts_against_the_social_fund(client, board):
    bendahara, pengurus = board
    _fund_social(1_000_000)
    this_month = business_date().replace(day=1)
    add_subsidy_rule(
        "jkn",
        share_bp=5_000,
        effective_from=this_month,
        basis="AD Pasal 31 ayat 2; keputusan RAT 2026 no. 4",
        group_code="pengemudi",
        by_user=pengurus,
    )
    db.session.commit()
    member = enrolled_member(5, bendahara, pengurus, tk=False, jkn_class="3")
    bill = collection.member_bill(member)
    (line,) = bill.lines
    assert (line.full_idr, line.subsidy_idr, line.remaining_idr) == (35_000, 17_500, 17_500)
    login_member(client, member)
    html = client.get("/anggota/perlindungan").get_data(as_text=True)
    assert 'data-testid="bill-subsidy"' in html and "Rp 17.500" in html
    fund_before = balance(SOCIAL_FUND)
    collection.record_bill_receipt(
        member, amount_idr=17_500, method="cash", by_user=bendahara, request_token="t-1"
    )
    db.session.commit()
    assert balance(SOCIAL_FUND) == fund_before  # not yet: posted when synced
    result = sync_subsidies()
    db.session.commit()
    assert result.posted_idr == 17_500
    assert balance(SOCIAL_FUND) == fund_before - 17_500
    assert balance("liability:bpjs-deposits:jkn") == 35_000
    line = trust_line("jkn", this_month)
    assert (line.collected_idr, line.subsidy_idr, line.remittable_idr) == (35_000, 17_500, 35_000)
    _data, total = remittance_file("jkn", this_month)
    assert total == 35_000
    assert sync_subsidies().posted_idr == 0  # idempotent


def test_no_subsidy_when_the_fund_cannot_carry_it(board):
    bendahara, pengurus = board
    _fund_social(10_000)
    add_subsidy_rule(
        "jkn",
        share_bp=5_000,
        effective_from=business_date().replace(day=1),
        basis="AD Pasal 31",
        by_user=pengurus,
    )
    db.session.commit()
    member = enrolled_member(6, bendahara, pengurus, tk=False, jkn_class="3")
    (line,) = collection.member_bill(member).lines
    assert (line.subsidy_idr, line.remaining_idr) == (0, 35_000)


def test_a_reversed_payment_gives_the_subsidy_back(board):
    bendahara, pengurus = board
    _fund_social(1_000_000)
    add_subsidy_rule(
        "jkn", share_bp=2_000, effective_from=business_date().replace(day=1), basis="AD Pasal 31"
    )
    db.session.commit()
    member = enrolled_member(7, bendahara, pengurus, tk=False, jkn_class="3")
    receipt = collection.record_bill_receipt(
        member, amount_idr=28_000, method="cash", by_user=bendahara, request_token="t-2"
    )
    assert sync_subsidies().posted_idr == 7_000
    db.session.commit()
    from kmp.ledger.models import JournalEntry
    from kmp.ledger.services import reverse_entry
    from members.savings.allocator import unallocate

    reverse_entry(db.session.get(JournalEntry, receipt.entry_id), "salah catat", posted_by=pengurus)
    unallocate(f"receipt:{receipt.number}")
    back = sync_subsidies()
    db.session.commit()
    assert back.returned_idr == 7_000
    assert balance("liability:bpjs-deposits:jkn") == 0
    assert balance(SOCIAL_FUND) == 1_000_000
