"""Demo training data: ``seed_training(users)`` (not registered: the lead wires it into the
demo after ``members.home.seed.seed_members``). A catalogue of four programmes (a BLK
safe-riding course, the BNSP scheme for pengurus, the cooperative's own financial-literacy
course, a small first-aid course with a waitlist), enrolments of the demo members with
attendance and results, certificates (verified, waiting, one expiring in 80 days) and, when
the education fund holds enough, a course payment waiting for the second board member.
Idempotent: nothing is added when the first programme exists."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kmp.extensions import db
from kmp.timeutil import business_date
from members.register.models import Member, MemberKind
from members.register.states import MemberStatus
from members.training import fund, services
from members.training.models import Programme

FIRST_TITLE = "Keselamatan Berkendara (Safety Riding) untuk Ojol"


def _programme(today: dt.date, by_user, **values) -> Programme:
    start = today + dt.timedelta(days=values.pop("start_in"))
    data = services.ProgrammeInput(
        starts_on=start, ends_on=start + dt.timedelta(days=values.pop("days", 1) - 1), **values
    )
    return services.create_programme(data, by_user=by_user)


def _move(item: Programme, start: dt.date) -> None:
    item.ends_on = start + (item.ends_on - item.starts_on)
    item.starts_on = start
    db.session.flush()


def _demo_members() -> list[Member]:
    return list(
        db.session.scalars(
            select(Member)
            .where(Member.status == MemberStatus.ACTIVE, Member.kind == MemberKind.INDIVIDUAL)
            .order_by(Member.id)
        )
    )


def _complete(enrolment, organiser, days: list[dt.date]) -> None:
    for day in days:
        services.record_attendance(enrolment.programme, day, {enrolment.id}, by_user=organiser)
    services.record_completion(enrolment, completed=True, by_user=organiser)


def seed_training(users: dict) -> None:
    if db.session.scalar(select(Programme.id).where(Programme.title == FIRST_TITLE)):
        return
    today = business_date()
    organiser, checker = users["pengurus"], users["bendahara"]
    members = _demo_members()
    if len(members) < 4:
        return  # the members' demo data comes first
    driver = next((m for m in members if m.user_id == users["anggota"].id), members[0])
    demo_logins = {u.id for u in users.values()}
    others = [m for m in members if m.id != driver.id and m.user_id not in demo_logins]
    others += [m for m in members if m.id != driver.id and m not in others]

    riding = _programme(
        today,
        organiser,
        title=FIRST_TITLE,
        kind="blk",
        provider="BPVP Bekasi (Kemnaker)",
        place="BPVP Bekasi, Jl. Guntur Raya No. 1",
        start_in=14,
        days=3,
        seats=20,
        payer="sponsor",
        sponsor="Kemnaker - Pelatihan Berbasis Kompetensi",
        scheme="Pengemudi Ojek Daring Berkeselamatan",
        target_groups=["pengemudi", "kurir"],
        description="Teknik berkendara aman, perawatan motor, dan etika melayani penumpang.",
    )
    scheme = _programme(
        today,
        organiser,
        title="Sertifikasi Kompetensi Pengurus Koperasi",
        kind="bnsp",
        skkni_ref="Kepmenaker 189/2019 (SKKNI KSP/USP)",
        scheme="Pengurus Koperasi",
        provider="LSP Koperasi Jasa Keuangan",
        place="Jakarta, Gedung SMESCO",
        start_in=1,
        days=2,
        seats=10,
        cost_idr=1_500_000,
        payer="fund",
        target_roles=["pengurus", "pengawas"],
    )
    literacy = _programme(
        today,
        organiser,
        title="Literasi Keuangan dan Pencatatan Usaha",
        kind="own",
        provider="Koperasi (pengurus bidang pendidikan)",
        is_online=True,
        start_in=1,
        seats=30,
        payer="member",
    )
    first_aid = _programme(
        today,
        organiser,
        title="Pertolongan Pertama di Jalan (P3K)",
        kind="blk",
        provider="BLK Komunitas Ojol Jakarta Timur",
        place="Posko Ojol Cawang",
        start_in=30,
        seats=2,
        cost_idr=250_000,
        payer="fund",
    )
    services.enrol_member(driver, riding, by_user=driver.user)
    done = services.enrol_member(driver, literacy, by_user=driver.user)
    candidates = [services.enrol_member(m, scheme, by_user=organiser) for m in others[:3]]
    # They took place already: the demo writes that history by moving their dates back.
    _move(scheme, today - dt.timedelta(days=40))
    _move(literacy, today - dt.timedelta(days=20))
    for member in [driver, *others[:3]]:
        services.enrol_member(member, first_aid, by_user=member.user or organiser)

    _complete(done, organiser, [literacy.starts_on])
    own = services.record_certificate(
        driver,
        services.CertificateInput(
            scheme="Literasi Keuangan Dasar",
            issuer="Koperasi (kursus sendiri)",
            number=f"KOP-LK/{today.year}/0001",
            issued_on=literacy.ends_on,
        ),
        by_user=organiser,
        enrolment=done,
    )
    services.verify_certificate(own, by_user=checker)
    days = [scheme.starts_on, scheme.ends_on]
    for n, enrolment in enumerate(candidates):
        _complete(enrolment, organiser, days)
        if n == 2:
            continue  # the third waits for the organiser to record the certificate
        certificate = services.record_certificate(
            enrolment.member,
            services.CertificateInput(
                scheme="Pengurus Koperasi",
                issuer="LSP Koperasi Jasa Keuangan",
                number=f"LSP-KJK/{today.year}/10{n + 1:03d}",
                issued_on=scheme.ends_on,
                expires_on=today + dt.timedelta(days=80 if n == 0 else 1000),
                skkni_ref=scheme.skkni_ref,
            ),
            by_user=organiser,
            enrolment=enrolment,
        )
        if n == 0:
            services.verify_certificate(certificate, by_user=checker)
    cost = scheme.cost_idr * len(candidates)
    cash = next((a for a in fund.money_accounts() if a.code == "asset:bank"), None)
    if cash is not None and fund.fund_balance_idr() >= cost:
        fund.record_fund_payment(
            scheme,
            amount_idr=cost,
            paid_on=today,
            money_account_id=cash.id,
            counterparty=scheme.provider,
            description=f"Biaya uji kompetensi {len(candidates)} peserta",
            by_user=organiser,
            request_key="demo-training-fund-1",
        )
    db.session.flush()
