"""Enrolment from the phone, the bendahara's confirmation, changes from next month, BPJS
numbers by hand and by the acknowledgement file, the adapter seam, claim cases."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from kmp.errors import DomainError, IllegalTransition
from kmp.extensions import db
from kmp.timeutil import add_months, business_date, now_utc, set_clock
from members.protection import claims
from members.protection import enrolment as enrolments
from members.protection.adapter import BpjsAdapter, FakeBpjs, FileAdapter, register_with
from members.protection.billing import bill_contributions
from members.protection.models import (
    Contribution,
    EnrolmentTerms,
    FamilyMember,
    ProtectionEnrolment,
)
from members.protection.states import ClaimStatus, EnrolmentStatus
from members.savings.models import Obligation
from tests.integration.members_support import valid_nik
from tests.integration.protection_support import choice, enrolled_member, spouse
from tests.integration.savings_support import active_member


@pytest.fixture
def board(make_user):
    return make_user("bendahara", "pengurus"), make_user("pengurus")


def _count(model) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"consent": False}, "persetujuan"),
        ({"income": 1_234_567}, "daftar BPJS"),
        ({"tk": False, "jht": True, "jkn_class": "3"}, "JHT hanya"),
        ({"family": [spouse()]}, "JKN"),
        ({"jkn_class": "3", "family": [("Anak", "123", "anak")]}, "16 angka"),
        ({"jkn_class": "3", "family": [("Anak", valid_nik(77), "sepupu")]}, "hubungan"),
        ({"tk": False}, "minimal satu"),
    ],
)
def test_refused_requests_write_nothing(board, kwargs, message):
    member = active_member(1, *board)
    consent = kwargs.pop("consent", True)
    wanted = choice(**kwargs)
    wanted = enrolments.Choice(**{**wanted.__dict__, "consent": consent})
    with pytest.raises(DomainError, match=message):
        enrolments.request_enrolment(member, wanted, by_user=member.user)
    db.session.rollback()
    assert (
        _count(ProtectionEnrolment) == 0
        and _count(EnrolmentTerms) == 0
        and _count(FamilyMember) == 0
    )


def test_family_member_with_the_members_own_nik_is_refused(board):
    member = active_member(2, *board)
    with pytest.raises(DomainError, match="sudah dipakai"):
        enrolments.request_enrolment(
            member, choice(jkn_class="3", family=[("Saya", member.nik, "lainnya")])
        )


def test_request_confirm_bills_this_month_once(board):
    bendahara, _ = board
    member = active_member(3, *board)
    enrolment = enrolments.request_enrolment(
        member, choice(jht=True, jkn_class="3", family=[spouse()]), by_user=member.user
    )
    db.session.commit()
    assert enrolment.status is EnrolmentStatus.REQUESTED
    assert enrolment.consent_version == enrolments.CONSENT_VERSION
    assert enrolment.consent_at is not None
    assert _count(Contribution) == 0
    enrolments.confirm_enrolment(enrolment, by_user=bendahara)
    db.session.commit()
    this_month = business_date().replace(day=1)
    assert enrolment.start_period == this_month
    rows = dict(
        db.session.execute(
            select(Obligation.kind, Obligation.amount_idr).where(Obligation.member_id == member.id)
        ).all()
    )
    assert rows == {"bpjs_jkk": 10_000, "bpjs_jkm": 6_800, "bpjs_jht": 20_000, "jkn": 70_000}
    again = bill_contributions(this_month)
    db.session.commit()
    assert again.total_created == 0 and _count(Contribution) == 4
    with pytest.raises(IllegalTransition):
        enrolments.confirm_enrolment(enrolment, by_user=bendahara)


def test_reject_needs_a_reason_and_the_member_may_ask_again(board):
    bendahara, _ = board
    member = active_member(4, *board)
    enrolment = enrolments.request_enrolment(member, choice())
    with pytest.raises(IllegalTransition, match="Alasan"):
        enrolments.reject_enrolment(enrolment, by_user=bendahara, reason=" ")
    enrolments.reject_enrolment(enrolment, by_user=bendahara, reason="NIK tidak cocok")
    db.session.commit()
    again = enrolments.request_enrolment(member, choice(income=2_000_000))
    assert again.id == enrolment.id and again.status is EnrolmentStatus.REQUESTED
    assert again.rejection_reason is None
    assert enrolments.latest_terms(again).income_idr == 2_000_000


def test_changes_take_effect_next_month(board):
    bendahara, pengurus = board
    member = enrolled_member(5, bendahara, pengurus, jkn_class="3")
    enrolments.change_terms(
        member, choice(income=2_500_000, jht=True, jkn_class="2", family=[spouse()])
    )
    db.session.commit()
    this_month = business_date().replace(day=1)
    enrolment = enrolments.enrolment_of(member)
    assert enrolments.terms_for(enrolment, this_month).income_idr == 1_000_000
    assert enrolments.family_in(enrolment, this_month) == []
    bill_contributions(this_month)
    db.session.commit()
    later = now_utc() + dt.timedelta(days=32)
    set_clock(lambda: later)
    next_month = add_months(this_month, 1)
    bill_contributions(next_month)
    db.session.commit()

    def amounts(period):
        return dict(
            db.session.execute(
                select(Contribution.programme, Contribution.full_idr).where(
                    Contribution.member_id == member.id, Contribution.period == period
                )
            ).all()
        )

    assert amounts(this_month) == {"jkk": 10_000, "jkm": 6_800, "jkn": 35_000}
    assert amounts(next_month) == {"jkk": 25_000, "jkm": 6_800, "jht": 50_000, "jkn": 200_000}


def test_stopped_enrolment_is_not_billed_next_month(board):
    bendahara, pengurus = board
    member = enrolled_member(6, bendahara, pengurus)
    enrolments.stop_enrolment(enrolments.enrolment_of(member), by_user=bendahara)
    db.session.commit()
    later = now_utc() + dt.timedelta(days=32)
    set_clock(lambda: later)
    result = bill_contributions(business_date())
    assert result.total_created == 0


def test_member_who_leaves_is_stopped(board):
    bendahara, pengurus = board
    member = enrolled_member(7, bendahara, pengurus)
    enrolments.on_member_status_changed(None, member=member, old="active", new="exited")
    assert enrolments.enrolment_of(member).status is EnrolmentStatus.STOPPED


def test_numbers_by_hand_and_by_acknowledgement_file(board):
    bendahara, pengurus = board
    person = spouse(9100)
    member = enrolled_member(8, bendahara, pengurus, jkn_class="3", family=[person])
    enrolment = enrolments.enrolment_of(member)
    with pytest.raises(DomainError, match="13 angka"):
        enrolments.set_participant_numbers(enrolment, jkn="123")
    enrolments.set_participant_numbers(enrolment, kpj="12345678901")
    db.session.commit()
    text = (
        "NIK;NAMA;PROGRAM;NOMOR_PESERTA\n"
        f"{member.nik};{member.full_name};JKN;0001234567890\n"
        f"{person[1]};{person[0]};JKN;0001234567891\n"
        "3174011505900999;Orang Lain;TK;12345\n"
        f"{member.nik};{member.full_name};XX;1\n"
    )
    result = enrolments.import_acknowledgement(text)
    db.session.commit()
    assert result.updated == 2
    assert [line for line, _ in result.problems] == [4, 5]
    assert enrolment.kpj_number == "12345678901" and enrolment.jkn_number == "0001234567890"
    assert enrolment.family[0].jkn_number == "0001234567891"
    with pytest.raises(DomainError, match="Kolom"):
        enrolments.import_acknowledgement("nik,nama\n1,2\n")


def test_adapter_seam_with_the_fake_and_the_file_adapter(board):
    bendahara, pengurus = board
    member = enrolled_member(9, bendahara, pengurus, jkn_class="3", family=[spouse(9200)])
    enrolment = enrolments.enrolment_of(member)
    assert isinstance(FakeBpjs(), BpjsAdapter) and isinstance(FileAdapter(), BpjsAdapter)
    assert not any(a.accepted for a in register_with(FileAdapter(), enrolment))
    fake = FakeBpjs()
    answers = register_with(fake, enrolment)
    db.session.commit()
    assert len(fake.registered) == 3 and all(a.accepted for a in answers)
    assert enrolment.kpj_number and enrolment.jkn_number and enrolment.family[0].jkn_number
    receipt = fake.remit("jkk", business_date(), [(member.nik, 10_000)], 10_000)
    assert receipt.accepted and receipt.reference.startswith("FAKE-JKK-")
    assert not fake.remit("jkk", business_date(), [(member.nik, 10_000)], 9_000).accepted


def test_claim_case_state_machine(board):
    bendahara, pengurus = board
    member = enrolled_member(10, bendahara, pengurus)
    claim = claims.report_claim(
        member,
        kind="work_accident",
        incident_date=business_date(),
        description="Jatuh saat mengantar penumpang",
        by_user=pengurus,
    )
    with pytest.raises(DomainError, match="ahli waris"):
        claims.report_claim(
            member, kind="death", incident_date=business_date(), description="x", by_user=pengurus
        )
    with pytest.raises(IllegalTransition):
        claims.advance_claim(claim, ClaimStatus.APPROVED, benefit_idr=1)
    claims.advance_claim(claim, ClaimStatus.DOCUMENTS_INCOMPLETE, note="kurang laporan polisi")
    claims.advance_claim(claim, ClaimStatus.DOCUMENTS_COMPLETE)
    with pytest.raises(IllegalTransition, match="Nomor pengajuan"):
        claims.advance_claim(claim, ClaimStatus.SUBMITTED)
    claims.advance_claim(claim, ClaimStatus.SUBMITTED, bpjs_reference="KK-2026-001")
    claims.add_claim_note(claim, "BPJS minta kuitansi asli", by_user=pengurus)
    claims.advance_claim(claim, ClaimStatus.APPROVED, benefit_idr=4_500_000, by_user=bendahara)
    db.session.commit()
    assert claim.status is ClaimStatus.APPROVED and claim.benefit_idr == 4_500_000
    assert [e.to_status for e in claim.events] == [
        "reported",
        "documents_incomplete",
        "documents_complete",
        "submitted",
        "submitted",
        "approved",
    ]
    with pytest.raises(IllegalTransition):
        claims.advance_claim(claim, ClaimStatus.WITHDRAWN, note="x")


def test_re_enrolment_after_a_stop_starts_with_the_family_it_names(board):
    bendahara, pengurus = board
    member = enrolled_member(11, bendahara, pengurus, jkn_class="3", family=[spouse(9300)])
    enrolment = enrolments.enrolment_of(member)
    enrolments.stop_enrolment(enrolment, by_user=bendahara)
    db.session.commit()
    later = now_utc() + dt.timedelta(days=32)
    set_clock(lambda: later)
    again = enrolments.request_enrolment(
        member, choice(tk=False, jkn_class="3", family=[spouse(9301)])
    )
    enrolments.confirm_enrolment(again, by_user=bendahara)
    db.session.commit()
    month = business_date().replace(day=1)
    assert [p.nik for p in enrolments.family_in(again, month)] == [spouse(9301)[1]]
    row = db.session.scalar(
        select(Contribution).where(
            Contribution.member_id == member.id, Contribution.period == month
        )
    )
    assert (row.programme, row.persons) == ("jkn", 2)


def test_the_members_data_download_includes_bpjs(client, board):
    from tests.integration.savings_support import login_member

    bendahara, pengurus = board
    member = enrolled_member(12, bendahara, pengurus, jkn_class="3", family=[spouse(9400)])
    login_member(client, member)
    response = client.get("/anggota/profil/data.json")
    assert response.status_code == 200
    data = json.loads(response.get_data(as_text=True))
    assert data["bpjs"]["consent_version"] == enrolments.CONSENT_VERSION
    assert data["bpjs"]["family"][0]["nik"] == spouse(9400)[1]
    assert {c["programme"] for c in data["bpjs"]["contributions"]} == {"jkk", "jkm", "jkn"}
