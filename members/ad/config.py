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
from members.ad.competence import (
    DEFAULT_COMPETENCE_RULES,
    CompetenceRule,
    build_rules,
    flatten_rules,
    validate_rules,
)

BP_TOTAL = 10_000
MAX_GROUP_VOTE_BP = 5_000  # no group may hold 50 % or more (domain decision 5)
MIN_ACTIVE_GROUPS = 2  # Permenkop 8/2021
LEGAL_MAX_TERM_YEARS = 5  # UU 25/1992 Ps 29(4)

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
        word = "lebih dari" if self.strict else "paling sedikit"
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
    certificate_warning_days: int = 90
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
ADDED_LATER = frozenset({"competence_rules"})
_GROUP_FIELDS = {f.name: f for f in fields(GroupConfig)}
_DEFAULTS = ADConfig()


def _typed(value: Any, expected: str, path: str, problems: list) -> Any:
    if expected == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append((path, "harus bilangan bulat."))
            return 0
    elif expected == "bool":
        if not isinstance(value, bool):
            problems.append((path, "harus ya/tidak (true/false)."))
            return False
    elif expected == "str":
        if not isinstance(value, str):
            problems.append((path, "harus teks."))
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
        problems.append((path, "harus berisi numerator, denominator dan strict."))
        return Ratio(1, 2, True)
    unknown = set(value) - {"numerator", "denominator", "strict"}
    for key in sorted(unknown):
        problems.append((f"{path}.{key}", "kunci tidak dikenal."))
    missing = {"numerator", "denominator", "strict"} - set(value)
    for key in sorted(missing):
        problems.append((f"{path}.{key}", "wajib diisi."))
    return Ratio(
        _typed(value.get("numerator", 1), "int", f"{path}.numerator", problems),
        _typed(value.get("denominator", 2), "int", f"{path}.denominator", problems),
        _typed(value.get("strict", True), "bool", f"{path}.strict", problems),
    )


def _build(payload: Any, problems: list) -> ADConfig:
    if not isinstance(payload, dict):
        problems.append(("ad", "konfigurasi AD harus berupa objek JSON."))
        return _DEFAULTS
    for key in sorted(set(payload) - set(_TOP_FIELDS)):
        problems.append((key, "kunci tidak dikenal."))
    values: dict[str, Any] = {}
    for name, f in _TOP_FIELDS.items():
        if name not in payload and name in ADDED_LATER:
            values[name] = f.default
            continue
        if name not in payload:
            problems.append((name, "wajib diisi."))
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
        problems.append(("groups", "harus berupa daftar kelompok."))
        return ()
    groups = []
    for index, item in enumerate(raw):
        path = f"groups[{index}]"
        if not isinstance(item, dict):
            problems.append((path, "harus berupa objek."))
            continue
        label = item.get("code") if isinstance(item.get("code"), str) and item.get("code") else None
        if label:
            path = f"groups.{label}"
        for key in sorted(set(item) - set(_GROUP_FIELDS)):
            problems.append((f"{path}.{key}", "kunci tidak dikenal."))
        values = {}
        for name, f in _GROUP_FIELDS.items():
            if name not in item:
                if f.default is not MISSING:
                    values[name] = f.default
                    continue
                problems.append((f"{path}.{name}", "wajib diisi."))
                continue
            values[name] = _typed(item[name], _kind_of(f.type), f"{path}.{name}", problems)
        if len(values) == len(_GROUP_FIELDS):
            groups.append(GroupConfig(**values))
    return tuple(groups)


def _build_allocation(raw: Any, problems: list) -> tuple[AllocationLine, ...]:
    if not isinstance(raw, list | tuple):
        problems.append(("shu_allocation", "harus berupa daftar pos pembagian SHU."))
        return ()
    lines = []
    for index, item in enumerate(raw):
        path = f"shu_allocation[{index}]"
        if not isinstance(item, dict) or set(item) != {"key", "bp"}:
            problems.append((path, "setiap pos harus berisi tepat 'key' dan 'bp'."))
            continue
        lines.append(
            AllocationLine(
                _typed(item["key"], "str", f"{path}.key", problems),
                _typed(item["bp"], "int", f"{path}.bp", problems),
            )
        )
    return tuple(lines)


# --------------------------------------------------------------------------- validation


