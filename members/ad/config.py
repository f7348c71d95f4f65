"""The Anggaran Dasar (AD) configuration: typed, validated, versioned settings (pure code).

No Flask and no database here: ``ADConfig`` is a frozen dataclass built from a JSON payload
(``from_payload``), written back with ``to_payload``, checked by ``validate_ad`` and compared
by ``diff_payloads``. The versions live in ``members.ad.models.ADVersion``;
``members.ad.services.current_ad()`` reads them, ``members.articles.services.update_ad()``
writes them.

Basis points (bp): 10 000 = 100 %. Pass thresholds and quorum are exact fractions
(``Ratio(2, 3, strict=False)`` = "at least two thirds") so no rounding decides a vote.
"""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from kmp.errors import DomainError
from kmp.i18n import gettext
from members.ad.competence import (
    DEFAULT_COMPETENCE_RULES,
    CompetenceRule,
    build_rules,
)
from members.ad.diff import DiffLine, diff_payloads, flatten_payload

__all__ = [
    "ADConfig",
    "ADInvalid",
    "DiffLine",
    "GroupConfig",
    "Ratio",
    "diff_payloads",
    "flatten_payload",
]

BP_TOTAL = 10_000
MAX_GROUP_VOTE_BP = 5_000  # no group may hold 50 % or more (domain decision 5)
MIN_ACTIVE_GROUPS = 2  # Permenkop 8/2021
LEGAL_MAX_TERM_YEARS = 5  # UU 25/1992 Ps 29(4)
MAX_AMOUNT_IDR = 1_000_000_000_000  # Rp 1 triliun: far above any savings amount, fits BigInteger
MAX_DENOMINATOR = 1_000
MAX_SEATS = 50

PATRONAGE_MEASURES = ("trips", "deliveries", "spend_idr", "contribution_idr")
CAPITAL_BASES = ("year_end", "average_month_end")
EXITED_MEMBER_OPTIONS = ("prorate", "exclude")
MEMBER_KINDS = ("individual", "company")
RESERVE_KEY = "cadangan"
MEMBERS_KEY = "jasa_anggota"

FUND_LABELS = {
    "cadangan": "Cadangan",
    "jasa_anggota": "Jasa anggota",
    "dana_pengurus": "Dana pengurus",
    "dana_karyawan": "Dana karyawan",
    "dana_pendidikan": "Dana pendidikan",
    "dana_sosial": "Dana sosial",
}
PATRONAGE_LABELS = {
    "trips": "jumlah perjalanan",
    "deliveries": "jumlah pengantaran",
    "spend_idr": "belanja (Rupiah)",
    "contribution_idr": "kontribusi (Rupiah)",
}

_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,19}\Z")
_PREFIX_RE = re.compile(r"^[A-Z]{2,5}\Z")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}\Z")
_MONTH_DAY_RE = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\Z")


class ADInvalid(DomainError):
    """An AD configuration was refused; ``problems`` lists every (field, message)."""

    code = "ad_invalid"

    def __init__(self, problems: list[tuple[str, str]]):
        first_field, first_message = problems[0]
        super().__init__(f"{first_field}: {first_message}", field=first_field)
        self.problems = problems


@dataclass(frozen=True)
class Ratio:
    """A fraction ``numerator/denominator``; ``strict`` means "more than", else "at least"."""

    numerator: int
    denominator: int
    strict: bool

    def passes(self, part: int, whole: int) -> bool:
        """Is ``part`` out of ``whole`` enough? Exact integer arithmetic; nothing of 0 passes."""
        if whole <= 0:
            return False
        lhs, rhs = part * self.denominator, self.numerator * whole
        return lhs > rhs if self.strict else lhs >= rhs

    @property
    def bp(self) -> int:
        """Rounded to basis points, for display only."""
        return (self.numerator * BP_TOTAL * 2 + self.denominator) // (2 * self.denominator)

    def describe(self) -> str:
        word = gettext("lebih dari") if self.strict else gettext("paling sedikit")
        return f"{word} {self.numerator}/{self.denominator}"


