"""Maker-checker for bookkeeping documents (income/expense entries, manual journals).

One state machine for both: a document waits for a second board member (``PENDING``), who
posts it (``POSTED``) or rejects it (``REJECTED``); its maker may withdraw it while it waits
(``WITHDRAWN``); a posted document is corrected only by a reversal entry (``REVERSED``). The
maker can never be the checker: the service refuses it and a database CHECK holds it.
"""

from __future__ import annotations

import datetime as dt
import enum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from kmp.auth import Role
from kmp.db import StrEnumType, UTCDateTime
from kmp.errors import Forbidden, IllegalTransition
from kmp.i18n import as_text
from kmp.i18n import gettext as _
from kmp.timeutil import now_utc


class ApprovalState(enum.StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    REVERSED = "reversed"


TRANSITIONS: dict[ApprovalState, frozenset[ApprovalState]] = {
    ApprovalState.PENDING: frozenset(
        {ApprovalState.POSTED, ApprovalState.REJECTED, ApprovalState.WITHDRAWN}
    ),
    ApprovalState.POSTED: frozenset({ApprovalState.REVERSED}),
    ApprovalState.REJECTED: frozenset(),
    ApprovalState.WITHDRAWN: frozenset(),
    ApprovalState.REVERSED: frozenset(),
}

#: Board members who may check (approve or reject) another member's document.
CHECKER_ROLES = (Role.PENGURUS, Role.BENDAHARA)

STATE_LABELS = {
    ApprovalState.PENDING: _l("Menunggu persetujuan"),
    ApprovalState.POSTED: _l("Dibukukan"),
    ApprovalState.REJECTED: _l("Ditolak"),
    ApprovalState.WITHDRAWN: _l("Ditarik pembuat"),
    ApprovalState.REVERSED: _l("Dibatalkan (entri pembalik)"),
}


def check_transition(old: ApprovalState | str, new: ApprovalState) -> None:
    old = ApprovalState(old)
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(
            _(
                "Status %(old)s tidak dapat berubah menjadi %(new)s.",
                old=as_text(STATE_LABELS[old]),
                new=as_text(STATE_LABELS[new]),
            )
        )


def check_checker(maker_id: int | None, user) -> None:
    """The checker must be a board member other than the maker."""
    if user is None or not user.has_role(*CHECKER_ROLES):
        raise Forbidden(_("Hanya pengurus atau bendahara yang dapat menyetujui atau menolak."))
    if maker_id is not None and user.id == maker_id:
        raise Forbidden(
            _(
                "Pembuat tidak dapat menyetujui atau menolak catatannya sendiri: perlu anggota "
                "pengurus yang kedua."
            ),
            code="maker_cannot_check",
        )


class ApprovalMixin:
    """The maker-checker columns shared by the bookkeeping documents."""

    status: Mapped[ApprovalState] = mapped_column(StrEnumType(ApprovalState, 16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=now_utc)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reversal_reason: Mapped[str | None] = mapped_column(Text)
    #: A one-time key from the form, so a double submit records the document once.
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    @declared_attr
    def created_by_id(cls) -> Mapped[int]:  # noqa: N805
        return mapped_column(ForeignKey("users.id"))

    @declared_attr
    def decided_by_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("users.id"))

    @declared_attr
    def reversed_by_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("users.id"))

    @declared_attr
    def entry_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("journal_entries.id"), unique=True)

    @declared_attr
    def reversal_entry_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(ForeignKey("journal_entries.id"), unique=True)

    @property
    def is_pending(self) -> bool:
        return self.status == ApprovalState.PENDING

    @property
    def status_label(self) -> str:
        return as_text(STATE_LABELS[ApprovalState(self.status)])


def approval_constraints() -> tuple[CheckConstraint, ...]:
    """The database half of the state machine (fresh objects for each table)."""
    states = ", ".join(f"'{s.value}'" for s in ApprovalState)
    return (
        CheckConstraint(f"status IN ({states})", name="status_valid"),
        CheckConstraint(
            "decided_by_id IS NULL OR decided_by_id <> created_by_id", name="maker_is_not_checker"
        ),
        CheckConstraint(
            "(status IN ('posted', 'reversed')) = (entry_id IS NOT NULL)", name="posted_has_entry"
        ),
        CheckConstraint(
            "(status = 'reversed') = (reversal_entry_id IS NOT NULL)", name="reversed_has_reversal"
        ),
        CheckConstraint(
            "status NOT IN ('rejected', 'withdrawn') OR decided_at IS NOT NULL",
            name="decision_recorded",
        ),
    )
