"""Bookkeeping use cases: the board's chart of accounts, income/expense entries, manual
journals. Services flush, never commit; every posting goes through ``post_entries``.

* ``approval_threshold_idr()``: above it an income/expense entry waits for a second board
  member; at or below it posts at once. A manual journal always waits.
* Approving posts the document's entry (idempotency key ``books:cash:<id>`` /
  ``books:journal:<id>``); rejecting or withdrawing posts nothing; a posted document is
  corrected only by ``reverse_*`` (a mirror entry in the open period).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import exists, func, or_, select

from kmp.errors import Conflict, DomainError, NotFound
from kmp.extensions import db
from kmp.i18n import as_text
from kmp.i18n import gettext as _
from kmp.ledger.books.approval import ApprovalState, check_checker, check_transition
from kmp.ledger.books.groups import BY_KEY, groups_of_type, system_group
from kmp.ledger.books.models import (
    AccountClass,
    CashEntry,
    CashKind,
    JournalKind,
    ManualJournal,
    ManualJournalLine,
    ReceiptFile,
)
from kmp.ledger.models import Account, AccountType, JournalEntry, Posting
from kmp.ledger.services import (
    PeriodClosed,
    open_account,
    period_lock_message,
    post_entry,
    reverse_entry,
)
from kmp.registry import get_registry
from kmp.timeutil import business_date, now_utc

DEFAULT_APPROVAL_THRESHOLD_IDR = 5_000_000
CASH_SOURCE_KIND = "cash_entry"
JOURNAL_SOURCE_KIND = "manual_journal"


class BooksError(DomainError):
    code = "books_error"


# --------------------------------------------------------------------------- threshold


def approval_threshold_idr() -> int:
    """The amount above which an income/expense entry needs a second board member.

    The provider installed in the registry slot ``expense_threshold_provider`` (the AD) wins;
    otherwise the config key ``KMP_EXPENSE_APPROVAL_THRESHOLD_IDR`` (default Rp 5.000.000)."""
    provider = get_registry().expense_threshold_provider
    value = provider() if provider is not None else None
    if value is None:
        value = current_app.config.get(
            "KMP_EXPENSE_APPROVAL_THRESHOLD_IDR", DEFAULT_APPROVAL_THRESHOLD_IDR
        )
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BooksError(
            f"The expense approval threshold must be a whole Rupiah amount >= 0, got {value!r}",
            code="threshold_invalid",
        )
    return value


# --------------------------------------------------------------------------- chart


_SLUG = re.compile(r"[^a-z0-9]+")
_MEMBER_PREFIXES = (
    "equity:savings:",
    "liability:savings:",
    "liability:shu-payable:",
)


def account_group(account: Account, classes: dict[int, str] | None = None) -> str:
    """The group key of an account (its row for a board account, its code otherwise)."""
    if classes is not None:
        key = classes.get(account.id)
    else:
        key = db.session.scalar(
            select(AccountClass.group_key).where(AccountClass.account_id == account.id)
        )
    if key:
        return key
    try:
        return system_group(account.code)
    except KeyError:
        return groups_of_type(account.type)[-1].key


def custom_classes() -> dict[int, str]:
    return dict(db.session.execute(select(AccountClass.account_id, AccountClass.group_key)).all())


def is_system_account(account: Account) -> bool:
    return db.session.get(AccountClass, account.id) is None


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")[:60]


def add_account(name: str, group_key: str, *, code: str | None = None, by_user=None) -> Account:
    """Add a board account under a fixed group; the code is ``<type>:<slug>``."""
    name = (name or "").strip()
    if not 3 <= len(name) <= 200:
        raise BooksError(_("Nama akun 3 sampai 200 karakter."), field="name")
    group = BY_KEY.get(group_key)
    if group is None:
        raise BooksError(_("Pilih kelompok akun dari daftar."), field="group")
    slug = _slug(code or name)
    if len(slug) < 2:
        raise BooksError(
            _("Kode akun hanya huruf kecil, angka dan tanda minus (paling sedikit 2)."),
            field="code",
        )
    full_code = f"{group.type.value}:{slug}"
    if full_code.startswith(_MEMBER_PREFIXES):
        raise BooksError(_("Kode itu dipakai untuk rekening anggota."), field="code")
    if db.session.scalar(select(Account.id).where(Account.code == full_code)) is not None:
        raise Conflict(
            _("Kode akun %(code)s sudah ada di bagan akun.", code=full_code), field="code"
        )
    account = open_account(full_code, name, group.type)
    db.session.add(
        AccountClass(
            account_id=account.id,
            account_type=group.type.value,
            group_key=group.key,
            created_by_id=getattr(by_user, "id", by_user),
        )
    )
    db.session.flush()
    return account


def _custom_or_refuse(account: Account) -> AccountClass:
    row = db.session.get(AccountClass, account.id)
    if row is None:
        raise BooksError(
            _("Akun sistem %(code)s tidak dapat diubah atau dihapus.", code=account.code),
            code="system_account",
            status=403,
        )
    return row


def rename_account(account: Account, name: str) -> Account:
    _custom_or_refuse(account)
    name = (name or "").strip()
    if not 3 <= len(name) <= 200:
        raise BooksError(_("Nama akun 3 sampai 200 karakter."), field="name")
    account.name = name
    db.session.flush()
    return account


def delete_account(account: Account) -> None:
    """Delete a board account that nothing refers to yet (no posting, document or budget)."""
    row = _custom_or_refuse(account)
    from kmp.ledger.closing.models import BudgetLine

    used = db.session.scalar(
        select(
            or_(
                exists().where(Posting.account_id == account.id),
                exists().where(
                    or_(
                        CashEntry.category_account_id == account.id,
                        CashEntry.money_account_id == account.id,
                    )
                ),
                exists().where(ManualJournalLine.account_id == account.id),
                exists().where(BudgetLine.account_id == account.id),
            )
        )
    )
    if used:
        raise Conflict(
            _("Akun %(code)s sudah dipakai: tidak dapat dihapus.", code=account.code),
            code="account_in_use",
        )
    db.session.delete(row)
    db.session.flush()
    db.session.delete(account)
    db.session.flush()


def accounts_in_groups(*keys: str, include_closed: bool = False) -> list[Account]:
    """The (non-member) accounts of the given groups, by code."""
    wanted = set(keys)
    types = {BY_KEY[k].type.value for k in wanted}
    query = select(Account).where(Account.owner_id.is_(None), Account.type.in_(types))
    if not include_closed:
        query = query.where(Account.is_closed.is_(False))
    classes = custom_classes()
    return [
        a
        for a in db.session.scalars(query.order_by(Account.code))
        if account_group(a, classes) in wanted
    ]


def money_accounts() -> list[Account]:
    """Where money is paid from or into: cash, bank accounts, the gateway clearing."""
    return accounts_in_groups("cash_bank")


def category_accounts(kind: CashKind | str) -> list[Account]:
    type_ = AccountType.INCOME if CashKind(kind) == CashKind.INCOME else AccountType.EXPENSE
    return accounts_in_groups(*(g.key for g in groups_of_type(type_)))


# --------------------------------------------------------------------------- shared flow


def _check_date(day: dt.date) -> None:
    if day > business_date():
        raise BooksError(_("Tanggal tidak boleh di masa depan."), field="entry_date")
    message = period_lock_message(day)
    if message:
        raise PeriodClosed(message, field="entry_date")


def _locked(model, row_id: int):
    query = select(model).where(model.id == row_id).execution_options(populate_existing=True)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = db.session.scalar(query)
    if row is None:
        raise NotFound(_("Catatan tidak ditemukan."))
    return row


def _replayed(model, request_key: str | None):
    if not request_key:
        return None
    return db.session.scalar(select(model).where(model.request_key == request_key))


def _decide(model, doc, by_user, new_state: ApprovalState, note: str | None):
    """Reject (a checker, with a reason) or withdraw (the maker): nothing is posted."""
    doc = _locked(model, doc.id)
    check_transition(doc.status, new_state)
    if new_state == ApprovalState.WITHDRAWN:
        if getattr(by_user, "id", None) != doc.created_by_id:
            raise DomainError(
                _("Hanya pembuatnya yang dapat menarik catatan ini."), code="not_maker", status=403
            )
    else:
        check_checker(doc.created_by_id, by_user)
        doc.decided_by_id = by_user.id
    if new_state == ApprovalState.REJECTED and not (note or "").strip():
        raise BooksError(_("Alasan penolakan wajib diisi."), field="note")
    doc.decided_at = now_utc()
    doc.decision_note = (note or "").strip() or None
    doc.status = new_state
    db.session.flush()
    return doc


def _reverse(doc, reason: str, by_user) -> JournalEntry:
    check_transition(doc.status, ApprovalState.REVERSED)
    entry = db.session.get(JournalEntry, doc.entry_id)
    reversal = reverse_entry(entry, reason, posted_by=by_user)
    doc.status = ApprovalState.REVERSED
    doc.reversal_entry_id = reversal.id
    doc.reversed_by_id = getattr(by_user, "id", by_user)
    doc.reversed_at = now_utc()
    doc.reversal_reason = reason.strip()
    db.session.flush()
    return reversal


# --------------------------------------------------------------------------- cash entries


@dataclass(frozen=True)
class CashEntryInput:
    kind: CashKind
    amount_idr: int
    entry_date: dt.date
    category_account_id: int
    money_account_id: int
    counterparty: str
    description: str
    reference: str | None = None


def _check_cash_input(data: CashEntryInput) -> tuple[Account, Account]:
    if isinstance(data.amount_idr, bool) or not isinstance(data.amount_idr, int):
        raise BooksError(_("Jumlah harus Rupiah bulat."), field="amount")
    if data.amount_idr <= 0:
        raise BooksError(_("Jumlah harus lebih dari Rp 0."), field="amount")
    if not (data.counterparty or "").strip():
        raise BooksError(
            _("Pihak lawan (penerima atau pembayar) wajib diisi."), field="counterparty"
        )
    if len((data.description or "").strip()) < 3:
        raise BooksError(
            _("Keterangan wajib diisi (paling sedikit 3 karakter)."), field="description"
        )
    categories = {a.id: a for a in category_accounts(data.kind)}
    category = categories.get(data.category_account_id)
    if category is None:
        raise BooksError(
            _("Kategori harus akun pendapatan atau beban yang aktif."), field="category"
        )
    money = {a.id: a for a in money_accounts()}.get(data.money_account_id)
    if money is None:
        raise BooksError(_("Pilih kas, bank atau kliring payment gateway."), field="money_account")
    _check_date(data.entry_date)
    return category, money


def record_cash_entry(
    data: CashEntryInput,
    *,
    by_user,
    receipt: ReceiptFile | None = None,
    receipt_upload: tuple[bytes, str | None] | None = None,
    request_key: str | None = None,
) -> CashEntry:
    """Record an income or expense of the cooperative: above the approval threshold it waits
    for a second board member, otherwise it posts at once. ``receipt_upload`` (bytes, file
    name) is checked and stored only once the entry itself is valid."""
    replay = _replayed(CashEntry, request_key)
    if replay is not None:
        return replay
    _check_cash_input(data)
    if receipt_upload is not None:
        from kmp.ledger.books.receipts import store_receipt

        receipt = store_receipt(*receipt_upload, by_user=by_user)
    entry = CashEntry(
        kind=CashKind(data.kind),
        amount_idr=data.amount_idr,
        entry_date=data.entry_date,
        category_account_id=data.category_account_id,
        money_account_id=data.money_account_id,
        counterparty=data.counterparty.strip()[:200],
        description=data.description.strip(),
        reference=(data.reference or "").strip()[:60] or None,
        receipt_id=receipt.id if receipt is not None else None,
        status=ApprovalState.PENDING,
        created_by_id=by_user.id,
        request_key=request_key,
    )
    db.session.add(entry)
    db.session.flush()
    if data.amount_idr <= approval_threshold_idr():
        _post_cash_entry(entry, posted_by=by_user)
    return entry


def _post_cash_entry(entry: CashEntry, *, posted_by) -> None:
    money, category = entry.money_account_id, entry.category_account_id
    if entry.kind == CashKind.EXPENSE:
        lines = [(category, entry.amount_idr), (money, -entry.amount_idr)]
        label = "Beban"
    else:
        lines = [(money, entry.amount_idr), (category, -entry.amount_idr)]
        label = "Pendapatan"
    reference = f" [{entry.reference}]" if entry.reference else ""
    posted = post_entry(
        idempotency_key=f"books:cash:{entry.id}",
        description=f"{label}: {entry.description} — {entry.counterparty}{reference}",
        lines=lines,
        source_kind=CASH_SOURCE_KIND,
        source_id=entry.id,
        entry_date=entry.entry_date,
        posted_by=posted_by,
    )
    entry.entry_id = posted.id
    entry.status = ApprovalState.POSTED
    db.session.flush()


def _approve(model, doc, by_user, note: str | None, post):
    """The second board member approves: the document posts (``post``) or nothing changes."""
    doc = _locked(model, doc.id)
    check_transition(doc.status, ApprovalState.POSTED)
    check_checker(doc.created_by_id, by_user)
    doc.decided_by_id = by_user.id
    doc.decided_at = now_utc()
    doc.decision_note = (note or "").strip() or None
    post(doc, posted_by=by_user)
    return doc


def approve_cash_entry(entry: CashEntry, by_user, note: str | None = None) -> CashEntry:
    return _approve(CashEntry, entry, by_user, note, _post_cash_entry)


def reject_cash_entry(entry: CashEntry, by_user, note: str) -> CashEntry:
    return _decide(CashEntry, entry, by_user, ApprovalState.REJECTED, note)


def withdraw_cash_entry(entry: CashEntry, by_user) -> CashEntry:
    return _decide(CashEntry, entry, by_user, ApprovalState.WITHDRAWN, None)


def reverse_cash_entry(entry: CashEntry, reason: str, by_user) -> JournalEntry:
    return _reverse(_locked(CashEntry, entry.id), reason, by_user)


# --------------------------------------------------------------------------- manual journals


@dataclass(frozen=True)
class JournalLineInput:
    account_id: int
    debit_idr: int = 0
    credit_idr: int = 0
    memo: str | None = None


def _check_journal_lines(lines: Sequence[JournalLineInput]) -> list[JournalLineInput]:
    used = [line for line in lines if line.debit_idr or line.credit_idr or line.account_id]
    if len(used) < 2:
        raise BooksError(
            _("Jurnal memerlukan paling sedikit dua baris (debit dan kredit)."), field="lines"
        )
    for number, line in enumerate(used, start=1):
        for value in (line.debit_idr, line.credit_idr):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BooksError(
                    _("Baris %(n)s: jumlah harus Rupiah bulat, tidak negatif.", n=number),
                    field="lines",
                )
        if (line.debit_idr > 0) == (line.credit_idr > 0):
            raise BooksError(
                _("Baris %(n)s: isi debit atau kredit, salah satu saja.", n=number), field="lines"
            )
        if not line.account_id:
            raise BooksError(_("Baris %(n)s: pilih akunnya.", n=number), field="lines")
    debit = sum(line.debit_idr for line in used)
    credit = sum(line.credit_idr for line in used)
    if debit != credit:
        from kmp.money import format_rupiah

        raise BooksError(
            _(
                "Jurnal tidak seimbang: debit %(debit)s, kredit %(credit)s (selisih %(diff)s).",
                debit=format_rupiah(debit),
                credit=format_rupiah(credit),
                diff=format_rupiah(abs(debit - credit)),
            ),
            code="unbalanced_journal",
            field="lines",
        )
    ids = {line.account_id for line in used}
    accounts = {a.id: a for a in db.session.scalars(select(Account).where(Account.id.in_(ids)))}
    for number, line in enumerate(used, start=1):
        account = accounts.get(line.account_id)
        if account is None:
            raise BooksError(_("Baris %(n)s: akun tidak ada.", n=number), field="lines")
        if account.owner_id is not None:
            raise BooksError(
                _(
                    "Baris %(n)s: rekening anggota (%(code)s) hanya berubah lewat transaksi "
                    "simpanan, bukan jurnal manual.",
                    n=number,
                    code=account.code,
                ),
                field="lines",
            )
        if account.is_closed:
            raise BooksError(
                _("Baris %(n)s: akun %(code)s sudah ditutup.", n=number, code=account.code),
                field="lines",
            )
    return used


def create_manual_journal(
    kind: JournalKind | str,
    entry_date: dt.date,
    description: str,
    lines: Sequence[JournalLineInput],
    *,
    by_user,
    request_key: str | None = None,
) -> ManualJournal:
    """Write a balanced manual journal; it posts only when a second board member approves."""
    replay = _replayed(ManualJournal, request_key)
    if replay is not None:
        return replay
    try:
        kind = JournalKind(kind)
    except ValueError:
        raise BooksError(_("Jenis jurnal tidak dikenal."), field="kind") from None
    description = (description or "").strip()
    if len(description) < 5:
        raise BooksError(
            _("Alasan jurnal wajib diisi (paling sedikit 5 karakter)."), field="description"
        )
    used = _check_journal_lines(lines)
    _check_date(entry_date)
    journal = ManualJournal(
        kind=kind,
        entry_date=entry_date,
        description=description,
        total_idr=sum(line.debit_idr for line in used),
        status=ApprovalState.PENDING,
        created_by_id=by_user.id,
        request_key=request_key,
    )
    db.session.add(journal)
    db.session.flush()
    for number, line in enumerate(used, start=1):
        db.session.add(
            ManualJournalLine(
                journal_id=journal.id,
                line_no=number,
                account_id=line.account_id,
                debit_idr=line.debit_idr,
                credit_idr=line.credit_idr,
                memo=(line.memo or "").strip()[:200] or None,
            )
        )
    db.session.flush()
    db.session.refresh(journal)
    return journal


KIND_LABELS = {JournalKind.GENERAL: "Jurnal umum", JournalKind.ADJUSTING: "Jurnal penyesuaian"}


def _post_journal(journal: ManualJournal, *, posted_by) -> None:
    label = KIND_LABELS[JournalKind(journal.kind)]
    posted = post_entry(
        idempotency_key=f"books:journal:{journal.id}",
        description=f"{label} #{journal.id}: {journal.description}",
        lines=[(line.account_id, line.debit_idr - line.credit_idr) for line in journal.lines],
        source_kind=JOURNAL_SOURCE_KIND,
        source_id=journal.id,
        entry_date=journal.entry_date,
        posted_by=posted_by,
    )
    journal.entry_id = posted.id
    journal.status = ApprovalState.POSTED
    db.session.flush()


def approve_manual_journal(journal: ManualJournal, by_user, note: str | None = None):
    return _approve(ManualJournal, journal, by_user, note, _post_journal)


def reject_manual_journal(journal: ManualJournal, by_user, note: str) -> ManualJournal:
    return _decide(ManualJournal, journal, by_user, ApprovalState.REJECTED, note)


def withdraw_manual_journal(journal: ManualJournal, by_user) -> ManualJournal:
    return _decide(ManualJournal, journal, by_user, ApprovalState.WITHDRAWN, None)


def reverse_manual_journal(journal: ManualJournal, reason: str, by_user) -> JournalEntry:
    return _reverse(_locked(ManualJournal, journal.id), reason, by_user)


def pending_count() -> int:
    """Documents waiting for a second board member (the board's to-do counter)."""
    total = 0
    for model in (CashEntry, ManualJournal):
        total += int(
            db.session.scalar(
                select(func.count()).select_from(model).where(model.status == ApprovalState.PENDING)
            )
            or 0
        )
    return total


def group_label(key: str) -> str:
    return as_text(BY_KEY[key].label)
