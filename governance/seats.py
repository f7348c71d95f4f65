"""Election tallies: seats per group (reserved and general), ties, vacancies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from governance.tally import (
    DEFAULT_QUORUM,
    GENERAL_SEATS_VACANT,
    NO_VALID_VOTES,
    RESERVED_SEATS_VACANT,
    SEATS_TIED,
    GroupInput,
    GroupRow,
    SeatKind,
    TallyError,
    _check_count,
    _check_flag,
    _check_fraction,
    _check_label,
    _tally,
)


@dataclass(frozen=True)
class CandidateRow:
    """One candidate's line in an election result (``*_share`` is ``None`` without valid
    votes; ``elected_*`` is ``False`` when the election was not quorate)."""

    candidate: str
    group: str
    votes: int
    weighted_share: Fraction | None
    plain_share: Fraction | None
    elected_weighted: bool
    elected_plain: bool


@dataclass(frozen=True)
class SeatTie:
    """Seats that a tie leaves undecided; they stay unfilled until the tie is resolved.

    ``kind == "reserved"``: ``seats`` of ``group``'s reserved seats go to some of
    ``candidates`` (all of that group). ``kind == "general"``: ``seats`` general seats go to
    some of ``candidates`` (``group`` is ``None``). All tied candidates share ``share``.
    A candidate may appear in one reserved and one general tie at the same time: whoever of a
    reserved tie does not take the reserved seat still competes for general seats.
    """

    kind: SeatKind
    group: str | None
    share: Fraction
    candidates: tuple[str, ...]
    seats: int


@dataclass(frozen=True)
class SeatCount:
    """Accounting of a kind of seat: ``total == filled + contested + vacant``.

    ``contested`` seats wait for a tie to be resolved; ``vacant`` seats lack a candidate with
    a positive share (a group's vacant reserved seats are not handed to other groups).
    """

    total: int
    filled: int
    contested: int
    vacant: int


@dataclass(frozen=True)
class SeatAllocation:
    """Who is elected under one way of counting (weighted or plain).

    ``elected`` lists the candidates elected whatever way the ties are resolved, by share
    (highest first; equal shares in the order the candidates were given, which is
    presentation only). ``reserved`` (per group with reserved seats) and ``general`` account
    for every seat; ``unfilled == seats - len(elected)``.
    """

    seats: int
    elected: tuple[str, ...]
    ties: tuple[SeatTie, ...]
    reserved: Mapping[str, SeatCount] = field(hash=False)
    general: SeatCount
    unfilled: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ElectionResult:
    """The tally of an election of ``seats`` officers.

    ``weighted`` is the cooperative's decision; ``plain`` is the one-member-one-vote fallback
    computed with the same seat rules. Both are ``None`` when the vote is not quorate
    (``quorate`` false, quorum reasons in ``reasons``). ``reasons`` are the quorum reasons
    followed by the weighted allocation's reasons; ``complete`` is true when the vote is
    quorate and every seat is filled.
    """

    groups: tuple[GroupRow, ...]
    candidates: tuple[CandidateRow, ...]
    seats: int
    quorum: Fraction
    quorum_inclusive: bool
    require_group_quorum: bool
    total_eligible: int
    total_participants: int
    total_valid: int
    quorum_met: bool
    group_quorums_met: bool
    quorate: bool
    weighted: SeatAllocation | None
    plain: SeatAllocation | None
    complete: bool
    reasons: tuple[str, ...]


def _tiers(candidates: Sequence[str], shares: Mapping[str, Fraction]) -> list[list[str]]:
    """Candidates grouped by equal share, highest share first, input order kept inside."""
    by_share: dict[Fraction, list[str]] = {}
    for c in candidates:
        by_share.setdefault(shares[c], []).append(c)
    return [by_share[s] for s in sorted(by_share, reverse=True)]


@dataclass
class _Block:
    """A group's tier that straddles the edge of its reserved seats."""

    group: str
    share: Fraction
    candidates: list[str]
    seats: int  # reserved seats the tier competes for (fewer than its candidates)
    resolved: bool = False  # every member ends up elected whoever takes the reserved seats


def _allocate_seats(
    shares: Mapping[str, Fraction],
    candidates: Sequence[str],
    candidate_group: Mapping[str, str],
    group_order: Sequence[str],
    seats: int,
    reserved: Mapping[str, int],
) -> SeatAllocation:
    """Fill reserved seats per group by share, then the general seats by share.

    Only candidates with a positive share can win. Ties are never broken: a candidate is
    elected only if elected under every way of ordering equal shares. The seats the tied
    candidates compete for are reported in ``ties`` and stay unfilled. Because the shares of
    whoever is left over from a reserved tie are all equal, the general phase can treat them
    as anonymous entries: if all of them get a general seat too, every member of the tie is
    elected whatever the order, and the tie disappears.
    """
    positive = [c for c in candidates if shares[c] > 0]
    elected: set[str] = set()
    blocks: list[_Block] = []
    filled = dict.fromkeys(group_order, 0)
    for g in group_order:
        remaining = reserved.get(g, 0)
        for tier in _tiers([c for c in positive if candidate_group[c] == g], shares):
            if remaining == 0:
                break
            if len(tier) <= remaining:
                elected.update(tier)
                filled[g] += len(tier)
                remaining -= len(tier)
            else:
                blocks.append(_Block(g, shares[tier[0]], tier, remaining))
                remaining = 0

    in_block = {c for b in blocks for c in b.candidates}
    # Pool entries: a candidate name, or a block standing for one of its left-over members.
    entries: list[tuple[Fraction, str | _Block]] = [
        (shares[c], c) for c in positive if c not in elected and c not in in_block
    ]
    for b in blocks:
        entries.extend((b.share, b) for _ in range(len(b.candidates) - b.seats))
    general_seats = seats - sum(reserved.values())
    remaining = general_seats
    general_filled = 0
    general_tie: SeatTie | None = None
    for share in sorted({s for s, _ in entries}, reverse=True):
        if remaining == 0:
            break
        tier = [e for s, e in entries if s == share]
        if len(tier) <= remaining:
            for e in tier:
                if isinstance(e, _Block):
                    e.resolved = True
                else:
                    elected.add(e)
            general_filled += len(tier)
            remaining -= len(tier)
        else:
            tied_blocks = [e for e in tier if isinstance(e, _Block)]
            tied = {e for e in tier if isinstance(e, str)}
            tied.update(c for b in tied_blocks for c in b.candidates)
            general_tie = SeatTie(
                kind="general",
                group=None,
                share=share,
                candidates=tuple(c for c in candidates if c in tied),
                seats=remaining,
            )
            remaining = 0

    ties: list[SeatTie] = []
    contested = dict.fromkeys(group_order, 0)
    order = {c: i for i, c in enumerate(candidates)}
    for b in sorted(blocks, key=lambda b: order[b.candidates[0]]):
        if b.resolved:
            elected.update(b.candidates)
            filled[b.group] += b.seats
        else:
            contested[b.group] += b.seats
            ties.append(SeatTie("reserved", b.group, b.share, tuple(b.candidates), b.seats))
    if general_tie is not None:
        ties.append(general_tie)

    reserved_rows = {
        g: SeatCount(
            total=reserved[g],
            filled=filled[g],
            contested=contested[g],
            vacant=reserved[g] - filled[g] - contested[g],
        )
        for g in group_order
        if g in reserved
    }
    general_contested = general_tie.seats if general_tie is not None else 0
    general = SeatCount(
        total=general_seats,
        filled=general_filled,
        contested=general_contested,
        vacant=general_seats - general_filled - general_contested,
    )
    reasons: list[str] = []
    if ties:
        reasons.append(SEATS_TIED)
    reasons.extend(f"{RESERVED_SEATS_VACANT}:{g}" for g, row in reserved_rows.items() if row.vacant)
    if general.vacant:
        reasons.append(GENERAL_SEATS_VACANT)
    return SeatAllocation(
        seats=seats,
        elected=tuple(sorted(elected, key=lambda c: (-shares[c], order[c]))),
        ties=tuple(ties),
        reserved=reserved_rows,
        general=general,
        unfilled=seats - len(elected),
        reasons=tuple(reasons),
    )


def tally_election(
    groups: Iterable[GroupInput],
    candidates: Sequence[str],
    seats: int,
    reserved: Mapping[str, int],
    candidate_group: Mapping[str, str],
    *,
    quorum: Fraction = DEFAULT_QUORUM,
    quorum_inclusive: bool = False,
    require_group_quorum: bool = True,
    abstain_option: str | None = "abstain",
) -> ElectionResult:
    """Tally an election of ``seats`` officers (pengurus or pengawas).

    Each voter picks one candidate or abstains. Each candidate's weighted share is computed
    as for a proposal option. Seats are filled in two steps: first each group's reserved
    seats (``reserved``: group code -> number of seats) go to that group's best candidates by
    share (``candidate_group``: candidate -> group code); then the remaining
    ``seats - sum(reserved)`` general seats go to the best of everyone not yet elected. A
    reserved seat without a candidate of its group stays vacant (it is not handed to another
    group). Only a positive share can win a seat. Ties that decide who gets a seat are
    reported and those seats stay unfilled. The plain one-member-one-vote allocation uses the
    same rules on the plain shares. When the vote is not quorate no allocation is made.
    """
    if isinstance(candidates, str):
        raise TallyError("candidates must be a sequence of strings, not one string")
    candidates = tuple(_check_label(c, "candidate") for c in candidates)
    if abstain_option in candidates:
        raise TallyError("a candidate cannot be named like the abstain option")
    seats = _check_count(seats, "seats")
    if seats == 0:
        raise TallyError("an election needs at least one seat")
    quorum = _check_fraction(quorum, "quorum")
    quorum_inclusive = _check_flag(quorum_inclusive, "quorum_inclusive")
    require_group_quorum = _check_flag(require_group_quorum, "require_group_quorum")
    groups = tuple(groups)
    t = _tally(groups, candidates, abstain_option, quorum, quorum_inclusive, require_group_quorum)
    group_order = [r.code for r in t.rows]
    for c in candidates:
        if candidate_group.get(c) not in group_order:
            raise TallyError(f"candidate {c!r} must belong to one of the groups {group_order}")
    for g, n in reserved.items():
        if g not in group_order:
            raise TallyError(f"reserved seats for unknown group {g!r}")
        _check_count(n, f"reserved seats of group {g!r}")
    reserved = {g: reserved[g] for g in group_order if reserved.get(g, 0) > 0}
    if sum(reserved.values()) > seats:
        raise TallyError("more reserved seats than seats")

    quorate = not t.quorum_reasons
    weighted = plain = None
    reasons = list(t.quorum_reasons)
    if quorate:
        zeros = dict.fromkeys(candidates, Fraction(0))
        weighted = _allocate_seats(
            t.weighted_shares or zeros, candidates, candidate_group, group_order, seats, reserved
        )
        plain = _allocate_seats(
            t.plain_shares or zeros, candidates, candidate_group, group_order, seats, reserved
        )
        if t.total_valid == 0:
            reasons.append(NO_VALID_VOTES)
        reasons.extend(weighted.reasons)
    rows = tuple(
        CandidateRow(
            candidate=c,
            group=candidate_group[c],
            votes=t.total_counts[c],
            weighted_share=t.weighted_shares[c] if t.weighted_shares is not None else None,
            plain_share=t.plain_shares[c] if t.plain_shares is not None else None,
            elected_weighted=weighted is not None and c in weighted.elected,
            elected_plain=plain is not None and c in plain.elected,
        )
        for c in candidates
    )
    return ElectionResult(
        groups=t.rows,
        candidates=rows,
        seats=seats,
        quorum=quorum,
        quorum_inclusive=quorum_inclusive,
        require_group_quorum=require_group_quorum,
        total_eligible=t.total_eligible,
        total_participants=t.total_participants,
        total_valid=t.total_valid,
        quorum_met=t.quorum_met,
        group_quorums_met=t.group_quorums_met,
        quorate=quorate,
        weighted=weighted,
        plain=plain,
        complete=quorate and weighted is not None and weighted.unfilled == 0,
        reasons=tuple(reasons),
    )
