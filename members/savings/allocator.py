"""The obligations allocator: every Rupiah a member pays goes through here, whatever the channel.

Channels: an online payment when it settles (``payment:<order id>``), a cash or bank receipt
(``receipt:<number>``), a platform check-off line (``remittance:<id>:<n>``), an SHU set-off
and the exit set-off (``exit:<case id>``). ``allocate`` decides where the money is credited
and records what it paid; the caller posts ONE ledger entry with the returned ``lines``
(debit the cash/bank/gateway/clearing account, credit the lines), in the same transaction.

The rules, in order:

1. **Targets first.** A checkout is tied to the obligations it pays (``targets``: obligation
   id and the share of the amount meant for it). A target that is already paid (say, April
   was paid in cash while the online checkout was open) takes nothing: its share goes on.
2. **Then the family, oldest first.** The rest pays the member's other open obligations of
   the same family (simpanan wajib months; a loan's instalments; BPJS contributions), by due
   date, priority (loan penalty, then interest, then principal) and id.
3. **Then the excess rule of the family.** Simpanan wajib: an *advance credit*, already in the
   wajib account, that the next bills take automatically (``apply_advance_credits``, called
   by billing). Simpanan pokok: never more than the AD amount is booked as pokok; the excess
   goes to sukarela (before admission it waits in the applicant account and moves to
   sukarela at admission). Sukarela takes any amount.

Nothing is ever booked to an obligation beyond what it owes, and money is never left
unapplied while an obligation of its family is open. An allocation whose money could not go
where it was meant (a target already paid, an excess) carries ``notes`` so the payment is
flagged for the bendahara. ``unallocate(source)`` undoes an allocation (a reversed payment, a
voided receipt); the caller reverses the ledger entry.

Sub-features with their own obligations (loans, social protection) register their kinds with
``register_kind``. Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from kmp.db import keep_for_transaction
from kmp.errors import Conflict, DomainError
from kmp.extensions import db
from kmp.ledger.chart import member_account_code
from kmp.money import format_rupiah
from kmp.timeutil import now_utc
from members.register.models import Member
from members.register.states import MemberStatus
from members.savings.models import MemberCredit, Obligation, ObligationPayment

WAJIB = "wajib"
POKOK = "pokok"
SUKARELA = "sukarela"
#: Where the unpaid obligations a member leaves with are credited when the exit refund sets
#: them off and the obligation has no account of its own (simpanan wajib: cash-basis, never
#: booked as a receivable).
EXIT_SETOFF_ACCOUNT = "income:exit-set-off"


@dataclass(frozen=True)
class KindSpec:
    """How a kind of obligation is paid: its ``family`` (what a payment "for X" pays),
    where its money is credited (``account(member, obligation)``; None = the obligation's
    own ``account_code``), what an excess of the family becomes (``credit`` or
    ``sukarela``), and whether the exit sets it off before it is due (``due_at_exit``)."""

    kind: str
    family: str
    account: Callable[[Member, Obligation], str] | None = None
    excess: str = SUKARELA
    due_at_exit: bool = False
    #: Still open after the exit set-off: waived (simpanan wajib of a member who left) rather
    #: than kept owed (a loan balance the board collects or writes off).
    waive_at_exit: bool = False


def _wajib_account(member: Member, obligation: Obligation) -> str:  # noqa: ARG001
    return member_account_code(WAJIB, member.member_no)


KINDS: dict[str, KindSpec] = {
    WAJIB: KindSpec(WAJIB, WAJIB, _wajib_account, "credit", waive_at_exit=True)
}


def register_kind(spec: KindSpec) -> None:
    """A sub-feature (loans, protection) declares a kind of obligation it creates."""
    known = KINDS.get(spec.kind)
    if known is not None and known != spec:
        raise ValueError(f"obligation kind {spec.kind!r} registered twice, differently")
    KINDS[spec.kind] = spec


def remittance_purposes() -> frozenset[str]:
    """What a payment may say it is for: pokok, sukarela and every obligation family."""
    return frozenset({POKOK, SUKARELA, *(spec.family for spec in KINDS.values())})


def family_kinds(family: str) -> tuple[str, ...]:
    return tuple(k for k, spec in KINDS.items() if spec.family == family)


@dataclass
class Allocation:
    """Where ``amount_idr`` went: ``lines`` are the credit lines of the entry to post."""

    member_id: int
    amount_idr: int
    source: str
    lines: list[tuple[str, int]] = field(default_factory=list)
    applied: list[tuple[int, int]] = field(default_factory=list)  # (obligation id, Rupiah)
    pokok_idr: int = 0
    credit_idr: int = 0
    sukarela_idr: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.notes)

    @property
    def applied_idr(self) -> int:
        return sum(amount for _, amount in self.applied)

    def _credit(self, account: str, amount: int) -> None:
        if amount <= 0:
            return
        for i, (code, value) in enumerate(self.lines):
            if code == account:
                self.lines[i] = (code, value + amount)
                return
        self.lines.append((account, amount))


class AllocationError(DomainError):
    pass


def _is_pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _lock_member(member_id: int) -> Member:
    """Serialise a member's allocations (PostgreSQL row lock; SQLite writes are serial)."""
    query = select(Member).where(Member.id == member_id).execution_options(populate_existing=True)
    if _is_pg():
        query = query.with_for_update()
    member = db.session.scalar(query)
    if member is None:
        raise AllocationError(_("Anggota tidak ditemukan."), code="no_member", status=404)
    # the settlement's receivers (admission, the receipt message) get it from the identity map
    return keep_for_transaction(member)


