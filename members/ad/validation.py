"""Validating an AD configuration: every field bounded with a message, the allocation summing
to 10 000 bp, the weights capped, the competence rules well formed."""

from __future__ import annotations

from typing import Any

from kmp.i18n import gettext
from kmp.money import format_number
from members.ad.competence import validate_rules
from members.ad.config import (
    _CODE_RE,
    _KEY_RE,
    _MONTH_DAY_RE,
    _PREFIX_RE,
    BP_TOTAL,
    CAPITAL_BASES,
    EXITED_MEMBER_OPTIONS,
    LEGAL_MAX_TERM_YEARS,
    MAX_AMOUNT_IDR,
    MAX_DENOMINATOR,
    MAX_GROUP_VOTE_BP,
    MAX_SEATS,
    MEMBER_KINDS,
    MEMBERS_KEY,
    MIN_ACTIVE_GROUPS,
    PATRONAGE_MEASURES,
    RESERVE_KEY,
    ADConfig,
    ADInvalid,
    Ratio,
)


def _rp(value: int) -> str:
    return format_number(value)


#: (minimum, maximum, unit) of every whole-number setting of a group ...
GROUP_BOUNDS: dict[str, tuple[int, int, str]] = {
    "pokok_idr": (1, MAX_AMOUNT_IDR, "Rp"),
    "wajib_idr": (1, MAX_AMOUNT_IDR, "Rp"),
    "vote_weight_bp": (0, BP_TOTAL, "bp"),
    "shu_weight_bp": (0, BP_TOTAL, "bp"),
    "pengurus_seats": (0, MAX_SEATS, "kursi"),
    "pengawas_seats": (0, MAX_SEATS, "kursi"),
}
#: ... and of the AD itself (the RAT deadline and the officers' term have their own rule).
TOP_BOUNDS: dict[str, tuple[int, int, str]] = {
    "jasa_modal_bp": (0, BP_TOTAL, "bp"),
    "jasa_usaha_bp": (0, BP_TOTAL, "bp"),
    "max_wajib_arrears_months": (0, 120, "bulan"),
    "notice_period_days": (1, 365, "hari"),
    "rat_warning_months": (0, 6, "bulan"),
    "certificate_warning_days": (0, 3650, "hari"),
    "backdate_days": (0, 3650, "hari"),
    "max_remittance_per_worker_month_idr": (1, MAX_AMOUNT_IDR, "Rp"),
}


def _amount(value: int, unit: str) -> str:
    units = {"bulan": gettext("bulan"), "hari": gettext("hari"), "kursi": gettext("kursi")}
    return f"Rp {_rp(value)}" if unit == "Rp" else f"{_rp(value)} {units.get(unit, unit)}"


def _check_bounds(add, path: str, value: int, low: int, high: int, unit: str) -> None:
    if value < 0 and low >= 0:
        add((path, gettext("tidak boleh negatif.")))
    elif value < low:
        if unit == "Rp":
            add((path, gettext("harus lebih dari Rp 0.")))
        else:
            add((path, gettext("harus paling sedikit %(low)s.", low=_amount(low, unit))))
    elif value > high:
        add((path, gettext("paling banyak %(high)s.", high=_amount(high, unit))))


