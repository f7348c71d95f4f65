"""Issue 21, must show 3: importing three members sends three invitations; one claims a
login at "Aktifkan akun" with member number, NIK and the code sent to the phone on record,
and sees their balances. Unknown members and wrong NIKs get the same answer and no message;
wrong codes count and block; sends are rate-limited."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from kmp.auth import PasswordResetCode, User
from kmp.extensions import db
from kmp.notify import Notification
from members.importer.services import COLUMNS
from members.register.models import Member
from tests.conftest import csrf_from

HEADER = ",".join(COLUMNS)
PASSWORD = "sandi-baru-2026"
SAME_ANSWER = "Jika nomor anggota dan NIK cocok"


@pytest.fixture(autouse=True)
def _roomy_address_limit(app, monkeypatch):
    monkeypatch.setitem(app.config, "KMP_LOGIN_RATE_LIMIT", "100 per minute")
    monkeypatch.setitem(app.config, "KMP_RESET_SEND_LIMIT_PER_ADDRESS", "100 per hour")


def _row(n: int, **overrides) -> str:
    values = {
        "member_no": f"DRV-2023-0000{n}0",
        "full_name": f"Anggota Impor {n}",
        "nik": f"3174011505900{n:03d}",
        "phone": f"0812777700{n:02d}",
        "email": "",
        "group": "pengemudi",
        "joined_date": "2023-02-01",
        "platform": "gojek",
        "platform_worker_id": f"IMP-{n}",
        "opening_pokok_idr": "100000",
        "opening_wajib_idr": "250.000",
        "opening_sukarela_idr": str(10_000 * n),
        "opening_date": "",
    }
    values.update(overrides)
    return ",".join(values[c] for c in COLUMNS)


def _import_three(client, login_as, csrf_token):
    login_as("pengurus")
    data = (HEADER + "\n" + "\n".join(_row(n) for n in (1, 2, 3)) + "\n").encode()
    response = client.post(
        "/pengurus/impor",
        data={"csrf_token": csrf_token("/pengurus/impor"), "file": (io.BytesIO(data), "a.csv")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "3 anggota diimpor" in page and "3 undangan" in page
    with client.session_transaction() as session:
        session.clear()


def _ask(client, member_no, nik, addr="203.0.113.30"):
    env = {"REMOTE_ADDR": addr}
    token = csrf_from(client.get("/aktifkan-akun", environ_base=env).get_data(as_text=True))
    return client.post(
        "/aktifkan-akun",
        data={"csrf_token": token, "member_no": member_no, "nik": nik},
        environ_base=env,
    )


def _finish(client, code, password=PASSWORD):
    token = csrf_from(client.get("/aktifkan-akun/kode").get_data(as_text=True))
    return client.post(
        "/aktifkan-akun/kode",
        data={"csrf_token": token, "code": code, "new": password, "confirm": password},
    )


def _messages(kind: str) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.kind == kind).order_by(Notification.id)
        )
    )


def test_import_invites_and_a_member_claims_a_login(client, login_as, csrf_token):
    _import_three(client, login_as, csrf_token)
    invites = _messages("account_invite")
    members = list(db.session.scalars(select(Member).order_by(Member.member_no)))
    assert len(invites) == 3 == len(members)
    assert {n.member_id for n in invites} == {m.id for m in members}
    assert {n.address for n in invites} == {m.phone for m in members}
    first = next(n for n in invites if n.member_id == members[1].id)
    assert members[1].member_no in first.body and "/aktifkan-akun" in first.body
    assert all(m.user_id is None for m in members)

    member = members[1]  # DRV-2023-000020, sukarela Rp 20.000
    # A wrong NIK and an unknown member get the same answer as the right data, and no code.
    pages = []
    for number, nik in (
        (member.member_no, "3174011505900999"),  # wrong NIK
        ("DRV-2023-999999", "3174011505900002"),  # no such member
        (member.member_no.lower(), "3174-0115-0590-0002"),  # right (typed loosely)
    ):
        answer = _ask(client, number, nik)
        assert answer.status_code == 303 and answer.headers["Location"].endswith("/kode")
        page = client.get("/aktifkan-akun/kode").get_data(as_text=True)
        assert SAME_ANSWER in page
        page = re.sub(r'name="csrf_token"[^>]*>', "", page.replace(number.upper(), "NOMOR"))
        page = re.sub(r"\d{4}-\d\d-\d\dT[\d:.+]+", "", page)  # the page's render time
        page = re.sub(r"\d\d\.\d\d WIB", "", page)  # (a minute may turn between renders)
        pages.append(page)
    assert pages[0] == pages[1] == pages[2]  # the same answer whether or not it matched
    codes = _messages("account_claim")  # only the right data sent a code
    assert len(codes) == 1 and codes[0].address == member.phone and codes[0].urgent
    code = codes[0].params["code"]
    assert re.fullmatch(r"\d{6}", code) and code in codes[0].body

    # A wrong code counts; a weak password does not spend the code.
    wrong_code = "000000" if code != "000000" else "111111"
    answer = _finish(client, wrong_code)
    assert answer.status_code == 422 and "Sisa 4 percobaan" in answer.get_data(as_text=True)
    weak = _finish(client, code, password="pendek")
    assert weak.status_code == 422
    done = _finish(client, code)
    assert done.status_code == 303 and done.headers["Location"].endswith("/masuk")
    db.session.expire_all()
    member = db.session.get(Member, member.id)
    user = db.session.get(User, member.user_id)
    assert user.phone == member.phone and user.has_role("anggota")
    assert client.get("/aktifkan-akun/kode").status_code == 302  # the session forgot the claim

    # The member logs in with the phone on record and sees their balances.
    token = csrf_from(client.get("/masuk").get_data(as_text=True))
    login = client.post(
        "/masuk", data={"csrf_token": token, "login": "081277770002", "password": PASSWORD}
    )
    assert login.status_code in (302, 303)
    home = client.get("/anggota")
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and member.member_no in html
    balances = html.split('data-testid="balances"', 1)[1].split("</section>", 1)[0]
    assert "Rp100.000" in balances.replace("\xa0", "").replace(" ", "")
    assert "Rp250.000" in balances.replace("\xa0", "").replace(" ", "")
    assert "Rp20.000" in balances.replace("\xa0", "").replace(" ", "")

    # A member with a login cannot be claimed again: the same answer, no code.
    with client.session_transaction() as session:
        session.clear()
    _ask(client, member.member_no, "3174011505900002")
    assert len(_messages("account_claim")) == 1


def test_claim_codes_block_after_five_wrong_and_sends_are_limited(
    client, login_as, csrf_token, app, monkeypatch
):
    _import_three(client, login_as, csrf_token)
    member = db.session.scalar(select(Member).where(Member.member_no == "DRV-2023-000010"))
    _ask(client, member.member_no, "3174011505900001")
    code = _messages("account_claim")[0].params["code"]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert _finish(client, wrong).status_code == 422
    blocked = _finish(client, wrong)
    assert "diblokir" in blocked.get_data(as_text=True)
    assert _finish(client, code).status_code == 422  # the right code no longer works
    row = db.session.scalar(select(PasswordResetCode).where(PasswordResetCode.purpose == "claim"))
    assert row.blocked_at is not None and row.attempts == 5
    assert db.session.get(Member, member.id).user_id is None

    # The sends for one member number are limited (3 per hour by default), known or not.
    for number in (member.member_no, "DRV-2023-777777"):
        answers = [_ask(client, number, "3174011505900001").status_code for _ in range(3)]
        assert answers.count(429) == (1 if number == member.member_no else 0)
    assert _ask(client, "DRV-2023-777777", "3174011505900001").status_code == 429
    count = db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.kind == "account_claim")
    )
    assert count == 3  # the first ask and two more before the limit
