"""Read side of training: the catalogue, a member's enrolments and certificates, rosters,
the certificates waiting for a pengurus and the expiry watch list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from kmp.extensions import db
from kmp.timeutil import business_date
from members.register.models import Member
from members.training.models import (
    Certificate,
    CertificateStatus,
    CertificateWarning,
    Enrolment,
    EnrolmentStatus,
    Programme,
    TrainingAttendance,
)


def catalogue(*, upcoming_only: bool = False, on: dt.date | None = None) -> list[Programme]:
    query = select(Programme).where(Programme.cancelled_at.is_(None))
    if upcoming_only:
        query = query.where(Programme.ends_on >= (on or business_date()))
    return list(db.session.scalars(query.order_by(Programme.starts_on, Programme.id)))


def open_for(member: Member, on: dt.date | None = None) -> list[Programme]:
    """Programmes ``member`` may still enrol in (open, not started, meant for their group)."""
    on = on or business_date()
    rows = db.session.scalars(
        select(Programme)
        .where(
            Programme.cancelled_at.is_(None),
            Programme.is_open.is_(True),
            Programme.starts_on >= on,
        )
        .order_by(Programme.starts_on, Programme.id)
    )
    return [p for p in rows if not p.target_groups or member.group_code in p.target_groups]


def enrolments_of(member: Member) -> list[Enrolment]:
    return list(
        db.session.scalars(
            select(Enrolment)
            .where(Enrolment.member_id == member.id)
            .options(selectinload(Enrolment.programme))
            .order_by(Enrolment.id.desc())
        )
    )


def waitlist_position(enrolment: Enrolment) -> int | None:
    """1 for the first in line; None when not waitlisted."""
    if EnrolmentStatus(enrolment.status) is not EnrolmentStatus.WAITLISTED:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(Enrolment)
        .where(
            Enrolment.programme_id == enrolment.programme_id,
            Enrolment.status == EnrolmentStatus.WAITLISTED,
            Enrolment.id < enrolment.id,
        )
    )
    return int(ahead or 0) + 1


@dataclass(frozen=True)
class RosterRow:
    enrolment: Enrolment
    days_attended: int
    attended_on_day: bool
    certificate: Certificate | None


def roster(programme: Programme, day: dt.date | None = None) -> list[RosterRow]:
    """Every live enrolment of the programme, seated first then the waitlist in order."""
    enrolments = list(
        db.session.scalars(
            select(Enrolment)
            .where(
                Enrolment.programme_id == programme.id,
                Enrolment.status != EnrolmentStatus.CANCELLED,
            )
            .options(selectinload(Enrolment.member))
            .order_by(Enrolment.id)
        )
    )
    ids = [e.id for e in enrolments]
    counts = dict(
        db.session.execute(
            select(TrainingAttendance.enrolment_id, func.count())
            .where(TrainingAttendance.enrolment_id.in_(ids))
            .group_by(TrainingAttendance.enrolment_id)
        ).all()
    )
    present = set()
    if day is not None:
        present = set(
            db.session.scalars(
                select(TrainingAttendance.enrolment_id).where(
                    TrainingAttendance.enrolment_id.in_(ids), TrainingAttendance.day == day
                )
            )
        )
    certificates = {
        c.enrolment_id: c
        for c in db.session.scalars(select(Certificate).where(Certificate.enrolment_id.in_(ids)))
    }
    rows = [
        RosterRow(e, int(counts.get(e.id, 0)), e.id in present, certificates.get(e.id))
        for e in enrolments
    ]
    waiting = EnrolmentStatus.WAITLISTED
    return sorted(
        rows, key=lambda r: (EnrolmentStatus(r.enrolment.status) is waiting, r.enrolment.id)
    )


def pending_certificates() -> list[Certificate]:
    return list(
        db.session.scalars(
            select(Certificate)
            .where(Certificate.status == CertificateStatus.PENDING)
            .order_by(Certificate.id)
        )
    )


def pending_certificate_count() -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Certificate)
            .where(Certificate.status == CertificateStatus.PENDING)
        )
        or 0
    )


def recent_certificates(limit: int = 100) -> list[Certificate]:
    return list(
        db.session.scalars(select(Certificate).order_by(Certificate.id.desc()).limit(limit))
    )


@dataclass(frozen=True)
class ExpiryRow:
    certificate: Certificate
    days_left: int
    warnings: dict[int, dt.date]  # threshold days -> the day its warning was sent


def expiry_watch(on: dt.date | None = None, days: int = 90) -> list[ExpiryRow]:
    """Verified certificates that expire within ``days`` (or expired in the last ``days``),
    soonest first, with the warnings already sent for each."""
    on = on or business_date()
    rows = list(
        db.session.scalars(
            select(Certificate)
            .where(
                Certificate.status == CertificateStatus.VERIFIED,
                Certificate.expires_on.is_not(None),
                Certificate.expires_on <= on + dt.timedelta(days=days),
                Certificate.expires_on >= on - dt.timedelta(days=days),
            )
            .order_by(Certificate.expires_on, Certificate.id)
        )
    )
    warnings: dict[int, dict[int, dt.date]] = {}
    for certificate_id, threshold, sent_on in db.session.execute(
        select(
            CertificateWarning.certificate_id, CertificateWarning.days, CertificateWarning.sent_on
        ).where(CertificateWarning.certificate_id.in_([c.id for c in rows]))
    ):
        warnings.setdefault(certificate_id, {})[threshold] = sent_on
    return [ExpiryRow(c, (c.expires_on - on).days, warnings.get(c.id, {})) for c in rows]


def member_training_data(member: Member) -> dict:
    """The member's enrolments and certificates, for their own data download (UU PDP)."""
    from members.training.competence import certificates_of

    def iso(value):
        return value.isoformat() if value is not None else None

    return {
        "enrolments": [
            {
                "programme": e.programme.title,
                "provider": e.programme.provider,
                "starts_on": iso(e.programme.starts_on),
                "status": e.status.value,
                "enrolled_at": iso(e.created_at),
                "completed_at": iso(e.completed_at),
            }
            for e in enrolments_of(member)
        ],
        "certificates": [
            {
                "scheme": c.scheme,
                "issuer": c.issuer,
                "number": c.lsp_bnsp_number,
                "issued_on": iso(c.issued_on),
                "expires_on": iso(c.expires_on),
                "status": c.status.value,
            }
            for c in certificates_of(member)
        ],
    }
