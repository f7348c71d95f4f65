"""The loan business's constants: obligation kinds, ledger accounts, collectibility classes
and the PPAP rates (the AD defaults, following the usual banking scale)."""

from __future__ import annotations

from kmp.ledger.models import AccountType

FAMILY = "pinjaman"
PENALTY, INTEREST, PRINCIPAL = "loan_penalty", "loan_interest", "loan_principal"
KINDS = (PENALTY, INTEREST, PRINCIPAL)
PRIORITY = {PENALTY: 10, INTEREST: 20, PRINCIPAL: 30}

RECEIVABLE_PREFIX = "asset:loans:receivable"
INTEREST_INCOME = "income:loan-interest"
FEE_INCOME = "income:loan-fees"
PENALTY_INCOME = "income:loan-penalty"
RECOVERY_INCOME = "income:loan-recovery"
LOSS_EXPENSE = "expense:loan-loss"
ALLOWANCE_PREFIX = "asset:loans:allowance"

#: Collectibility classes: (code, label, lowest days past due, PPAP rate in basis points).
CLASSES: tuple[tuple[str, str, int, int], ...] = (
    ("lancar", "Lancar", 0, 100),
    ("dpk", "Dalam Perhatian Khusus", 1, 500),
    ("kurang_lancar", "Kurang Lancar", 91, 1500),
    ("diragukan", "Diragukan", 121, 5000),
    ("macet", "Macet", 181, 10000),
)
CLASS_LABELS = {code: label for code, label, _, _ in CLASSES}
PPAP_BP = {code: bp for code, _, _, bp in CLASSES}


def allowance_account(collectibility: str) -> str:
    """The allowance (PPAP) account of a collectibility class (``kurang_lancar`` is
    ``asset:loans:allowance:kurang-lancar``: account codes are shown on the ledger pages)."""
    return f"{ALLOWANCE_PREFIX}:{collectibility.replace('_', '-')}"


CHART: tuple[tuple[str, str, AccountType], ...] = (
    (INTEREST_INCOME, "Pendapatan bunga pinjaman anggota", AccountType.INCOME),
    (FEE_INCOME, "Pendapatan administrasi & provisi pinjaman", AccountType.INCOME),
    (PENALTY_INCOME, "Pendapatan denda pinjaman", AccountType.INCOME),
    (RECOVERY_INCOME, "Pendapatan pemulihan pinjaman dihapusbukukan", AccountType.INCOME),
    (LOSS_EXPENSE, "Beban penyisihan & penghapusan pinjaman", AccountType.EXPENSE),
) + tuple(
    (allowance_account(code), f"PPAP pinjaman {label} (pengurang piutang)", AccountType.ASSET)
    for code, label, _, _ in CLASSES
)


def receivable_code(member_no: str) -> str:
    return f"{RECEIVABLE_PREFIX}:{member_no}"


def class_of(days_past_due: int) -> str:
    """The collectibility class of ``days_past_due`` (AD defaults)."""
    found = CLASSES[0][0]
    for code, _label, lowest, _bp in CLASSES:
        if days_past_due >= lowest:
            found = code
    return found


def install_loan_chart() -> None:
    from kmp.ledger.services import open_account

    for code, name, type_ in CHART:
        open_account(code, name, type_)
