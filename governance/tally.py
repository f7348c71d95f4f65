"""tally.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

__all__ = [
    "DEFAULT_QUORUM",
    "SIMPLE_MAJORITY",
    "SUPERMAJORITY",
    "GroupInput",
    "GroupRow",
    "ProposalResult",
    "TallyError",
    "format_percent",
    "meets",
    "tally_proposal",
]


DEFAULT_QUORUM = Fraction(1, 2)


"""Default AD quorum: strictly more than half of the eligible members (decision 6)."""


SIMPLE_MAJORITY = Fraction(1, 2)


"""Default pass threshold: strictly more than 50 % of the weighted valid votes."""


SUPERMAJORITY = Fraction(2, 3)


"""AD amendment, merger, dissolution: at least 2/3 (use with ``threshold_inclusive=True``)."""


# Machine-readable reasons. Group-specific ones carry the group code after a colon.
QUORUM_NOT_MET = "quorum_not_met"


GROUP_QUORUM_NOT_MET = "group_quorum_not_met"  # + ":<code>"


NO_VALID_VOTES = "no_valid_votes"


THRESHOLD_NOT_REACHED = "threshold_not_reached"


SEATS_TIED = "seats_tied"


RESERVED_SEATS_VACANT = "reserved_seats_vacant"  # + ":<code>"


GENERAL_SEATS_VACANT = "general_seats_vacant"


SeatKind = Literal["reserved", "general"]


class TallyError(ValueError):
    """Input that cannot be tallied (bad counts, unknown options, floats, duplicates...)."""


def _check_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TallyError(f"{what} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise TallyError(f"{what} must not be negative, got {value}")
    return value


def _check_fraction(value: object, what: str) -> Fraction:
    """Accept an ``int`` or a ``Fraction`` in [0, 1]; refuse floats, Decimals and bools."""
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise TallyError(f"{what} must be a Fraction or an int, got {type(value).__name__}")
    result = Fraction(value)
    if not 0 <= result <= 1:
        raise TallyError(f"{what} must lie in [0, 1], got {result}")
    return result


def _check_label(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TallyError(f"{what} must be a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True)
class GroupInput:
    """One member group's raw result from its RA Kelompok.

    ``weight_bp`` is the group's AD vote weight in basis points (positive; the active groups'
    weights normally sum to 10 000 but only their ratios matter). ``eligible`` is the number
    of members whose vote was frozen as eligible when the ballot opened. ``counts`` maps an
    option (or candidate, or the abstain option) to its number of votes; options missing from
    it had no votes. ``counts`` is copied on construction and must be treated as read-only.
    """

    code: str
    weight_bp: int
    eligible: int
    counts: Mapping[str, int] = field(hash=False)

    def __post_init__(self) -> None:
        _check_label(self.code, "group code")
        _check_count(self.weight_bp, f"weight of group {self.code!r}")
        if self.weight_bp == 0:
            raise TallyError(
                f"group {self.code!r} has weight 0; leave groups that do not vote out of the tally"
            )
        _check_count(self.eligible, f"eligible count of group {self.code!r}")
        if not isinstance(self.counts, Mapping):
            raise TallyError(f"counts of group {self.code!r} must be a mapping")
        copied: dict[str, int] = {}
        for option, count in self.counts.items():
            _check_label(option, f"option in group {self.code!r}")
            copied[option] = _check_count(count, f"count of {option!r} in group {self.code!r}")
        if sum(copied.values()) > self.eligible:
            raise TallyError(
                f"group {self.code!r} has {sum(copied.values())} votes "
                f"but only {self.eligible} eligible members"
            )
        object.__setattr__(self, "counts", copied)


@dataclass(frozen=True)
class GroupRow:
    """One group's line in a result.

    ``counts`` lists every option (abstain option included, when there is one) in the order
    the options were given. ``shares`` is ``None`` when the group cast no valid vote;
    otherwise it maps every non-abstain option to ``count / valid``. ``turnout`` is
    ``participants / eligible`` (``None`` when nobody is eligible). ``counted`` says whether
    the group took part in the weighted result, and ``effective_weight`` is its weight
    normalised over the counting groups (0 when not counted).
    """

    code: str
    weight_bp: int
    eligible: int
    participants: int
    valid: int
    counts: Mapping[str, int] = field(hash=False)
    shares: Mapping[str, Fraction] | None = field(hash=False)
    turnout: Fraction | None
    quorum_met: bool
    counted: bool
    effective_weight: Fraction


@dataclass(frozen=True)
class ProposalResult:
    """The tally of a proposal (yes / no / abstain, or any list of options with a yes option).

    ``passed``, ``weighted_shares`` and ``reasons`` are the cooperative's decision (weighted
    RA Paripurna). The ``plain_*`` fields are the one-member-one-vote tally over all valid
    votes, judged by the same quorum and threshold rules. Share mappings are ``None`` when
    no valid vote was cast at all. ``reasons`` is empty exactly when ``passed`` is true.
    """

    groups: tuple[GroupRow, ...]
    options: tuple[str, ...]
    yes_option: str
    abstain_option: str | None
    quorum: Fraction
    quorum_inclusive: bool
    threshold: Fraction
    threshold_inclusive: bool
    require_group_quorum: bool
    total_eligible: int
    total_participants: int
    total_valid: int
    total_counts: Mapping[str, int] = field(hash=False)
    quorum_met: bool
    group_quorums_met: bool
    weighted_shares: Mapping[str, Fraction] | None = field(hash=False)
    weighted_yes_share: Fraction | None
    passed: bool
    reasons: tuple[str, ...]
    plain_shares: Mapping[str, Fraction] | None = field(hash=False)
    plain_yes_share: Fraction | None
    plain_passed: bool
    plain_reasons: tuple[str, ...]


def meets(value: Fraction, bar: Fraction, *, inclusive: bool) -> bool:
    """``value > bar``, or ``value >= bar`` when ``inclusive`` (e.g. "at least 2/3")."""
    return value >= bar if inclusive else value > bar


def format_percent(value: Fraction | int, places: int = 2) -> str:
    """Render a ratio as a percentage with ``places`` decimals, rounding half up exactly.

    ``format_percent(Fraction(2, 3)) == "66.67"``; ``format_percent(Fraction(1, 8)) ==
    "12.50"``; an exact half rounds away from zero: ``Fraction(1, 20000)`` (0.005 %) ->
    ``"0.01"``. Floats are refused with ``TypeError``.
    """
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise TypeError(f"format_percent needs a Fraction or an int, got {type(value).__name__}")
    if isinstance(places, bool) or not isinstance(places, int) or places < 0:
        raise TypeError("places must be a non-negative integer")
    scaled = Fraction(value) * 100 * 10**places
    sign = "-" if scaled < 0 else ""
    magnitude = abs(scaled)
    units = (magnitude.numerator * 2 + magnitude.denominator) // (magnitude.denominator * 2)
    if units == 0:
        sign = ""
    digits = str(units).rjust(places + 1, "0")
    if places == 0:
        return f"{sign}{digits}"
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


@dataclass(frozen=True)
class _Totals:
    rows: tuple[GroupRow, ...]
    valid_options: tuple[str, ...]
    total_eligible: int
    total_participants: int
    total_valid: int
    total_counts: dict[str, int]
    quorum_met: bool
    group_quorums_met: bool
    quorum_reasons: tuple[str, ...]
    weighted_shares: dict[str, Fraction] | None
    plain_shares: dict[str, Fraction] | None


def _tally(
    groups: Iterable[GroupInput],
    options: Sequence[str],
    abstain_option: str | None,
    quorum: Fraction,
    quorum_inclusive: bool,
    require_group_quorum: bool,
) -> _Totals:
    """Shared core: per-group rows, totals, quorums and both kinds of shares."""
    groups = tuple(groups)
    if isinstance(options, str):
        raise TallyError("options must be a sequence of strings, not one string")
    options = tuple(_check_label(o, "option") for o in options)
    if len(set(options)) != len(options):
        raise TallyError("options must be unique")
    if abstain_option is not None:
        _check_label(abstain_option, "abstain option")
        if abstain_option not in options:
            options = (*options, abstain_option)
    valid_options = tuple(o for o in options if o != abstain_option)
    if not valid_options:
        raise TallyError("at least one option other than the abstain option is needed")
    if not groups:
        raise TallyError("at least one group is needed")
    for group in groups:
        if not isinstance(group, GroupInput):
            raise TallyError(f"groups must be GroupInput, got {type(group).__name__}")
        unknown = sorted(set(group.counts) - set(options))
        if unknown:
            raise TallyError(f"group {group.code!r} has votes for unknown options {unknown}")
    codes = [g.code for g in groups]
    if len(set(codes)) != len(codes):
        raise TallyError("group codes must be unique")

    counting_weight = sum(g.weight_bp for g in groups if _valid(g, valid_options) > 0)
    rows: list[GroupRow] = []
    weighted_sum = dict.fromkeys(valid_options, Fraction(0))
    quorum_reasons: list[str] = []
    for g in groups:
        counts = {o: g.counts.get(o, 0) for o in options}
        participants = sum(counts.values())
        valid = _valid(g, valid_options)
        shares = {o: Fraction(counts[o], valid) for o in valid_options} if valid > 0 else None
        turnout = Fraction(participants, g.eligible) if g.eligible > 0 else None
        quorum_met = turnout is not None and meets(turnout, quorum, inclusive=quorum_inclusive)
        if shares is not None:
            for o in valid_options:
                weighted_sum[o] += g.weight_bp * shares[o]
        rows.append(
            GroupRow(
                code=g.code,
                weight_bp=g.weight_bp,
                eligible=g.eligible,
                participants=participants,
                valid=valid,
                counts=counts,
                shares=shares,
                turnout=turnout,
                quorum_met=quorum_met,
                counted=shares is not None,
                effective_weight=(
                    Fraction(g.weight_bp, counting_weight) if shares is not None else Fraction(0)
                ),
            )
        )

    total_eligible = sum(r.eligible for r in rows)
    total_participants = sum(r.participants for r in rows)
    total_valid = sum(r.valid for r in rows)
    total_counts = {o: sum(r.counts[o] for r in rows) for o in options}
    quorum_met = total_eligible > 0 and meets(
        Fraction(total_participants, total_eligible), quorum, inclusive=quorum_inclusive
    )
    if not quorum_met:
        quorum_reasons.append(QUORUM_NOT_MET)
    group_quorums_met = all(r.quorum_met for r in rows)
    if require_group_quorum:
        quorum_reasons.extend(f"{GROUP_QUORUM_NOT_MET}:{r.code}" for r in rows if not r.quorum_met)

    weighted_shares = (
        {o: weighted_sum[o] / counting_weight for o in valid_options}
        if counting_weight > 0
        else None
    )
    plain_shares = (
        {o: Fraction(total_counts[o], total_valid) for o in valid_options}
        if total_valid > 0
        else None
    )
    return _Totals(
        rows=tuple(rows),
        valid_options=valid_options,
        total_eligible=total_eligible,
        total_participants=total_participants,
        total_valid=total_valid,
        total_counts=total_counts,
        quorum_met=quorum_met,
        group_quorums_met=group_quorums_met,
        quorum_reasons=tuple(quorum_reasons),
        weighted_shares=weighted_shares,
        plain_shares=plain_shares,
    )


def _valid(group: GroupInput, valid_options: Sequence[str]) -> int:
    return sum(group.counts.get(o, 0) for o in valid_options)


def _check_flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise TallyError(f"{what} must be a bool")
    return value


def tally_proposal(
    groups: Iterable[GroupInput],
    options: Sequence[str],
    *,
    quorum: Fraction = DEFAULT_QUORUM,
    threshold: Fraction = SIMPLE_MAJORITY,
    threshold_inclusive: bool = False,
    quorum_inclusive: bool = False,
    require_group_quorum: bool = True,
    abstain_option: str | None = "abstain",
    yes_option: str = "yes",
) -> ProposalResult:
    """Tally a proposal and decide it.

    ``options`` are the ballot's options (e.g. ``("yes", "no", "abstain")``); the abstain
    option is added if missing and pass ``abstain_option=None`` for a ballot without one.
    The proposal passes when the overall quorum is met, every group quorum is met (if
    ``require_group_quorum``), some valid vote exists, and the weighted share of
    ``yes_option`` is strictly above ``threshold`` (at least ``threshold`` when
    ``threshold_inclusive``, the 2/3 rule). An exact tie at 1/2 therefore fails.

    The plain one-member-one-vote result (``yes / all valid votes``, which is
    ``yes / (yes + no)`` on a yes/no ballot) is judged by the same rules and reported in the
    ``plain_*`` fields; it never changes ``passed``.
    """
    quorum = _check_fraction(quorum, "quorum")
    threshold = _check_fraction(threshold, "threshold")
    threshold_inclusive = _check_flag(threshold_inclusive, "threshold_inclusive")
    quorum_inclusive = _check_flag(quorum_inclusive, "quorum_inclusive")
    require_group_quorum = _check_flag(require_group_quorum, "require_group_quorum")
    _check_label(yes_option, "yes option")
    if yes_option == abstain_option:
        raise TallyError("the yes option cannot be the abstain option")
    if yes_option not in options:
        raise TallyError(f"yes option {yes_option!r} is not among the options")
    t = _tally(groups, options, abstain_option, quorum, quorum_inclusive, require_group_quorum)

    def judge(shares: Mapping[str, Fraction] | None) -> tuple[Fraction | None, tuple[str, ...]]:
        reasons = list(t.quorum_reasons)
        if shares is None:
            reasons.append(NO_VALID_VOTES)
            return None, tuple(reasons)
        yes = shares[yes_option]
        if not meets(yes, threshold, inclusive=threshold_inclusive):
            reasons.append(THRESHOLD_NOT_REACHED)
        return yes, tuple(reasons)

    weighted_yes, reasons = judge(t.weighted_shares)
    plain_yes, plain_reasons = judge(t.plain_shares)
    return ProposalResult(
        groups=t.rows,
        options=tuple(t.total_counts),
        yes_option=yes_option,
        abstain_option=abstain_option,
        quorum=quorum,
        quorum_inclusive=quorum_inclusive,
        threshold=threshold,
        threshold_inclusive=threshold_inclusive,
        require_group_quorum=require_group_quorum,
        total_eligible=t.total_eligible,
        total_participants=t.total_participants,
        total_valid=t.total_valid,
        total_counts=t.total_counts,
        quorum_met=t.quorum_met,
        group_quorums_met=t.group_quorums_met,
        weighted_shares=t.weighted_shares,
        weighted_yes_share=weighted_yes,
        passed=not reasons,
        reasons=reasons,
        plain_shares=t.plain_shares,
        plain_yes_share=plain_yes,
        plain_passed=not plain_reasons,
        plain_reasons=plain_reasons,
    )
