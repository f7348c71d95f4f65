"""Issue 25, must show 2: the SQL statements of each main request, so a regression fails CI.

Every main member page (dashboard, savings, statement, ballot, my SHU, the partner
dashboard) issues at most 5 statements; casting a vote (the POST) at most 7; a Midtrans
payment notification that settles a member's wajib at most 12. Everything a request does is
counted: the session user and roles, the page's queries, the commit's writes (``BEGIN`` and
``COMMIT`` are not statements the cursor executes, so they are not counted).

The world: one active member who joined in the last fiscal year with pokok and wajib paid
and patronage reported, a computed SHU run, an open ballot whose census holds the member,
two open wajib bills, and a platform company with its representative's login.
"""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import func, select

from governance.models import BallotParticipation
from kmp.auth import Role
from kmp.extensions import db as _db
from kmp.ledger.models import JournalEntry
from kmp.payments.factory import get_gateway, set_gateway
from members.savings import billing
from members.savings.models import Obligation
from payouts import services as shu
from tests.conftest import csrf_from
from tests.factories import company_member
from tests.integration.governance_factories import ensure_ad, make_proposal
from tests.integration.payouts_support import book_surplus, fiscal_year, shu_member
from tests.integration.test_query_hygiene import counting

#: Ceilings (issue 25, must show 2).
MEMBER_PAGE_MAX = 5
VOTE_POST_MAX = 7
NOTIFICATION_MAX = 12

SHOW = os.environ.get("KMP_SHOW_STATEMENTS") == "1"  # print each statement (profiling aid)
STACKS: dict[str, str] = {}


@pytest.fixture(autouse=True)
def fake_gateway(app):
    set_gateway(app, None)
    yield
    set_gateway(app, None)


@pytest.fixture
def world(make_user):
    ensure_ad()
    user = make_user(Role.ANGGOTA)
    member = shu_member("pengemudi", wajib=50_000, trips=40, user=user)
    others = [shu_member("kurir", wajib=25_000, trips=10) for _ in range(2)]
    book_surplus(10_000_000)
    _db.session.commit()
    run = shu.create_run(fiscal_year())
    shu.compute_run(run)
    _db.session.commit()
    proposal = make_proposal(title="Iuran ambulans")
    from kmp.timeutil import business_date

    billing.bill_wajib(business_date().replace(day=1))
    _db.session.commit()
    company, staff = company_member()
    from kmp.timeutil import now_utc
    from members.partners.models import WorkerLink

    for i, worker in enumerate([member, *others]):  # a per-worker query would show here
        _db.session.add(
            WorkerLink(
                member_id=worker.id,
                company_id=company.id,
                platform_worker_id=f"W{i}",
                consent_text_version="v1",
                consented_at=now_utc(),
            )
        )
    _db.session.commit()
    return {
        "user": user,
        "member": member,
        "others": others,
        "run": run.id,
        "proposal": proposal.id,
        "company": company.id,
        "staff": staff[0],
    }


def _count(client, method: str, path: str, counted: list[str], **kwargs) -> tuple[int, object]:
    before = len(counted)
    response = getattr(client, method)(path, **kwargs)
    new = counted[before:]
    if SHOW:
        print(f"\n== {method.upper()} {path}: {len(new)} statements")
        for statement in new:
            print("   ", " ".join(statement.split())[:300])
            if os.environ.get("KMP_SHOW_STACK") and os.environ["KMP_SHOW_STACK"] in statement:
                print(STACKS.get(statement, ""))
    return len(new), response


def _page(client, path: str) -> int:
    client.get(path)  # warm: the process parses the AD configuration once, not per request
    with counting() as counted:
        n, response = _count(client, "get", path, counted)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return n


#: Member pages and what each issues today. The regression net: a page above its figure fails.
#: A page still above the issue's 5 is listed in ``OVER_TARGET`` (an ``xfail(strict)``: once
#: it holds, the entry must go).
MEMBER_PAGES = {
    "dashboard": ("/anggota", 5),
    "savings": ("/anggota/simpanan", 8),  # was 23: accounts, wajib and sums read once
    "statement": ("/buku-besar/saya", 5),
    "ballot": ("/pemungutan/{proposal}", 4),
    "my_shu": ("/shu/saya/{run}", 3),
    "my_shu_list": ("/shu/saya", 2),
    "partner_dashboard": ("/mitra/{company}/kontribusi", 11),  # with 3 workers: was 18
}
OVER_TARGET = {"savings", "partner_dashboard"}


