"""SHU (Sisa Hasil Usaha) allocation: pure arithmetic, no Flask, no database.

Amounts are whole Rupiah ``int``; weights are integer basis points (bp, 10 000 = 100 %).
Nothing here accepts or returns a float. The steps (domain decisions 8-9, section 2.6):

1. The SHU ``S`` is split by the AD allocation table (in table order) into the reserve
   (cadangan), the members' part ``M`` (jasa anggota) and the other funds, with
   :func:`kmp.money.allocate`.
2. ``M`` is split between the member groups by their SHU weights (group order).
3. Each group's pool is split into a jasa modal pool and a jasa usaha pool (modal first).
4. A group's jasa modal pool is split between its members by capital basis (simpanan pokok +
   wajib), largest remainder, a tied extra Rupiah going to the LOWER member number.
5. A group's jasa usaha pool is split between its members by patronage, same rule.
6. A pool with no basis to split by (no members, or every weight zero) goes to the reserve
   and is listed in :attr:`ShuResult.redirected`.

Exited members (pro rata). ``months`` (0-12) says for how many months of the fiscal year a
member was a member; a member's jasa modal weight is ``capital_idr * months`` (a full-year
member: ``capital_idr * 12``). Patronage is by nature already limited to the months of
membership, so it is NOT pro-rated unless ``compute_shu(..., prorate_patronage=True)``, in
which case the jasa usaha weight is ``patronage * months`` as well. Omitting ``months``
means 12 for everybody.

Who is eligible is the caller's decision: pass only the eligible members.

Speed. Members are given per group as parallel columns (:class:`MemberColumns`), which is
what a set-based SQL query returns; the split inside a group is :func:`split_by_weight`,
O(n log n) on plain ints with no per-member objects. Rows already sorted by member number in
Python string order (in PostgreSQL: ``ORDER BY member_no COLLATE "C"``) skip the sort.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise, repeat
from operator import add
from typing import NamedTuple

from kmp.money import MoneyError, allocate

__all__ = [
    "BP_TOTAL",
    "FULL_YEAR_MONTHS",
    "POOL_MODAL",
    "POOL_USAHA",
    "REASON_SHU_NOT_POSITIVE",
    "AllocationError",
    "AllocationTable",
    "GroupResult",
    "GroupRule",
    "MemberBasis",
    "MemberColumns",
    "MemberExplanation",
    "MemberLine",
    "Redirect",
    "ShuResult",
    "columns_from_rows",
    "compute_shu",
    "explain_member",
    "split_by_weight",
]

BP_TOTAL = 10_000
FULL_YEAR_MONTHS = 12
POOL_MODAL = "jasa_modal"
POOL_USAHA = "jasa_usaha"
REASON_SHU_NOT_POSITIVE = "shu_not_positive"


class AllocationError(MoneyError):
    """The AD configuration or the member data cannot be allocated as given."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class AllocationTable:
    """The AD allocation of the whole SHU: ordered ``(fund_key, bp)`` summing to 10 000.

    ``reserve_key`` names the cadangan line (it also receives redirected pools) and
    ``members_key`` the jasa anggota line that is shared out to the members.
    """

    lines: tuple[tuple[str, int], ...]
    reserve_key: str = "cadangan"
    members_key: str = "jasa_anggota"

    def __post_init__(self) -> None:
        lines = tuple((k, bp) for k, bp in self.lines)
        object.__setattr__(self, "lines", lines)
        keys = [k for k, _ in lines]
        if any(not isinstance(k, str) or not k for k in keys):
            raise AllocationError("fund keys must be non-empty strings")
        if len(set(keys)) != len(keys):
            raise AllocationError("duplicate fund key in the allocation table")
        for key, bp in lines:
            _check_bp(bp, f"bp of fund {key!r}")
        if sum(bp for _, bp in lines) != BP_TOTAL:
            raise AllocationError(f"allocation table must sum to exactly {BP_TOTAL} bp")
        if self.reserve_key == self.members_key:
            raise AllocationError("reserve and members lines must differ")
        for key in (self.reserve_key, self.members_key):
            if key not in keys:
                raise AllocationError(f"allocation table has no {key!r} line")

    @classmethod
    def default(cls) -> AllocationTable:
        """KMP's shipped default (domain decision 8)."""
        return cls(
            (
                ("cadangan", 4000),
                ("jasa_anggota", 4000),
                ("dana_pengurus", 500),
                ("dana_karyawan", 500),
                ("dana_pendidikan", 500),
                ("dana_sosial", 500),
            )
        )


