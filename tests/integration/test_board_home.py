"""Issue 22: the board's home lists what waits on the signed-in role, with counts and links
(every feature's ``Registry.add_todo`` counter), and board logins land on it."""

from __future__ import annotations

import re

from kmp.extensions import db
from kmp.registry import get_registry
from members.savings import withdrawals
from tests.integration.members_support import apply_member, pay_pokok
from tests.integration.savings_support import active_member


def _counts(html: str) -> dict[str, int]:
    return {
        key: int(count)
        for key, count in re.findall(
            r'data-testid="todo-([a-z_]+)"><a href="[^"]*"><span class="todo-count"[^>]*>(\d+)<',
            html,
        )
    }


def test_counts_follow_the_work_and_each_role_sees_its_own(app, client, login_as, make_user):
    bendahara, pengurus = make_user("bendahara", "pengurus"), make_user("pengurus")
    apply_member(1)
    waiting = apply_member(2, "kurir")
    pay_pokok(waiting, bendahara)
    member = active_member(3, bendahara, pengurus)
    from members.savings import deposits

    deposits.record_receipt(
        member,
        purpose="sukarela",
        amount_idr=200_000,
        method="cash",
        by_user=bendahara,
        request_token="t-suk",  # noqa: S106
    )
    withdrawal = withdrawals.request_withdrawal(
        member,
        50_000,
        by_user=member.user,
        request_token="t-wd",  # noqa: S106
    )
    db.session.commit()

    login_as(user=pengurus)
    page = client.get("/pengurus/beranda")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    counts = _counts(html)
    assert counts["applications"] == 2
    assert counts["withdrawals"] == 1
    assert "payments_flagged" not in counts  # the bendahara's, not the ketua's
    assert 'href="/pengurus/pendaftaran"' in html and 'href="/pengurus/simpanan/penarikan"' in html
    assert client.get("/beranda").headers["Location"] == "/pengurus/beranda"

    withdrawals.reject_withdrawal(withdrawal, bendahara, "Uji")
    db.session.commit()
    assert _counts(client.get("/pengurus/beranda").get_data(as_text=True))["withdrawals"] == 0

    login_as(user=bendahara)
    assert "payments_flagged" in _counts(client.get("/pengurus/beranda").get_data(as_text=True))
    login_as("pengawas")
    counts = _counts(client.get("/pengurus/beranda").get_data(as_text=True))
    assert "applications" not in counts and "withdrawals" not in counts
    login_as("anggota")
    assert client.get("/pengurus/beranda").status_code == 403


def test_every_todo_counter_counts_on_an_empty_cooperative(app, db):  # noqa: ARG001
    with app.test_request_context():
        for key, _label, _endpoint, _roles, count in get_registry(app).todo_sources:
            assert count() == 0, key
