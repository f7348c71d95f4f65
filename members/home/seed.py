"""Demo data (``flask kmp seed-demo``): the four groups with a few members each, the demo
logins as members, a platform company with two staff logins, officers and their verified
certificates (the AD's competence rule).
Idempotent: every member is looked up by NIK (companies by NIB) first."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from kmp import timeutil
from kmp.auth import User, create_user
from kmp.extensions import db
from kmp.timeutil import business_date
from members.ad import services as ad_services
from members.officers import services as officers_services
from members.officers.models import Officer
from members.register import admission as register_admission
from members.register import identity as register_identity
from members.register import services as register_services
from members.register.models import Member, MemberKind, MemberStaff
from members.register.states import MemberStatus
from members.savings import deposits as savings_deposits
from members.training import services as training_services

PASSWORD = "demo-kmp-2026"  # noqa: S105 - the public demo password (kmp.demo.DEMO_PASSWORD)


def _pay_pokok(member: Member, bendahara: User, method: str = "cash") -> None:
    status = register_admission.pokok_status(member)
    if status.remaining_idr:
        savings_deposits.record_receipt(
            member,
            purpose="pokok",
            amount_idr=status.remaining_idr,
            method=method,
            by_user=bendahara,
            request_token=f"demo-pokok-{member.id}",
        )


def _link_member(
    user: User,
    *,
    group: str,
    nik: str,
    phone: str,
    address: str,
    platform: str | None = None,
    worker: str | None = None,
) -> Member:
    """A member record for an existing demo login."""
    info = register_identity.parse_nik(nik, business_date())
    if user.phone is None:
        user.phone = phone
    member = Member(
        group_code=group,
        kind=MemberKind.INDIVIDUAL,
        status=MemberStatus.APPLIED,
        full_name=user.full_name.split(" (")[0],
        nik=nik,
        birth_date=info.birth_date,
        phone=phone,
        email=user.email,
        address=address,
        platform=platform,
        platform_worker_id=worker,
        consent_at=timeutil.now_utc(),
        consent_version=register_services.PRIVACY_VERSION,
        user_id=user.id,
        ad_version_id=ad_services.current_ad().version_id,
    )
    db.session.add(member)
    db.session.flush()
    register_services.record_event(member, "applied", user, "Data demo", None, "applied")
    return member


def _individual(
    *,
    nik: str,
    name: str,
    phone: str,
    group: str,
    user: User | None = None,
    platform: str | None = None,
    worker: str | None = None,
    pay: bool = True,
    approve: bool = True,
    users: dict,
    joined: dt.date | None = None,
) -> Member:
    member = db.session.scalar(select(Member).where(Member.nik == nik))
    if member is not None:
        return member
    if joined is not None:  # the demo's history: applied, paid and admitted on that day
        with timeutil.clock_at(joined, 10):
            return _individual(
                nik=nik,
                name=name,
                phone=phone,
                group=group,
                user=user,
                platform=platform,
                worker=worker,
                pay=pay,
                approve=approve,
                users=users,
            )
    address = "Jl. Melati No. 7, Jakarta Selatan"
    if user is not None:
        member = _link_member(
            user,
            group=group,
            nik=nik,
            phone=phone,
            address=address,
            platform=platform,
            worker=worker,
        )
    else:
        member = register_services.apply_individual(
            register_services.IndividualApplication(
                group_code=group,
                full_name=name,
                nik=nik,
                phone=phone,
                password=PASSWORD,
                consent=True,
                address=address,
                platform=platform,
                platform_worker_id=worker,
            )
        )
    if pay:
        _pay_pokok(member, users["bendahara"])
    if approve:
        register_admission.approve_member(member, users["pengurus"])
    return member


def _company(
    *,
    nib: str,
    name: str,
    rep: User,
    rep_nik: str,
    phone: str,
    platform: str,
    users: dict,
    admit: bool,
    joined: dt.date | None = None,
) -> Member:
    member = db.session.scalar(select(Member).where(Member.nib == nib))
    if member is not None:
        return member
    if joined is not None:
        with timeutil.clock_at(joined, 10):
            return _company(
                nib=nib,
                name=name,
                rep=rep,
                rep_nik=rep_nik,
                phone=phone,
                platform=platform,
                users=users,
                admit=admit,
            )
    if rep.phone is None:
        rep.phone = phone
    member = Member(
        group_code="platform",
        kind=MemberKind.COMPANY,
        status=MemberStatus.APPLIED,
        full_name=name,
        company_name=name,
        nib=nib,
        npwp="012345678901" + nib[-3:],
        representative_name=rep.full_name.split(" (")[0],
        representative_nik=rep_nik,
        phone=phone,
        email=rep.email,
        address="Jl. Sudirman Kav. 21, Jakarta Pusat",
        platform=platform,
        is_extraordinary=True,
        consent_at=timeutil.now_utc(),
        consent_version=register_services.PRIVACY_VERSION,
        user_id=rep.id,
        ad_version_id=ad_services.current_ad().version_id,
    )
    db.session.add(member)
    db.session.flush()
    db.session.add(
        MemberStaff(member_id=member.id, user_id=rep.id, title="Perwakilan", is_representative=True)
    )
    register_services.record_event(member, "applied", rep, "Data demo", None, "applied")
    if admit:
        _pay_pokok(member, users["bendahara"], method="bank")
        register_admission.approve_member(member, users["pengurus"])
    return member


def _staff_login(member: Member, email: str, name: str, users: dict) -> None:
    if db.session.scalar(select(User.id).where(User.email == email)):
        return
    register_services.add_company_staff(
        member,
        full_name=name,
        password=PASSWORD,
        by_user=users["admin"],
        email=email,
        title="Staf kemitraan",
    )


#: Who joined when in the demo's history (month, day of the fiscal year before this one).
FOUNDERS_JOINED = (1, 6)


def seed_members(users: dict) -> None:
    """The register: founders and members who joined through last year (backdated), this
    year's applicants still waiting, the two platform companies and the officers."""
    from kmp.auth import Role

    year = business_date().year - 1

    def on(month: int, day: int) -> dt.date:
        return dt.date(year, month, day)

    founded = on(*FOUNDERS_JOINED)
    _individual(
        nik="3174011505900001",
        name="",
        phone="081200000001",
        group="pengemudi",
        user=users["anggota"],
        platform="gojek",
        worker="GJK-778812",
        users=users,
        joined=on(1, 10),
    )
    ketua = _individual(
        nik="3273015708850002",
        name="",
        phone="081200000002",
        group="pengguna",
        user=users["pengurus"],
        users=users,
        joined=founded,
    )
    bendahara = _individual(
        nik="3578011203880003",
        name="",
        phone="081200000003",
        group="pengemudi",
        user=users["bendahara"],
        platform="grab",
        worker="GRB-100233",
        users=users,
        joined=founded,
    )
    pengawas = _individual(
        nik="3471014902920004",
        name="",
        phone="081200000004",
        group="kurir",
        user=users["pengawas"],
        platform="shopee",
        worker="SPX-55120",
        users=users,
        joined=founded,
    )
    for nik, name, group, platform, worker, joined in (
        ("3201011010930005", "Joko Susilo", "pengemudi", "maxim", "MXM-20931", on(2, 3)),
        ("3172012001940007", "Andi Wijaya", "kurir", "lalamove", "LLM-4410", on(3, 10)),
        ("3671010807910009", "Hendra Gunawan", "pengguna", None, None, on(4, 14)),
        ("3172015506950013", "Sari Wulandari", "kurir", "shopee", "SPX-70211", on(6, 2)),
        ("3201012708920014", "Bayu Saputra", "pengemudi", "grab", "GRB-880431", on(9, 15)),
        ("3671014410980015", "Lina Kartika", "pengguna", None, None, on(11, 20)),
    ):
        _individual(
            nik=nik,
            name=name,
            phone="0812000000" + nik[-2:],
            group=group,
            platform=platform,
            worker=worker,
            users=users,
            joined=joined,
        )
    # This year's applications, still waiting for the board (the ketua's to-do list).
    _individual(
        nik="3201015403960006",
        name="Rina Marlina",
        phone="081200000006",
        group="pengemudi",
        platform="gojek",
        worker="GJK-998120",
        pay=False,
        approve=False,
        users=users,
    )
    _individual(
        nik="3172016502970008",
        name="Nur Aisyah",
        phone="081200000008",
        group="kurir",
        platform="grab",
        worker="GRB-771002",
        pay=True,
        approve=False,
        users=users,
    )
    _individual(
        nik="3671015111890010",
        name="Maya Sari",
        phone="081200000010",
        group="pengguna",
        pay=False,
        approve=True,
        users=users,
    )

    ojek = _company(
        nib="9120001234567",
        name="PT Ojek Nusantara",
        rep=users["partner"],
        rep_nik="3174015806860011",
        phone="081200000011",
        platform="lainnya",
        users=users,
        admit=True,
        joined=on(2, 1),
    )
    _staff_login(ojek, "staf.ojek@demo.kmp.id", "Dimas Prakoso (PT Ojek Nusantara)", users)
    other_rep = db.session.scalar(select(User).where(User.email == "mitra.kilat@demo.kmp.id"))
    if other_rep is None:
        other_rep = create_user(
            full_name="Yusuf Hakim (PT Kurir Kilat)",
            email="mitra.kilat@demo.kmp.id",
            password=PASSWORD,
            roles=(Role.PARTNER,),
        )
    _company(
        nib="9120007654321",
        name="PT Kurir Kilat Indonesia",
        rep=other_rep,
        rep_nik="3578012407830012",
        phone="081200000012",
        platform="lainnya",
        users=users,
        admit=False,
    )

    if not db.session.scalar(select(Officer.id).limit(1)):
        today = business_date()
        start = dt.date(today.year - 1, 6, 1)
        end = register_services.add_years(start, 5) - dt.timedelta(days=1)
        admin = users["admin"]
        # The competence rule of the AD: each officer first gets a certificate of the
        # office's scheme, recorded by the admin and verified by another pengurus.
        for member, scheme, number, issued, expires, checker in (
            (
                ketua,
                "Pengurus Koperasi",
                "LSP-KJK/2025/000123",
                today - dt.timedelta(days=200),
                register_services.add_years(today, 2),
                users["bendahara"],
            ),
            (
                bendahara,
                "Pengurus Koperasi",
                "LSP-KJK/2023/004567",
                register_services.add_years(today, -3),
                today + dt.timedelta(days=45),
                users["pengurus"],
            ),
            (
                pengawas,
                "Pengawas Koperasi",
                "LSP-KJK/2024/007788",
                today - dt.timedelta(days=400),
                register_services.add_years(today, 1),
                users["pengurus"],
            ),
        ):
            certificate = training_services.record_certificate(
                member,
                training_services.CertificateInput(
                    scheme=scheme,
                    issuer="LSP Koperasi Jasa Keuangan",
                    number=number,
                    issued_on=issued,
                    expires_on=expires,
                    skkni_ref="Kepmenaker 189/2019",
                ),
                by_user=admin,
            )
            training_services.verify_certificate(certificate, by_user=checker)
        for member, body, function in (
            (ketua, "pengurus", "ketua"),
            (bendahara, "pengurus", "bendahara"),
            (pengawas, "pengawas", "pengawas"),
        ):
            officers_services.appoint_officer(
                member, body=body, function=function, term_start=start, term_end=end, by_user=admin
            )
    db.session.flush()
