"""The social-protection pages: who may open each (one allowed and one refused role per
page), the forms through the test client, and bad input answered with 4xx writing nothing."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.timeutil import add_months, business_date
from members.protection import enrolment as enrolments
from members.protection.models import (
    BillReceipt,
    BpjsRemittance,
    ClaimCase,
    ContributionRate,
    ProtectionEnrolment,
    SubsidyRule,
)
from members.protection.states import EnrolmentStatus
from tests.conftest import csrf_from
from tests.integration.members_support import valid_nik
from tests.integration.protection_support import bill_this_month, choice, enrolled_member
from tests.integration.savings_support import active_member, login_member


@pytest.fixture
def world(make_user):
    bendahara, pengurus = make_user("bendahara", "pengurus"), make_user("pengurus")
    member = enrolled_member(1, bendahara, pengurus, jkn_class="3")
    bill_this_month()
    return {"bendahara": bendahara, "pengurus": pengurus, "member": member}


def _count(model) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)))


BOARD_PAGES = [
    "/pengurus/bpjs",
    "/pengurus/bpjs/pendaftaran",
    "/pengurus/bpjs/peserta",
    "/pengurus/bpjs/peserta/{enrolment_id}",
    "/pengurus/bpjs/setoran",
    "/pengurus/bpjs/tarif",
    "/pengurus/bpjs/laporan",
    "/pengurus/bpjs/laporan?format=xlsx",
    "/pengurus/bpjs/klaim",
]


@pytest.mark.parametrize("path", BOARD_PAGES)
def test_board_pages_open_for_the_pengawas_not_for_members(client, world, login_as, path):
    url = path.format(enrolment_id=enrolments.enrolment_of(world["member"]).id)
    login_member(client, world["member"])
    assert client.get(url).status_code == 403
    login_as("pengawas")
    response = client.get(url)
    assert response.status_code == 200, url
    if "format" not in url:
        html = response.get_data(as_text=True)
        assert 'style="' not in html and "<script>" not in html


@pytest.mark.parametrize("path", ["/anggota/perlindungan", "/anggota/perlindungan/daftar"])
def test_member_pages_for_members_only(client, world, login_as, path):
    login_as("pengurus")
    assert client.get(path).status_code == 403
    login_member(client, world["member"])
    assert client.get(path).status_code == 200


def test_claim_guide_for_members_and_board_not_partners(client, world, login_as):
    login_as("partner")
    assert client.get("/perlindungan/klaim").status_code == 403
    login_member(client, world["member"])
    html = client.get("/perlindungan/klaim").get_data(as_text=True)
    assert 'data-testid="guide-jkk"' in html and "KPJ" in html
    login_as("pengawas")
    assert client.get("/perlindungan/klaim").status_code == 200


def test_member_enrols_through_the_form_and_bad_input_writes_nothing(client, make_user):
    bendahara, pengurus = make_user("bendahara", "pengurus"), make_user("pengurus")
    member = active_member(5, bendahara, pengurus)
    login_member(client, member)
    html = client.get("/anggota/perlindungan/daftar").get_data(as_text=True)
    token = csrf_from(html)
    base = {"csrf_token": token, "tk": "y", "income": "1000000", "jkn_class": "3"}
    bad_inputs = [
        {**base},  # no consent
        {**base, "consent": "y", "income": "999"},
        {**base, "consent": "y", "income": "satu juta"},
        {**base, "consent": "y", "family-0-full_name": "Anak", "family-0-nik": "12"},
        {**base, "consent": "y", "jkn_class": "9"},
        {
            **base,
            "consent": "y",
            "family-0-full_name": "<script>x</script>",
            "family-0-nik": valid_nik(50),
            "family-0-relation": "x",
        },
    ]
    for data in bad_inputs:
        response = client.post("/anggota/perlindungan/daftar", data=data)
        assert response.status_code == 422, data
        assert "<script>x" not in response.get_data(as_text=True)
    assert _count(ProtectionEnrolment) == 0
    good = {
        **base,
        "consent": "y",
        "family-0-full_name": "Siti Pasangan",
        "family-0-nik": valid_nik(51, female=True),
        "family-0-relation": "pasangan",
    }
    assert client.post("/anggota/perlindungan/daftar", data=good).status_code == 303
    enrolment = enrolments.enrolment_of(member)
    assert enrolment.status is EnrolmentStatus.REQUESTED and len(enrolment.family) == 1
    html = client.get("/anggota/perlindungan").get_data(as_text=True)
    assert "menunggu konfirmasi" in html
    cancel = client.post("/anggota/perlindungan/batal", data={"csrf_token": token})
    assert cancel.status_code == 303
    db.session.expire_all()
    assert enrolments.enrolment_of(member).status is EnrolmentStatus.CANCELLED


def test_bendahara_confirms_pengurus_cannot(client, make_user, login_as):
    bendahara, pengurus = make_user("bendahara", "pengurus"), make_user("pengurus")
    member = active_member(6, bendahara, pengurus)
    enrolment = enrolments.request_enrolment(member, choice())
    db.session.commit()
    login_as(user=pengurus)
    page = client.get("/pengurus/bpjs/pendaftaran").get_data(as_text=True)
    assert member.full_name in page
    url = f"/pengurus/bpjs/pendaftaran/{enrolment.id}/konfirmasi"
    assert client.post(url, data={"csrf_token": csrf_from(page)}).status_code == 403
    login_as(user=bendahara)
    page = client.get("/pengurus/bpjs/pendaftaran").get_data(as_text=True)
    token = csrf_from(page)
    bad = client.post(url, data={"csrf_token": token, "start": "2001-01-01"})
    assert bad.status_code == 422 and enrolment.status is EnrolmentStatus.REQUESTED
    reject = client.post(
        f"/pengurus/bpjs/pendaftaran/{enrolment.id}/tolak", data={"csrf_token": token}
    )
    assert reject.status_code == 422
    month = business_date().replace(day=1).isoformat()
    assert client.post(url, data={"csrf_token": token, "start": month}).status_code == 303
    db.session.expire_all()
    assert db.session.get(ProtectionEnrolment, enrolment.id).status is EnrolmentStatus.CONFIRMED
    assert (
        client.post(
            "/pengurus/bpjs/pendaftaran/99999/konfirmasi", data={"csrf_token": token}
        ).status_code
        == 404
    )


def test_cash_numbers_and_acknowledgement_pages(client, world, login_as):
    enrolment = enrolments.enrolment_of(world["member"])
    base = f"/pengurus/bpjs/peserta/{enrolment.id}"
    login_as("pengawas")
    page = client.get(base).get_data(as_text=True)
    assert client.post(f"{base}/tunai", data={"csrf_token": csrf_from(page)}).status_code == 403
    login_as(user=world["bendahara"])
    page = client.get(base).get_data(as_text=True)
    token = csrf_from(page)
    form_token = page.split('name="token"')[1].split('value="')[1].split('"')[0]
    for amount in ("", "abc", "-5", "0"):
        response = client.post(
            f"{base}/tunai",
            data={"csrf_token": token, "amount": amount, "method": "cash", "token": form_token},
        )
        assert response.status_code == 422, amount
    assert _count(BillReceipt) == 0
    ok = client.post(
        f"{base}/tunai",
        data={"csrf_token": token, "amount": "76.800", "method": "cash", "token": form_token},
    )
    assert ok.status_code == 303 and _count(BillReceipt) == 1
    bad = client.post(f"{base}/nomor", data={"csrf_token": token, "jkn": "12"})
    assert bad.status_code == 422
    assert (
        client.post(f"{base}/nomor", data={"csrf_token": token, "kpj": "12345678901"}).status_code
        == 303
    )
    member = world["member"]
    csv_text = (
        f"NIK,NAMA,PROGRAM,NOMOR_PESERTA\n{member.nik},{member.full_name},JKN,0009876543210\n"
    )
    response = client.post(
        "/pengurus/bpjs/tanda-terima",
        data={"csrf_token": token, "file": (io.BytesIO(csv_text.encode()), "ack.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and 'data-testid="ack-result"' in response.get_data(
        as_text=True
    )
    db.session.expire_all()
    assert enrolments.enrolment_of(member).jkn_number == "0009876543210"
    empty = client.post("/pengurus/bpjs/tanda-terima", data={"csrf_token": token})
    assert empty.status_code == 422
    binary = client.post(
        "/pengurus/bpjs/tanda-terima",
        data={"csrf_token": token, "file": (io.BytesIO(b"\xff\xfe\x00bad"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert binary.status_code == 422


def test_remittance_page_file_and_record(client, world, login_as):
    period = business_date().replace(day=1)
    month = f"{period:%Y-%m}"
    login_as(user=world["bendahara"])
    page = client.get("/pengurus/bpjs/setoran").get_data(as_text=True)
    token = csrf_from(page)
    assert 'data-testid="record-jkk"' not in page  # nothing collected yet
    client.post(
        f"/pengurus/bpjs/peserta/{enrolments.enrolment_of(world['member']).id}/tunai",
        data={"csrf_token": token, "amount": "76800", "method": "cash", "token": "tok-1"},
    )
    page = client.get("/pengurus/bpjs/setoran").get_data(as_text=True)
    assert 'data-testid="record-jkk"' in page
    csv_file = client.get(f"/pengurus/bpjs/setoran/jkk/{month}/berkas.csv")
    assert csv_file.status_code == 200 and world["member"].nik in csv_file.get_data(as_text=True)
    assert client.get(f"/pengurus/bpjs/setoran/jkk/{month}/berkas.xlsx").status_code == 200
    assert client.get(f"/pengurus/bpjs/setoran/xxx/{month}/berkas.csv").status_code == 404
    assert client.get("/pengurus/bpjs/setoran/jkk/2999-01/berkas.csv").status_code == 404
    assert client.get(f"/pengurus/bpjs/setoran/jkk/{month}/berkas.pdf").status_code == 404
    assert client.get("/pengurus/bpjs/setoran?month=zzz").status_code == 400
    url = f"/pengurus/bpjs/setoran/jkk/{month}"
    assert client.post(url, data={"csrf_token": token, "reference": ""}).status_code == 422
    changed = client.post(url, data={"csrf_token": token, "reference": "T-1", "expected": "1"})
    assert changed.status_code == 409 and _count(BpjsRemittance) == 0
    ok = client.post(url, data={"csrf_token": token, "reference": "T-1", "expected": "10000"})
    assert ok.status_code == 303 and _count(BpjsRemittance) == 1
    login_as("pengurus")
    assert client.post(url, data={"csrf_token": token, "reference": "T-2"}).status_code == 403
    assert (
        client.post("/pengurus/bpjs/setoran/subsidi", data={"csrf_token": token}).status_code == 403
    )


def test_rate_table_edits_by_the_pengurus(client, world, login_as):
    next_month = f"{add_months(business_date().replace(day=1), 1):%Y-%m}"
    login_as("pengawas")
    page = client.get("/pengurus/bpjs/tarif").get_data(as_text=True)
    token = csrf_from(page)
    data = {"csrf_token": token, "programme": "jkk", "percent": "1,5", "effective_from": next_month}
    assert client.post("/pengurus/bpjs/tarif", data=data).status_code == 403
    login_as(user=world["pengurus"])
    before = _count(ContributionRate)
    for bad in (
        {**data, "percent": "satu"},
        {**data, "effective_from": "2001-01"},
        {**data, "effective_from": "bulan depan"},
        {**data, "programme": "jkn", "jkn_class": "3", "amount": "42000", "participant": "50000"},
    ):
        assert client.post("/pengurus/bpjs/tarif", data=bad).status_code == 422, bad
    assert _count(ContributionRate) == before
    assert client.post("/pengurus/bpjs/tarif", data=data).status_code == 303
    assert _count(ContributionRate) == before + 1
    brackets = {
        "csrf_token": token,
        "amounts": "1.000.000\n2.000.000, 3000000",
        "effective_from": next_month,
    }
    assert client.post("/pengurus/bpjs/tarif/penghasilan", data=brackets).status_code == 303
    assert (
        client.post(
            "/pengurus/bpjs/tarif/penghasilan", data={**brackets, "amounts": "x"}
        ).status_code
        == 422
    )
    subsidy = {
        "csrf_token": token,
        "programme": "jkn",
        "percent": "50",
        "effective_from": next_month,
        "basis": "AD Pasal 31",
    }
    assert (
        client.post("/pengurus/bpjs/tarif/subsidi", data={**subsidy, "basis": ""}).status_code
        == 422
    )
    assert (
        client.post("/pengurus/bpjs/tarif/subsidi", data={**subsidy, "percent": "100"}).status_code
        == 422
    )
    assert (
        client.post(
            "/pengurus/bpjs/tarif/subsidi", data={**subsidy, "group_code": "nope"}
        ).status_code
        == 422
    )
    assert client.post("/pengurus/bpjs/tarif/subsidi", data=subsidy).status_code == 303
    assert _count(SubsidyRule) == 1


def test_claims_pages(client, world, login_as):
    login_as("pengawas")
    page = client.get("/pengurus/bpjs/klaim").get_data(as_text=True)
    token = csrf_from(page)
    claim = {
        "csrf_token": token,
        "member_no": world["member"].member_no,
        "kind": "work_accident",
        "incident_date": business_date().isoformat(),
        "description": "Jatuh di jalan",
    }
    assert client.post("/pengurus/bpjs/klaim", data=claim).status_code == 403
    login_as(user=world["pengurus"])
    assert (
        client.post("/pengurus/bpjs/klaim", data={**claim, "member_no": "X-1"}).status_code == 422
    )
    assert client.post("/pengurus/bpjs/klaim", data={**claim, "kind": "death"}).status_code == 422
    assert (
        client.post("/pengurus/bpjs/klaim", data={**claim, "incident_date": "kemarin"}).status_code
        == 422
    )
    assert _count(ClaimCase) == 0
    created = client.post("/pengurus/bpjs/klaim", data=claim)
    assert created.status_code == 303
    detail = created.headers["Location"]
    assert client.get(detail).status_code == 200
    step = detail + "/langkah"
    assert (
        client.post(
            step, data={"csrf_token": token, "target": "approved", "benefit": "1"}
        ).status_code
        == 422
    )
    assert client.post(step, data={"csrf_token": token, "target": "nonsense"}).status_code == 422
    assert (
        client.post(step, data={"csrf_token": token, "target": "", "note": ""}).status_code == 422
    )
    assert (
        client.post(step, data={"csrf_token": token, "target": "documents_complete"}).status_code
        == 303
    )
    assert (
        client.post(
            step, data={"csrf_token": token, "target": "submitted", "bpjs_reference": "B-1"}
        ).status_code
        == 303
    )
    assert (
        client.post(
            step, data={"csrf_token": token, "target": "approved", "benefit": "Rp 2.000.000"}
        ).status_code
        == 303
    )
    assert db.session.scalar(select(ClaimCase.benefit_idr)) == 2_000_000
    assert client.get("/pengurus/bpjs/klaim/99999").status_code == 404


def test_bill_now_button(client, world, login_as):
    login_as("pengawas")
    page = client.get("/pengurus/bpjs").get_data(as_text=True)
    assert 'data-testid="bill-now"' not in page
    assert (
        client.post("/pengurus/bpjs/tagih", data={"csrf_token": csrf_from(page)}).status_code == 403
    )
    login_as(user=world["bendahara"])
    page = client.get("/pengurus/bpjs").get_data(as_text=True)
    assert (
        client.post("/pengurus/bpjs/tagih", data={"csrf_token": csrf_from(page)}).status_code == 303
    )


def test_member_cannot_see_another_members_payment(client, world, make_user):
    other = active_member(9, world["bendahara"], world["pengurus"])
    login_member(client, other)
    assert client.get("/anggota/perlindungan/pembayaran/1").status_code == 404
    assert client.get("/anggota/perlindungan/kembali?order_id=nope").status_code == 303
    page = client.get("/anggota/perlindungan").get_data(as_text=True)
    paid = client.post("/anggota/perlindungan/bayar", data={"csrf_token": csrf_from(page)})
    assert paid.status_code == 422  # nothing to pay (not enrolled, wajib... billed?)


def test_demo_seed_enrols_the_demo_driver_and_the_dashboard_shows_cover(client):
    from kmp.demo import seed_demo
    from members.protection.models import Contribution

    seed_demo()
    db.session.commit()
    seed_demo()  # idempotent
    db.session.commit()
    statuses = sorted(s.value for s in db.session.scalars(select(ProtectionEnrolment.status)))
    assert statuses == ["confirmed", "requested"]
    assert _count(Contribution) == 4  # JKK, JKM, JHT, JKN of the demo driver
    member = db.session.scalar(
        select(ProtectionEnrolment).where(ProtectionEnrolment.status == "confirmed")
    ).member
    login_member(client, member)
    html = client.get("/anggota").get_data(as_text=True)
    assert 'data-testid="bpjs-summary"' in html and "belum terlindungi" in html


def test_pages_in_english(client, world, login_as):
    member = world["member"]
    member.user.locale = "en"
    db.session.commit()
    login_member(client, member)
    html = client.get("/anggota/perlindungan").get_data(as_text=True)
    assert "Covered until" in html and "Monthly bill" in html and "Pay the bill" in html
    form = client.get("/anggota/perlindungan/daftar").get_data(as_text=True)
    assert "of income" in form and "Consent to share data" in form
    assert "How to claim from BPJS" in client.get("/perlindungan/klaim").get_data(as_text=True)
    board = world["bendahara"]
    board.locale = "en"
    db.session.commit()
    login_as(user=board)
    for path in (
        "/pengurus/bpjs",
        "/pengurus/bpjs/setoran",
        "/pengurus/bpjs/tarif",
        "/pengurus/bpjs/laporan",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
    assert "BPJS contribution rates" in client.get("/pengurus/bpjs/tarif").get_data(as_text=True)
