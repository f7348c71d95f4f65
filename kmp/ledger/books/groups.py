"""The fixed groups of the chart of accounts, as the cooperative statements need them.

Every account belongs to one group. The system accounts (the default chart, the accounts the
features open, every member's savings accounts) are placed by their code; an account the board
adds names its group, which must be of the account's type (a database CHECK holds the pairs).
Statement sections follow SAK EP for cooperatives: current / non-current assets, liabilities
(with the trust funds held for others), member equity, reserves, SHU; income by business unit
and expenses by nature.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from kmp.ledger.models import AccountType

A, L, E, I, X = (  # noqa: E741 - short type names keep the table readable
    AccountType.ASSET,
    AccountType.LIABILITY,
    AccountType.EQUITY,
    AccountType.INCOME,
    AccountType.EXPENSE,
)


@dataclass(frozen=True)
class AccountGroup:
    key: str
    type: AccountType
    section: str  # current | non_current | trust | equity | unit | other | nature
    label: object  # a lazy Indonesian string
    order: int


GROUPS: tuple[AccountGroup, ...] = (
    AccountGroup("cash_bank", A, "current", _l("Aset lancar: kas dan bank"), 10),
    AccountGroup("other_current_assets", A, "current", _l("Aset lancar: piutang dan lainnya"), 20),
    AccountGroup("non_current_assets", A, "non_current", _l("Aset tidak lancar"), 30),
    AccountGroup("current_liabilities", L, "current", _l("Kewajiban jangka pendek"), 40),
    AccountGroup("trust_funds", L, "trust", _l("Dana titipan dan dana SHU belum dibagikan"), 50),
    AccountGroup("non_current_liabilities", L, "non_current", _l("Kewajiban jangka panjang"), 60),
    AccountGroup("member_equity", E, "equity", _l("Ekuitas anggota"), 70),
    AccountGroup("reserves", E, "equity", _l("Cadangan"), 80),
    AccountGroup("surplus", E, "equity", _l("Sisa hasil usaha"), 90),
    AccountGroup("income_member_services", I, "unit", _l("Pendapatan unit jasa anggota"), 100),
    AccountGroup("income_platform", I, "unit", _l("Pendapatan unit kemitraan platform"), 110),
    AccountGroup("income_other", I, "other", _l("Pendapatan lain-lain"), 120),
    AccountGroup("expense_staff", X, "nature", _l("Beban pegawai"), 130),
    AccountGroup("expense_operations", X, "nature", _l("Beban operasional dan umum"), 140),
    AccountGroup(
        "expense_financial", X, "nature", _l("Beban keuangan (bank, payment gateway)"), 150
    ),
    AccountGroup("expense_depreciation", X, "nature", _l("Beban penyusutan"), 160),
    AccountGroup("expense_other", X, "nature", _l("Beban lain-lain"), 170),
)
BY_KEY = {g.key: g for g in GROUPS}

#: Where the system accounts sit, by code prefix (longest prefix wins).
SYSTEM_PREFIXES: tuple[tuple[str, str], ...] = (
    ("asset:cash", "cash_bank"),
    ("asset:bank", "cash_bank"),
    ("asset:gateway-clearing", "cash_bank"),
    ("asset:", "other_current_assets"),
    ("liability:shu-fund", "trust_funds"),
    ("liability:bpjs-deposits", "trust_funds"),
    ("liability:", "current_liabilities"),
    ("equity:reserve", "reserves"),
    ("equity:shu-current-year", "surplus"),
    ("equity:", "member_equity"),
    ("income:platform-fees", "income_platform"),
    ("income:member-services", "income_member_services"),
    ("income:non-member-services", "income_member_services"),
    ("income:", "income_other"),
    ("expense:salaries", "expense_staff"),
    ("expense:operations", "expense_operations"),
    ("expense:gateway-fees", "expense_financial"),
    ("expense:", "expense_other"),
)
_ORDERED_PREFIXES = sorted(SYSTEM_PREFIXES, key=lambda p: -len(p[0]))


def system_group(code: str) -> str:
    """The group of a system account, from its code."""
    for prefix, key in _ORDERED_PREFIXES:
        if prefix.endswith(":"):
            if code.startswith(prefix):
                return key
        elif code == prefix or code.startswith(prefix + ":"):
            return key
    raise KeyError(code)


def groups_of_type(type_: AccountType | str) -> list[AccountGroup]:
    return [g for g in GROUPS if g.type == AccountType(type_)]


def check_sql() -> str:
    """SQL for the CHECK that a custom account's group is one of its type's groups."""
    clauses = []
    for type_ in AccountType:
        keys = ", ".join(f"'{g.key}'" for g in groups_of_type(type_))
        clauses.append(f"(account_type = '{type_.value}' AND group_key IN ({keys}))")
    return " OR ".join(clauses)
