"""Issue 16, item 5: every number of the AD is bounded; the leavers' SHU setting is explicit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from members.ad.config import ADConfig, Ratio
from members.ad.validation import GROUP_BOUNDS, TOP_BOUNDS, validate_ad


def _fields(config: ADConfig) -> dict[str, str]:
    return dict(validate_ad(config))


def test_an_older_stored_version_without_the_leavers_settings_reads_the_defaults():
    payload = ADConfig().to_payload()
    del payload["leavers_get_jasa_modal"], payload["leavers_get_jasa_usaha"]
    ad = ADConfig.from_payload(payload)
    assert ad.leavers_get_jasa_modal is True and ad.leavers_get_jasa_usaha is True
    other = ADConfig().to_payload()
    del other["notice_period_days"]
    with pytest.raises(Exception, match="notice_period_days"):
        ADConfig.from_payload(other)


def test_excluding_leavers_while_giving_them_jasa_is_refused():
    problems = _fields(replace(ADConfig(), exited_members="exclude"))
    assert "tidak mendapat jasa modal maupun jasa usaha" in problems["exited_members"]
    ok = replace(
        ADConfig(),
        exited_members="exclude",
        leavers_get_jasa_modal=False,
        leavers_get_jasa_usaha=False,
    )
    assert validate_ad(ok) == []


@pytest.mark.parametrize("name", sorted(GROUP_BOUNDS))
def test_every_group_number_has_both_bounds(name):
    low, high, _unit = GROUP_BOUNDS[name]
    groups = ADConfig().groups
    for bad in (low - 1, high + 1):
        config = replace(ADConfig(), groups=(replace(groups[0], **{name: bad}), *groups[1:]))
        assert f"groups.pengemudi.{name}" in _fields(config), (name, bad)


@pytest.mark.parametrize("name", sorted(TOP_BOUNDS))
def test_every_ad_number_has_both_bounds(name):
    low, high, _unit = TOP_BOUNDS[name]
    for bad in (low - 1, high + 1):
        assert name in _fields(replace(ADConfig(), **{name: bad})), (name, bad)


@pytest.mark.parametrize(
    ("name", "ratio", "path"),
    [
        ("quorum", Ratio(0, 0, True), "quorum"),
        ("quorum", Ratio(1, 0, True), "quorum"),
        ("quorum", Ratio(3, 2, True), "quorum"),
        ("quorum", Ratio(0, 1, False), "quorum.numerator"),
        ("quorum", Ratio(1, 10**9, True), "quorum.denominator"),
        ("ordinary_threshold", Ratio(1, 3, True), "ordinary_threshold.numerator"),
        ("special_threshold", Ratio(-1, 2, True), "special_threshold"),
    ],
)
def test_ratios_are_bounded(name, ratio, path):
    assert path in _fields(replace(ADConfig(), **{name: ratio}))
