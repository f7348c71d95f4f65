"""The default chart of accounts (domain.md section 2.7) and per-member savings accounts."""

from __future__ import annotations

from kmp.ledger.models import AccountType
from kmp.ledger.services import open_account

A, L, E, I, X = (  # noqa: E741 - short type names keep the chart table readable
    AccountType.ASSET,
    AccountType.LIABILITY,
    AccountType.EQUITY,
    AccountType.INCOME,
    AccountType.EXPENSE,
)

CASH = "asset:cash"
BANK = "asset:bank"
GATEWAY_CLEARING = "asset:gateway-clearing"
RESERVE = "equity:reserve"
SHU_CURRENT = "equity:shu-current-year"
PARTNER_PAYABLE = "liability:partner-payable"
PAYOUT_IN_TRANSIT = "liability:payout-in-transit"
REFUND_PAYABLE = "liability:exit-refund-payable"
SHU_FUNDS = {
    "dana_pengurus": "liability:shu-fund:pengurus",
    "dana_karyawan": "liability:shu-fund:karyawan",
    "dana_pendidikan": "liability:shu-fund:pendidikan",
    "dana_sosial": "liability:shu-fund:sosial",
}

DEFAULT_CHART: tuple[tuple[str, str, AccountType], ...] = (
    (CASH, "Kas", A),
    (BANK, "Bank", A),
    (GATEWAY_CLEARING, "Kliring payment gateway (Midtrans)", A),
    ("asset:receivable:members", "Piutang anggota", A),
    ("equity:special-savings", "Simpanan khusus", E),
    ("equity:capital-participation", "Modal penyertaan", E),
    ("equity:grants", "Hibah / donasi", E),
    (RESERVE, "Cadangan", E),
    (SHU_CURRENT, "SHU tahun berjalan", E),
    (SHU_FUNDS["dana_pengurus"], "SHU belum dibagikan: dana pengurus", L),
    (SHU_FUNDS["dana_karyawan"], "SHU belum dibagikan: dana karyawan", L),
    (SHU_FUNDS["dana_pendidikan"], "SHU belum dibagikan: dana pendidikan", L),
    (SHU_FUNDS["dana_sosial"], "SHU belum dibagikan: dana sosial", L),
    ("liability:bpjs-deposits", "Dana BPJS titipan", L),
    (PARTNER_PAYABLE, "Utang kepada mitra platform (remitansi ditolak)", L),
    (PAYOUT_IN_TRANSIT, "Pembayaran dalam proses transfer", L),
    (REFUND_PAYABLE, "Utang pengembalian simpanan anggota keluar", L),
    ("income:member-services", "Pendapatan jasa dari anggota", I),
    ("income:non-member-services", "Pendapatan jasa dari non-anggota", I),
    ("income:platform-fees", "Pendapatan kontribusi mitra platform", I),
    ("income:other", "Pendapatan lain-lain", I),
    ("expense:operations", "Beban operasional", X),
    ("expense:salaries", "Beban gaji karyawan", X),
    ("expense:gateway-fees", "Beban biaya payment gateway", X),
    ("expense:other", "Beban lain-lain", X),
)

#: Member savings kinds: (code prefix, Indonesian name, type).
MEMBER_ACCOUNTS = {
    "pokok": ("equity:savings:principal", "Simpanan pokok", E),
    "wajib": ("equity:savings:mandatory", "Simpanan wajib", E),
    "sukarela": ("liability:savings:voluntary", "Simpanan sukarela", L),
    "shu": ("liability:shu-payable", "SHU belum dibayar", L),
}


def install_chart() -> int:
    """Create every missing account of the default chart (idempotent). Returns how many exist."""
    for code, name, type_ in DEFAULT_CHART:
        open_account(code, name, type_)
    return len(DEFAULT_CHART)


def member_account_code(kind: str, member_no: str) -> str:
    prefix = MEMBER_ACCOUNTS[kind][0]
    return f"{prefix}:{member_no}"


def open_member_accounts(member_id: int, member_no: str) -> dict[str, int]:
    """Open a member's savings and SHU accounts (no negative balance allowed); idempotent."""
    ids = {}
    for kind, (prefix, name, type_) in MEMBER_ACCOUNTS.items():
        account = open_account(
            f"{prefix}:{member_no}",
            f"{name} {member_no}",
            type_,
            owner_id=member_id,
            no_negative=True,
        )
        ids[kind] = account.id
    return ids