def _locked_open(member_id: int, kinds: Sequence[str], ids: Sequence[int] = ()) -> list:
    query = (
        select(Obligation)
        .where(Obligation.member_id == member_id, Obligation.is_open.is_(True))
        .order_by(Obligation.due_date, Obligation.priority, Obligation.id)
        .execution_options(populate_existing=True)
    )
    query = query.where(Obligation.id.in_(list(ids))) if ids else query
    query = query.where(Obligation.kind.in_(list(kinds))) if kinds else query
    if _is_pg():
        query = query.with_for_update()
    return list(db.session.scalars(query))


def credit_balance_query(member_id: int, family: str = WAJIB):
    """The SELECT of ``credit_balance`` (a page combines it with other sums)."""
    return select(func.coalesce(func.sum(MemberCredit.amount_idr), 0)).where(
        MemberCredit.member_id == member_id,
        MemberCredit.family == family,
        MemberCredit.reversed_at.is_(None),
    )


def credit_balance(member_id: int, family: str = WAJIB) -> int:
    return int(db.session.scalar(credit_balance_query(member_id, family)) or 0)


def _already(source: str) -> bool:
    """Whether ``source`` was applied already (a payment or a credit not reversed): one
    statement, two indexed EXISTS probes."""
    paid = (
        select(ObligationPayment.id)
        .where(ObligationPayment.source == source, ObligationPayment.reversed_at.is_(None))
        .exists()
    )
    credit = (
        select(MemberCredit.id)
        .where(MemberCredit.source == source, MemberCredit.reversed_at.is_(None))
        .exists()
    )
    return bool(db.session.scalar(select(or_(paid, credit))))


def _check(amount_idr: int, source: str) -> str:
    if isinstance(amount_idr, bool) or not isinstance(amount_idr, int) or amount_idr <= 0:
        raise AllocationError(_("Jumlah harus Rupiah bulat lebih dari nol."), code="bad_amount")
    source = (source or "").strip()
    if not source or len(source) > 80:
        raise AllocationError(_("Sumber pembayaran wajib diisi (maks. 80 karakter)."))
    return source


