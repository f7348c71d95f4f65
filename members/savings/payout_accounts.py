"""Payout accounts: where a member's sukarela withdrawals and SHU transfers go, a bank account
or an e-wallet (GoPay, OVO, DANA, ShopeePay).

The first account a member registers is used at once. A change is a security event: the
member confirms it with a fresh login code (a one-time code sent to their phone or e-mail, or
their authenticator app), and the new account is used only 24 hours later; until then the
old one stays in use and the member is told of the change, so a stolen session cannot divert
money quietly. Rows are never edited: a change adds a row, the old one gets ``replaced_at``.

The account holder's name is stored as the member typed it; no disbursement adapter of KMP
offers an account-name check yet (``kmp.payments.iris`` has none), so it is not verified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column

from kmp.db import UTCDateTime
from kmp.errors import DomainError
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.timeutil import now_utc
from members.register.models import Member

#: A change of account is used this long after it was confirmed.
CHANGE_DELAY = dt.timedelta(hours=24)
CODE_TTL = dt.timedelta(minutes=10)

BANKS = {
    "BCA": "BCA",
    "BRI": "BRI",
    "BNI": "BNI",
    "MANDIRI": "Bank Mandiri",
    "BSI": "Bank Syariah Indonesia",
    "CIMB": "CIMB Niaga",
    "PERMATA": "Bank Permata",
    "BTN": "BTN",
}
EWALLETS = {"GOPAY": "GoPay", "OVO": "OVO", "DANA": "DANA", "SHOPEEPAY": "ShopeePay"}
PROVIDERS = {**BANKS, **EWALLETS}


class PayoutAccount(db.Model):
    __tablename__ = "payout_accounts"
    __table_args__ = (Index("ix_payout_accounts_member", "member_id", "effective_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    provider: Mapped[str] = mapped_column(String(20))  # a key of PROVIDERS
    number: Mapped[str] = mapped_column(String(30))
    holder_name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    effective_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def is_ewallet(self) -> bool:
        return self.provider in EWALLETS

    @property
    def provider_name(self) -> str:
        return PROVIDERS.get(self.provider, self.provider)

    @property
    def masked_number(self) -> str:
        return "•" * max(len(self.number) - 4, 0) + self.number[-4:]

    def describe(self) -> str:
        return f"{self.provider_name} {self.masked_number} a.n. {self.holder_name}"


@dataclass(frozen=True)
class AccountIn:
    provider: str
    number: str
    holder_name: str


def _clean(data: AccountIn) -> AccountIn:
    provider = (data.provider or "").strip().upper()
    if provider not in PROVIDERS:
        raise DomainError(_("Pilih bank atau e-wallet."), code="provider", field="provider")
    number = re.sub(r"[\s.\-]", "", data.number or "")
    if provider in EWALLETS:
        if number.startswith("+62"):
            number = "0" + number[3:]
        if not re.fullmatch(r"08\d{8,12}", number):
            raise DomainError(
                _("Nomor e-wallet adalah nomor HP yang terdaftar, mis. 081234567890."),
                code="number",
                field="number",
            )
    elif not re.fullmatch(r"\d{6,20}", number):
        raise DomainError(
            _("Nomor rekening hanya angka, 6 sampai 20 digit."), code="number", field="number"
        )
    holder = " ".join((data.holder_name or "").split())
    if len(holder) < 3 or len(holder) > 120:
        raise DomainError(
            _("Tulis nama pemilik rekening seperti tercatat di bank/e-wallet."),
            code="holder",
            field="holder_name",
        )
    return AccountIn(provider, number, holder)


def accounts_of(member: Member) -> list[PayoutAccount]:
    return list(
        db.session.scalars(
            select(PayoutAccount)
            .where(PayoutAccount.member_id == member.id)
            .order_by(PayoutAccount.id.desc())
        )
    )


def effective_account(member: Member, at: dt.datetime | None = None) -> PayoutAccount | None:
    """The account money goes to now: the newest one whose waiting time is over."""
    at = at or now_utc()
    return db.session.scalar(
        select(PayoutAccount)
        .where(PayoutAccount.member_id == member.id, PayoutAccount.effective_at <= at)
        .order_by(PayoutAccount.effective_at.desc(), PayoutAccount.id.desc())
        .limit(1)
    )


def effective_accounts(member_ids, at: dt.datetime | None = None) -> dict[int, PayoutAccount]:
    """member id -> the account money goes to now (for pages listing many members)."""
    at = at or now_utc()
    found: dict[int, PayoutAccount] = {}
    ids = list(member_ids)
    if not ids:
        return found
    for account in db.session.scalars(
        select(PayoutAccount)
        .where(PayoutAccount.member_id.in_(ids), PayoutAccount.effective_at <= at)
        .order_by(PayoutAccount.effective_at, PayoutAccount.id)
    ):
        found[account.member_id] = account  # the newest wins
    return found


def pending_account(member: Member, at: dt.datetime | None = None) -> PayoutAccount | None:
    """A change still in its 24 hours."""
    at = at or now_utc()
    return db.session.scalar(
        select(PayoutAccount)
        .where(PayoutAccount.member_id == member.id, PayoutAccount.effective_at > at)
        .order_by(PayoutAccount.id.desc())
        .limit(1)
    )


def needs_code(member: Member) -> bool:
    """A change (not the first account) is confirmed with a fresh login code."""
    return bool(accounts_of(member))


def set_payout_account(member: Member, data: AccountIn, *, by_user) -> PayoutAccount:
    """Register (first: used at once) or change (used after ``CHANGE_DELAY``) the account.
    The caller has checked the fresh login code for a change."""
    data = _clean(data)
    now = now_utc()
    current = effective_account(member, now)
    pending = pending_account(member, now)
    if pending is not None:  # a newer change replaces the one still waiting
        pending.replaced_at = now
    first = current is None and pending is None
    account = PayoutAccount(
        member_id=member.id,
        provider=data.provider,
        number=data.number,
        holder_name=data.holder_name,
        created_at=now,
        effective_at=now if first else now + CHANGE_DELAY,
        created_by_id=getattr(by_user, "id", None),
    )
    db.session.add(account)
    db.session.flush()
    if not first:
        from kmp.notify.services import queue_notification

        queue_notification(
            kind="security_notice",
            address=member.phone or member.email,
            alt_address=member.email,
            member_id=member.id,
            user_id=member.user_id,
            subject=_("Rekening pencairan diubah"),
            body=_(
                "Rekening pencairan Anda diubah ke %(acc)s dan mulai dipakai 24 jam lagi. "
                "Bila bukan Anda, segera hubungi pengurus koperasi.",
                acc=account.describe(),
            ),
            urgent=True,
        )
    return account


# --------------------------------------------------------------------------- the login code


def _digest(code: str, secret: str) -> str:
    return hmac.new(secret.encode(), code.encode(), hashlib.sha256).hexdigest()


def issue_code(member: Member, secret: str) -> tuple[str, dict]:
    """A six-digit one-time code sent to the member; returns (code, the session's record)."""
    from kmp.notify.services import queue_notification

    code = f"{secrets.randbelow(1_000_000):06d}"
    queue_notification(
        kind="login_code",
        address=member.phone or member.email,
        alt_address=member.email,
        member_id=member.id,
        user_id=member.user_id,
        subject=_("Kode konfirmasi KMP"),
        body=_(
            "Kode konfirmasi perubahan rekening pencairan: %(code)s (berlaku 10 menit). "
            "Jangan berikan kode ini kepada siapa pun.",
            code=code,
        ),
        urgent=True,
    )
    expires = (now_utc() + CODE_TTL).timestamp()
    return code, {"digest": _digest(code, secret), "expires": expires, "tries": 0}


def check_code(record: dict | None, code: str, secret: str) -> bool:
    if not record or now_utc().timestamp() > float(record.get("expires", 0)):
        return False
    if int(record.get("tries", 0)) >= 5:
        return False
    record["tries"] = int(record.get("tries", 0)) + 1
    typed = re.sub(r"\D", "", code or "")
    return hmac.compare_digest(_digest(typed, secret), str(record.get("digest", "")))
