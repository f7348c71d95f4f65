"""Paying out SHU lines: to sukarela, in cash, or by transfer through the disburser (Iris)."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import (
    func,
    select,
    update,
)

from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError, Forbidden, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.chart import (
    BANK,
    CASH,
    MEMBER_ACCOUNTS,
    PAYOUT_IN_TRANSIT,
    member_account_code,
)
from kmp.ledger.services import EntrySpec, post_entries
from kmp.timeutil import business_date, now_utc
from members.loans.repayment import set_off_from_shu
from members.register.models import Member
from members.register.states import MemberStatus
from payouts.models import (
    DistributionLine,
    DistributionRun,
    LineStatus,
    PayoutMethod,
    PayoutTransfer,
    RunStatus,
    TransferStatus,
)
from payouts.services import Progress, _transition

PAY_CHUNK = 10_000  # SHU lines credited to sukarela per statement

log = logging.getLogger("kmp.payouts")


def _lines_paid(run: DistributionRun, n: int) -> None:
    """``n`` lines of ``run`` became paid: keep ``run.lines_not_paid`` (one atomic update; a
    concurrent payout of another line cannot lose it)."""
    if not n:
        return
    db.session.execute(
        update(DistributionRun)
        .where(DistributionRun.id == run.id)
        .values(lines_not_paid=DistributionRun.lines_not_paid - n)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(run, ["lines_not_paid"])


def _check_posted(run: DistributionRun) -> None:
    if RunStatus(run.status) is not RunStatus.POSTED:
        raise IllegalTransition(
            gettext("SHU baru bisa dibayarkan setelah dibukukan."), code="run_not_posted"
        )


def _maybe_paid(run: DistributionRun) -> None:
    left = db.session.scalar(
        select(func.count())
        .select_from(DistributionLine)
        .where(
            DistributionLine.run_id == run.id,
            DistributionLine.status != LineStatus.PAID,
            DistributionLine.total_idr > 0,
        )
    )
    if not left and RunStatus(run.status) is RunStatus.POSTED:
        zero = update(DistributionLine).where(
            DistributionLine.run_id == run.id,
            DistributionLine.total_idr == 0,
            DistributionLine.status != LineStatus.PAID,
        )
        changed = db.session.execute(zero.values(status=LineStatus.PAID.value, paid_at=now_utc()))
        _lines_paid(run, changed.rowcount)
        _transition(run, RunStatus.PAID)
        run.paid_at = now_utc()


def pay_sukarela(run: DistributionRun, *, progress: Progress | None = None) -> int:
    """Credit every unpaid line whose member chose sukarela (the default) to simpanan
    sukarela; members no longer active are left for a cash payout. Returns the count."""
    _check_posted(run)
    shu_prefix = MEMBER_ACCOUNTS["shu"][0] + ":"
    sukarela_prefix = MEMBER_ACCOUNTS["sukarela"][0] + ":"
    last_id, done = 0, 0
    while True:
        rows = db.session.execute(
            select(
                DistributionLine.id,
                DistributionLine.member_no,
                DistributionLine.total_idr,
                DistributionLine.member_id,
            )
            .join(Member, Member.id == DistributionLine.member_id)
            .where(
                DistributionLine.run_id == run.id,
                DistributionLine.id > last_id,
                DistributionLine.method == PayoutMethod.SUKARELA,
                DistributionLine.status == LineStatus.UNPAID,
                DistributionLine.total_idr > 0,
                Member.status == MemberStatus.ACTIVE,
            )
            .order_by(DistributionLine.id)
            .limit(PAY_CHUNK)
        ).all()
        if not rows:
            break
        ids = [r[0] for r in rows]
        mids = [r[3] for r in rows]
        rows = [r[:3] for r in rows]
        lines: list[tuple[str, int]] = []
        for _, no, amount in rows:
            lines.append((shu_prefix + no, amount))
            lines.append((sukarela_prefix + no, -amount))
        post_entries(
            [
                EntrySpec(
                    idempotency_key=f"shu:run:{run.id}:sukarela:{ids[0]}-{ids[-1]}:{len(ids)}",
                    description=f"SHU {run.fiscal_year} masuk simpanan sukarela",
                    lines=lines,
                    source_kind="shu-payout",
                    source_id=str(run.id),
                )
            ]
        )
        # The AD may let the SHU first pay overdue loan instalments (issue 18).
        set_off_from_shu(
            [
                (member_id, no, amount)
                for member_id, (_, no, amount) in zip(mids, rows, strict=True)
            ],
            source=f"shu:{run.id}",
            on_date=business_date(),
        )
        now = now_utc()
        for start in range(0, len(ids), 1000):
            changed = db.session.execute(
                update(DistributionLine)
                .where(DistributionLine.id.in_(ids[start : start + 1000]))
                .values(status=LineStatus.PAID.value, paid_at=now)
            )
            _lines_paid(run, changed.rowcount)
        last_id = ids[-1]
        done += len(ids)
        if progress:
            progress(done)
    _maybe_paid(run)
    db.session.flush()
    return done


def member_line(run: DistributionRun, member_id: int) -> DistributionLine | None:
    return db.session.scalar(
        select(DistributionLine).where(
            DistributionLine.run_id == run.id, DistributionLine.member_id == member_id
        )
    )


def choose_method(line: DistributionLine, method: str) -> DistributionLine:
    """The member's choice, until the line is paid."""
    try:
        method = PayoutMethod(method)
    except ValueError:
        raise DomainError(gettext("Pilih cara pembayaran yang tersedia."), field="method") from None
    if LineStatus(line.status) is not LineStatus.UNPAID:
        raise IllegalTransition(gettext("SHU ini sudah dibayarkan atau sedang ditransfer."))
    run = db.session.get(DistributionRun, line.run_id)
    if RunStatus(run.status) in (RunStatus.CANCELLED, RunStatus.PAID):
        raise IllegalTransition(gettext("Pembagian SHU ini sudah selesai atau dibatalkan."))
    line.method = method
    db.session.flush()
    return line


