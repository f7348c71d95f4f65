"""Pure governance helpers: census fingerprint, receipts, change tokens, RAT deadline, JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from fractions import Fraction

import pytest

from governance import logic
from governance.seats import tally_election
from governance.tally import GroupInput, tally_proposal


def test_census_fingerprint_is_sha256_of_sorted_lines():
    entries = [("KUR-2026-000002", "kurir"), ("DRV-2026-000001", "pengemudi")]
    expected = hashlib.sha256(b"DRV-2026-000001|pengemudi\nKUR-2026-000002|kurir\n").hexdigest()
    assert logic.census_fingerprint(entries) == expected
    assert logic.census_fingerprint(reversed(entries)) == expected
    assert logic.census_fingerprint([]) == hashlib.sha256(b"").hexdigest()
    changed = [("KUR-2026-000002", "pengguna"), ("DRV-2026-000001", "pengemudi")]
    assert logic.census_fingerprint(changed) != expected


def test_receipt_codes_are_random_and_normalised():
    codes = {logic.new_receipt_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        assert len(code) == 14 and code[4] == code[9] == "-"
        assert set(code.replace("-", "")) <= set(logic.RECEIPT_ALPHABET)
        assert logic.normalise_receipt_code(code.lower().replace("-", " ")) == code
    assert logic.normalise_receipt_code("o1l2-3456-789a") == "0112-3456-789A"
    assert logic.normalise_receipt_code("ABCD-EFGH-JKU1") is None  # U is not in the alphabet
    assert logic.normalise_receipt_code("short") is None
    assert logic.normalise_receipt_code(None) is None


def test_change_token_depends_on_secret_member_and_proposal():
    token = logic.change_token("s3cret", 7, 42)
    assert token == logic.change_token(b"s3cret", 7, 42)
    assert token != logic.change_token("other", 7, 42)
    assert token != logic.change_token("s3cret", 8, 42)
    assert token != logic.change_token("s3cret", 7, 43)
    assert logic.change_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert logic.change_hash(token) != token


@pytest.mark.parametrize(
    ("held", "today", "status"),
    [
        (dt.date(2026, 6, 30), dt.date(2026, 7, 1), "on_time"),
        (dt.date(2026, 7, 1), dt.date(2026, 7, 2), "late"),
        (None, dt.date(2026, 7, 1), "overdue"),
        (None, dt.date(2026, 5, 1), "due_soon"),
        (None, dt.date(2026, 4, 30), "pending"),
    ],
)
def test_rat_status(held, today, status):
    assert logic.rat_deadline(2025) == dt.date(2026, 6, 30)
    assert logic.rat_warning_from(2025) == dt.date(2026, 5, 1)
    assert logic.rat_status(2025, held, today) == status


def test_rat_deadline_other_settings():
    assert logic.rat_deadline(2025, 5) == dt.date(2026, 5, 31)
    assert logic.rat_deadline(2025, 1) == dt.date(2026, 1, 31)


def test_fraction_round_trip_and_percent():
    assert logic.frac(Fraction(2, 3)) == "2/3"
    assert logic.unfrac("2/3") == Fraction(2, 3)
    assert logic.frac(None) is None and logic.unfrac(None) is None
    assert logic.percent("2/3") == "66,67 %"
    assert logic.percent(Fraction(1, 2)) == "50,00 %"
    assert logic.percent(None) == "–"


def test_proposal_result_json_is_exact_and_serialisable():
    groups = [
        GroupInput("pengemudi", 3500, 10, {"yes": 2, "no": 6, "abstain": 1}),
        GroupInput("kurir", 2500, 4, {"yes": 3}),
    ]
    result = tally_proposal(groups, ("yes", "no", "abstain"))
    data = logic.proposal_result_json(result)
    assert json.loads(json.dumps(data)) == data
    assert logic.unfrac(data["weighted_yes_share"]) == result.weighted_yes_share
    assert logic.unfrac(data["plain_yes_share"]) == Fraction(5, 11)
    assert data["turnout"] == "6/7"
    assert data["groups"][0]["counts"] == {"yes": 2, "no": 6, "abstain": 1}
    assert data["passed"] is result.passed


def test_election_result_json():
    groups = [GroupInput("a", 6000, 3, {"x": 2, "y": 1}), GroupInput("b", 4000, 2, {"z": 2})]
    result = tally_election(groups, ["x", "y", "z"], 2, {"b": 1}, {"x": "a", "y": "a", "z": "b"})
    data = logic.election_result_json(result)
    assert json.loads(json.dumps(data)) == data
    assert data["weighted"]["elected"] == list(result.weighted.elected)
    assert data["weighted"]["reserved"]["b"]["filled"] == 1


def test_reason_labels():
    assert logic.reason_label("quorum_not_met") == "Kuorum keseluruhan tidak tercapai"
    assert logic.reason_label("group_quorum_not_met:kurir").endswith("(kurir)")
    assert logic.reason_label("something_new") == "something_new"


def test_bar_chart_geometry():
    chart = logic.bar_chart([("Setuju", Fraction(1), Fraction(1, 2)), ("Tidak", None, None)])
    first, second = chart["bars"]
    assert first["weighted_width"] == 2 * first["plain_width"] or (
        abs(first["weighted_width"] - 2 * first["plain_width"]) <= 1
    )
    assert second["weighted_width"] == second["plain_width"] == 0
    assert chart["height"] > second["y"]