@dataclass(frozen=True, slots=True)
class GroupRule:
    """One member group (KPA): its share of jasa anggota and its modal/usaha ratio (bp)."""

    code: str
    shu_weight_bp: int
    modal_bp: int = 3750
    usaha_bp: int = 6250

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code:
            raise AllocationError("group code must be a non-empty string")
        _check_bp(self.shu_weight_bp, f"SHU weight of group {self.code!r}")
        _check_bp(self.modal_bp, f"jasa modal bp of group {self.code!r}")
        _check_bp(self.usaha_bp, f"jasa usaha bp of group {self.code!r}")
        if self.modal_bp + self.usaha_bp != BP_TOTAL:
            raise AllocationError(
                f"group {self.code!r}: jasa modal + jasa usaha must be exactly {BP_TOTAL} bp"
            )


class MemberBasis(NamedTuple):
    """One input row, for :func:`columns_from_rows` (a plain 4- or 5-tuple works too)."""

    member_no: str
    group: str
    capital_idr: int
    patronage: int
    months: int = FULL_YEAR_MONTHS


@dataclass(frozen=True, slots=True)
class MemberColumns:
    """The eligible members of one group as parallel columns, in any order.

    ``months`` is ``None`` (everybody a full year) or one int 0-12 per member.
    """

    member_no: Sequence[str]
    capital_idr: Sequence[int]
    patronage: Sequence[int]
    months: Sequence[int] | None = None


def columns_from_rows(
    rows: Iterable[tuple[str, str, int, int] | tuple[str, str, int, int, int]],
) -> dict[str, MemberColumns]:
    """Rows ``(member_no, group, capital_idr, patronage[, months])`` -> columns per group."""
    cols: dict[str, tuple[list[str], list[int], list[int], list[int]]] = {}
    any_months = False
    for row in rows:
        if len(row) == 4:
            member_no, group, capital, patronage = row
            months = FULL_YEAR_MONTHS
        elif len(row) == 5:
            member_no, group, capital, patronage, months = row
            any_months = True
        else:
            raise AllocationError("a member row has 4 or 5 fields")
        c = cols.get(group)
        if c is None:
            c = cols[group] = ([], [], [], [])
        c[0].append(member_no)
        c[1].append(capital)
        c[2].append(patronage)
        c[3].append(months)
    return {
        g: MemberColumns(c[0], c[1], c[2], c[3] if any_months else None) for g, c in cols.items()
    }


# --------------------------------------------------------------------------- outputs


class Redirect(NamedTuple):
    """A pool that had nobody to go to and was added to the reserve."""

    group: str
    pool: str  # POOL_MODAL or POOL_USAHA
    amount_idr: int


class MemberLine(NamedTuple):
    member_no: str
    group: str
    capital_basis_idr: int
    patronage: int
    jasa_modal_idr: int
    jasa_usaha_idr: int
    total_idr: int


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One group's pools and its members' amounts (columns sorted by member number)."""

    rule: GroupRule
    pool_idr: int  # this group's share of jasa anggota
    modal_pool_idr: int
    usaha_pool_idr: int
    capital_total_idr: int  # sum of capital bases
    patronage_total: int  # sum of patronage
    modal_weight_total: int  # denominator of the jasa modal split (capital * months)
    usaha_weight_total: int  # denominator of the jasa usaha split
    modal_paid_idr: int  # paid to members (0 when redirected)
    usaha_paid_idr: int
    member_no: tuple[str, ...]
    capital_idr: tuple[int, ...]
    patronage: tuple[int, ...]
    months: tuple[int, ...] | None  # None: everybody 12
    patronage_prorated: bool  # jasa usaha weight = patronage * months
    jasa_modal_idr: tuple[int, ...]
    jasa_usaha_idr: tuple[int, ...]

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def member_count(self) -> int:
        return len(self.member_no)

    def index_of(self, member_no: str) -> int | None:
        i = bisect.bisect_left(self.member_no, member_no)
        if i < len(self.member_no) and self.member_no[i] == member_no:
            return i
        return None

    def member_lines(self) -> Iterator[MemberLine]:
        """This group's member lines, by member number (lazily, one tuple each)."""
        return map(
            MemberLine._make,
            zip(
                self.member_no,
                repeat(self.rule.code),
                self.capital_idr,
                self.patronage,
                self.jasa_modal_idr,
                self.jasa_usaha_idr,
                map(add, self.jasa_modal_idr, self.jasa_usaha_idr),
            ),
        )