class _Run:
    """One allocation being built (the member is locked)."""

    def __init__(self, member: Member, alloc: Allocation, paid_on: dt.date, overrides: dict):
        self.member = member
        self.alloc = alloc
        self.paid_on = paid_on
        self.overrides = overrides

    def account_for(self, obligation: Obligation) -> str:
        if obligation.kind in self.overrides:
            return self.overrides[obligation.kind]
        spec = KINDS.get(obligation.kind)
        if spec is not None and spec.account is not None:
            return spec.account(self.member, obligation)
        if not obligation.account_code:
            raise AllocationError(
                f"obligation {obligation.id} ({obligation.kind}) has no account", code="no_account"
            )
        return obligation.account_code

    def pay(self, obligation: Obligation, left: int) -> int:
        part = min(left, obligation.remaining_idr)
        if part <= 0:
            return 0
        obligation.paid_idr += part
        if obligation.paid_idr >= obligation.amount_idr:
            obligation.is_open = False
            obligation.settled_on = self.paid_on
        db.session.add(
            ObligationPayment(
                obligation_id=obligation.id,
                member_id=self.member.id,
                amount_idr=part,
                paid_on=self.paid_on,
                source=self.alloc.source,
            )
        )
        self.alloc.applied.append((obligation.id, part))
        self.alloc._credit(self.account_for(obligation), part)
        return part

    def pay_family(self, family: str, left: int, *, due_by: dt.date | None = None) -> int:
        kinds = family_kinds(family)
        if not kinds or left <= 0:
            return left
        for obligation in _locked_open(self.member.id, kinds):
            if left <= 0:
                break
            if due_by is not None and obligation.due_date > due_by:
                spec = KINDS.get(obligation.kind)
                if spec is None or not spec.due_at_exit:
                    continue
            left -= self.pay(obligation, left)
        return left

    def excess(self, family: str, left: int, *, note: bool) -> None:
        """What is left after the family's open obligations: the family's excess rule."""
        if left <= 0:
            return
        spec = next((s for s in KINDS.values() if s.family == family), None)
        if spec is not None and spec.excess == "credit" and self.member.member_no:
            self.alloc._credit(member_account_code(family, self.member.member_no), left)
            db.session.add(
                MemberCredit(
                    member_id=self.member.id,
                    family=family,
                    amount_idr=left,
                    source=self.alloc.source,
                )
            )
            self.alloc.credit_idr += left
            if note:
                self.alloc.notes.append(
                    _(
                        "%(amount)s disimpan sebagai uang muka simpanan %(family)s: tagihan "
                        "berikutnya terbayar otomatis.",
                        amount=format_rupiah(left),
                        family=family,
                    )
                )
            return
        self.sukarela(left, note=True)

    def sukarela(self, amount: int, *, note: bool = False) -> None:
        if amount <= 0:
            return
        if self.member.member_no:
            self.alloc._credit(member_account_code(SUKARELA, self.member.member_no), amount)
            self.alloc.sukarela_idr += amount
            if note:
                self.alloc.notes.append(
                    _(
                        "Kelebihan %(amount)s masuk ke simpanan sukarela anggota.",
                        amount=format_rupiah(amount),
                    )
                )
            return
        # Not admitted yet: no sukarela account; the applicant account keeps it, and
        # admission moves whatever exceeds the pokok to sukarela.
        from members.savings.deposits import ensure_applicant_account

        self.alloc._credit(ensure_applicant_account(self.member), amount)
        self.alloc.sukarela_idr += amount
        self.alloc.notes.append(
            _(
                "Kelebihan %(amount)s dari calon anggota dititipkan; menjadi simpanan sukarela "
                "saat keanggotaan aktif (atau dikembalikan bila ditolak).",
                amount=format_rupiah(amount),
            )
        )

    def pokok(self, left: int) -> int:
        """Pay the pokok remainder (never beyond the AD amount); returns what is left."""
        from members.register.admission import pokok_status
        from members.savings.deposits import ensure_applicant_account

        remaining = pokok_status(self.member).remaining_idr
        part = min(left, remaining)
        if part > 0:
            if self.member.member_no and MemberStatus(self.member.status) not in (
                MemberStatus.APPLIED,
                MemberStatus.APPROVED,
            ):
                code = member_account_code(POKOK, self.member.member_no)
            else:
                code = ensure_applicant_account(self.member)
            self.alloc._credit(code, part)
            self.alloc.pokok_idr += part
        return left - part


