"""Reports: trained and certified members per group, officers per office against the
competence rule, programmes run, and the BLK data-exchange export (columns in the README,
section "Pelatihan dan sertifikasi")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import distinct, func, select

from kmp import signals
from kmp.auth import User
from kmp.extensions import db
from kmp.timeutil import business_date
from members.ad.services import current_ad
from members.register.models import Member
from members.register.states import MemberStatus
from members.training.competence import competence_of
from members.training.models import (
    SEATED,
    Certificate,
    CertificateStatus,
    Enrolment,
    EnrolmentStatus,
    Programme,
    TrainingAttendance,
)


@dataclass(frozen=True)
class GroupRow:
    group_code: str
    group_name: str
    members: int  # active members of the group
    enrolled: int  # members with a seat in any programme (ever)
    completed: int  # members who completed at least one programme
    certified: int  # members holding a verified certificate valid today


def members_per_group(on: dt.date | None = None) -> list[GroupRow]:
    on = on or business_date()
    ad = current_ad()

    def per_group(query) -> dict[str, int]:
        return dict(db.session.execute(query.group_by(Member.group_code)).all())

    active = per_group(
        select(Member.group_code, func.count()).where(Member.status == MemberStatus.ACTIVE)
    )
    enrolled = per_group(
        select(Member.group_code, func.count(distinct(Enrolment.member_id)))
        .join(Enrolment, Enrolment.member_id == Member.id)
        .where(Enrolment.status.in_(SEATED))
    )
    completed = per_group(
        select(Member.group_code, func.count(distinct(Enrolment.member_id)))
        .join(Enrolment, Enrolment.member_id == Member.id)
        .where(Enrolment.status == EnrolmentStatus.COMPLETED)
    )
    certified = per_group(
        select(Member.group_code, func.count(distinct(Certificate.member_id)))
        .join(Certificate, Certificate.member_id == Member.id)
        .where(
            Certificate.status == CertificateStatus.VERIFIED,
            Certificate.issued_on <= on,
            (Certificate.expires_on.is_(None)) | (Certificate.expires_on >= on),
        )
    )
    return [
        GroupRow(
            g.code,
            g.name_id,
            int(active.get(g.code, 0)),
            int(enrolled.get(g.code, 0)),
            int(completed.get(g.code, 0)),
            int(certified.get(g.code, 0)),
        )
        for g in ad.groups
    ]


@dataclass(frozen=True)
class OfficeRow:
    office: str
    label: str
    schemes: tuple[str, ...]
    holders: int
    competent: int  # a verified, valid certificate (or inside the grace period)
    pending: int  # a matching certificate waits for verification
    missing: int  # none, or expired beyond the grace period
    names_missing: tuple[str, ...]


def office_holders(on: dt.date | None = None) -> list[dict]:
    """Who holds an office on ``on`` (asked of ``members.officers``)."""
    return signals.ask(
        signals.office_holders_requested,
        current_app._get_current_object(),
        on_date=on or business_date(),
    )


def officers_per_role(on: dt.date | None = None) -> list[OfficeRow]:
    on = on or business_date()
    ad = current_ad()
    holders = office_holders(on)
    rows = []
    for rule in ad.competence_rules:
        mine = [h for h in holders if h["office"] == rule.role]
        counts = {"ok": 0, "pending": 0, "missing": 0}
        missing_names = []
        for h in mine:
            holder = (
                db.session.get(Member, h["member_id"])
                if h.get("member_id")
                else db.session.get(User, h["user_id"])
            )
            state = competence_of(holder, rule.role, on)
            key = "ok" if state.ok else ("pending" if state.state == "pending" else "missing")
            counts[key] += 1
            if key == "missing":
                missing_names.append(h["name"])
        rows.append(
            OfficeRow(
                rule.role,
                rule.role_label,
                rule.schemes,
                len(mine),
                counts["ok"],
                counts["pending"],
                counts["missing"],
                tuple(missing_names),
            )
        )
    return rows


@dataclass(frozen=True)
class ProgrammeRow:
    programme: Programme
    seated: int
    waitlisted: int
    completed: int
    certified: int  # verified certificates from this programme


def programmes_run(year: int | None = None) -> list[ProgrammeRow]:
    """Programmes that started in ``year`` (default: this year), with their numbers."""
    year = year or business_date().year
    programmes = list(
        db.session.scalars(
            select(Programme)
            .where(
                Programme.cancelled_at.is_(None),
                Programme.starts_on >= dt.date(year, 1, 1),
                Programme.starts_on <= dt.date(year, 12, 31),
            )
            .order_by(Programme.starts_on, Programme.id)
        )
    )
    ids = [p.id for p in programmes]
    counts: dict[tuple[int, str], int] = {
        (pid, str(status)): n
        for pid, status, n in db.session.execute(
            select(Enrolment.programme_id, Enrolment.status, func.count())
            .where(Enrolment.programme_id.in_(ids))
            .group_by(Enrolment.programme_id, Enrolment.status)
        )
    }
    certified = dict(
        db.session.execute(
            select(Enrolment.programme_id, func.count())
            .join(Certificate, Certificate.enrolment_id == Enrolment.id)
            .where(
                Enrolment.programme_id.in_(ids), Certificate.status == CertificateStatus.VERIFIED
            )
            .group_by(Enrolment.programme_id)
        ).all()
    )
    return [
        ProgrammeRow(
            p,
            sum(counts.get((p.id, str(s)), 0) for s in SEATED),
            counts.get((p.id, "waitlisted"), 0),
            counts.get((p.id, "completed"), 0),
            int(certified.get(p.id, 0)),
        )
        for p in programmes
    ]


# =========================================================================== BLK export

#: The BLK data-exchange columns: (header, description). The README lists them; a test
#: checks that it does.
BLK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("nik", "NIK peserta (16 digit)"),
    ("nama_peserta", "Nama lengkap peserta"),
    ("nomor_anggota", "Nomor anggota koperasi"),
    ("kelompok", "Kode kelompok anggota (pengemudi, kurir, pengguna, platform)"),
    ("telepon", "Nomor telepon (format +62)"),
    ("email", "Alamat e-mail"),
    ("tanggal_lahir", "Tanggal lahir (YYYY-MM-DD, dari NIK)"),
    ("judul_program", "Judul pelatihan atau skema"),
    ("jenis_program", "blk (kursus BLK/BLKK), bnsp (skema kompetensi BNSP), koperasi"),
    ("kode_skkni", "Acuan SKKNI (skema BNSP), kosong bila tidak ada"),
    ("penyelenggara", "BLK, LSP atau lembaga penyelenggara"),
    ("tempat", "Tempat pelatihan, atau 'daring'"),
    ("tanggal_mulai", "Tanggal mulai (YYYY-MM-DD)"),
    ("tanggal_selesai", "Tanggal selesai (YYYY-MM-DD)"),
    ("status_peserta", "terdaftar, selesai (lulus) atau tidak_selesai"),
    ("hari_hadir", "Jumlah hari hadir yang dicatat penyelenggara"),
    ("biaya_idr", "Biaya per peserta dalam Rupiah bulat"),
    ("sumber_biaya", "peserta, dana_pendidikan atau sponsor"),
    ("sponsor", "Nama sponsor bila sumber_biaya = sponsor"),
    ("nomor_sertifikat", "Nomor sertifikat (kosong bila belum ada)"),
    ("penerbit_sertifikat", "LSP/lembaga penerbit sertifikat"),
    ("skema_sertifikasi", "Skema sertifikasi pada sertifikat"),
    ("tanggal_terbit", "Tanggal terbit sertifikat (YYYY-MM-DD)"),
    ("berlaku_sampai", "Tanggal akhir berlaku (kosong: tanpa batas)"),
    ("status_sertifikat", "terverifikasi, menunggu_verifikasi atau ditolak"),
)
BLK_HEADERS = tuple(name for name, _description in BLK_COLUMNS)

_KIND = {"blk": "blk", "bnsp": "bnsp", "own": "koperasi"}
_PAYER = {"member": "peserta", "fund": "dana_pendidikan", "sponsor": "sponsor"}
_STATUS = {"enrolled": "terdaftar", "completed": "selesai", "not_completed": "tidak_selesai"}
_CERT = {"verified": "terverifikasi", "pending": "menunggu_verifikasi", "rejected": "ditolak"}


def blk_rows(year: int | None = None) -> Iterator[tuple]:
    """One row per participant holding a seat (waitlist and cancellations left out) of the
    programmes that started in ``year`` (None: every year), in programme order."""
    query = (
        select(Enrolment, Programme, Member)
        .join(Programme, Programme.id == Enrolment.programme_id)
        .join(Member, Member.id == Enrolment.member_id)
        .where(Enrolment.status.in_(SEATED), Programme.cancelled_at.is_(None))
        .order_by(Programme.starts_on, Programme.id, Enrolment.id)
    )
    if year is not None:
        query = query.where(
            Programme.starts_on >= dt.date(year, 1, 1), Programme.starts_on <= dt.date(year, 12, 31)
        )
    rows = db.session.execute(query).all()
    ids = [e.id for e, _p, _m in rows]
    days = dict(
        db.session.execute(
            select(TrainingAttendance.enrolment_id, func.count())
            .where(TrainingAttendance.enrolment_id.in_(ids))
            .group_by(TrainingAttendance.enrolment_id)
        ).all()
    )
    certificates = {
        c.enrolment_id: c
        for c in db.session.scalars(select(Certificate).where(Certificate.enrolment_id.in_(ids)))
    }
    for enrolment, programme, member in rows:
        cert = certificates.get(enrolment.id)
        yield (
            member.nik,
            member.display_name,
            member.member_no,
            member.group_code,
            member.phone,
            member.email,
            member.birth_date,
            programme.title,
            _KIND[str(programme.kind)],
            programme.skkni_ref,
            programme.provider,
            programme.where,
            programme.starts_on,
            programme.ends_on,
            _STATUS[str(enrolment.status)],
            int(days.get(enrolment.id, 0)),
            programme.cost_idr,
            _PAYER[str(programme.payer)],
            programme.sponsor,
            cert.lsp_bnsp_number if cert else None,
            cert.issuer if cert else None,
            cert.scheme if cert else None,
            cert.issued_on if cert else None,
            cert.expires_on if cert else None,
            _CERT[str(cert.status)] if cert else None,
        )