@dataclass(frozen=True, slots=True)
class ShuResult:
    """The allocation of one fiscal year's SHU.

    ``table_split`` is step 1 as computed from the AD table. ``funds`` (same keys, table
    order) is the final outcome: the reserve line includes every redirected pool and the
    members line is what was actually paid to members, so ``sum(funds.values()) == shu_idr``.
    When ``distributed`` is False (``reason`` says why) nothing is allocated: every amount
    is 0 and there are no groups.
    """

    shu_idr: int
    table: AllocationTable
    distributed: bool
    reason: str | None
    table_split: dict[str, int]
    funds: dict[str, int]
    groups: tuple[GroupResult, ...]
    redirected: tuple[Redirect, ...] = field(default=())

    @property
    def reserve_idr(self) -> int:
        return self.funds[self.table.reserve_key]

    @property
    def members_total_idr(self) -> int:
        return self.funds[self.table.members_key]

    @property
    def redirected_total_idr(self) -> int:
        return sum(r.amount_idr for r in self.redirected)

    @property
    def allocated_idr(self) -> int:
        return sum(self.funds.values())

    def group(self, code: str) -> GroupResult:
        for g in self.groups:
            if g.rule.code == code:
                return g
        raise KeyError(code)

    def member_lines(self) -> Iterator[MemberLine]:
        """Every member's line, by group order then member number."""
        for g in self.groups:
            yield from g.member_lines()


@dataclass(frozen=True, slots=True)
class MemberExplanation:
    """The numbers behind one member's SHU slip.

    ``modal_share`` = member's modal weight / group's modal weight total (``capital *
    months`` over the group's sum); ``usaha_share`` likewise for patronage. A share is 0
    when its pool was redirected to the reserve. ``*_exact`` are the exact Fraction amounts
    that largest remainder rounds to whole Rupiah (always within 1 Rupiah).
    """

    member_no: str
    group: str
    shu_idr: int
    members_pool_idr: int  # jasa anggota of the whole cooperative
    group_weight_bp: int
    group_pool_idr: int
    modal_bp: int
    usaha_bp: int
    modal_pool_idr: int
    usaha_pool_idr: int
    months: int
    capital_idr: int
    capital_weight: int
    group_capital_total_idr: int
    group_capital_weight_total: int
    modal_share: Fraction
    modal_pool_redirected: bool
    patronage: int
    patronage_weight: int
    group_patronage_total: int
    group_patronage_weight_total: int
    usaha_share: Fraction
    usaha_pool_redirected: bool
    jasa_modal_exact: Fraction
    jasa_usaha_exact: Fraction
    jasa_modal_idr: int
    jasa_usaha_idr: int
    total_idr: int


# --------------------------------------------------------------------------- core


