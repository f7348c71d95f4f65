"""Helpers for the membership tests (not a test module)."""

from __future__ import annotations

import itertools

from kmp.extensions import db
from members.register import admission as register_admission
from members.register import services as register_services
from members.savings import deposits as savings_deposits

_counter = itertools.count(1)


def valid_nik(n: int | None = None, *, female: bool = False) -> str:
    """A structurally valid NIK: Jakarta Selatan, born 15 May 1990, serial ``n``."""
    n = next(_counter) if n is None else n
    day = 55 if female else 15
    return f"317401{day:02d}0590{n % 10000 or 1:04d}"


def phone(n: int) -> str:
    return f"0812{n:08d}"


def apply_member(n: int, group: str = "pengemudi", **overrides):
    data = {
        "group_code": group,
        "full_name": f"Anggota Uji {n}",
        "nik": valid_nik(n),
        "phone": phone(n),
        "password": "rahasia-12345",
        "consent": True,
        "address": "Jl. Uji No. 1",
        "platform": "gojek" if group in ("pengemudi", "kurir") else None,
        "platform_worker_id": f"W-{n}" if group in ("pengemudi", "kurir") else None,
    }
    data.update(overrides)
    member = register_services.apply_individual(register_services.IndividualApplication(**data))
    db.session.commit()
    return member


def pay_pokok(member, bendahara, amount: int | None = None, token: str | None = None):
    amount = amount or register_admission.pokok_status(member).remaining_idr
    receipt = savings_deposits.record_receipt(
        member,
        purpose="pokok",
        amount_idr=amount,
        method="cash",
        by_user=bendahara,
        request_token=token or register_services.new_request_token(),
    )
    db.session.commit()
    return receipt


def admit(member, bendahara, pengurus):
    pay_pokok(member, bendahara)
    register_admission.approve_member(member, pengurus)
    db.session.commit()
    return member


def form_post(client, csrf_token, path, data, get_path=None, **kwargs):
    token = csrf_token(get_path or path)
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)
