"""The versioned AD configuration: default install, updates, refusals, the admin pages."""

import copy

import pytest
from sqlalchemy import func, select

from kmp import errors
from kmp.cli import install_defaults
from kmp.extensions import db
from members.ad import services as ad_services
from members.ad.config import ADConfig, ADInvalid
from members.ad.models import ADVersion
from members.articles import services as articles_services
from tests.integration.members_support import (
    apply_member,
)


def _versions() -> int:
    return db.session.scalar(select(func.count()).select_from(ADVersion))


def _payload(**changes):
    payload = copy.deepcopy(ADConfig().to_payload())
    for code, field, value in changes.pop("groups", []):
        next(g for g in payload["groups"] if g["code"] == code)[field] = value
    payload.update(changes)
    return payload


def test_default_ad_is_installed_once():
    install_defaults()
    install_defaults()
    db.session.commit()
    assert _versions() == 1
    ad = ad_services.current_ad()
    assert ad.version == 1 and ad.version_id is not None
    assert ad.group("pengemudi").pokok_idr == 100_000
    assert ad == ADConfig()


def test_update_creates_a_version_with_who_when_why(make_user):
    admin = make_user("admin")
    new = _payload(groups=[("kurir", "wajib_idr", 30_000)])
    ad = articles_services.update_ad(new, admin, "Keputusan RAT 2026")
    db.session.commit()
    assert ad.version == 2 and ad.group("kurir").wajib_idr == 30_000
    row = db.session.get(ADVersion, ad.version_id)
    assert row.created_by_id == admin.id and row.reason == "Keputusan RAT 2026"
    assert row.created_at is not None
    assert ad_services.current_ad().version == 2
    old_row, old = ad_services.ad_at_version(1)
    assert old.group("kurir").wajib_idr == 25_000


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"groups": [(c, "is_active", False) for c in ("kurir", "pengguna", "platform")]},
            "groups",
        ),
        ({"groups": [("kurir", "vote_weight_bp", 2400)]}, "groups.vote_weight_bp"),
        (
            {"groups": [("pengemudi", "vote_weight_bp", 5000), ("kurir", "vote_weight_bp", 1000)]},
            "groups.pengemudi.vote_weight_bp",
        ),
        ({"groups": [("kurir", "shu_weight_bp", 2600)]}, "groups.shu_weight_bp"),
        ({"jasa_usaha_bp": 6000}, "jasa_modal_bp"),
        ({"groups": [("kurir", "pokok_idr", -100)]}, "groups.kurir.pokok_idr"),
        ({"groups": [("kurir", "code", "pengemudi")]}, "groups[1].code"),
    ],
)
def test_invalid_updates_are_refused_and_write_nothing(make_user, change, field):
    admin = make_user("admin")
    with pytest.raises(ADInvalid) as caught:
        articles_services.update_ad(_payload(**change), admin, "uji")
    db.session.rollback()
    assert field in [f for f, _ in caught.value.problems]
    assert field in caught.value.message or caught.value.message.split(":")[0] in dict(
        caught.value.problems
    )
    assert _versions() == 1


def test_allocation_table_must_sum_to_10000(make_user):
    payload = _payload()
    payload["shu_allocation"][0]["bp"] = 4500
    with pytest.raises(ADInvalid, match="shu_allocation: tabel pembagian SHU"):
        articles_services.update_ad(payload, make_user("admin"), "uji")
    db.session.rollback()
    assert _versions() == 1


def test_reason_required_and_no_op_refused(make_user):
    admin = make_user("admin")
    with pytest.raises(errors.DomainError, match="Alasan"):
        articles_services.update_ad(_payload(notice_period_days=21), admin, "  ")
    with pytest.raises(errors.DomainError, match="Tidak ada perubahan"):
        articles_services.update_ad(_payload(), admin, "sama saja")
    db.session.rollback()
    assert _versions() == 1


def test_a_group_with_members_cannot_be_removed(make_user):
    apply_member(1, group="kurir")
    payload = _payload()
    payload["groups"] = [g for g in payload["groups"] if g["code"] != "kurir"]
    payload["groups"][0]["vote_weight_bp"] = 4900
    payload["groups"][1]["vote_weight_bp"] = 2600
    payload["groups"][0]["shu_weight_bp"] = 4900
    payload["groups"][1]["shu_weight_bp"] = 2600
    payload["groups"][2]["vote_weight_bp"] = 2500
    payload["groups"][2]["shu_weight_bp"] = 2500
    with pytest.raises(ADInvalid, match="kurir' masih punya anggota"):
        articles_services.update_ad(payload, make_user("admin"), "uji")