def _check_bp(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AllocationError(f"{what} must be an integer number of bp")
    if not 0 <= value <= BP_TOTAL:
        raise AllocationError(f"{what} must be between 0 and {BP_TOTAL} bp")
    return value


def split_by_weight(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` Rupiah by non-negative int ``weights``, largest remainder.

    Position ``i`` gets ``floor(total * w_i / W)``; the Rupiah left over (fewer than
    ``len(weights)``) go one each to the largest remainders, a tie going to the LOWER
    position. Same result as ``kmp.money.allocate`` over the positions, but O(n log n) on
    plain ints, for a million members. Raises ``MoneyError`` for a non-zero total over
    zero total weight. Weights are trusted to be non-negative ints (checked by the caller).
    """
    n = len(weights)
    wsum = sum(weights)
    if total == 0:
        return [0] * n
    if wsum <= 0:
        raise MoneyError("cannot allocate a non-zero total when every weight is zero")
    if total < 0:
        return [-p for p in split_by_weight(-total, weights)]
    parts = [total * w // wsum for w in weights]
    leftover = total - sum(parts)
    if leftover:
        rems = [total * w - p * wsum for w, p in zip(weights, parts, strict=True)]
        # The leftover-th largest remainder is the threshold; everything above it wins,
        # then the first positions (lowest member numbers) that sit exactly on it.
        threshold = sorted(rems)[n - leftover]
        winners = [i for i, r in enumerate(rems) if r > threshold]
        need = leftover - len(winners)
        for i, r in enumerate(rems):
            if not need:
                break
            if r == threshold:
                winners.append(i)
                need -= 1
        for i in winners:
            parts[i] += 1
    return parts


def _int_column(values: Sequence[object], what: str, group: str) -> list[int]:
    col = list(values)
    if col and not set(map(type, col)) <= {int}:
        raise AllocationError(f"group {group!r}: every {what} must be an int")
    if col and min(col) < 0:  # type: ignore[type-var]
        raise AllocationError(f"group {group!r}: {what} must not be negative")
    return col  # type: ignore[return-value]


def _prepare(
    code: str, cols: MemberColumns
) -> tuple[list[str], list[int], list[int], list[int] | None]:
    member_no = list(cols.member_no)
    n = len(member_no)
    if n and not set(map(type, member_no)) <= {str}:
        raise AllocationError(f"group {code!r}: member numbers must be strings")
    capital = _int_column(cols.capital_idr, "capital basis", code)
    patronage = _int_column(cols.patronage, "patronage", code)
    months = None if cols.months is None else _int_column(cols.months, "months", code)
    if len(capital) != n or len(patronage) != n or (months is not None and len(months) != n):
        raise AllocationError(f"group {code!r}: member columns differ in length")
    if months is not None:
        if n and max(months) > FULL_YEAR_MONTHS:
            raise AllocationError(f"group {code!r}: months must be 0-{FULL_YEAR_MONTHS}")
        if all(m == FULL_YEAR_MONTHS for m in months):
            months = None
    if any(a >= b for a, b in pairwise(member_no)):  # not strictly ascending
        order = sorted(range(n), key=member_no.__getitem__)
        member_no = [member_no[i] for i in order]
        capital = [capital[i] for i in order]
        patronage = [patronage[i] for i in order]
        if months is not None:
            months = [months[i] for i in order]
        for a, b in pairwise(member_no):
            if a == b:
                raise AllocationError(f"member {a!r} appears twice in group {code!r}")
    return member_no, capital, patronage, months


def _split_pool(
    pool: int, weights: list[int], code: str, kind: str, redirected: list[Redirect]
) -> tuple[list[int], int]:
    """Returns the members' amounts and what was paid to them."""
    if pool and not any(weights):
        redirected.append(Redirect(code, kind, pool))
        return [0] * len(weights), 0
    return split_by_weight(pool, weights), pool


def compute_shu(
    shu_idr: int,
    table: AllocationTable,
    groups: Sequence[GroupRule],
    members: Mapping[str, MemberColumns],
    *,
    prorate_patronage: bool = False,
) -> ShuResult:
    """Allocate one fiscal year's SHU (see the module docstring for every rule).

    ``groups`` in the AD's group order, SHU weights summing to exactly 10 000 bp.
    ``members`` maps a group code to its eligible members; a group may be missing (no
    members). A member number may appear only once across all groups.
    """
    if isinstance(shu_idr, bool) or not isinstance(shu_idr, int):
        raise AllocationError("SHU must be an int of whole Rupiah")
    if not isinstance(table, AllocationTable):
        raise AllocationError("table must be an AllocationTable")
    groups = tuple(groups)
    if not groups:
        raise AllocationError("at least one member group is needed")
    codes = [g.code for g in groups]
    if len(set(codes)) != len(codes):
        raise AllocationError("duplicate group code")
    if sum(g.shu_weight_bp for g in groups) != BP_TOTAL:
        raise AllocationError(f"group SHU weights must sum to exactly {BP_TOTAL} bp")
    unknown = set(members) - set(codes)
    if unknown:
        raise AllocationError(f"members given for unknown group(s): {sorted(unknown)}")

    prepared = {
        g.code: _prepare(g.code, members[g.code]) if g.code in members else ([], [], [], None)
        for g in groups
    }
    if len(prepared) > 1:
        count = sum(len(p[0]) for p in prepared.values())
        seen: set[str] = set()
        for p in prepared.values():
            seen.update(p[0])
        if len(seen) != count:
            raise AllocationError("a member number appears in more than one group")

    if shu_idr <= 0:
        zeros = dict.fromkeys((k for k, _ in table.lines), 0)
        return ShuResult(shu_idr, table, False, REASON_SHU_NOT_POSITIVE, zeros, dict(zeros), (), ())

    # 1. the AD table; 2. jasa anggota between groups
    table_split = allocate(shu_idr, table.lines)
    members_pool = table_split[table.members_key]
    group_pools = allocate(members_pool, [(g.code, g.shu_weight_bp) for g in groups])

    redirected: list[Redirect] = []
    results: list[GroupResult] = []
    for rule in groups:
        member_no, capital, patronage, months = prepared[rule.code]
        # 3. the group's pool into jasa modal and jasa usaha (modal first)
        pool = group_pools[rule.code]
        halves = allocate(pool, [(POOL_MODAL, rule.modal_bp), (POOL_USAHA, rule.usaha_bp)])
        modal_pool, usaha_pool = halves[POOL_MODAL], halves[POOL_USAHA]
        # 4./5. inside the group, by weight; the factor 12 common to everybody cancels out
        if months is None:
            modal_w = capital
            modal_wt = sum(capital) * FULL_YEAR_MONTHS
        else:
            modal_w = [c * m for c, m in zip(capital, months, strict=True)]
            modal_wt = sum(modal_w)
        if months is None or not prorate_patronage:
            usaha_w = patronage
            usaha_wt = sum(patronage) * (FULL_YEAR_MONTHS if prorate_patronage else 1)
        else:
            usaha_w = [p * m for p, m in zip(patronage, months, strict=True)]
            usaha_wt = sum(usaha_w)
        # 6. no basis: the pool goes to the reserve
        jm, modal_paid = _split_pool(modal_pool, modal_w, rule.code, POOL_MODAL, redirected)
        ju, usaha_paid = _split_pool(usaha_pool, usaha_w, rule.code, POOL_USAHA, redirected)
        results.append(
            GroupResult(
                rule=rule,
                pool_idr=pool,
                modal_pool_idr=modal_pool,
                usaha_pool_idr=usaha_pool,
                capital_total_idr=sum(capital),
                patronage_total=sum(patronage),
                modal_weight_total=modal_wt,
                usaha_weight_total=usaha_wt,
                modal_paid_idr=modal_paid,
                usaha_paid_idr=usaha_paid,
                member_no=tuple(member_no),
                capital_idr=tuple(capital),
                patronage=tuple(patronage),
                months=None if months is None else tuple(months),
                patronage_prorated=prorate_patronage,
                jasa_modal_idr=tuple(jm),
                jasa_usaha_idr=tuple(ju),
            )
        )

    redirected_total = sum(r.amount_idr for r in redirected)
    funds = dict(table_split)
    funds[table.reserve_key] += redirected_total
    funds[table.members_key] -= redirected_total
    result = ShuResult(
        shu_idr, table, True, None, table_split, funds, tuple(results), tuple(redirected)
    )
    paid = sum(g.modal_paid_idr + g.usaha_paid_idr for g in results)
    if paid != funds[table.members_key] or sum(funds.values()) != shu_idr:
        raise AssertionError("SHU allocation does not add up")  # pragma: no cover
    return result


def explain_member(result: ShuResult, member_no: str) -> MemberExplanation:
    """The numbers for one member's plain-language SHU slip. ``KeyError`` if not allocated."""
    for g in result.groups:
        i = g.index_of(member_no)
        if i is None:
            continue
        rule = g.rule
        months = FULL_YEAR_MONTHS if g.months is None else g.months[i]
        capital, patronage = g.capital_idr[i], g.patronage[i]
        capital_weight = capital * months
        modal_wt = g.modal_weight_total
        patronage_weight = patronage * months if g.patronage_prorated else patronage
        modal_redirected = g.modal_pool_idr > 0 and g.modal_paid_idr == 0
        usaha_redirected = g.usaha_pool_idr > 0 and g.usaha_paid_idr == 0
        modal_share = Fraction(capital_weight, modal_wt) if modal_wt else Fraction(0)
        usaha_share = (
            Fraction(patronage_weight, g.usaha_weight_total)
            if g.usaha_weight_total
            else Fraction(0)
        )
        jm, ju = g.jasa_modal_idr[i], g.jasa_usaha_idr[i]
        return MemberExplanation(
            member_no=member_no,
            group=rule.code,
            shu_idr=result.shu_idr,
            members_pool_idr=result.table_split[result.table.members_key],
            group_weight_bp=rule.shu_weight_bp,
            group_pool_idr=g.pool_idr,
            modal_bp=rule.modal_bp,
            usaha_bp=rule.usaha_bp,
            modal_pool_idr=g.modal_pool_idr,
            usaha_pool_idr=g.usaha_pool_idr,
            months=months,
            capital_idr=capital,
            capital_weight=capital_weight,
            group_capital_total_idr=g.capital_total_idr,
            group_capital_weight_total=modal_wt,
            modal_share=modal_share,
            modal_pool_redirected=modal_redirected,
            patronage=patronage,
            patronage_weight=patronage_weight,
            group_patronage_total=g.patronage_total,
            group_patronage_weight_total=g.usaha_weight_total,
            usaha_share=usaha_share,
            usaha_pool_redirected=usaha_redirected,
            jasa_modal_exact=modal_share * g.modal_pool_idr,
            jasa_usaha_exact=usaha_share * g.usaha_pool_idr,
            jasa_modal_idr=jm,
            jasa_usaha_idr=ju,
            total_idr=jm + ju,
        )
    raise KeyError(member_no)
