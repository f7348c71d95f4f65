"""The membership state machine: a pure transition table (no Flask, no database).

::

    applied ──> approved ──> active ──> exit_requested ──> exited
       │  │         │  │        │  ^          │
       │  │         │  │        │  └──────────┘ (request withdrawn / declined)
       │  └> rejected  │        └──> deceased ──> exited
       └───> withdrawn <┘   exit_requested ──> deceased

``approved -> active`` only when simpanan pokok is fully paid; ``-> rejected`` needs a reason.
Activation happens by itself when the later of (approval, pokok fully paid) occurs.
"""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l

from kmp.errors import IllegalTransition
from kmp.i18n import as_text, gettext


class MemberStatus(enum.StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    ACTIVE = "active"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXIT_REQUESTED = "exit_requested"
    EXITED = "exited"
    DECEASED = "deceased"

    @property
    def label(self) -> str:
        return as_text(STATUS_LABELS[self])


STATUS_LABELS = {
    MemberStatus.APPLIED: _l("mendaftar"),
    MemberStatus.APPROVED: _l("disetujui"),
    MemberStatus.ACTIVE: _l("aktif"),
    MemberStatus.REJECTED: _l("ditolak"),
    MemberStatus.WITHDRAWN: _l("dibatalkan"),
    MemberStatus.EXIT_REQUESTED: _l("mengajukan keluar"),
    MemberStatus.EXITED: _l("keluar"),
    MemberStatus.DECEASED: _l("meninggal dunia"),
}

S = MemberStatus
TRANSITIONS: dict[MemberStatus, frozenset[MemberStatus]] = {
    S.APPLIED: frozenset({S.APPROVED, S.REJECTED, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.ACTIVE, S.WITHDRAWN}),
    S.ACTIVE: frozenset({S.EXIT_REQUESTED, S.DECEASED}),
    S.EXIT_REQUESTED: frozenset({S.EXITED, S.ACTIVE, S.DECEASED}),
    S.DECEASED: frozenset({S.EXITED}),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.EXITED: frozenset(),
}

#: Statuses of a person who holds (or held) a member number.
NUMBERED = frozenset({S.ACTIVE, S.EXIT_REQUESTED, S.DECEASED, S.EXITED})
#: Statuses of an application still in progress.
PENDING = frozenset({S.APPLIED, S.APPROVED})
#: Statuses that may use member functions (card, deposits, votes).
IN_GOOD_STANDING = frozenset({S.ACTIVE})


def check_transition(
    current: MemberStatus | str,
    target: MemberStatus | str,
    *,
    reason: str | None = None,
    pokok_paid: bool | None = None,
) -> MemberStatus:
    """Return ``target`` if the move is legal, else raise ``IllegalTransition`` (Indonesian)."""
    current, target = MemberStatus(current), MemberStatus(target)
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(
            gettext(
                "Status keanggotaan tidak bisa diubah dari '%(current)s' menjadi '%(target)s'.",
                current=current.label,
                target=target.label,
            ),
            code="illegal_member_transition",
        )
    if target is S.REJECTED and not (reason or "").strip():
        raise IllegalTransition(
            gettext("Alasan penolakan wajib diisi."), code="reason_required", field="reason"
        )
    if target is S.ACTIVE and current is S.APPROVED and not pokok_paid:
        raise IllegalTransition(
            gettext("Anggota baru aktif setelah simpanan pokok lunas."), code="pokok_not_paid"
        )
    return target