# --------------------------------------------------------------------------- pages


def ad_form_data(payload, **extra):
    data = {}
    for i, g in enumerate(payload["groups"]):
        for key, value in g.items():
            if isinstance(value, bool):
                if value:
                    data[f"groups-{i}-{key}"] = "y"
            else:
                data[f"groups-{i}-{key}"] = str(value)
    for i, line in enumerate(payload["shu_allocation"]):
        data[f"shu_allocation-{i}-key"] = line["key"]
        data[f"shu_allocation-{i}-bp"] = str(line["bp"])
    for i, rule in enumerate(payload.get("competence_rules", ())):
        data[f"competence_rules-{i}-role"] = rule["role"]
        data[f"competence_rules-{i}-schemes"] = "; ".join(rule["schemes"])
        data[f"competence_rules-{i}-grace_days"] = str(rule["grace_days"])
    for key, value in payload.items():
        if key in ("groups", "shu_allocation", "competence_rules"):
            continue
        if isinstance(value, dict):
            for sub, v in value.items():
                if isinstance(v, bool):
                    if v:
                        data[f"{key}-{sub}"] = "y"
                else:
                    data[f"{key}-{sub}"] = str(v)
        elif isinstance(value, bool):
            if value:
                data[key] = "y"
        else:
            data[key] = str(value)
    data["base_version"] = "1"
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 200),
        ("pengurus", 200),
        ("pengawas", 403),
        ("anggota", 403),
        ("partner", 403),
        ("bendahara", 403),
    ],
)
def test_edit_page_roles(client, login_as, role, status):
    login_as(role)
    assert client.get("/admin/ad/ubah").status_code == status


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("pengurus", 200), ("pengawas", 200), ("anggota", 403), ("partner", 403)],
)
def test_view_and_history_roles(client, login_as, role, status):
    login_as(role)
    assert client.get("/admin/ad").status_code == status
    assert client.get("/admin/ad/riwayat").status_code == status
    assert client.get("/admin/ad/versi/1").status_code == status