@dataclass(frozen=True)
class GroupConfig:
    code: str
    name_id: str
    name_en: str
    member_no_prefix: str
    vote_weight_bp: int
    shu_weight_bp: int
    patronage_measure: str
    pokok_idr: int
    wajib_idr: int
    kind: str = "individual"
    is_active: bool = True
    members_vote: bool = True
    is_extraordinary: bool = False
    pokok_instalments_allowed: bool = True
    requires_platform_id: bool = False
    pengurus_seats: int = 1
    pengawas_seats: int = 1

    def name(self, locale: str = "id") -> str:
        return self.name_en if locale == "en" else self.name_id

    @property
    def is_company(self) -> bool:
        return self.kind == "company"


@dataclass(frozen=True)
class AllocationLine:
    key: str
    bp: int

    @property
    def label(self) -> str:
        return FUND_LABELS.get(self.key, self.key.replace("_", " ").capitalize())


DEFAULT_GROUPS = (
    GroupConfig(
        "pengemudi",
        "Pengemudi",
        "Drivers",
        "DRV",
        3500,
        3500,
        "trips",
        100_000,
        25_000,
        requires_platform_id=True,
        pengurus_seats=2,
    ),
    GroupConfig(
        "kurir",
        "Kurir",
        "Couriers",
        "KUR",
        2500,
        2500,
        "deliveries",
        100_000,
        25_000,
        requires_platform_id=True,
    ),
    GroupConfig(
        "pengguna",
        "Pengguna layanan",
        "Service users",
        "PGN",
        2000,
        2000,
        "spend_idr",
        100_000,
        25_000,
    ),
    GroupConfig(
        "platform",
        "Penyedia platform",
        "Platform partners",
        "PLT",
        2000,
        2000,
        "contribution_idr",
        10_000_000,
        1_000_000,
        kind="company",
        is_extraordinary=True,
    ),
)

DEFAULT_ALLOCATION = (
    AllocationLine("cadangan", 4000),
    AllocationLine("jasa_anggota", 4000),
    AllocationLine("dana_pengurus", 500),
    AllocationLine("dana_karyawan", 500),
    AllocationLine("dana_pendidikan", 500),
    AllocationLine("dana_sosial", 500),
)