def _every_year(month_day: str) -> bool:
    import datetime as dt

    month, day = (int(p) for p in month_day.split("-"))
    try:
        dt.date(2025, month, day)  # a common year: 02-29 does not exist every year
    except ValueError:
        return False
    return True


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
                    gettext(
                        "kode kelompok harus 2-20 huruf kecil/angka/garis bawah, diawali huruf."
                    ),
                )
            )
        elif g.code in codes:
            add(
                (
                    f"groups[{index}].code",
                    gettext("kode kelompok '%(code)s' dipakai lebih dari sekali.", code=g.code),
                )
            )
        codes.setdefault(g.code, index)
        if not _PREFIX_RE.match(g.member_no_prefix or ""):
            add(
                (f"{path}.member_no_prefix", gettext("awalan nomor anggota harus 2-5 huruf besar."))
            )
        elif g.member_no_prefix in prefixes:
            add(
                (
                    f"{path}.member_no_prefix",
                    gettext(
                        "awalan nomor anggota '%(member_no_prefix)s' sudah dipakai kelompok "
                        "'%(prefixes)s'.",
                        member_no_prefix=g.member_no_prefix,
                        prefixes=prefixes[g.member_no_prefix],
                    ),
                )
            )
        prefixes.setdefault(g.member_no_prefix, g.code)
        if not g.name_id or not g.name_en:
            add(
                (
                    f"{path}.name_id" if not g.name_id else f"{path}.name_en",
                    gettext("nama kelompok wajib diisi."),
                )
            )
        if g.kind not in MEMBER_KINDS:
            add((f"{path}.kind", gettext("jenis anggota harus 'individual' atau 'company'.")))
        if g.patronage_measure not in PATRONAGE_MEASURES:
            add(
                (
                    f"{path}.patronage_measure",
                    gettext(
                        "ukuran jasa usaha harus salah satu dari: %(choices)s.",
                        choices=", ".join(PATRONAGE_MEASURES),
                    ),
                )
            )
        for name, bounds in GROUP_BOUNDS.items():
            _check_bounds(add, f"{path}.{name}", getattr(g, name), *bounds)
        if g.is_active and g.vote_weight_bp >= MAX_GROUP_VOTE_BP:
            add(
                (
                    f"{path}.vote_weight_bp",
                    gettext(
                        "bobot suara satu kelompok harus kurang dari %(MAX_GROUP_VOTE_BP)s bp "
                        "(50 %%); kelompok '%(code)s' diberi %(vote_weight_bp)s bp.",
                        MAX_GROUP_VOTE_BP=_rp(MAX_GROUP_VOTE_BP),
                        code=g.code,
                        vote_weight_bp=_rp(g.vote_weight_bp),
                    ),
                )
            )

    active = config.active_groups
    if len(active) < MIN_ACTIVE_GROUPS:
        add(
            (
                "groups",
                gettext(
                    "KMP harus punya paling sedikit %(MIN_ACTIVE_GROUPS)s kelompok anggota "
                    "yang aktif; sekarang %(active)s.",
                    MIN_ACTIVE_GROUPS=MIN_ACTIVE_GROUPS,
                    active=len(active),
                ),
            )
        )
    vote_total = sum(g.vote_weight_bp for g in active)
    if vote_total != BP_TOTAL:
        add(
            (
                "groups.vote_weight_bp",
                gettext(
                    "jumlah bobot suara kelompok aktif harus tepat %(BP_TOTAL)s bp (100 "
                    "%%); sekarang %(vote_total)s bp.",
                    BP_TOTAL=_rp(BP_TOTAL),
                    vote_total=_rp(vote_total),
                ),
            )
        )
    shu_total = sum(g.shu_weight_bp for g in active)
    if shu_total != BP_TOTAL:
        add(
            (
                "groups.shu_weight_bp",
                gettext(
                    "jumlah bobot SHU kelompok aktif harus tepat %(BP_TOTAL)s bp (100 %%); "
                    "sekarang %(shu_total)s bp.",
                    BP_TOTAL=_rp(BP_TOTAL),
                    shu_total=_rp(shu_total),
                ),
            )
        )

    keys: set[str] = set()
    for index, line in enumerate(config.shu_allocation):
        if not _KEY_RE.match(line.key or ""):
            add(
                (
                    f"shu_allocation[{index}].key",
                    gettext("kode pos SHU harus huruf kecil/angka/garis bawah, diawali huruf."),
                )
            )
        elif line.key in keys:
            add(
                (
                    f"shu_allocation[{index}].key",
                    gettext("pos SHU '%(key)s' dipakai lebih dari sekali.", key=line.key),
                )
            )
        keys.add(line.key)
        _check_bounds(add, f"shu_allocation.{line.key}", line.bp, 0, BP_TOTAL, "bp")
    allocation_total = sum(line.bp for line in config.shu_allocation)
    if allocation_total != BP_TOTAL:
        add(
            (
                "shu_allocation",
                gettext(
                    "tabel pembagian SHU harus berjumlah tepat %(BP_TOTAL)s bp (100 %%); "
                    "sekarang %(allocation_total)s bp.",
                    BP_TOTAL=_rp(BP_TOTAL),
                    allocation_total=_rp(allocation_total),
                ),
            )
        )
    for key in (RESERVE_KEY, MEMBERS_KEY):
        if key not in keys:
            add(
                (
                    "shu_allocation",
                    gettext("tabel pembagian SHU harus punya pos '%(key)s'.", key=key),
                )
            )

    for name, bounds in TOP_BOUNDS.items():
        _check_bounds(add, name, getattr(config, name), *bounds)
    if config.jasa_modal_bp + config.jasa_usaha_bp != BP_TOTAL:
        add(
            (
                "jasa_modal_bp",
                gettext(
                    "jasa modal + jasa usaha harus tepat %(BP_TOTAL)s bp (100 %%); "
                    "sekarang %(value)s bp.",
                    BP_TOTAL=_rp(BP_TOTAL),
                    value=_rp(config.jasa_modal_bp + config.jasa_usaha_bp),
                ),
            )
        )
    if config.capital_basis not in CAPITAL_BASES:
        add(
            (
                "capital_basis",
                gettext("dasar jasa modal harus 'year_end' atau 'average_month_end'."),
            )
        )
    if config.exited_members not in EXITED_MEMBER_OPTIONS:
        add(("exited_members", gettext("pilihan anggota keluar harus 'prorate' atau 'exclude'.")))
    elif config.exited_members == "exclude" and (
        config.leavers_get_jasa_modal or config.leavers_get_jasa_usaha
    ):
        add(
            (
                "exited_members",
                gettext(
                    "anggota yang keluar di tengah tahun dikecualikan dari SHU, jadi mereka juga "
                    "tidak mendapat jasa modal maupun jasa usaha: matikan kedua pilihan itu, atau "
                    "pilih 'sebanding bulan keanggotaan'."
                ),
            )
        )

    for name in ("quorum", "ordinary_threshold", "special_threshold"):
        ratio: Ratio = getattr(config, name)
        if ratio.denominator <= 0 or ratio.numerator < 0:
            add(
                (name, gettext("pecahan harus punya penyebut positif dan pembilang tidak negatif."))
            )
        elif ratio.denominator > MAX_DENOMINATOR:
            add(
                (
                    f"{name}.denominator",
                    gettext(
                        "penyebut paling banyak %(MAX_DENOMINATOR)s.",
                        MAX_DENOMINATOR=_rp(MAX_DENOMINATOR),
                    ),
                )
            )
        elif ratio.numerator > ratio.denominator:
            add((name, gettext("pecahan tidak boleh lebih dari 1.")))
        elif name == "quorum" and ratio.numerator == 0:
            add(("quorum.numerator", gettext("kuorum harus lebih dari 0 (mis. lebih dari 1/2).")))
        elif name == "ordinary_threshold" and ratio.numerator * 2 < ratio.denominator:
            add(
                (
                    "ordinary_threshold.numerator",
                    gettext(
                        "ambang keputusan biasa paling sedikit 1/2 dari suara sah berbobot "
                        "(suara terbanyak, UU 25/1992 Ps 24)."
                    ),
                )
            )
    if (
        config.ordinary_threshold.denominator > 0
        and config.special_threshold.denominator > 0
        and config.special_threshold.numerator * config.ordinary_threshold.denominator
        < config.ordinary_threshold.numerator * config.special_threshold.denominator
    ):
        add(
            (
                "special_threshold",
                gettext(
                    "ambang keputusan khusus tidak boleh lebih rendah dari ambang keputusan biasa."
                ),
            )
        )
    if 0 < config.ordinary_threshold.denominator and not config.ordinary_threshold.passes(1, 1):
        add(("ordinary_threshold", gettext("ambang keputusan biasa tidak boleh mustahil dicapai.")))

    if not 1 <= config.rat_deadline_months <= 6:
        add(
            (
                "rat_deadline_months",
                gettext(
                    "RAT harus diadakan paling lambat 6 bulan setelah tutup buku "
                    "(UU 25/1992 Ps 26)."
                ),
            )
        )
    if config.rat_warning_months > config.rat_deadline_months:
        add(("rat_warning_months", gettext("peringatan RAT harus sebelum batas waktunya.")))
    if not _MONTH_DAY_RE.match(config.distribution_date or ""):
        add(
            (
                "distribution_date",
                gettext("tanggal pembagian SHU harus berbentuk BB-HH, mis. 07-31."),
            )
        )
    elif not _every_year(config.distribution_date):
        add(
            (
                "distribution_date",
                gettext(
                    "tanggal pembagian SHU harus tanggal yang ada setiap tahun (mis. 07-31; "
                    "bukan 02-29, 02-30 atau 04-31)."
                ),
            )
        )
    if not 1 <= config.officer_term_max_years <= LEGAL_MAX_TERM_YEARS:
        add(
            (
                "officer_term_max_years",
                gettext(
                    "masa jabatan pengurus/pengawas paling lama %(LEGAL_MAX_TERM_YEARS)s "
                    "tahun (UU 25/1992 Ps 29).",
                    LEGAL_MAX_TERM_YEARS=LEGAL_MAX_TERM_YEARS,
                ),
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