def allocate(
    member: Member | int,
    amount_idr: int,
    *,
    purpose: str,
    source: str,
    paid_on: dt.date,
    targets: Sequence[Sequence[int]] = (),
    account_overrides: dict[str, str] | None = None,
    due_by: dt.date | None = None,
) -> Allocation:
    """Apply ``amount_idr`` paid by ``member`` for ``purpose`` (``pokok``, ``sukarela``, an
    obligation family such as ``wajib``, or ``setoff`` for everything open) and return
    where it goes (see the module doc). ``targets``: ``[(obligation_id, share_idr), ...]``.
    ``due_by``: only obligations due by that date (plus kinds set off at exit)."""
    source = _check(amount_idr, source)
    member = _lock_member(member if isinstance(member, int) else member.id)
    if _already(source):
        raise Conflict(_("Pembayaran ini sudah dialokasikan."), code="already_allocated")
    alloc = Allocation(member.id, amount_idr, source)
    run = _Run(member, alloc, paid_on, dict(account_overrides or {}))
    left = amount_idr
    for obligation_id, share in [(int(i), int(v)) for i, v in targets if int(v) > 0]:
        share = min(share, left)
        if share <= 0:
            break
        (obligation,) = _locked_open(member.id, (), [obligation_id]) or (None,)
        rest = share - (run.pay(obligation, share) if obligation is not None else 0)
        if rest > 0:
            alloc.notes.append(
                _(
                    "%(amount)s dibayar untuk tagihan yang sudah lunas; dialokasikan ke "
                    "kewajiban berikutnya.",
                    amount=format_rupiah(rest),
                )
            )
            spec = KINDS.get(obligation.kind) if obligation is not None else None
            family = spec.family if spec is not None else purpose
            run.excess(family, run.pay_family(family, rest, due_by=due_by), note=False)
        left -= share
    if left > 0:
        if purpose == POKOK:
            run.sukarela(run.pokok(left), note=True)
        elif purpose == SUKARELA:
            run.sukarela(left)
        elif purpose == "setoff":
            for family in dict.fromkeys(spec.family for spec in KINDS.values()):
                left = run.pay_family(family, left, due_by=due_by)
            if left > 0:
                raise AllocationError("set-off larger than what is owed", code="setoff_excess")
        else:
            run.excess(purpose, run.pay_family(purpose, left, due_by=due_by), note=False)
    total = sum(amount for _, amount in alloc.lines)
    if total != amount_idr:  # pragma: no cover - the rules above always place every Rupiah
        raise AllocationError(f"allocation {total} != {amount_idr}", code="allocation_mismatch")
    db.session.flush()
    return alloc


def unallocate(source: str) -> int:
    """Undo what ``source`` paid: its obligations are open again, its advance credit is
    taken back (reopening bills that credit had paid when it was already used). Returns
    the Rupiah un-applied. Idempotent."""
    now = now_utc()
    total = 0
    payments = list(
        db.session.scalars(
            select(ObligationPayment)
            .where(ObligationPayment.source == source, ObligationPayment.reversed_at.is_(None))
            .order_by(ObligationPayment.id)
        )
    )
    for payment in payments:
        (obligation,) = _locked_open_or_closed([payment.obligation_id])
        obligation.paid_idr -= payment.amount_idr
        obligation.is_open = True
        obligation.settled_on = None
        payment.reversed_at = now
        total += payment.amount_idr
    credits = list(
        db.session.scalars(
            select(MemberCredit).where(
                MemberCredit.source == source, MemberCredit.reversed_at.is_(None)
            )
        )
    )
    for credit in credits:
        credit.reversed_at = now
        total += credit.amount_idr
        db.session.flush()
        deficit = -credit_balance(credit.member_id, credit.family)
        if deficit > 0:
            _reopen_from_credit(credit.member_id, credit.family, deficit, now)
    db.session.flush()
    return total


def _locked_open_or_closed(ids: list[int]) -> list[Obligation]:
    query = (
        select(Obligation).where(Obligation.id.in_(ids)).execution_options(populate_existing=True)
    )
    if _is_pg():
        query = query.with_for_update()
    return list(db.session.scalars(query))