def test_edit_page_previews_a_diff_then_saves_a_version(client, login_as, csrf_token):
    user = login_as("pengurus")
    page = client.get("/admin/ad/ubah").get_data(as_text=True)
    assert 'name="groups-0-vote_weight_bp"' in page and 'name="groups-4-code"' in page
    payload = _payload(
        groups=[("kurir", "vote_weight_bp", 2000), ("pengguna", "vote_weight_bp", 2500)]
    )
    token = csrf_token("/admin/ad/ubah")
    response = client.post(
        "/admin/ad/ubah", data=ad_form_data(payload, csrf_token=token, action="preview")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert 'data-testid="ad-diff"' in html
    assert 'data-path="groups.kurir.vote_weight_bp"' in html
    assert 'data-path="groups.pengemudi.vote_weight_bp"' not in html
    assert _versions() == 1

    response = client.post(
        "/admin/ad/ubah",
        data=ad_form_data(payload, csrf_token=token, action="save", reason="Keputusan RAT 2026"),
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/ad/versi/2")
    db.session.expire_all()
    ad = ad_services.current_ad()
    assert ad.version == 2 and ad.group("kurir").vote_weight_bp == 2000
    assert db.session.get(ADVersion, ad.version_id).created_by_id == user.id
    html = client.get("/admin/ad/versi/2").get_data(as_text=True)
    assert 'data-path="groups.kurir.vote_weight_bp"' in html and "Keputusan RAT 2026" in html
    assert "Keputusan RAT 2026" in client.get("/admin/ad/riwayat").get_data(as_text=True)


def test_edit_page_refuses_invalid_configuration(client, login_as, csrf_token):
    login_as("admin")
    payload = _payload(
        groups=[("pengemudi", "vote_weight_bp", 5500), ("kurir", "vote_weight_bp", 500)]
    )
    token = csrf_token("/admin/ad/ubah")
    response = client.post(
        "/admin/ad/ubah", data=ad_form_data(payload, csrf_token=token, action="save", reason="coba")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="ad-errors"' in html
    assert "groups.pengemudi.vote_weight_bp" in html and "kurang dari 5.000 bp" in html
    assert _versions() == 1


def test_edit_page_needs_a_reason_to_save(client, login_as, csrf_token):
    login_as("admin")
    payload = _payload(notice_period_days=21)
    token = csrf_token("/admin/ad/ubah")
    response = client.post(
        "/admin/ad/ubah", data=ad_form_data(payload, csrf_token=token, action="save", reason="")
    )
    assert response.status_code == 422
    assert "Alasan perubahan AD wajib diisi" in response.get_data(as_text=True)
    assert _versions() == 1


def test_edit_page_adds_a_group_from_the_empty_row(client, login_as, csrf_token):
    login_as("admin")
    payload = _payload(
        groups=[("pengemudi", "vote_weight_bp", 3000), ("pengemudi", "shu_weight_bp", 3000)]
    )
    payload["groups"].append(
        {
            **payload["groups"][1],
            "code": "ojek_pangkalan",
            "name_id": "Ojek pangkalan",
            "name_en": "Base ojek",
            "member_no_prefix": "OJP",
            "vote_weight_bp": 500,
            "shu_weight_bp": 500,
        }
    )
    token = csrf_token("/admin/ad/ubah")
    response = client.post(
        "/admin/ad/ubah",
        data=ad_form_data(payload, csrf_token=token, action="save", reason="Kelompok baru"),
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    db.session.expire_all()
    assert ad_services.current_ad().group("ojek_pangkalan").member_no_prefix == "OJP"


def test_edit_page_sets_the_competence_rule(client, login_as, csrf_token):
    """Which office needs which certificate, and the grace period, edited like any setting."""
    login_as("pengurus")
    page = client.get("/admin/ad/ubah").get_data(as_text=True)
    assert 'name="competence_rules-0-schemes"' in page and 'value="Pengurus Koperasi"' in page
    payload = _payload()
    payload["competence_rules"][0] = {
        "role": "pengurus",
        "schemes": ["Pengurus Koperasi", "Manajer Koperasi"],
        "grace_days": 30,
    }
    token = csrf_token("/admin/ad/ubah")
    bad = ad_form_data(payload, csrf_token=token, action="save", reason="RAT 2026")
    bad["competence_rules-1-grace_days"] = "400"
    bad["competence_rules-2-schemes"] = "Manajer Koperasi; manajer  koperasi"
    response = client.post("/admin/ad/ubah", data=bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and _versions() == 1
    assert "paling lama 365 hari" in html and "skema yang sama disebut dua kali" in html
    good = ad_form_data(payload, csrf_token=token, action="save", reason="RAT 2026")
    assert client.post("/admin/ad/ubah", data=good).status_code == 303
    db.session.expire_all()
    rule = ad_services.current_ad().competence_rule("pengurus")
    assert rule.schemes == ("Pengurus Koperasi", "Manajer Koperasi") and rule.grace_days == 30
    version = client.get("/admin/ad/versi/2").get_data(as_text=True)
    assert 'data-path="competence_rules.pengurus.grace_days"' in version
    assert "Pengurus Koperasi; Manajer Koperasi" in client.get("/admin/ad").get_data(as_text=True)


def test_the_ad_kept_for_the_transaction_follows_a_new_version_and_a_rollback(make_user):
    """current_ad() is read once per transaction (issue 25): a version written in the same
    transaction is seen at once, and a rolled-back one is not kept."""
    install_defaults()
    db.session.commit()
    admin = make_user("admin")
    db.session.commit()
    assert ad_services.current_ad().version == 1
    articles_services.update_ad(
        _payload(groups=[("kurir", "wajib_idr", 30_000)]), admin, "Keputusan RAT"
    )
    assert ad_services.current_ad().version == 2  # same transaction, new version
    assert ad_services.current_ad().group("kurir").wajib_idr == 30_000
    db.session.rollback()
    assert ad_services.current_ad().version == 1
    assert ad_services.current_ad().group("kurir").wajib_idr == 25_000


def test_a_page_after_an_ad_change_reads_the_new_version(client, login_as, make_user):
    """The version id read with the login user is dropped when a version is written."""
    from kmp.auth import Role
    from tests.integration.payouts_support import shu_member

    install_defaults()
    user = make_user(Role.ANGGOTA)
    shu_member("kurir", wajib=25_000, trips=1, user=user)
    db.session.commit()
    login_as(user=user)
    before = client.get("/anggota").get_data(as_text=True)
    admin = make_user("admin")
    articles_services.update_ad(
        _payload(groups=[("kurir", "pokok_idr", 150_000)]), admin, "Keputusan RAT"
    )
    db.session.commit()
    page = client.get("/anggota").get_data(as_text=True)
    assert "50.000" not in before.split("balance-pokok")[1][:400]
    assert "50.000" in page.split("balance-pokok")[1][:400]  # the new pokok: "Sisa Rp 50.000"
