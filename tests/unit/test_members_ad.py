import copy

import pytest

from members.ad.config import ADConfig, ADInvalid, Ratio, diff_payloads
from members.ad.validation import ensure_valid, validate_ad

DEFAULT = ADConfig().to_payload()


def _group(payload, code):
    return next(g for g in payload["groups"] if g["code"] == code)


def test_defaults_are_exactly_domain_md():
    ad = ensure_valid(ADConfig())
    assert [(g.code, g.vote_weight_bp, g.shu_weight_bp) for g in ad.groups] == [
        ("pengemudi", 3500, 3500),
        ("kurir", 2500, 2500),
        ("pengguna", 2000, 2000),
        ("platform", 2000, 2000),
    ]
    assert [(g.code, g.pokok_idr, g.wajib_idr) for g in ad.groups] == [
        ("pengemudi", 100_000, 25_000),
        ("kurir", 100_000, 25_000),
        ("pengguna", 100_000, 25_000),
        ("platform", 10_000_000, 1_000_000),
    ]
    assert [g.member_no_prefix for g in ad.groups] == ["DRV", "KUR", "PGN", "PLT"]
    assert [g.patronage_measure for g in ad.groups] == [
        "trips",
        "deliveries",
        "spend_idr",
        "contribution_idr",
    ]
    assert ad.group("platform").is_company and ad.group("platform").is_extraordinary
    assert ad.allocation_pairs() == (
        ("cadangan", 4000),
        ("jasa_anggota", 4000),
        ("dana_pengurus", 500),
        ("dana_karyawan", 500),
        ("dana_pendidikan", 500),
        ("dana_sosial", 500),
    )
    assert (ad.jasa_modal_bp, ad.jasa_usaha_bp) == (3750, 6250)
    assert ad.quorum == Ratio(1, 2, True) and ad.quorum_per_group
    assert ad.ordinary_threshold == Ratio(1, 2, True)
    assert ad.special_threshold == Ratio(2, 3, False)
    assert ad.max_wajib_arrears_months == 3 and ad.rat_deadline_months == 6
    assert ad.require_certified_officers is True
    assert ad.capital_basis == "year_end"


def test_payload_round_trip():
    assert ADConfig.from_payload(copy.deepcopy(DEFAULT)) == ADConfig()


def _mutated(fn):
    payload = copy.deepcopy(DEFAULT)
    fn(payload)
    return ADConfig.from_payload(payload)


def _deactivate_all_but_one(p):
    for g in p["groups"][1:]:
        g["is_active"] = False
    p["groups"][0]["vote_weight_bp"] = 4000