def pay_cash(line: DistributionLine, by_user) -> DistributionLine:
    """The bendahara hands out the member's SHU in cash."""
    run = db.session.get(DistributionRun, line.run_id)
    _check_posted(run)
    if LineStatus(line.status) is not LineStatus.UNPAID or line.total_idr <= 0:
        raise IllegalTransition(
            gettext("SHU anggota ini sudah dibayarkan."), code="line_not_unpaid"
        )
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"shu:line:{line.id}:cash",
                description=f"SHU {run.fiscal_year} dibayar tunai kepada {line.member_no}",
                lines=[
                    (member_account_code("shu", line.member_no), line.total_idr),
                    (CASH, -line.total_idr),
                ],
                source_kind="shu-payout",
                source_id=str(line.id),
                posted_by_id=user_id_of(by_user),
            )
        ]
    )
    line.method = PayoutMethod.CASH
    line.status = LineStatus.PAID
    line.paid_at = now_utc()
    db.session.flush()
    _lines_paid(run, 1)  # it was unpaid (checked above)
    _maybe_paid(run)
    db.session.flush()
    return line


def get_disburser():
    """The disbursement adapter: ``get_registry().disburser`` (tests, real Iris) or a
    fake one built from ``KMP_DISBURSER`` (``fake``, the default outside production)."""
    from kmp.registry import get_registry

    app = current_app
    registry = get_registry(app)
    disburser = registry.disburser
    if disburser is None:
        kind = app.config.get("KMP_DISBURSER", "fake")
        if kind == "iris":
            from kmp.payments.iris import IrisClient, IrisDisburser

            client = IrisClient(
                app.config["KMP_IRIS_CREATOR_KEY"],
                is_production=bool(app.config.get("KMP_IRIS_PRODUCTION", False)),
            )
            disburser = IrisDisburser(client)
        else:
            from kmp.payments.iris import FakeDisburser

            disburser = FakeDisburser(app.config.get("KMP_IRIS_MERCHANT_KEY") or "fake-merchant")
        registry.disburser = disburser
    return disburser


def request_transfer(
    line: DistributionLine, *, bank: str, account: str, account_name: str, by_user
) -> PayoutTransfer:
    """Maker: a board member prepares the transfer. No money moves yet."""
    run = db.session.get(DistributionRun, line.run_id)
    _check_posted(run)
    if LineStatus(line.status) is not LineStatus.UNPAID or line.total_idr <= 0:
        raise IllegalTransition(gettext("SHU anggota ini sudah dibayarkan atau sedang ditransfer."))
    bank, account, account_name = (
        (bank or "").strip(),
        (account or "").strip(),
        (account_name or "").strip(),
    )
    if not bank or not account or not account_name:
        raise DomainError(gettext("Isi bank/e-wallet, nomor rekening dan nama pemilik rekening."))
    pending = db.session.scalar(
        select(PayoutTransfer.id).where(
            PayoutTransfer.line_id == line.id,
            PayoutTransfer.status.in_([TransferStatus.REQUESTED, TransferStatus.SUBMITTED]),
        )
    )
    if pending:
        raise Conflict(
            gettext("Transfer untuk SHU anggota ini sudah diajukan."), code="transfer_pending"
        )
    count = db.session.scalar(
        select(func.count()).select_from(PayoutTransfer).where(PayoutTransfer.line_id == line.id)
    )
    transfer = PayoutTransfer(
        line_id=line.id,
        amount_idr=line.total_idr,
        bank=bank[:40],
        account=account[:40],
        account_name=account_name[:200],
        idempotency_key=f"kmp-shu-{line.id}-{count + 1}",
        requested_by_id=by_user.id,
    )
    line.method = PayoutMethod.TRANSFER
    db.session.add(transfer)
    db.session.flush()
    return transfer