def _rp(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def validate_ad(config: ADConfig) -> list[tuple[str, str]]:
    """Every rule the AD must satisfy; returns ``[(field, Indonesian message), ...]``."""
    problems: list[tuple[str, str]] = []
    add = problems.append

    codes: dict[str, int] = {}
    prefixes: dict[str, str] = {}
    for index, g in enumerate(config.groups):
        path = f"groups.{g.code}" if g.code else f"groups[{index}]"
        if not _CODE_RE.match(g.code or ""):
            add(
                (
                    f"groups[{index}].code",
                    "kode kelompok harus 2-20 huruf kecil/angka/garis bawah, diawali huruf.",
                )
            )
        elif g.code in codes:
            add((f"groups[{index}].code", f"kode kelompok '{g.code}' dipakai lebih dari sekali."))
        codes.setdefault(g.code, index)
        if not _PREFIX_RE.match(g.member_no_prefix or ""):
            add((f"{path}.member_no_prefix", "awalan nomor anggota harus 2-5 huruf besar."))
        elif g.member_no_prefix in prefixes:
            add(
                (
                    f"{path}.member_no_prefix",
                    f"awalan nomor anggota '{g.member_no_prefix}' sudah dipakai kelompok "
                    f"'{prefixes[g.member_no_prefix]}'.",
                )
            )
        prefixes.setdefault(g.member_no_prefix, g.code)
        if not g.name_id or not g.name_en:
            add(
                (
                    f"{path}.name_id" if not g.name_id else f"{path}.name_en",
                    "nama kelompok wajib diisi.",
                )
            )
        if g.kind not in MEMBER_KINDS:
            add((f"{path}.kind", "jenis anggota harus 'individual' atau 'company'."))
        if g.patronage_measure not in PATRONAGE_MEASURES:
            add(
                (
                    f"{path}.patronage_measure",
                    "ukuran jasa usaha harus salah satu dari: "
                    + ", ".join(PATRONAGE_MEASURES)
                    + ".",
                )
            )
        for name in (
            "pokok_idr",
            "wajib_idr",
            "vote_weight_bp",
            "shu_weight_bp",
            "pengurus_seats",
            "pengawas_seats",
        ):
            if getattr(g, name) < 0:
                add((f"{path}.{name}", "tidak boleh negatif."))
        if g.is_active and g.vote_weight_bp >= MAX_GROUP_VOTE_BP:
            add(
                (
                    f"{path}.vote_weight_bp",
                    "bobot suara satu kelompok harus kurang dari "
                    f"{_rp(MAX_GROUP_VOTE_BP)} bp (50 %); "
                    f"kelompok '{g.code}' diberi {_rp(g.vote_weight_bp)} bp.",
                )
            )

    active = config.active_groups
    if len(active) < MIN_ACTIVE_GROUPS:
        add(
            (
                "groups",
                f"KMP harus punya paling sedikit {MIN_ACTIVE_GROUPS} kelompok anggota "
                f"yang aktif; sekarang {len(active)}.",
            )
        )
    vote_total = sum(g.vote_weight_bp for g in active)
    if vote_total != BP_TOTAL:
        add(
            (
                "groups.vote_weight_bp",
                f"jumlah bobot suara kelompok aktif harus tepat {_rp(BP_TOTAL)} bp (100 %); "
                f"sekarang {_rp(vote_total)} bp.",
            )
        )
    shu_total = sum(g.shu_weight_bp for g in active)
    if shu_total != BP_TOTAL:
        add(
            (
                "groups.shu_weight_bp",
                f"jumlah bobot SHU kelompok aktif harus tepat {_rp(BP_TOTAL)} bp (100 %); "
                f"sekarang {_rp(shu_total)} bp.",
            )
        )

    keys: set[str] = set()
    for index, line in enumerate(config.shu_allocation):
        if not _KEY_RE.match(line.key or ""):
            add(
                (
                    f"shu_allocation[{index}].key",
                    "kode pos SHU harus huruf kecil/angka/garis bawah, diawali huruf.",
                )
            )
        elif line.key in keys:
            add(
                (f"shu_allocation[{index}].key", f"pos SHU '{line.key}' dipakai lebih dari sekali.")
            )
        keys.add(line.key)
        if line.bp < 0:
            add((f"shu_allocation.{line.key}", "tidak boleh negatif."))
    allocation_total = sum(line.bp for line in config.shu_allocation)
    if allocation_total != BP_TOTAL:
        add(
            (
                "shu_allocation",
                f"tabel pembagian SHU harus berjumlah tepat {_rp(BP_TOTAL)} bp (100 %); "
                f"sekarang {_rp(allocation_total)} bp.",
            )
        )
    for key in (RESERVE_KEY, MEMBERS_KEY):
        if key not in keys:
            add(("shu_allocation", f"tabel pembagian SHU harus punya pos '{key}'."))

    for name in ("jasa_modal_bp", "jasa_usaha_bp"):
        if getattr(config, name) < 0:
            add((name, "tidak boleh negatif."))
    if config.jasa_modal_bp + config.jasa_usaha_bp != BP_TOTAL:
        add(
            (
                "jasa_modal_bp",
                f"jasa modal + jasa usaha harus tepat {_rp(BP_TOTAL)} bp (100 %); sekarang "
                f"{_rp(config.jasa_modal_bp + config.jasa_usaha_bp)} bp.",
            )
        )
    if config.capital_basis not in CAPITAL_BASES:
        add(("capital_basis", "dasar jasa modal harus 'year_end' atau 'average_month_end'."))
    if config.exited_members not in EXITED_MEMBER_OPTIONS:
        add(("exited_members", "pilihan anggota keluar harus 'prorate' atau 'exclude'."))

    for name in ("quorum", "ordinary_threshold", "special_threshold"):
        ratio: Ratio = getattr(config, name)
        if ratio.denominator <= 0 or ratio.numerator < 0:
            add((name, "pecahan harus punya penyebut positif dan pembilang tidak negatif."))
        elif ratio.numerator > ratio.denominator:
            add((name, "pecahan tidak boleh lebih dari 1."))
    if (
        config.ordinary_threshold.denominator > 0
        and config.special_threshold.denominator > 0
        and config.special_threshold.numerator * config.ordinary_threshold.denominator
        < config.ordinary_threshold.numerator * config.special_threshold.denominator
    ):
        add(
            (
                "special_threshold",
                "ambang keputusan khusus tidak boleh lebih rendah dari ambang keputusan biasa.",
            )
        )
    if config.ordinary_threshold.denominator > 0 and not config.ordinary_threshold.passes(1, 1):
        add(("ordinary_threshold", "ambang keputusan biasa tidak boleh mustahil dicapai."))

    for name in (
        "max_wajib_arrears_months",
        "notice_period_days",
        "rat_deadline_months",
        "rat_warning_months",
        "certificate_warning_days",
    ):
        if getattr(config, name) < 0:
            add((name, "tidak boleh negatif."))
    if not 1 <= config.rat_deadline_months <= 6:
        add(
            (
                "rat_deadline_months",
                "RAT harus diadakan paling lambat 6 bulan setelah tutup buku (UU 25/1992 Ps 26).",
            )
        )
    if config.rat_warning_months > config.rat_deadline_months:
        add(("rat_warning_months", "peringatan RAT harus sebelum batas waktunya."))
    if not _MONTH_DAY_RE.match(config.distribution_date or ""):
        add(("distribution_date", "tanggal pembagian SHU harus berbentuk BB-HH, mis. 07-31."))
    if not 1 <= config.officer_term_max_years <= LEGAL_MAX_TERM_YEARS:
        add(
            (
                "officer_term_max_years",
                f"masa jabatan pengurus/pengawas paling lama {LEGAL_MAX_TERM_YEARS} tahun "
                "(UU 25/1992 Ps 29).",
            )
        )
    problems.extend(validate_rules(config.competence_rules))
    return problems


def ensure_valid(config: ADConfig) -> ADConfig:
    problems = validate_ad(config)
    if problems:
        raise ADInvalid(problems)
    return config


def parse_and_validate(payload: dict[str, Any]) -> ADConfig:
    return ensure_valid(ADConfig.from_payload(payload))


# --------------------------------------------------------------------------- diff


def flatten_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """``{'groups.kurir.vote_weight_bp': 2500, 'shu_allocation.cadangan': 4000, ...}``."""
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "groups":
            for group in value:
                for name, item in group.items():
                    if name != "code":
                        flat[f"groups.{group['code']}.{name}"] = item
        elif key == "competence_rules":
            flat.update(flatten_rules(value))
        elif key == "shu_allocation":
            for position, line in enumerate(value):
                flat[f"shu_allocation.{line['key']}"] = line["bp"]
                flat[f"shu_allocation.{line['key']}.order"] = position + 1
        elif isinstance(value, dict):
            for name, item in value.items():
                flat[f"{key}.{name}"] = item
        else:
            flat[key] = value
    return flat


@dataclass(frozen=True)
class DiffLine:
    path: str
    old: Any
    new: Any

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"


def diff_payloads(old: dict[str, Any] | None, new: dict[str, Any]) -> list[DiffLine]:
    """What changed between two payloads, path by path (``old`` None = everything added)."""
    before = flatten_payload(old) if old else {}
    after = flatten_payload(new)
    lines = []
    for path in sorted(before.keys() | after.keys()):
        a, b = before.get(path), after.get(path)
        if a != b:
            lines.append(DiffLine(path, a, b))
    return lines