CASES = {
    "fewer than 2 active groups": (_deactivate_all_but_one, "groups", "paling sedikit 2"),
    "vote weights not 10000": (
        lambda p: _group(p, "kurir").update(vote_weight_bp=2000),
        "groups.vote_weight_bp",
        "bobot suara",
    ),
    "a vote weight of 5000": (
        lambda p: (
            _group(p, "pengemudi").update(vote_weight_bp=5000),
            _group(p, "kurir").update(vote_weight_bp=1000),
        ),
        "groups.pengemudi.vote_weight_bp",
        "kurang dari 5.000",
    ),
    "SHU weights not 10000": (
        lambda p: _group(p, "pengguna").update(shu_weight_bp=2100),
        "groups.shu_weight_bp",
        "bobot SHU",
    ),
    "allocation not 10000": (
        lambda p: p["shu_allocation"][5].update(bp=1000),
        "shu_allocation",
        "10.000 bp",
    ),
    "modal + usaha not 10000": (
        lambda p: p.update(jasa_modal_bp=4000),
        "jasa_modal_bp",
        "jasa modal + jasa usaha",
    ),
    "negative pokok": (
        lambda p: _group(p, "kurir").update(pokok_idr=-1),
        "groups.kurir.pokok_idr",
        "negatif",
    ),
    "negative wajib": (
        lambda p: _group(p, "pengguna").update(wajib_idr=-5),
        "groups.pengguna.wajib_idr",
        "negatif",
    ),
    "duplicate group codes": (
        lambda p: p["groups"][1].update(code="pengemudi"),
        "groups[1].code",
        "lebih dari sekali",
    ),
    "duplicate number prefixes": (
        lambda p: _group(p, "kurir").update(member_no_prefix="DRV"),
        "groups.kurir.member_no_prefix",
        "sudah dipakai",
    ),
    "duplicate allocation keys": (
        lambda p: p["shu_allocation"][5].update(key="dana_karyawan"),
        "shu_allocation[5].key",
        "lebih dari sekali",
    ),
    "no reserve line": (
        lambda p: p["shu_allocation"][0].update(key="cadangan_umum"),
        "shu_allocation",
        "'cadangan'",
    ),
    "unknown patronage measure": (
        lambda p: _group(p, "kurir").update(patronage_measure="hours"),
        "groups.kurir.patronage_measure",
        "ukuran jasa usaha",
    ),
    "term longer than the law": (
        lambda p: p.update(officer_term_max_years=6),
        "officer_term_max_years",
        "5 tahun",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_each_rule_refuses_naming_the_field(case):
    mutate, field, words = CASES[case]
    config = _mutated(mutate)
    problems = validate_ad(config)
    fields = [f for f, _ in problems]
    assert field in fields, problems
    message = dict(problems)[field]
    assert words in message
    with pytest.raises(ADInvalid) as caught:
        ensure_valid(config)
    assert caught.value.message.startswith(fields[0] + ":")
    assert caught.value.problems == problems


def test_inactive_groups_do_not_count_towards_the_weights():
    payload = copy.deepcopy(DEFAULT)
    payload["groups"].append(
        {
            **_group(payload, "kurir"),
            "code": "ojek_pangkalan",
            "member_no_prefix": "OJP",
            "is_active": False,
            "vote_weight_bp": 9000,
        }
    )
    assert validate_ad(ADConfig.from_payload(payload)) == []


@pytest.mark.parametrize(
    ("payload_change", "field"),
    [
        (lambda p: p.update(surprise=1), "surprise"),
        (lambda p: p.pop("quorum"), "quorum"),
        (lambda p: p["groups"][0].update(pokok_idr="100000"), "groups.pengemudi.pokok_idr"),
        (lambda p: p["groups"][0].update(pokok_idr=1.5), "groups.pengemudi.pokok_idr"),
        (lambda p: p["groups"][0].update(is_active="yes"), "groups.pengemudi.is_active"),
        (lambda p: p["quorum"].update(numerator=True), "quorum.numerator"),
        (lambda p: p["groups"][1].update(colour="red"), "groups.kurir.colour"),
    ],
)
def test_payload_shape_is_checked(payload_change, field):
    payload = copy.deepcopy(DEFAULT)
    payload_change(payload)
    with pytest.raises(ADInvalid) as caught:
        ADConfig.from_payload(payload)
    assert field in [f for f, _ in caught.value.problems]


def test_ratios_are_exact():
    two_thirds = Ratio(2, 3, strict=False)
    assert two_thirds.passes(2, 3) and two_thirds.passes(67, 100)
    assert not two_thirds.passes(6666, 10000)
    half = Ratio(1, 2, strict=True)
    assert not half.passes(50, 100) and half.passes(51, 100)
    assert not half.passes(0, 0)
    assert two_thirds.bp == 6667 and half.bp == 5000
    assert half.describe() == "lebih dari 1/2"


def test_diff_names_each_change():
    new = copy.deepcopy(DEFAULT)
    _group(new, "kurir")["vote_weight_bp"] = 2000
    _group(new, "pengguna")["vote_weight_bp"] = 2500
    new["special_threshold"]["numerator"] = 3
    new["special_threshold"]["denominator"] = 4
    lines = {(d.path, d.old, d.new) for d in diff_payloads(DEFAULT, new)}
    assert lines == {
        ("groups.kurir.vote_weight_bp", 2500, 2000),
        ("groups.pengguna.vote_weight_bp", 2000, 2500),
        ("special_threshold.numerator", 2, 3),
        ("special_threshold.denominator", 3, 4),
    }
    added = diff_payloads(None, DEFAULT)
    assert all(d.kind == "added" for d in added)


# --------------------------------------------------------------------------- the competence rule


def test_competence_rules_default_and_an_older_version_without_them():
    from members.ad.competence import DEFAULT_COMPETENCE_RULES

    ad = ADConfig()
    assert [r.role for r in ad.competence_rules] == [
        "pengurus",
        "pengawas",
        "manager",
        "loan_officer",
    ]
    assert all(r.grace_days == 0 and r.schemes for r in ad.competence_rules)
    payload = ad.to_payload()
    assert payload["competence_rules"][0] == {
        "role": "pengurus",
        "schemes": ["Pengurus Koperasi"],
        "grace_days": 0,
    }
    del payload["competence_rules"]  # a version stored before the rule existed
    assert ADConfig.from_payload(payload).competence_rules == DEFAULT_COMPETENCE_RULES
    assert ADConfig.from_payload(ad.to_payload()) == ad


@pytest.mark.parametrize(
    ("rules", "path", "text"),
    [
        ([{"role": "ketua", "schemes": ["X"], "grace_days": 0}], "competence_rules[0].role", ""),
        (
            [{"role": "pengurus", "schemes": [], "grace_days": 0}] * 2,
            "competence_rules.pengurus",
            "lebih dari satu",
        ),
        (
            [{"role": "pengurus", "schemes": ["A", " a "], "grace_days": 0}],
            "competence_rules.pengurus.schemes",
            "dua kali",
        ),
        (
            [{"role": "pengawas", "schemes": ["A"], "grace_days": -1}],
            "competence_rules.pengawas.grace_days",
            "negatif",
        ),
        (
            [{"role": "pengawas", "schemes": ["A"], "grace_days": 366}],
            "competence_rules.pengawas.grace_days",
            "365",
        ),
    ],
)
def test_competence_rules_are_validated(rules, path, text):
    payload = ADConfig().to_payload()
    payload["competence_rules"] = rules
    problems = validate_ad(ADConfig.from_payload(payload))
    assert any(p == path and text in m for p, m in problems), problems


@pytest.mark.parametrize(
    "rules",
    [
        "pengurus",
        [{"role": "pengurus"}],
        [{"role": 1, "schemes": [], "grace_days": 0}],
        [{"role": "pengurus", "schemes": "A", "grace_days": 0}],
        [{"role": "pengurus", "schemes": [], "grace_days": "30"}],
        [{"role": "pengurus", "schemes": [], "grace_days": 0, "extra": 1}],
    ],
)
def test_competence_rules_of_the_wrong_shape_are_refused(rules):
    payload = ADConfig().to_payload()
    payload["competence_rules"] = rules
    with pytest.raises(ADInvalid) as refused:
        ADConfig.from_payload(payload)
    assert refused.value.problems[0][0].startswith("competence_rules")
