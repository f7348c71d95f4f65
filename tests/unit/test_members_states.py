import pytest

from kmp.errors import IllegalTransition
from members.register.states import TRANSITIONS, MemberStatus, check_transition

S = MemberStatus

LEGAL = [
    (S.APPLIED, S.APPROVED, {}),
    (S.APPLIED, S.REJECTED, {"reason": "data tidak lengkap"}),
    (S.APPLIED, S.WITHDRAWN, {}),
    (S.APPROVED, S.ACTIVE, {"pokok_paid": True}),
    (S.APPROVED, S.WITHDRAWN, {}),
    (S.ACTIVE, S.EXIT_REQUESTED, {}),
    (S.ACTIVE, S.DECEASED, {}),
    (S.EXIT_REQUESTED, S.EXITED, {}),
    (S.EXIT_REQUESTED, S.ACTIVE, {}),
    (S.EXIT_REQUESTED, S.DECEASED, {}),
    (S.DECEASED, S.EXITED, {}),
]


@pytest.mark.parametrize(("current", "target", "guards"), LEGAL)
def test_legal_moves(current, target, guards):
    assert check_transition(current, target, **guards) is target


def test_every_other_move_is_illegal_with_a_clear_message():
    legal = {(c, t) for c, t, _ in LEGAL}
    for current in S:
        for target in S:
            if (current, target) in legal:
                continue
            with pytest.raises(IllegalTransition) as caught:
                check_transition(current, target, reason="x", pokok_paid=True)
            assert current.label in caught.value.message
            assert target.label in caught.value.message
            assert caught.value.code == "illegal_member_transition"


def test_activating_a_rejected_application_is_refused():
    with pytest.raises(IllegalTransition, match="'ditolak' menjadi 'aktif'"):
        check_transition("rejected", "active", pokok_paid=True)


def test_activation_needs_pokok_fully_paid():
    with pytest.raises(IllegalTransition, match="simpanan pokok lunas") as caught:
        check_transition(S.APPROVED, S.ACTIVE, pokok_paid=False)
    assert caught.value.code == "pokok_not_paid"


def test_applied_cannot_skip_approval():
    with pytest.raises(IllegalTransition):
        check_transition(S.APPLIED, S.ACTIVE, pokok_paid=True)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_rejection_needs_a_reason(reason):
    with pytest.raises(IllegalTransition, match="Alasan penolakan") as caught:
        check_transition(S.APPLIED, S.REJECTED, reason=reason)
    assert caught.value.field == "reason"


def test_terminal_states_have_no_way_out():
    for status in (S.REJECTED, S.WITHDRAWN, S.EXITED):
        assert TRANSITIONS[status] == frozenset()
