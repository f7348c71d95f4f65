"""Pure pieces of the SHU feature: the state machine, percentages on the slip, the SVG chart."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from payouts.explain import _pct
from payouts.models import RUN_TRANSITIONS, RunStatus
from payouts.reports import bar_chart_svg, rp


def test_state_machine_has_no_way_back_after_approval():
    assert RUN_TRANSITIONS[RunStatus.APPROVED] == {RunStatus.POSTED}
    assert RUN_TRANSITIONS[RunStatus.POSTED] == {RunStatus.PAID}
    assert not RUN_TRANSITIONS[RunStatus.PAID]
    assert not RUN_TRANSITIONS[RunStatus.CANCELLED]
    for status in (RunStatus.APPROVED, RunStatus.POSTED, RunStatus.PAID):
        assert RunStatus.CANCELLED not in RUN_TRANSITIONS[status]
        assert RunStatus.COMPUTED not in RUN_TRANSITIONS[status]


def test_pct_examples():
    assert _pct(1, 3) == "33,33"
    assert _pct(2, 3) == "66,67"
    assert _pct(1, 1) == "100,00"
    assert _pct(0, 5) == "0,00"
    assert _pct(5, 0) == "0"


@given(st.integers(0, 10**12), st.integers(1, 10**12))
def test_pct_is_the_exact_share_rounded_half_up(part, whole):
    part = min(part, whole)
    text = _pct(part, whole)
    units, hundredths = text.split(",")
    shown = Fraction(int(units) * 100 + int(hundredths), 100)
    exact = Fraction(part * 100, whole)
    assert abs(shown - exact) <= Fraction(1, 200)


def test_chart_is_plain_svg_without_styles_or_scripts():
    svg = bar_chart_svg([("Cadangan <x>", 4_000), ("Jasa anggota", 2_000), ("Nol", 0)], title="T&T")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "style=" not in svg and "<script" not in svg
    assert "Cadangan &lt;x&gt;" in svg and "T&amp;T" in svg
    assert rp(4_000) in svg
    # the biggest value gets the widest bar
    assert 'width="210"' in svg


def test_rp_uses_indonesian_thousands():
    assert rp(1_234_567) == "Rp 1.234.567"
