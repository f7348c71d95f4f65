"""The wiring is visible and complete: every declared signal has a receiver, every registry
entry points at something, and no feature keeps a free-form ``app.extensions["kmp_..."]`` key."""

from __future__ import annotations

import pathlib
import re

import pytest

from kmp import signals
from kmp.registry import check_wiring, get_registry

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_signal_has_a_receiver_and_every_entry_points_somewhere(app):
    assert check_wiring(app) == []


def test_question_signals_have_exactly_one_receiver(app):  # noqa: ARG001
    for name in signals.QUESTIONS:
        assert len(signals.declared()[name].receivers) == 1, name


def test_an_unanswered_question_fails_loudly():
    lonely = signals._signals.signal("test-lonely-question")
    with pytest.raises(signals.UnansweredSignal):
        signals.ask(lonely, None)


def test_check_wiring_reports_a_dangling_entry(app):
    from kmp.templating import NavItem

    registry = get_registry(app)
    registry.nav.append(NavItem("nowhere.page", "x", ()))
    try:
        assert "navigation entry 'nowhere.page' has no view" in check_wiring(app)
    finally:
        registry.nav.pop()


@pytest.mark.nodb
def test_no_free_form_extension_keys_outside_the_registry():
    pattern = re.compile(r"""extensions(\[|\.get\(|\.setdefault\()["']kmp_""")
    offenders = []
    for folder in ("kmp", "members", "governance", "payouts", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "registry.py" or path == pathlib.Path(__file__):
                continue
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.nodb
def test_no_feature_module_over_700_lines_and_members_holds_packages_only():
    too_long = []
    for folder in ("members", "governance", "payouts"):
        for path in (ROOT / folder).rglob("*.py"):
            lines = path.read_text(encoding="utf-8").count("\n")
            if lines > 700:
                too_long.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert too_long == []
    loose = [p.name for p in (ROOT / "members").glob("*.py") if p.name != "__init__.py"]
    assert loose == [], "members/ holds sub-feature packages only"