def _member_page(client, login_as, world, name: str) -> tuple[int, int]:
    path, ceiling = MEMBER_PAGES[name]
    login_as(user=world["staff"] if name == "partner_dashboard" else world["user"])
    return _page(client, path.format(**world)), ceiling


@pytest.mark.parametrize("name", sorted(MEMBER_PAGES))
def test_member_page_statements_do_not_grow(client, login_as, world, name):
    n, ceiling = _member_page(client, login_as, world, name)
    assert n <= ceiling, f"{name}: {n} statements (was {ceiling})"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(strict=True, reason="issue 25: not yet at 5 statements")
            if name in OVER_TARGET
            else (),
        )
        for name in sorted(MEMBER_PAGES)
    ],
)
def test_member_page_issues_at_most_5_statements(client, login_as, world, name):
    n, _ceiling = _member_page(client, login_as, world, name)
    assert n <= MEMBER_PAGE_MAX, f"{name}: {n} statements"


def test_a_vote_post_issues_at_most_7_statements(client, login_as, world):
    login_as(user=world["user"])
    path = f"/pemungutan/{world['proposal']}"
    token = csrf_from(client.get(path).get_data(as_text=True))
    with counting() as counted:
        n, response = _count(
            client, "post", f"{path}/pilih", counted, data={"csrf_token": token, "option": "yes"}
        )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert "/tanda-terima" in response.headers["Location"]
    assert _db.session.query(BallotParticipation).count() == 1
    assert n <= VOTE_POST_MAX, f"vote POST: {n} statements"
    # changing the vote (allowed by default) stays within the same ceiling
    with counting() as counted:
        n, response = _count(
            client, "post", f"{path}/pilih", counted, data={"csrf_token": token, "option": "no"}
        )
    assert response.status_code == 303
    assert n <= VOTE_POST_MAX, f"vote change POST: {n} statements"


#: What the notification issues today (the regression net), without the fake gateway's own
#: store: ``fake_gateway_orders`` stands for Midtrans' status API (an HTTP call in production).
NOTIFICATION_NOW = 24  # 23 on SQLite (was 27 / 28); PostgreSQL locks one more row


def _notification_statements(app, client, login_as, world) -> tuple[int, int]:
    login_as(user=world["user"])
    page = client.get("/anggota/simpanan").get_data(as_text=True)
    response = client.post(
        "/anggota/simpanan/bayar",
        data={"csrf_token": csrf_from(page), "purpose": "wajib", "months": "1"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    order_id = response.headers["Location"].rsplit("/", 1)[1]
    body = json.dumps(get_gateway(app).simulate(order_id, "settlement")).encode()
    _db.session.commit()
    webhook = app.test_client()
    counts = []
    for _ in range(2):  # Midtrans retries: the second is acknowledged and moves nothing
        with counting() as counted:
            _n, response = _count(
                webhook,
                "post",
                "/payments/midtrans/notification",
                counted,
                data=body,
                content_type="application/json",
            )
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        counts.append(len([s for s in counted if "fake_gateway_orders" not in s]))
    _db.session.expire_all()
    paid = _db.session.scalars(
        select(Obligation).where(Obligation.member_id == world["member"].id)
    ).all()
    assert [o.is_open for o in paid] == [False]
    entries = _db.session.scalar(
        select(func.count()).select_from(JournalEntry).where(JournalEntry.source_kind == "payment")
    )
    assert entries == 1
    return counts[0], counts[1]


def test_payment_notification_statements_do_not_grow(app, client, login_as, world):
    first, again = _notification_statements(app, client, login_as, world)
    assert first <= NOTIFICATION_NOW, f"payment notification: {first} statements"
    assert again <= first


@pytest.mark.xfail(strict=True, reason="issue 25: the notification is not yet at 12 statements")
def test_a_payment_notification_issues_at_most_12_statements(app, client, login_as, world):
    first, again = _notification_statements(app, client, login_as, world)
    assert first <= NOTIFICATION_MAX and again <= NOTIFICATION_MAX, (first, again)


@pytest.fixture(autouse=True)
def _stacks(app):
    """``KMP_SHOW_STACK=<text>``: where a statement containing the text was issued."""
    if not os.environ.get("KMP_SHOW_STACK"):
        yield
        return
    import traceback

    from sqlalchemy import event

    def remember(conn, cursor, statement, *args):  # noqa: ARG001
        STACKS[statement] = "".join(
            f for f in traceback.format_stack(limit=40) if "/.venv/" not in f
        )

    with app.app_context():
        event.listen(_db.engine, "before_cursor_execute", remember)
    yield
    with app.app_context():
        event.remove(_db.engine, "before_cursor_execute", remember)
