"""The catalogue, enrolment with a waitlist (seats held by the database), attendance,
completion, certificates (scan checked by its bytes, maker-checker verification)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from kmp.errors import Conflict, DomainError, Forbidden
from kmp.extensions import db
from kmp.ledger.books.receipts import receipt_path
from kmp.timeutil import business_date
from members.register.states import MemberStatus
from members.training import services
from members.training.models import Certificate, Enrolment, Programme, TrainingAttendance
from tests.integration.books_support import png_bytes
from tests.integration.governance_factories import make_member
from tests.integration.training_support import board_user

TODAY = business_date()


def programme(**overrides) -> Programme:
    data = {
        "title": "Keselamatan berkendara",
        "kind": "blk",
        "provider": "BPVP Bekasi",
        "place": "Bekasi",
        "starts_on": TODAY + dt.timedelta(days=7),
        "ends_on": TODAY + dt.timedelta(days=8),
        "seats": 2,
        "payer": "fund",
        "cost_idr": 500_000,
    }
    data.update(overrides)
    return services.create_programme(services.ProgrammeInput(**data), by_user=None)


def statuses(item: Programme) -> list[tuple[int, str]]:
    return [
        (e.member_id, e.status.value)
        for e in db.session.scalars(
            select(Enrolment).where(Enrolment.programme_id == item.id).order_by(Enrolment.id)
        )
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"kind": "seminar"}, "kind"),
        ({"place": None}, "place"),
        ({"ends_on": TODAY}, "ends_on"),
        ({"seats": 0}, "seats"),
        ({"cost_idr": -1}, "cost_idr"),
        ({"kind": "bnsp"}, "skkni_ref"),
        ({"payer": "sponsor"}, "sponsor"),
        ({"target_groups": ["ojek"]}, "target_groups"),
        ({"target_roles": ["ketua"]}, "target_roles"),
    ],
)
def test_programme_input_is_checked(changes, field):
    with pytest.raises(DomainError) as refused:
        programme(**changes)
    assert refused.value.field == field
    assert db.session.scalar(select(func.count()).select_from(Programme)) == 0


def test_the_database_holds_the_seat_count():
    programme(seats=1)
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(update(Programme).values(seats_taken=2))
    db.session.rollback()


def test_waitlist_and_a_freed_seat_promotes_the_first_waiting():
    item = programme(seats=2)
    a, b, c, d = (make_member("pengemudi") for _ in range(4))
    first, second = services.enrol_member(a, item), services.enrol_member(b, item)
    third, fourth = services.enrol_member(c, item), services.enrol_member(d, item)
    db.session.commit()
    assert [e.status.value for e in (first, second, third, fourth)] == [
        "enrolled",
        "enrolled",
        "waitlisted",
        "waitlisted",
    ]
    assert item.seats_taken == 2
    with pytest.raises(Conflict):
        services.enrol_member(a, item)
    db.session.rollback()

    services.cancel_enrolment(first, by_user=board_user())
    db.session.commit()
    assert statuses(item) == [
        (a.id, "cancelled"),
        (b.id, "enrolled"),
        (c.id, "enrolled"),  # the first in line got the seat
        (d.id, "waitlisted"),
    ]
    assert item.seats_taken == 2
    services.cancel_enrolment(fourth, by_user=None)  # a waitlisted one leaves: no seat moves
    services.cancel_enrolment(second, by_user=None)
    db.session.commit()
    assert item.seats_taken == 1
    again = services.enrol_member(a, item)  # a cancelled enrolment may be followed by a new
    db.session.commit()
    assert again.status.value == "enrolled" and item.seats_taken == 2


def test_more_seats_fill_from_the_waitlist_and_fewer_than_taken_is_refused():
    item = programme(seats=1)
    members = [make_member("kurir") for _ in range(3)]
    for member in members:
        services.enrol_member(member, item)
    db.session.commit()
    data = services.ProgrammeInput(
        title=item.title,
        kind="blk",
        provider=item.provider,
        place=item.place,
        starts_on=item.starts_on,
        ends_on=item.ends_on,
        seats=3,
        payer="fund",
    )
    services.update_programme(item, data, by_user=None)
    db.session.commit()
    assert [s for _m, s in statuses(item)] == ["enrolled"] * 3
    data.seats = 2
    with pytest.raises(DomainError) as refused:
        services.update_programme(item, data, by_user=None)
    assert refused.value.field == "seats"


def test_who_may_enrol():
    driver = make_member("pengemudi")
    user_group = make_member("pengguna")
    applied = make_member("pengemudi", status=MemberStatus.APPLIED)
    item = programme(target_groups=["pengemudi", "kurir"])
    with pytest.raises(DomainError, match="khusus untuk kelompok"):
        services.enrol_member(user_group, item)
    with pytest.raises(DomainError, match="anggota aktif"):
        services.enrol_member(applied, item)
    services.set_enrolment_open(item, False)
    with pytest.raises(DomainError, match="ditutup"):
        services.enrol_member(driver, item)
    services.set_enrolment_open(item, True)
    started = programme(starts_on=TODAY - dt.timedelta(days=1))
    with pytest.raises(DomainError, match="sudah dimulai"):
        services.enrol_member(driver, started)
    services.enrol_member(driver, item)


def test_a_member_cannot_withdraw_once_it_started_but_the_board_can(make_user):
    login = make_user("anggota")
    member = make_member("pengemudi", user=login)
    item = programme()
    enrolment = services.enrol_member(member, item)
    item.starts_on = TODAY
    db.session.commit()
    with pytest.raises(DomainError, match="sudah dimulai"):
        services.cancel_enrolment(enrolment, by_user=login)
    db.session.rollback()
    services.cancel_enrolment(enrolment, by_user=board_user())
    assert enrolment.status.value == "cancelled"


@pytest.mark.postgres
def test_two_enrolments_cannot_take_the_last_seat_twice(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (SQLite has one writer)")
    item = programme(seats=3)
    members = [make_member("pengemudi") for _ in range(8)]
    db.session.commit()
    ids, programme_id = [m.id for m in members], item.id
    barrier = threading.Barrier(len(ids))
    errors: list[str] = []

    def enrol(member_id: int) -> None:
        from members.register.models import Member

        with app.app_context():
            try:
                barrier.wait(timeout=30)
                services.enrol_member(
                    db.session.get(Member, member_id), db.session.get(Programme, programme_id)
                )
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported below
                db.session.rollback()
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=enrol, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    db.session.expire_all()
    counts = dict(
        db.session.execute(
            select(Enrolment.status, func.count())
            .where(Enrolment.programme_id == programme_id)
            .group_by(Enrolment.status)
        ).all()
    )
    assert counts == {"enrolled": 3, "waitlisted": 5}
    assert db.session.get(Programme, programme_id).seats_taken == 3


def test_attendance_and_completion():
    item = programme(seats=5)  # open while they enrol, then it runs yesterday and today
    a, b = make_member("pengemudi"), make_member("kurir")
    ea, eb = services.enrol_member(a, item), services.enrol_member(b, item)
    item.starts_on, item.ends_on = TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1)
    organiser = board_user()
    services.record_attendance(
        item, TODAY - dt.timedelta(days=1), {ea.id, eb.id}, by_user=organiser
    )
    services.record_attendance(item, TODAY, {ea.id}, by_user=organiser)
    services.record_attendance(item, TODAY, {ea.id}, by_user=organiser)  # idempotent
    with pytest.raises(DomainError, match="belum tiba"):
        services.record_attendance(item, TODAY + dt.timedelta(days=1), set(), by_user=organiser)
    with pytest.raises(DomainError, match="bukan pemegang kursi"):
        services.record_attendance(item, TODAY, {999_999}, by_user=organiser)
    assert db.session.scalar(select(func.count()).select_from(TrainingAttendance)) == 3
    services.record_completion(ea, completed=True, by_user=organiser)
    services.record_completion(eb, completed=False, by_user=organiser, note="tidak ikut ujian")
    db.session.commit()
    assert (ea.status.value, eb.status.value) == ("completed", "not_completed")
    assert eb.result_note == "tidak ikut ujian"


def _completed_enrolment():
    item = programme(seats=3, scheme="Pengemudi Berkeselamatan")
    member = make_member("pengemudi")
    enrolment = services.enrol_member(member, item)
    item.starts_on = TODAY
    services.record_completion(enrolment, completed=True, by_user=None)
    db.session.commit()
    return enrolment


def certificate_input(**overrides) -> services.CertificateInput:
    data = {
        "scheme": "Pengemudi Berkeselamatan",
        "issuer": "BPVP Bekasi",
        "number": "BLK-2026-0001",
        "issued_on": TODAY,
        "expires_on": TODAY + dt.timedelta(days=3 * 365),
    }
    data.update(overrides)
    return services.CertificateInput(**data)


def test_certificate_from_a_course_with_a_scan(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_RECEIPT_DIR", str(tmp_path / "scans"))
    enrolment = _completed_enrolment()
    organiser = board_user()
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        services.record_certificate(
            None,
            certificate_input(),
            by_user=organiser,
            enrolment=enrolment,
            scan_upload=(b"MZ\x90\x00 not a certificate", "sertifikat.pdf"),  # name lies
        )
    assert refused.value.field == "scan" and refused.value.status == 415
    monkeypatch.setitem(app.config, "KMP_RECEIPT_MAX_BYTES", 100)
    with pytest.raises(DomainError) as refused:
        services.record_certificate(
            None,
            certificate_input(),
            by_user=organiser,
            enrolment=enrolment,
            scan_upload=(png_bytes((60, 60)), "besar.png"),
        )
    assert refused.value.status == 413
    monkeypatch.setitem(app.config, "KMP_RECEIPT_MAX_BYTES", 4 * 1024 * 1024)
    certificate = services.record_certificate(
        None,
        certificate_input(),
        by_user=organiser,
        enrolment=enrolment,
        scan_upload=(png_bytes(), "sertifikat.png"),
    )
    db.session.commit()
    assert certificate.member_id == enrolment.member_id
    assert certificate.status.value == "pending" and certificate.scan.media_type == "image/png"
    assert receipt_path(certificate.scan).startswith(str(tmp_path / "scans"))
    with pytest.raises(Conflict):
        services.record_certificate(
            None, certificate_input(number="X-2"), by_user=organiser, enrolment=enrolment
        )


def test_certificate_input_and_duplicates():
    member = make_member("kurir")
    with pytest.raises(DomainError) as refused:
        services.record_certificate(member, certificate_input(expires_on=TODAY), by_user=None)
    assert refused.value.field == "expires_on"
    with pytest.raises(DomainError) as refused:
        services.record_certificate(
            member, certificate_input(issued_on=TODAY + dt.timedelta(days=1)), by_user=None
        )
    assert refused.value.field == "issued_on"
    for field in ("scheme", "issuer", "number"):
        with pytest.raises(DomainError) as refused:
            services.record_certificate(member, certificate_input(**{field: " "}), by_user=None)
        assert refused.value.field == field
    services.record_certificate(member, certificate_input(expires_on=None), by_user=None)
    with pytest.raises(Conflict) as duplicate:
        services.record_certificate(make_member("kurir"), certificate_input(), by_user=None)
    assert duplicate.value.field == "number"
    enrolment = _completed_enrolment()
    not_done = services.enrol_member(make_member("kurir"), enrolment.programme)
    with pytest.raises(DomainError, match="kelulusan"):
        services.record_certificate(
            None, certificate_input(number="Z"), by_user=None, enrolment=not_done
        )


def test_verification_is_maker_checker_by_a_pengurus():
    maker, checker = board_user(name="Maker"), board_user(name="Checker")
    treasurer_only = board_user("bendahara")
    pengawas = board_user("pengawas")
    certificate = services.record_certificate(
        make_member("pengemudi"), certificate_input(), by_user=maker
    )
    db.session.commit()
    with pytest.raises(Forbidden, match="tidak dapat memverifikasinya sendiri"):
        services.verify_certificate(certificate, by_user=maker)
    for user in (pengawas, treasurer_only):
        with pytest.raises(Forbidden, match="Hanya pengurus"):
            services.verify_certificate(certificate, by_user=user)
    with pytest.raises(DomainError, match="Alasan"):
        services.reject_certificate(certificate, by_user=checker, note=" ")
    services.verify_certificate(certificate, by_user=checker)
    db.session.commit()
    assert certificate.status.value == "verified" and certificate.decided_by_id == checker.id
    with pytest.raises(DomainError, match="sudah diputuskan"):
        services.reject_certificate(certificate, by_user=checker, note="salah")
    db.session.rollback()
    with pytest.raises(IntegrityError):  # the database holds maker != checker too
        db.session.execute(
            update(Certificate)
            .values(decided_by_id=maker.id)
            .where(Certificate.id == certificate.id)
        )
    db.session.rollback()
    rejected = services.reject_certificate(
        services.record_certificate(
            make_member("kurir"), certificate_input(number="B-2"), by_user=maker
        ),
        by_user=checker,
        note="nomor tidak terdaftar di LSP",
    )
    assert rejected.status.value == "rejected"
    again = services.record_certificate(  # a rejected number may be recorded again
        make_member("kurir"), certificate_input(number="B-2"), by_user=maker
    )
    assert again.status.value == "pending"
