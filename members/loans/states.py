"""Loan states and the moves between them (anything else is refused)."""

from __future__ import annotations

import enum

from kmp.errors import IllegalTransition
from kmp.i18n import gettext as _


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    RETIRED = "retired"


class LoanStatus(enum.StrEnum):
    APPLIED = "applied"  # waiting for the board
    APPROVED = "approved"  # decided, waiting for disbursement
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    ACTIVE = "active"  # disbursed, being repaid
    PAID = "paid"
    WRITTEN_OFF = "written_off"


class ActionKind(enum.StrEnum):
    RESTRUCTURE = "restructure"
    WRITE_OFF = "write_off"


class ActionStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


MOVES: dict[LoanStatus, frozenset[LoanStatus]] = {
    LoanStatus.APPLIED: frozenset({LoanStatus.APPROVED, LoanStatus.REJECTED, LoanStatus.WITHDRAWN}),
    LoanStatus.APPROVED: frozenset({LoanStatus.ACTIVE, LoanStatus.WITHDRAWN}),
    LoanStatus.ACTIVE: frozenset({LoanStatus.PAID, LoanStatus.WRITTEN_OFF}),
    LoanStatus.REJECTED: frozenset(),
    LoanStatus.WITHDRAWN: frozenset(),
    LoanStatus.PAID: frozenset(),
    LoanStatus.WRITTEN_OFF: frozenset(),
}

LABELS = {
    LoanStatus.APPLIED: "Menunggu keputusan",
    LoanStatus.APPROVED: "Disetujui, menunggu pencairan",
    LoanStatus.REJECTED: "Ditolak",
    LoanStatus.WITHDRAWN: "Dibatalkan",
    LoanStatus.ACTIVE: "Berjalan",
    LoanStatus.PAID: "Lunas",
    LoanStatus.WRITTEN_OFF: "Dihapusbukukan",
}


def move(loan, to: LoanStatus) -> None:
    """Set ``loan.status`` to ``to`` when the machine allows it, else refuse."""
    current = LoanStatus(loan.status)
    if to not in MOVES[current]:
        raise IllegalTransition(
            _(
                "Pinjaman berstatus %(now)s tidak bisa menjadi %(to)s.",
                now=_(LABELS[current]),
                to=_(LABELS[to]),
            ),
            code="illegal_loan_move",
        )
    loan.status = to
