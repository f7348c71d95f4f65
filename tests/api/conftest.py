"""Fixtures for the partner API tests: two active platform companies, active workers, keys."""

from __future__ import annotations

import itertools

import pytest

from kmp.api import SCOPES
from kmp.extensions import db
from members.partners import keys as partners_keys
from members.partners import links as partners_links
from members.register import services as register_services
from tests.integration.members_support import admit, apply_member

_n = itertools.count(500)


def make_company(n: int, name: str, bendahara, pengurus):
    company = register_services.apply_company(
        register_services.CompanyApplication(
            company_name=name,
            nib=f"91200012345{n:02d}",
            npwp="012345678901000",
            address="Jl. Sudirman 1",
            representative_name=f"Perwakilan {n}",
            representative_nik=f"31740158068600{n:02d}",
            representative_phone=f"08127000{n:04d}",
            password="rahasia-12345",
            consent=True,
            email=f"rep{n}@company.example",
            platform="gojek",
        )
    )
    db.session.commit()
    return admit(company, bendahara, pengurus)


class World:
    def __init__(self, make_user):
        self.bendahara = make_user("bendahara", "pengurus")
        self.pengurus = make_user("pengurus")
        self.company = make_company(1, "PT Ojek Nusantara", self.bendahara, self.pengurus)
        self.other = make_company(2, "PT Kurir Kilat", self.bendahara, self.pengurus)

    def worker(self, *, link_to=None, active=True):
        n = next(_n)
        member = apply_member(n)
        if active:
            admit(member, self.bendahara, self.pengurus)
        if link_to is not None:
            partners_links.link_worker(member, link_to, None)
            db.session.commit()
        return member

    def key(self, company=None, scopes=SCOPES) -> str:
        _row, full = partners_keys.create_api_key(
            company or self.company, name="integrasi", scopes=list(scopes), by_user=self.pengurus
        )
        db.session.commit()
        return full


@pytest.fixture
def world(make_user):
    return World(make_user)


class Api:
    def __init__(self, client, key):
        self.client, self.key = client, key

    def _headers(self):
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def get(self, path, **kwargs):
        return self.client.get(path, headers=self._headers(), **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.client.post(path, json=json, headers=self._headers(), **kwargs)


@pytest.fixture
def api(client):
    def make(key):
        return Api(client, key)

    return make
