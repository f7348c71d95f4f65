"""Issue 16, must-show 6: every field of the AD editor, posted with bad values (empty, text,
negative, zero, 0/0, 1/0, 3/2, huge, percent), gets a 4xx or a message -- never a 5xx -- and
no new AD version is written. Values that are a legitimate setting for a field (a zero where
the AD allows one) must come back as a clean preview instead; the table says which."""

from __future__ import annotations

import copy
import re

import pytest
from sqlalchemy import func, select

from kmp.extensions import db
from members.ad.config import ADConfig
from members.ad.models import ADVersion
from tests.integration.test_members_ad import ad_form_data

BAD = ("", "abc", "-1", "0", "0/0", "1/0", "3/2", "99999999999999999999", "50%")

#: (form field, values that are a valid setting for it). A checkbox has no bad value of
#: these kinds (anything sent means "on"), so checkboxes are left out; select fields are in.
GROUP_FIELDS = {
    "code": ("abc",),  # a new code for a group without members is a valid rename
    "name_id": ("abc", "-1", "0", "0/0", "1/0", "3/2", "99999999999999999999", "50%"),
    "name_en": ("abc", "-1", "0", "0/0", "1/0", "3/2", "99999999999999999999", "50%"),
    "kind": (),
    "member_no_prefix": (),
    "pokok_idr": (),
    "wajib_idr": (),
    "vote_weight_bp": (),
    "shu_weight_bp": (),
    "patronage_measure": (),
    "pengurus_seats": ("0",),
    "pengawas_seats": ("0",),
}
ALLOCATION_FIELDS = {"key": (), "bp": ()}
TOP_FIELDS = {
    "jasa_modal_bp": (),
    "jasa_usaha_bp": (),
    "capital_basis": (),
    "exited_members": (),
    "leavers_get_jasa_modal": None,  # checkboxes
    "leavers_get_jasa_usaha": None,
    "quorum-numerator": (),
    "quorum-denominator": (),
    "ordinary_threshold-numerator": (),
    "ordinary_threshold-denominator": (),
    "special_threshold-numerator": (),
    "special_threshold-denominator": (),
    "max_wajib_arrears_months": ("0",),
    "notice_period_days": (),
    "rat_deadline_months": (),
    "rat_warning_months": ("0",),
    "distribution_date": (),
    "certificate_warning_days": ("0",),
    "officer_term_max_years": (),
}
#: Ratios as pairs: numerator/denominator sent together.
RATIO_PAIRS = [("0", "0"), ("1", "0"), ("3", "2"), ("-1", "2"), ("1", "-2"), ("0", "1")]
RATIO_OK = {"ordinary_threshold": (), "special_threshold": (), "quorum": ()}


def _base():
    return copy.deepcopy(ADConfig().to_payload())


def _post(client, token, data):
    return client.post("/admin/ad/ubah", data={**data, "csrf_token": token, "action": "preview"})


def _versions() -> int:
    return db.session.scalar(select(func.count()).select_from(ADVersion))


_MESSAGE = re.compile(r'data-testid="ad-errors"|class="field-error|class="error')


def _refused(response) -> bool:
    html = response.get_data(as_text=True)
    return 400 <= response.status_code < 500 or bool(_MESSAGE.search(html))


def test_every_field_with_every_bad_value(client, login_as, csrf_token):
    login_as("admin")
    token = csrf_token("/admin/ad/ubah")
    base = ad_form_data(_base())
    failures = []
    cases = []
    for index in (0, 3):  # an individual group and the platform companies' group
        for name, ok in GROUP_FIELDS.items():
            cases.append((f"groups-{index}-{name}", ok))
    for name, ok in ALLOCATION_FIELDS.items():
        cases.append((f"shu_allocation-0-{name}", ok))
    for name, ok in TOP_FIELDS.items():
        if ok is not None:
            cases.append((name, ok))
    for field, ok in cases:
        for value in BAD:
            response = _post(client, token, {**base, field: value})
            if response.status_code >= 500:
                failures.append(f"{field}={value!r}: {response.status_code}")
            elif value in ok:
                if response.status_code != 200 or 'data-testid="ad-errors"' in response.text:
                    failures.append(f"{field}={value!r} is valid but was refused")
            elif not _refused(response):
                failures.append(f"{field}={value!r}: accepted without a message")
    for ratio in RATIO_OK:
        for numerator, denominator in RATIO_PAIRS:
            data = {
                **base,
                f"{ratio}-numerator": numerator,
                f"{ratio}-denominator": denominator,
            }
            response = _post(client, token, data)
            if response.status_code >= 500:
                failures.append(f"{ratio}={numerator}/{denominator}: {response.status_code}")
            elif not _refused(response):
                failures.append(f"{ratio}={numerator}/{denominator}: accepted without a message")
    assert not failures, "\n".join(failures)
    assert _versions() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("groups-0-pokok_idr", "0", "lebih dari Rp 0"),
        ("groups-0-pokok_idr", "99999999999999999999", "paling banyak"),
        ("groups-1-wajib_idr", "-5", "tidak boleh negatif"),
        ("groups-0-pengurus_seats", "500", "paling banyak"),
        ("quorum-denominator", "0", "penyebut"),
        ("quorum-numerator", "0", "kuorum"),
        ("ordinary_threshold-numerator", "1", "paling sedikit 1/2"),
        ("notice_period_days", "0", "paling sedikit 1 hari"),
        ("max_wajib_arrears_months", "9999", "paling banyak"),
        ("distribution_date", "02-30", "tanggal yang ada"),
        ("distribution_date", "02-29", "tanggal yang ada"),
    ],
)
def test_each_bound_names_its_field(client, login_as, csrf_token, field, value, message):
    login_as("admin")
    token = csrf_token("/admin/ad/ubah")
    data = ad_form_data(_base())
    if field == "ordinary_threshold-numerator":
        data["ordinary_threshold-denominator"] = "3"
        data.pop("ordinary_threshold-strict", None)
    response = client.post(
        "/admin/ad/ubah",
        data={**data, field: value, "csrf_token": token, "action": "save", "reason": "uji"},
    )
    assert response.status_code == 422, response.status_code
    assert message in response.get_data(as_text=True)
    assert _versions() == 1


def test_a_refused_save_writes_nothing_even_with_every_field_bad(client, login_as, csrf_token):
    login_as("admin")
    token = csrf_token("/admin/ad/ubah")
    data = ad_form_data(_base())
    for key in list(data):
        if key not in ("base_version",) and not data[key] == "y":
            data[key] = "1/0"
    response = client.post(
        "/admin/ad/ubah", data={**data, "csrf_token": token, "action": "save", "reason": "x"}
    )
    assert 400 <= response.status_code < 500
    assert _versions() == 1