def approve_transfer(transfer: PayoutTransfer, by_user, disburser=None) -> PayoutTransfer:
    """Checker: a second board member approves; the money moves to 'in transit' and the
    transfer goes to the disburser with the transfer's idempotency key."""
    from kmp.payments.iris import PayoutItem

    if transfer.status is not TransferStatus.REQUESTED:
        raise IllegalTransition(gettext("Transfer ini sudah diproses."), code="transfer_done")
    if by_user.id == transfer.requested_by_id:
        raise Forbidden(
            gettext("Transfer harus disetujui pengurus lain, bukan yang mengajukannya."),
            code="four_eyes",
        )
    line = db.session.get(DistributionLine, transfer.line_id)
    run = db.session.get(DistributionRun, line.run_id)
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"shu:transfer:{transfer.id}:out",
                description=f"SHU {run.fiscal_year} ditransfer kepada {line.member_no}",
                lines=[
                    (member_account_code("shu", line.member_no), transfer.amount_idr),
                    (PAYOUT_IN_TRANSIT, -transfer.amount_idr),
                ],
                source_kind="shu-transfer",
                source_id=str(transfer.id),
                posted_by_id=by_user.id,
            )
        ]
    )
    transfer.approved_by_id = by_user.id
    transfer.status = TransferStatus.SUBMITTED
    transfer.updated_at = now_utc()
    line.status = LineStatus.IN_TRANSIT
    db.session.flush()
    item = PayoutItem(
        beneficiary_name=transfer.account_name,
        beneficiary_account=transfer.account,
        beneficiary_bank=transfer.bank,
        amount_idr=transfer.amount_idr,
        notes=f"SHU {run.fiscal_year} {line.member_no}"[:100],
    )
    from kmp.payments.gateway import GatewayError

    try:
        transfer.reference_no = (disburser or get_disburser()).submit(
            item, transfer.idempotency_key
        )
    except GatewayError as error:
        log.warning("Iris refused transfer %s: %s", transfer.id, error)
        raise DomainError(
            gettext(
                "Transfer belum bisa dikirim ke penyedia pembayaran. Tidak ada uang yang keluar; "
                "coba setujui lagi beberapa saat lagi."
            ),
            code="disburser_unavailable",
            status=503,
        ) from None
    db.session.flush()
    return transfer


def reject_transfer(transfer: PayoutTransfer, by_user, reason: str = "") -> PayoutTransfer:
    if transfer.status is not TransferStatus.REQUESTED:
        raise IllegalTransition(gettext("Transfer ini sudah diproses."), code="transfer_done")
    transfer.status = TransferStatus.REJECTED
    transfer.approved_by_id = by_user.id if by_user.id != transfer.requested_by_id else None
    transfer.failure_reason = (reason or "").strip() or "Ditolak pengurus"
    transfer.updated_at = now_utc()
    db.session.flush()
    return transfer


def apply_transfer_status(reference_no: str, status: str, message: str = "") -> bool:
    """An Iris notification (or status poll). Completed: in transit -> bank. Failed: the
    money returns to the member's SHU payable. Repeats change nothing. Returns whether
    anything changed."""
    transfer = db.session.scalar(
        select(PayoutTransfer).where(PayoutTransfer.reference_no == reference_no)
    )
    if transfer is None:
        raise NotFound(gettext("Transfer dengan nomor referensi itu tidak dikenal."))
    line = db.session.get(DistributionLine, transfer.line_id)
    run = db.session.get(DistributionRun, line.run_id)
    payable = member_account_code("shu", line.member_no)
    amount = transfer.amount_idr
    current = TransferStatus(transfer.status)
    if status == "completed" and current is TransferStatus.SUBMITTED:
        lines = [(PAYOUT_IN_TRANSIT, amount), (BANK, -amount)]
        key, new, line_status = "completed", TransferStatus.COMPLETED, LineStatus.PAID
    elif status in ("failed", "rejected") and current is TransferStatus.SUBMITTED:
        lines = [(PAYOUT_IN_TRANSIT, amount), (payable, -amount)]
        key, new, line_status = "failed", TransferStatus.FAILED, LineStatus.UNPAID
    elif status == "failed" and current is TransferStatus.COMPLETED:
        # the bank sent the money back later
        lines = [(BANK, amount), (payable, -amount)]
        key, new, line_status = "returned", TransferStatus.FAILED, LineStatus.UNPAID
    else:
        return False
    post_entries(
        [
            EntrySpec(
                idempotency_key=f"shu:transfer:{transfer.id}:{key}",
                description=f"SHU {run.fiscal_year} {line.member_no}: transfer {status}",
                lines=lines,
                source_kind="shu-transfer",
                source_id=str(transfer.id),
            )
        ]
    )
    transfer.status = new
    transfer.updated_at = now_utc()
    if new is TransferStatus.FAILED:
        transfer.failure_reason = (message or "").strip() or "Transfer gagal"
    was_paid = LineStatus(line.status) is LineStatus.PAID
    line.status = line_status
    line.paid_at = now_utc() if line_status is LineStatus.PAID else None
    _lines_paid(run, (line_status is LineStatus.PAID) - was_paid)
    if RunStatus(run.status) is RunStatus.PAID and line_status is not LineStatus.PAID:
        pass  # a late bank return: the line is payable again, the run stays closed
    db.session.flush()
    _maybe_paid(run)
    db.session.flush()
    return True