def _reopen_from_credit(member_id: int, family: str, deficit: int, now: dt.datetime) -> None:
    """Credit taken back was already used: reopen the newest bills it paid for ``deficit``."""
    used = list(
        db.session.scalars(
            select(MemberCredit)
            .where(
                MemberCredit.member_id == member_id,
                MemberCredit.family == family,
                MemberCredit.amount_idr < 0,
                MemberCredit.reversed_at.is_(None),
            )
            .order_by(MemberCredit.id.desc())
        )
    )
    for use in used:
        if deficit <= 0:
            break
        take = min(deficit, -use.amount_idr)
        (obligation,) = _locked_open_or_closed([use.obligation_id])
        obligation.paid_idr -= take
        obligation.is_open = True
        obligation.settled_on = None
        payment = db.session.scalar(
            select(ObligationPayment).where(
                ObligationPayment.obligation_id == obligation.id,
                ObligationPayment.source == f"credit:{use.id}",
                ObligationPayment.reversed_at.is_(None),
            )
        )
        if payment is not None:
            payment.reversed_at = now
            if take < payment.amount_idr:
                db.session.add(
                    ObligationPayment(
                        obligation_id=obligation.id,
                        member_id=member_id,
                        amount_idr=payment.amount_idr - take,
                        paid_on=payment.paid_on,
                        source=payment.source,
                    )
                )
        use.reversed_at = now
        if take < -use.amount_idr:
            db.session.add(
                MemberCredit(
                    member_id=member_id,
                    family=family,
                    amount_idr=use.amount_idr + take,
                    source=use.source,
                    obligation_id=use.obligation_id,
                )
            )
        deficit -= take
    db.session.flush()


def apply_advance_credits(family: str, period: dt.date | None = None) -> int:
    """Let advance credit pay open bills of ``family`` (billing calls this after creating a
    month's bills). Only members holding credit are read (a few); returns the Rupiah applied."""
    balances = db.session.execute(
        select(MemberCredit.member_id, func.sum(MemberCredit.amount_idr))
        .where(MemberCredit.family == family, MemberCredit.reversed_at.is_(None))
        .group_by(MemberCredit.member_id)
        .having(func.sum(MemberCredit.amount_idr) > 0)
    ).all()
    applied = 0
    kinds = family_kinds(family)
    for member_id, balance in balances:
        _lock_member(member_id)
        left = credit_balance(member_id, family)
        for obligation in _locked_open(member_id, kinds):
            if left <= 0:
                break
            if period is not None and obligation.period > period:
                continue
            part = min(left, obligation.remaining_idr)
            use = MemberCredit(
                member_id=member_id,
                family=family,
                amount_idr=-part,
                source="credit",
                obligation_id=obligation.id,
            )
            db.session.add(use)
            db.session.flush()
            obligation.paid_idr += part
            if obligation.paid_idr >= obligation.amount_idr:
                obligation.is_open = False
                obligation.settled_on = obligation.period
            db.session.add(
                ObligationPayment(
                    obligation_id=obligation.id,
                    member_id=member_id,
                    amount_idr=part,
                    paid_on=obligation.period,
                    source=f"credit:{use.id}",
                )
            )
            left -= part
            applied += part
        del balance
    db.session.flush()
    return applied


def exit_owed_idr(member_id: int, on_date: dt.date) -> int:
    """What an exit sets off: open obligations due by ``on_date``, and those of kinds due at
    exit (a loan's outstanding principal) whatever their due date."""
    early = [spec.kind for spec in KINDS.values() if spec.due_at_exit]
    due = Obligation.due_date <= on_date
    total = db.session.scalar(
        select(func.coalesce(func.sum(Obligation.amount_idr - Obligation.paid_idr), 0)).where(
            Obligation.member_id == member_id,
            Obligation.is_open.is_(True),
            (due | Obligation.kind.in_(early)) if early else due,
        )
    )
    return int(total or 0)


def waive_at_exit(member_id: int, reason: str) -> int:
    """Close what the exit could not set off, of the kinds that are waived (simpanan wajib):
    nothing more is billed or chased from a member who has left. Returns how many."""
    kinds = [spec.kind for spec in KINDS.values() if spec.waive_at_exit]
    count = 0
    for obligation in _locked_open(member_id, kinds):
        obligation.is_open = False
        obligation.closed_reason = f"waived:{reason}"[:200]
        count += 1
    db.session.flush()
    return count


def allocated_targets(obligations: Sequence[Obligation]) -> list[list[int]]:
    """The ``targets`` a checkout for ``obligations`` carries (id and what each still owes)."""
    return [[o.id, o.remaining_idr] for o in obligations if o.is_open]