@dataclass(frozen=True)
class ADConfig:
    groups: tuple[GroupConfig, ...] = DEFAULT_GROUPS
    shu_allocation: tuple[AllocationLine, ...] = DEFAULT_ALLOCATION
    jasa_modal_bp: int = 3750
    jasa_usaha_bp: int = 6250
    capital_basis: str = "year_end"
    exited_members: str = "prorate"
    #: Members who leave during the fiscal year (exit or death) and are given SHU pro rata
    #: (``exited_members = "prorate"``): do they get jasa modal (their pokok + wajib while a
    #: member, times the months) and jasa usaha (their patronage of the year)? Default: both.
    leavers_get_jasa_modal: bool = True
    leavers_get_jasa_usaha: bool = True
    quorum: Ratio = Ratio(1, 2, True)
    quorum_per_group: bool = True
    ordinary_threshold: Ratio = Ratio(1, 2, True)
    special_threshold: Ratio = Ratio(2, 3, False)  # AD amendment, merger, dissolution
    max_wajib_arrears_months: int = 3
    notice_period_days: int = 14
    rat_deadline_months: int = 6
    rat_warning_months: int = 5
    distribution_date: str = "07-31"  # month-day after the RAT
    require_certified_officers: bool = True
    #: When every bendahara is conflicted (the only one is the member, or asked), another
    #: pengurus decides a sukarela withdrawal or records a cash receipt; with this on, the
    #: pengawas may too (``members.savings.guards``). Default: pengurus only.
    pengawas_decide_without_bendahara: bool = False
    #: At the SHU distribution, a member's SHU paid to sukarela first pays their overdue loan
    #: instalments (``members.loans``). Default: off (the member decides).
    loan_shu_setoff: bool = False
    #: Interest members pay on loans whose product counts it (``interest_is_patronage``)
    #: raises their jasa usaha in the SHU, as patronage of the savings-and-loan unit
    #: (``members.loans.queries``). Default: off (jasa usaha is platform patronage only).
    loan_interest_is_patronage: bool = False
    certificate_warning_days: int = 90
    #: How far back a payment or a partner's remittance may be dated (days before today);
    #: the partner CSV, the portal and the API refuse older dates (``members.partners``).
    backdate_days: int = 90
    #: Plausibility: the most one worker's check-off lines may credit in one calendar month;
    #: a line beyond it is rejected (the money goes back to the partner as a payable).
    max_remittance_per_worker_month_idr: int = 50_000_000
    officer_term_max_years: int = LEGAL_MAX_TERM_YEARS
    #: Which office needs which certificate scheme, with a grace period after expiry
    #: (``members.ad.competence``; applied when ``require_certified_officers`` is on).
    competence_rules: tuple[CompetenceRule, ...] = DEFAULT_COMPETENCE_RULES
    #: The stored version this configuration came from (not part of the payload).
    version_id: int | None = field(default=None, compare=False)
    version: int | None = field(default=None, compare=False)

    # ---- look-ups
    def group(self, code: str) -> GroupConfig:
        for group in self.groups:
            if group.code == code:
                return group
        raise KeyError(code)

    def get_group(self, code: str | None) -> GroupConfig | None:
        try:
            return self.group(code or "")
        except KeyError:
            return None

    @property
    def active_groups(self) -> tuple[GroupConfig, ...]:
        return tuple(g for g in self.groups if g.is_active)

    def competence_rule(self, role: str) -> CompetenceRule | None:
        for rule in self.competence_rules:
            if rule.role == role:
                return rule
        return None

    def allocation_pairs(self) -> tuple[tuple[str, int], ...]:
        """``(fund_key, bp)`` in table order (what ``payouts.allocation`` consumes)."""
        return tuple((line.key, line.bp) for line in self.shu_allocation)

    # ---- (de)serialisation
    def to_payload(self) -> dict[str, Any]:
        payload = asdict(self)
        payload.pop("version_id")
        payload.pop("version")
        return json.loads(json.dumps(payload))  # tuples -> lists: exactly what is stored

    @classmethod
    def from_payload(
        cls, payload: dict[str, Any], *, version_id: int | None = None, version: int | None = None
    ) -> ADConfig:
        """Build a configuration from JSON; unknown keys and wrong types are refused with
        ``ADInvalid`` naming the field. (Validation of the rules is ``validate_ad``.)"""
        problems: list[tuple[str, str]] = []
        config = _build(payload, problems)
        if problems:
            raise ADInvalid(problems)
        return replace(config, version_id=version_id, version=version)


# --------------------------------------------------------------------------- parsing

_TOP_FIELDS = {f.name: f for f in fields(ADConfig)}
_TOP_FIELDS.pop("version_id")
_TOP_FIELDS.pop("version")
#: Settings added after versions were already stored: a version without them reads the
#: default (every other top-level key must be present).
ADDED_LATER = frozenset(
    {
        "leavers_get_jasa_modal",
        "leavers_get_jasa_usaha",
        "pengawas_decide_without_bendahara",
        "competence_rules",
        "loan_shu_setoff",
        "loan_interest_is_patronage",
        "backdate_days",
        "max_remittance_per_worker_month_idr",
    }
)
_GROUP_FIELDS = {f.name: f for f in fields(GroupConfig)}
_DEFAULTS = ADConfig()


def _typed(value: Any, expected: str, path: str, problems: list) -> Any:
    if expected == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append((path, gettext("harus bilangan bulat.")))
            return 0
    elif expected == "bool":
        if not isinstance(value, bool):
            problems.append((path, gettext("harus ya/tidak (true/false).")))
            return False
    elif expected == "str":
        if not isinstance(value, str):
            problems.append((path, gettext("harus teks.")))
            return ""
        return value.strip()
    return value


