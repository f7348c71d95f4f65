"""Issue 19, must-show 3: the month's remittance file totals the trust collected, an unpaid
member is absent, recording the remittance zeroes the month's trust, ``kmp ledger-check``
passes; must-show 5 (first half): lapse warnings and reminders in the outbox; the bendahara's
reminders before the BPJS due date; the board's report."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from sqlalchemy import select

from kmp.errors import Conflict, DomainError
from kmp.extensions import db
from kmp.ledger.services import get_account
from kmp.notify import Notification
from kmp.timeutil import business_date, now_utc, set_clock
from members.protection import collection, coverage, remittance, reports
from members.protection.models import BpjsRemittance
from tests.integration.protection_support import bill_this_month, enrolled_member, spouse


@pytest.fixture
def board(make_user):
    return make_user("bendahara", "pengurus"), make_user("pengurus")


@pytest.fixture
def month(board):
    """Three participants: A (JKK+JKM+JHT, 2.5 jt) and C (JKN III + spouse) paid, B unpaid."""
    bendahara, pengurus = board
    a = enrolled_member(1, bendahara, pengurus, jht=True, income=2_500_000)
    b = enrolled_member(2, bendahara, pengurus)
    c = enrolled_member(3, bendahara, pengurus, tk=False, jkn_class="3", family=[spouse()])
    bill_this_month()
    for member, amount in ((a, 81_800 + 25_000), (c, 70_000 + 25_000)):
        collection.record_bill_receipt(
            member,
            amount_idr=amount,
            method="cash",
            by_user=bendahara,
            request_token=f"t-{member.id}",
        )
    db.session.commit()
    return {"a": a, "b": b, "c": c, "period": business_date().replace(day=1)}


def _csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_file_total_equals_trust_and_recording_empties_it(month, board, app):
    bendahara, _ = board
    period = month["period"]
    line = remittance.trust_line("jkk", period)
    assert line.collected_idr == line.balance_idr == 25_000  # A only: B has not paid
    data, total = remittance.remittance_file("jkk", period)
    rows = _csv_rows(data)
    assert total == line.balance_idr == sum(int(r["IURAN"]) for r in rows)
    assert [r["NIK"] for r in rows] == [month["a"].nik]
    assert month["b"].nik not in data.decode()
    assert rows[0]["PENGHASILAN"] == "2500000" and rows[0]["PERIODE"] == f"{period:%Y-%m}"
    # XLSX: the same rows.
    xlsx, xlsx_total = remittance.remittance_file("jkk", period, "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == remittance.HEADERS and values[1][5] == 25_000 and xlsx_total == total
    # JKN: one row per person, totalling the trust.
    jkn_data, jkn_total = remittance.remittance_file("jkn", period)
    jkn_rows = _csv_rows(jkn_data)
    assert len(jkn_rows) == 2 and {int(r["IURAN"]) for r in jkn_rows} == {35_000}
    assert jkn_total == remittance.trust_line("jkn", period).balance_idr == 70_000

    trust_before = get_account("liability:bpjs-deposits:jkk").natural_balance_idr
    bank_before = get_account("asset:bank").natural_balance_idr
    with pytest.raises(Conflict, match="Unduh berkas lagi"):
        remittance.record_remittance(
            "jkk",
            period,
            transfer_reference="TRF-1",
            transferred_on=business_date(),
            expected_total_idr=total + 1,
        )
    row = remittance.record_remittance(
        "jkk",
        period,
        transfer_reference="TRF-BPJS-001",
        transferred_on=business_date(),
        expected_total_idr=total,
        by_user=bendahara,
    )
    db.session.commit()
    assert (row.total_idr, row.participants, row.batch_no) == (25_000, 1, 1)
    after = remittance.trust_line("jkk", period)
    assert after.balance_idr == 0 and after.remitted_idr == 25_000
    assert get_account("liability:bpjs-deposits:jkk").natural_balance_idr == trust_before - 25_000
    assert get_account("asset:bank").natural_balance_idr == bank_before - 25_000
    # Nothing left to remit; B pays later -> a second batch with B only.
    with pytest.raises(Conflict):
        remittance.record_remittance(
            "jkk", period, transfer_reference="TRF-2", transferred_on=business_date()
        )
    collection.record_bill_receipt(
        month["b"], amount_idr=41_800, method="cash", by_user=bendahara, request_token="t-b"
    )
    db.session.commit()
    late, late_total = remittance.remittance_file("jkk", period)
    assert [r["NIK"] for r in _csv_rows(late)] == [month["b"].nik] and late_total == 10_000
    second = remittance.record_remittance(
        "jkk", period, transfer_reference="TRF-3", transferred_on=business_date()
    )
    db.session.commit()
    assert second.batch_no == 2 and remittance.trust_line("jkk", period).balance_idr == 0
    # The books still balance, and each trust account equals the months' trust balances.
    result = app.test_cli_runner().invoke(args=["kmp", "ledger-check"])
    assert result.exit_code == 0, result.output
    for programme in ("jkk", "jkm", "jht", "jkn"):
        assert get_account(f"liability:bpjs-deposits:{programme}").natural_balance_idr == (
            remittance.trust_line(programme, period).balance_idr
        )


def test_remittance_cli_writes_the_file_and_prints_its_total(month, app, tmp_path):
    out = tmp_path / "jkk.csv"
    period = month["period"]
    result = app.test_cli_runner().invoke(
        args=[
            "bpjs",
            "remittance",
            "--month",
            f"{period:%Y-%m}",
            "--program",
            "jkk",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "total_idr=25000"
    assert sum(int(r["IURAN"]) for r in _csv_rows(out.read_bytes())) == 25_000
    bad = app.test_cli_runner().invoke(
        args=["bpjs", "remittance", "--month", "2999-01", "--program", "jkk", "--out", str(out)]
    )
    assert bad.exit_code != 0


def test_refusals(month):
    period = month["period"]
    with pytest.raises(DomainError, match="referensi"):
        remittance.record_remittance(
            "jkk", period, transfer_reference=" ", transferred_on=business_date()
        )
    with pytest.raises(DomainError, match="masa depan"):
        remittance.record_remittance(
            "jkk",
            period,
            transfer_reference="X",
            transferred_on=business_date() + dt.timedelta(days=1),
        )
    assert db.session.scalar(select(BpjsRemittance.id)) is None


def test_lapse_warning_and_reminders_in_the_outbox(month):
    unpaid = month["b"]
    period = month["period"]
    (jkk, jkm) = coverage.coverage_for(unpaid.id)
    assert jkk.warning and jkk.covered_until is None and jkk.first_unpaid == period
    paid = {c.programme: c for c in coverage.coverage_for(month["a"].id)}
    assert not paid["jkk"].warning and paid["jkk"].covered_until is not None
    pay_by = coverage.pay_by(period)
    assert pay_by == dt.date(period.year + (period.month == 12), period.month % 12 + 1, 10)
    day = pay_by - dt.timedelta(days=7)
    assert coverage.queue_lapse_reminders(day) == 1
    assert coverage.queue_lapse_reminders(day) == 0  # deduplicated
    assert coverage.queue_lapse_reminders(day + dt.timedelta(days=1)) == 0  # not a reminder day
    message = db.session.scalar(select(Notification).where(Notification.kind == "bpjs_lapse"))
    assert message.member_id == unpaid.id and "belum dibayar" in message.body
    assert "Rp 41.800" in message.body or "Rp 16.800" in message.body


def test_bendahara_reminders_before_the_bpjs_due_date(month, board):
    bendahara, _ = board
    period = month["period"]
    due = remittance.due_date(period)
    assert due.day == 15
    sent = remittance.queue_remittance_reminders(due - dt.timedelta(days=3))
    assert sent >= 3  # jkk, jkm, jht and jkn hold money; one bendahara
    rows = db.session.scalars(
        select(Notification).where(Notification.kind == "bpjs_remittance_due")
    ).all()
    assert {r.user_id for r in rows} == {bendahara.id}
    assert any("JKK" in r.body and "Rp 25.000" in r.body for r in rows)
    assert remittance.queue_remittance_reminders(due - dt.timedelta(days=3)) == 0
    assert remittance.queue_remittance_reminders(due - dt.timedelta(days=4)) == 0


def test_month_report_per_programme_and_group(month):
    rows = reports.month_report(month["period"])
    by_programme = {r.programme: r for r in rows}
    jkk = by_programme["jkk"]
    assert (jkk.participants, jkk.billed_idr, jkk.collected_idr) == (2, 35_000, 25_000)
    assert (jkk.arrears_count, jkk.arrears_idr) == (1, 10_000)
    assert by_programme["jkn"].persons == 2
    assert reports.totals(rows)["participants"] == 2 + 2 + 1 + 1


def test_the_scheduled_jobs_are_idempotent(month):
    from members.protection.jobs import bill_month_job, daily_job

    later = now_utc() + dt.timedelta(days=1)
    set_clock(lambda: later)
    bill_month_job()
    daily_job()
    db.session.commit()
    daily_job()
    db.session.commit()
