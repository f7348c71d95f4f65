"""Issue 24: one validation for each input whatever its channel.

The partner API and the portal's CSV upload load the same marshmallow schema
(``members.partners.validation.RemittanceLoadSchema``): the same amount bounds (the database's
own CHECK bound, 10^15), the same dates (not in the future, not older than the AD's
``backdate_days``), and the per-worker plausibility limit of the AD applied line by line.
Patronage (API and CSV import) refuses periods in the future and implausible values.

On the old main the CSV path checked only ``isdigit()``: a line of 9x10^18 reached the books.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from kmp.ledger.models import JournalEntry
from kmp.timeutil import business_date
from members.partners.models import Remittance, RemittanceLine
from payouts.importer import import_patronage_csv
from payouts.patronage import PatronageRecord
from tests.conftest import csrf_from

REMIT = "/api/v1/remittances"
PATRONAGE = "/api/v1/patronage"
HEADER = "platform_worker_id,purpose,amount_idr\n"


def _rep(company):
    return db.session.get(type(company.staff[0].user), company.user_id)


def _upload(client, company, ref, text, paid_on=""):
    page = client.get(f"/mitra/{company.id}/remitansi/unggah")
    return client.post(
        f"/mitra/{company.id}/remitansi/unggah",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "remittance_id": ref,
            "paid_on": paid_on,
            "file": (io.BytesIO(text.encode()), "remitansi.csv"),
        },
        content_type="multipart/form-data",
    )


def _nothing_written():
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Remittance.id))) == 0
    assert db.session.scalar(select(func.count(RemittanceLine.id))) == 0
    assert db.session.scalar(select(func.count(JournalEntry.id))) == _entries_before[0]


_entries_before = [0]


@pytest.fixture
def setup(world, client, login_as):
    worker = world.worker(link_to=world.company)
    key = world.key()
    _entries_before[0] = db.session.scalar(select(func.count(JournalEntry.id)))
    login_as(user=_rep(world.company))
    return world, worker, key


BAD_AMOUNTS = [
    ("9000000000000000000", "10^15"),  # 9x10^18: the review's finding
    ("1" + "0" * 29, "10^15"),  # 30 digits
    ("1" + "0" * 39, "10^15"),  # 40 digits
    ("1000000000000001", "10^15"),  # one above the bound
    ("0", "10^15"),
    ("-5", "bilangan bulat"),
    ("1e308", "bilangan bulat"),
    ("12.5", "bilangan bulat"),
    ("", "bilangan bulat"),
    ("=cmd|' /C calc'!A0", "bilangan bulat"),
    ("٣٠٠٠", "bilangan bulat"),  # Arabic-Indic digits: isdigit() said yes
]


@pytest.mark.parametrize("amount,message", BAD_AMOUNTS)
def test_a_csv_amount_out_of_bounds_is_refused_with_a_message(setup, client, amount, message):
    world, worker, _key = setup
    text = HEADER + f"{worker.platform_worker_id},sukarela,25000\n"
    text += f"{worker.platform_worker_id},wajib,{amount}\n"
    response = _upload(client, world.company, "TRF-BIG", text)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Baris 3" in body and message in body, body[-3000:]
    _nothing_written()


@pytest.mark.parametrize("amount,message", BAD_AMOUNTS[:5])
def test_the_api_refuses_the_same_amounts_with_the_same_message(setup, api, amount, message):
    world, worker, key = setup
    line = {"platform_worker_id": worker.platform_worker_id, "purpose": "wajib"}
    line["amount_idr"] = int(amount)
    response = api(key).post(
        REMIT, json={"remittance_id": "R-BIG", "total_idr": int(amount), "lines": [line]}
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    _nothing_written()


@pytest.mark.parametrize(
    "text",
    [
        HEADER + "W-1,wajib,25000\rW-2,wajib,1000\n",  # a bare carriage return
        HEADER + 'W-1,wajib,"25000\n',  # an open quote
        HEADER + "W-1,wajib,25000,extra\n",
        HEADER + "W-1,wajib\n",
        HEADER + "W-1\x00,wajib,25000\n",
        HEADER + "<script>,wajib,25000\n",
        HEADER + "W-1,bogus,25000\n",
    ],
)
def test_a_malformed_csv_is_a_message_never_a_500(setup, client, text):
    """Refused with a message, or read as lines of unknown workers (rejected, credited to
    nobody): never a 500, never money for anyone."""
    world, _worker, _key = setup
    response = _upload(client, world.company, "TRF-BAD", text)
    assert response.status_code in (303, 422), response.status_code
    if response.status_code == 422:
        _nothing_written()
    else:
        assert db.session.scalar(select(Remittance.accepted_idr)) == 0


@pytest.mark.parametrize(
    "days,message",
    [(1, "masa depan"), (-91, "90 hari"), (-365 * 126, "90 hari")],
)
def test_paid_on_outside_the_ad_window_is_refused_by_csv_and_api(setup, client, api, days, message):
    world, worker, key = setup
    paid_on = (business_date() + dt.timedelta(days=days)).isoformat()
    text = HEADER + f"{worker.platform_worker_id},wajib,25000\n"
    response = _upload(client, world.company, "TRF-OLD", text, paid_on=paid_on)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    line = {"platform_worker_id": worker.platform_worker_id, "purpose": "wajib", "amount_idr": 1}
    answer = api(key).post(
        REMIT,
        json={"remittance_id": "R-OLD", "total_idr": 1, "paid_on": paid_on, "lines": [line]},
    )
    assert answer.status_code == 422 and message in answer.get_data(as_text=True)
    _nothing_written()


def test_paid_on_inside_the_window_is_accepted(setup, client):
    world, worker, _key = setup
    paid_on = (business_date() - dt.timedelta(days=30)).isoformat()
    text = HEADER + f"{worker.platform_worker_id},sukarela,25000\n"
    response = _upload(client, world.company, "TRF-OK", text, paid_on=paid_on)
    assert response.status_code == 303, response.get_data(as_text=True)[-2000:]
    assert db.session.scalar(select(Remittance.paid_on)).isoformat() == paid_on


def test_a_worker_beyond_the_monthly_plausibility_limit_is_rejected(setup, client, api):
    world, worker, key = setup
    text = HEADER + f"{worker.platform_worker_id},sukarela,40000000\n"
    assert _upload(client, world.company, "TRF-1", text).status_code == 303
    line = {"platform_worker_id": worker.platform_worker_id, "purpose": "sukarela"}
    response = api(key).post(
        REMIT,
        json={
            "remittance_id": "R-2",
            "total_idr": 20_000_000,
            "lines": [{**line, "amount_idr": 20_000_000}],
        },  # noqa: E501
    )
    assert response.status_code == 201
    result = response.get_json()
    assert (result["accepted_idr"], result["rejected_idr"]) == (0, 20_000_000)
    assert result["lines"][0]["reason_code"] == "implausible_amount"
    # within the limit it still goes through
    response = api(key).post(
        REMIT,
        json={
            "remittance_id": "R-3",
            "total_idr": 10_000_000,
            "lines": [{**line, "amount_idr": 10_000_000}],
        },  # noqa: E501
    )
    assert response.get_json()["accepted_idr"] == 10_000_000


# --------------------------------------------------------------------------- patronage


def _record(worker_id, ext, value=12, measure="trips", period="2025-03"):
    return {
        "platform_worker_id": worker_id,
        "period": period,
        "measure": measure,
        "value": value,
        "external_id": ext,
    }


def test_patronage_for_the_future_or_implausible_is_refused_by_api_and_csv(setup, api):
    world, worker, key = setup
    wid = worker.platform_worker_id
    next_month = (business_date().replace(day=28) + dt.timedelta(days=5)).strftime("%Y-%m")
    records = [
        _record(wid, "p-1"),
        _record(wid, "p-2", period="2099-01"),
        _record(wid, "p-3", period=next_month),
        _record(wid, "p-4", value=10_001),
        _record(wid, "p-5", value=10**12, measure="deliveries"),
    ]
    response = api(key).post(PATRONAGE, json={"records": records})
    result = response.get_json()
    assert (result["inserted"], result["rejected"]) == (1, 4), result
    by_index = {e["index"]: e["fields"] for e in result["errors"]}
    assert "period" in by_index[1] and "period" in by_index[2]
    assert "value" in by_index[3] and "value" in by_index[4]
    # the CSV import: the same rules
    csv_text = (
        "member_no,period,measure,value,external_id\n"
        f"{worker.member_no},2099-01,trips,5,c-1\n"
        f"{worker.member_no},2025-03,trips,{10**13},c-2\n"
        f"{worker.member_no},2025-03,trips,{'9' * 40},c-3\n"
    )
    imported = import_patronage_csv(csv_text.encode())
    assert len(imported.errors) == 3 and imported.report is None
    assert "belum terjadi" in imported.errors[0]
    assert "tidak wajar" in imported.errors[1] and "tidak wajar" in imported.errors[2]
    assert db.session.scalar(select(func.count(PatronageRecord.id))) == 1