def _kind_of(annotation: Any) -> str:
    text = str(annotation)
    if "bool" in text:
        return "bool"
    if "int" in text:
        return "int"
    return "str"


def _build_ratio(value: Any, path: str, problems: list) -> Ratio:
    if not isinstance(value, dict):
        problems.append((path, gettext("harus berisi numerator, denominator dan strict.")))
        return Ratio(1, 2, True)
    unknown = set(value) - {"numerator", "denominator", "strict"}
    for key in sorted(unknown):
        problems.append((f"{path}.{key}", gettext("kunci tidak dikenal.")))
    missing = {"numerator", "denominator", "strict"} - set(value)
    for key in sorted(missing):
        problems.append((f"{path}.{key}", gettext("wajib diisi.")))
    return Ratio(
        _typed(value.get("numerator", 1), "int", f"{path}.numerator", problems),
        _typed(value.get("denominator", 2), "int", f"{path}.denominator", problems),
        _typed(value.get("strict", True), "bool", f"{path}.strict", problems),
    )


def _build(payload: Any, problems: list) -> ADConfig:
    if not isinstance(payload, dict):
        problems.append(("ad", gettext("konfigurasi AD harus berupa objek JSON.")))
        return _DEFAULTS
    for key in sorted(set(payload) - set(_TOP_FIELDS)):
        problems.append((key, gettext("kunci tidak dikenal.")))
    values: dict[str, Any] = {}
    for name, f in _TOP_FIELDS.items():
        if name not in payload and name in ADDED_LATER:
            values[name] = f.default
            continue
        if name not in payload:
            problems.append((name, gettext("wajib diisi.")))
            continue
        raw = payload[name]
        if name == "competence_rules":
            values[name] = build_rules(raw, problems)
        elif name == "groups":
            values[name] = _build_groups(raw, problems)
        elif name == "shu_allocation":
            values[name] = _build_allocation(raw, problems)
        elif name in ("quorum", "ordinary_threshold", "special_threshold"):
            values[name] = _build_ratio(raw, name, problems)
        else:
            values[name] = _typed(raw, _kind_of(f.type), name, problems)
    if problems:
        return _DEFAULTS
    return ADConfig(**values)


def _build_groups(raw: Any, problems: list) -> tuple[GroupConfig, ...]:
    if not isinstance(raw, list | tuple):
        problems.append(("groups", gettext("harus berupa daftar kelompok.")))
        return ()
    groups = []
    for index, item in enumerate(raw):
        path = f"groups[{index}]"
        if not isinstance(item, dict):
            problems.append((path, gettext("harus berupa objek.")))
            continue
        label = item.get("code") if isinstance(item.get("code"), str) and item.get("code") else None
        if label:
            path = f"groups.{label}"
        for key in sorted(set(item) - set(_GROUP_FIELDS)):
            problems.append((f"{path}.{key}", gettext("kunci tidak dikenal.")))
        values = {}
        for name, f in _GROUP_FIELDS.items():
            if name not in item:
                if f.default is not MISSING:
                    values[name] = f.default
                    continue
                problems.append((f"{path}.{name}", gettext("wajib diisi.")))
                continue
            values[name] = _typed(item[name], _kind_of(f.type), f"{path}.{name}", problems)
        if len(values) == len(_GROUP_FIELDS):
            groups.append(GroupConfig(**values))
    return tuple(groups)


def _build_allocation(raw: Any, problems: list) -> tuple[AllocationLine, ...]:
    if not isinstance(raw, list | tuple):
        problems.append(("shu_allocation", gettext("harus berupa daftar pos pembagian SHU.")))
        return ()
    lines = []
    for index, item in enumerate(raw):
        path = f"shu_allocation[{index}]"
        if not isinstance(item, dict) or set(item) != {"key", "bp"}:
            problems.append((path, gettext("setiap pos harus berisi tepat 'key' dan 'bp'.")))
            continue
        lines.append(
            AllocationLine(
                _typed(item["key"], "str", f"{path}.key", problems),
                _typed(item["bp"], "int", f"{path}.bp", problems),
            )
        )
    return tuple(lines)
