"""Issue 17, must show 5: every refusal a member or officer can see is in the UI's language.

The UI is switched through the language form (``POST /bahasa``, the same form as in every
page's footer), then more than twenty different refusals are triggered through HTTP on
different routes and services (savings, withdrawals, receipts, registration, the AD editor,
votes, meetings, the ledger, the SHU). The refusal messages are read from the page (error
flashes, field errors, the error page's message) and checked: in English no Indonesian
sentence, in Indonesian no English sentence, the two differ, and each is recognisably in its
own language (so neither check passes vacuously). Words the glossary keeps in both languages
("pokok", "wajib", "sukarela", "SHU", "RAT", "AD", "NIK") are not counted."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from kmp.auth import Role
from kmp.extensions import db
from kmp.ledger.chart import BANK, CASH
from kmp.ledger.models import ClosedPeriod, JournalEntry
from kmp.timeutil import JAKARTA, business_date, now_utc
from members.register.admission import approve_member
from members.register.services import new_request_token
from members.savings.deposits import record_receipt
from tests.conftest import csrf_from
from tests.integration.governance_factories import ensure_ad, make_proposal
from tests.integration.members_support import apply_member
from tests.integration.savings_support import active_member, bill_months

#: Common Indonesian words: one of them in an English refusal means it was not translated.
INDONESIAN = re.compile(
    r"\b(tidak|anggota|sudah|belum|harus|dengan|yang|untuk|simpanan|hanya|bisa|ini|itu|dan|"
    r"atau|dari|pilih|isi|tagihan|jumlah|saldo|penarikan|kwitansi|usulan|suara|rapat|"
    r"ditemukan|lebih|kurang|paling|anda|alasan|tanggal|sebelum|sesudah|kata sandi|salah|"
    r"lunas|diisi|kelompok|waktu|buka|tutup)\b",
    re.IGNORECASE,
)
#: Common English words: one of them in an Indonesian refusal means English leaked in.
ENGLISH = re.compile(
    r"\b(the|must|cannot|already|only|not|your|is|are|has|have|with|for|this|that|been|"
    r"please|choose|member|members|amount|balance|reason|required|wrong|before|after|a|an|of|"
    r"to|in|by|be|was|unknown|invalid|give)\b",
    re.IGNORECASE,
)


class _Refusals(HTMLParser):
    """The text of every refusal on a page: error flashes, field errors, the error page."""

    def __init__(self):
        super().__init__()
        self.depth = 0  # >0 while inside a refusal element
        self.stack: list[bool] = []
        self.parts: list[str] = []
        self.messages: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "input", "meta", "link", "hr"):
            return
        classes = (dict(attrs).get("class") or "").split()
        hit = bool({"flash-error", "error", "error-page"} & set(classes))
        self.stack.append(hit)
        if hit:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in ("br", "img", "input", "meta", "link", "hr") or not self.stack:
            return
        if self.stack.pop():
            self.depth -= 1
            if self.depth == 0:
                text = " ".join(" ".join(self.parts).split())
                if text:
                    self.messages.append(text)
                self.parts = []

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def refusal_messages(response) -> list[str]:
    if response.is_json:
        return [response.get_json()["error"]["message"]]
    parser = _Refusals()
    parser.feed(response.get_data(as_text=True))
    return parser.messages


def _local(instant: dt.datetime) -> str:
    return instant.astimezone(JAKARTA).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def world(make_user):
    """Officers, a saver with sukarela, an applicant, an open ballot with one vote cast, a
    meeting with one member present, a pending journal in a year closed since, an entry."""
    ensure_ad()
    bendahara, pengurus = make_user(Role.BENDAHARA), make_user(Role.PENGURUS)
    admin = make_user(Role.ADMIN)
    saver = active_member(1, bendahara, pengurus)
    saver.full_name = "Budi Santoso"  # a name, not a word of either language
    receipt = record_receipt(
        saver,
        purpose="sukarela",
        amount_idr=100_000,
        method="cash",
        by_user=bendahara,
        request_token=new_request_token(),
    )
    bill_months(1)
    applicant = apply_member(9)
    approve_member(applicant, pengurus)
    db.session.commit()
    proposal = make_proposal(pengurus, title="Iuran ambulans")
    from governance import services as gov

    gov.cast_vote(proposal, saver, "yes")
    late = active_member(2, bendahara, pengurus)  # active after the voters' list was frozen
    from governance import meetings

    meeting = meetings.create_meeting(
        kind="ralb",
        title="RALB uji",
        starts_at=now_utc() + dt.timedelta(days=20),
        mode="hybrid",
        location="Balai warga",
        by_user=pengurus,
    )
    meetings.record_attendance(meeting, saver, "checkin", pengurus)
    from kmp.ledger.books.services import JournalLineInput, create_manual_journal
    from kmp.ledger.services import get_account

    year = business_date().year
    journal = create_manual_journal(
        "general",
        business_date(),
        "Koreksi kas",
        [
            JournalLineInput(get_account(CASH).id, debit_idr=5),
            JournalLineInput(get_account(BANK).id, credit_idr=5),
        ],
        by_user=bendahara,
    )
    db.session.add(ClosedPeriod(fiscal_year=year, month=0))  # closed before the approval
    db.session.commit()
    entry = db.session.scalar(select(JournalEntry).order_by(JournalEntry.id))
    return {
        "bendahara": bendahara,
        "pengurus": pengurus,
        "admin": admin,
        "saver": saver.user,
        "applicant": applicant.user,
        "late": late.user,
        "receipt": receipt.number,
        "proposal": proposal.id,
        "meeting": meeting.id,
        "journal": journal.id,
        "entry": entry.id,
        "saver_no": saver.member_no,
    }


def _post(client, page: str, path: str, data: dict):
    html = client.get(page).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(html), **data})


def _register_form(**overrides):
    data = {
        "full_name": "Agus Pratama",
        "nik": "3174011505900001",
        "phone": "0812 3456 7890",
        "email": "",
        "address": "Jl. Melati 7, Jakarta",
        "platform": "gojek",
        "platform_worker_id": "gjk-12345",
        "password": "rahasia-12345",
        "confirm": "rahasia-12345",
        "consent": "y",
    }
    data.update(overrides)
    return data


def _pay(data):
    return lambda c, w: _post(c, "/anggota/simpanan", "/anggota/simpanan/bayar", data)


def _ad(field, value):
    def run(c, w):  # noqa: ARG001
        from members.ad.config import ADConfig
        from tests.integration.test_members_ad import ad_form_data

        data = {**ad_form_data(ADConfig().to_payload()), field: value, "action": "preview"}
        return _post(c, "/admin/ad/ubah", "/admin/ad/ubah", data)

    return run


def _register(**overrides):
    return lambda c, w: _post(
        c, "/daftar/pengemudi", "/daftar/pengemudi", _register_form(**overrides)
    )


def _proposal_times(c, w):  # noqa: ARG001
    opens = now_utc() + dt.timedelta(hours=1)
    data = {
        "kind": "ordinary",
        "title": "Salah",
        "meeting_id": "",
        "opens_at": _local(opens),
        "closes_at": _local(opens - dt.timedelta(hours=1)),
        "office": "",
    }
    return _post(c, "/pemungutan/baru", "/pemungutan/baru", data)


#: (name, who is logged in (None: nobody), the request). Each is refused; nothing is written.
CASES = [
    ("wajib months out of range", "saver", _pay({"purpose": "wajib", "months": "25"})),
    ("sukarela deposit too small", "saver", _pay({"purpose": "sukarela", "amount": "5"})),
    ("pokok already paid", "saver", _pay({"purpose": "pokok"})),
    ("unknown payment kind", "saver", _pay({"purpose": "emas"})),
    ("pokok amount above what is due", "applicant", _pay({"purpose": "pokok", "amount": "150000"})),
    (
        "withdrawal above the balance",
        "saver",
        lambda c, w: _post(
            c,
            "/anggota/simpanan",
            "/anggota/simpanan/tarik",
            {"amount": "200.000", "token": new_request_token()},
        ),
    ),
    (
        "receipt voided by the officer who recorded it",
        "bendahara",
        lambda c, w: _post(
            c, f"/kwitansi/{w['receipt']}", f"/kwitansi/{w['receipt']}/batal", {"reason": "salah"}
        ),
    ),
    (
        "receipt voided without a reason",
        "pengurus",
        lambda c, w: _post(
            c, f"/kwitansi/{w['receipt']}", f"/kwitansi/{w['receipt']}/batal", {"reason": " "}
        ),
    ),
    (
        "voting twice",
        "saver",
        lambda c, w: _post(
            c,
            f"/pemungutan/{w['proposal']}",
            f"/pemungutan/{w['proposal']}/pilih",
            {"option": "no"},
        ),
    ),
    (
        "voting when not on the frozen voters' list",
        "late",
        lambda c, w: _post(
            c,
            f"/pemungutan/{w['proposal']}",
            f"/pemungutan/{w['proposal']}/pilih",
            {"option": "yes"},
        ),
    ),
    ("proposal closing before it opens", "pengurus", _proposal_times),
    (
        "member recorded present twice",
        "pengurus",
        lambda c, w: _post(
            c,
            f"/rapat/{w['meeting']}/presensi",
            f"/rapat/{w['meeting']}/presensi",
            {"member_no": w["saver_no"]},
        ),
    ),
    (
        "unknown member number at the meeting",
        "pengurus",
        lambda c, w: _post(
            c,
            f"/rapat/{w['meeting']}/presensi",
            f"/rapat/{w['meeting']}/presensi",
            {"member_no": "XXX-1"},
        ),
    ),
    ("AD: pokok of Rp 0", "admin", _ad("groups-0-pokok_idr", "0")),
    ("AD: negative wajib", "admin", _ad("groups-1-wajib_idr", "-5")),
    ("AD: impossible distribution date", "admin", _ad("distribution_date", "02-30")),
    ("AD: zero quorum", "admin", _ad("quorum-numerator", "0")),
    ("registration: NIK too short", None, _register(nik="31740115059001")),
    ("registration: NIK with an unknown province", None, _register(nik="9974011505900001")),
    (
        "registration: NIK with a birth date that does not exist",
        None,
        _register(nik="3174013102900001"),
    ),
    (
        "journal approved into a closed year",
        "pengurus",
        lambda c, w: _post(
            c,
            f"/buku-besar/pembukuan/jurnal/{w['journal']}",
            f"/buku-besar/pembukuan/jurnal/{w['journal']}/keputusan",
            {"action": "approve"},
        ),
    ),
    (
        "entry reversed without a reason",
        "bendahara",
        lambda c, w: _post(
            c,
            f"/buku-besar/entri/{w['entry']}",
            f"/buku-besar/entri/{w['entry']}/batalkan",
            {"reason": ""},
        ),
    ),
    (
        "SHU for a year that has not ended",
        "pengurus",
        lambda c, w: _post(c, "/shu/", "/shu/hitung", {"fiscal_year": str(business_date().year)}),
    ),
    (
        "password change with the wrong old password",
        "saver",
        lambda c, w: _post(
            c,
            "/akun",
            "/akun",
            {
                "current": "salah-sekali-123",
                "new": "rahasia-baru-123",
                "confirm": "rahasia-baru-123",
            },
        ),
    ),
]


def _switch(client, lang: str, logged_in: bool) -> None:
    page = client.get("/akun" if logged_in else "/masuk").get_data(as_text=True)
    response = client.post(
        "/bahasa", data={"csrf_token": csrf_from(page), "lang": lang, "next": "/"}
    )
    assert response.status_code == 303
    assert f'<html lang="{lang}"' in client.get("/akun" if logged_in else "/masuk").text


def _refuse(app, login_as, world, who, run, lang) -> list[str]:
    client = app.test_client()
    if who is not None:
        with client.session_transaction() as session:
            session["_user_id"] = world[who].get_id()
            session["_fresh"] = True
    _switch(client, lang, who is not None)
    response = run(client, world)
    if response.status_code in (302, 303):  # refused with a flash on the page it goes back to
        response = client.get(response.headers["Location"])
        assert response.status_code == 200
    else:
        assert 400 <= response.status_code < 500, response.status_code
    return refusal_messages(response)


def _writes() -> tuple[int, ...]:
    from governance.models import Attendance, BallotParticipation, Proposal
    from kmp.payments.models import PaymentIntent
    from members.register.models import Member
    from members.savings.models import ReceiptVoid, SukarelaWithdrawal
    from payouts.models import DistributionRun

    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (
            JournalEntry,
            PaymentIntent,
            SukarelaWithdrawal,
            ReceiptVoid,
            BallotParticipation,
            Attendance,
            Proposal,
            Member,
            DistributionRun,
        )
    )


def test_refusals_follow_the_ui_language(app, world, login_as):
    assert len(CASES) >= 20 and len({name for name, _, _ in CASES}) == len(CASES)
    before = _writes()
    failures = []
    for name, who, run in CASES:
        try:
            indonesian = _refuse(app, login_as, world, who, run, "id")
            english = _refuse(app, login_as, world, who, run, "en")
        except AssertionError as error:
            failures.append(f"{name}: {error}")
            continue
        if not indonesian or not english:
            failures.append(f"{name}: no refusal message shown ({indonesian!r} / {english!r})")
            continue
        for text in english:
            if found := INDONESIAN.search(text):
                failures.append(f"{name}: Indonesian {found.group(0)!r} in English: {text!r}")
        for text in indonesian:
            if found := ENGLISH.search(text):
                failures.append(f"{name}: English {found.group(0)!r} in Indonesian: {text!r}")
        # the detectors can fail: each message is recognisably in its own language
        for text in indonesian:
            if not INDONESIAN.search(text):
                failures.append(f"{name}: not recognisably Indonesian: {text!r}")
        for text in english:
            if not ENGLISH.search(text):
                failures.append(f"{name}: not recognisably English: {text!r}")
        if indonesian == english:
            failures.append(f"{name}: the same text in both languages: {english!r}")
    assert not failures, "\n".join(failures)
    db.session.expire_all()
    assert _writes() == before  # every refusal wrote nothing
