"""The versioned rate table: programmes, rates in force for a month, income brackets, quotes.

Rates are never constants in code: they are rows of ``protection_rates`` with an
``effective_from`` month, edited by the pengurus (``add_rate``). ``install_default_rates``
seeds the table once (``kmp init``) with the rates of the issue:

* BPJS Ketenagakerjaan, Bukan Penerima Upah: JKK 1 % and JHT 2 % of the declared monthly
  income (PP 44/2015, PP 46/2015), JKM Rp6.800 a month;
* JKN PBPU (Perpres 64/2020): class I Rp150.000, class II Rp100.000, class III Rp42.000 of
  which the participant pays Rp35.000, per person per month.

**Rounding.** A percentage contribution is rounded half up to the whole Rupiah:
``(income_idr * rate_bp + 5_000) // 10_000`` (with incomes in whole thousands, 1 % and 2 % are
exact). A JKN contribution is ``participant_idr * persons``. A subsidy share is rounded down
(the social fund never pays more than its share; ``members.protection.billing``). The same
formulas run in SQL for the monthly bill and in Python for a quote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from kmp.errors import DomainError
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.money import format_rupiah
from kmp.timeutil import add_months, business_date
from members.protection.models import ContributionRate, IncomeBracket

PROGRAMMES = ("jkk", "jkm", "jht", "jkn")
TK_PROGRAMMES = ("jkk", "jkm", "jht")
JKN_CLASSES = ("1", "2", "3")
#: Obligation family of every contribution (a check-off line "bpjs" pays them).
FAMILY = "bpjs"
KINDS = {"jkk": "bpjs_jkk", "jkm": "bpjs_jkm", "jht": "bpjs_jht", "jkn": "jkn"}
PROGRAMME_OF_KIND = {kind: programme for programme, kind in KINDS.items()}
#: Order among the month's contributions when a payment cannot pay them all (accident and
#: death cover first); simpanan wajib has priority 50.
PRIORITIES = {"jkk": 40, "jkm": 41, "jht": 42, "jkn": 45}
TRUST_PARENT = "liability:bpjs-deposits"
TRUST_ACCOUNTS = {p: f"{TRUST_PARENT}:{p}" for p in PROGRAMMES}
LABELS = {
    "jkk": "JKK (Jaminan Kecelakaan Kerja)",
    "jkm": "JKM (Jaminan Kematian)",
    "jht": "JHT (Jaminan Hari Tua)",
    "jkn": "JKN (BPJS Kesehatan)",
}
SHORT = {"jkk": "JKK", "jkm": "JKM", "jht": "JHT", "jkn": "JKN"}
BP = 10_000

DEFAULT_RATES: tuple[tuple[str, str, str, int | None, int | None, int | None, str, str], ...] = (
    ("jkk", "", "percent", 100, None, None, "2015-07-01", "PP 44/2015: BPU JKK 1 % penghasilan"),
    ("jkm", "", "fixed", None, 6_800, 6_800, "2015-07-01", "PP 44/2015: BPU JKM Rp6.800/bulan"),
    ("jht", "", "percent", 200, None, None, "2015-07-01", "PP 46/2015: BPU JHT 2 % penghasilan"),
    ("jkn", "1", "fixed", None, 150_000, 150_000, "2020-07-01", "Perpres 64/2020: kelas I"),
    ("jkn", "2", "fixed", None, 100_000, 100_000, "2020-07-01", "Perpres 64/2020: kelas II"),
    (
        "jkn",
        "3",
        "fixed",
        None,
        42_000,
        35_000,
        "2021-01-01",
        "Perpres 64/2020: kelas III Rp42.000, peserta Rp35.000, sisanya dibayar pemerintah",
    ),
)
#: The seeded bracket list. Its ends are BPJS's: JKK BPU at least Rp10.000 and at most
#: Rp207.000 a month (PP 44/2015), i.e. a declared income of Rp1.000.000 to Rp20.700.000.
#: The steps in between are KMP's starting list (the official table was not retrievable):
#: the bendahara checks it against BPJS's current table and replaces it on the rates page.
DEFAULT_BRACKETS = (
    1_000_000,
    1_500_000,
    2_000_000,
    2_500_000,
    3_000_000,
    3_500_000,
    4_000_000,
    4_500_000,
    5_000_000,
    6_000_000,
    7_000_000,
    8_000_000,
    9_000_000,
    10_000_000,
    12_500_000,
    15_000_000,
    17_500_000,
    20_000_000,
    20_700_000,
)
DEFAULT_BRACKETS_FROM = dt.date(2015, 7, 1)
DEFAULT_BRACKETS_NOTE = (
    "Daftar awal KMP: Rp1.000.000 s.d. Rp20.700.000 (iuran JKK BPU Rp10.000 s.d. Rp207.000, "
    "PP 44/2015); cocokkan dengan tabel BPJS terbaru."
)


class RateError(DomainError):
    code = "bad_rate"


@dataclass(frozen=True)
class RateSpec:
    programme: str
    jkn_class: str
    method: str
    rate_bp: int | None
    amount_idr: int | None
    participant_idr: int | None
    effective_from: dt.date
    id: int | None = None

    def contribution_idr(self, *, income_idr: int | None = None, persons: int = 1) -> int:
        """What the participant pays for a month (see the module doc for the rounding)."""
        if self.method == "percent":
            if income_idr is None or income_idr <= 0:
                raise RateError(_("Penghasilan yang dilaporkan wajib diisi."), field="income")
            return percent_of(income_idr, int(self.rate_bp or 0))
        return int(self.participant_idr or 0) * persons

    def describe(self) -> str:
        if self.method == "percent":
            whole, rest = divmod(int(self.rate_bp or 0), 100)
            percent = f"{whole},{rest:02d} %".replace(",00", "")
            return _("%(p)s penghasilan", p=percent)
        text = _("%(a)s/orang/bulan", a=format_rupiah(self.amount_idr))
        if self.participant_idr != self.amount_idr:
            text += " " + _("(peserta %(a)s)", a=format_rupiah(self.participant_idr))
        return text


def percent_of(amount_idr: int, rate_bp: int) -> int:
    """``rate_bp`` basis points of ``amount_idr``, rounded half up to the Rupiah."""
    return (amount_idr * rate_bp + BP // 2) // BP


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _spec(row: ContributionRate) -> RateSpec:
    return RateSpec(
        row.programme,
        row.jkn_class,
        row.method,
        row.rate_bp,
        row.amount_idr,
        row.participant_idr,
        row.effective_from,
        row.id,
    )


def rates_in_force(month: dt.date) -> dict[tuple[str, str], RateSpec]:
    """``{(programme, jkn_class): rate}`` in force in ``month`` (class '' outside JKN)."""
    period = month_start(month)
    rows = db.session.scalars(
        select(ContributionRate)
        .where(ContributionRate.effective_from <= period)
        .order_by(
            ContributionRate.programme,
            ContributionRate.jkn_class,
            ContributionRate.effective_from.desc(),
            ContributionRate.id.desc(),
        )
    )
    result: dict[tuple[str, str], RateSpec] = {}
    for row in rows:
        result.setdefault((row.programme, row.jkn_class), _spec(row))
    return result


def rate_in_force(programme: str, month: dt.date, jkn_class: str = "") -> RateSpec:
    rate = rates_in_force(month).get((programme, jkn_class))
    if rate is None:
        raise RateError(
            _("Tarif %(p)s belum diisi untuk bulan ini.", p=SHORT.get(programme, programme)),
            code="no_rate",
        )
    return rate


def brackets_in_force(month: dt.date) -> list[int]:
    """The declared-income brackets in force in ``month``, smallest first."""
    period = month_start(month)
    latest = db.session.scalar(
        select(func.max(IncomeBracket.effective_from)).where(IncomeBracket.effective_from <= period)
    )
    if latest is None:
        return []
    return list(
        db.session.scalars(
            select(IncomeBracket.amount_idr)
            .where(IncomeBracket.effective_from == latest)
            .order_by(IncomeBracket.amount_idr)
        )
    )


@dataclass(frozen=True)
class QuoteLine:
    programme: str
    amount_idr: int
    rate: RateSpec
    persons: int = 1


def parse_programmes(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"jkk,jkm,jht"`` -> ``("jkk", "jkm", "jht")`` in table order; unknown names refused."""
    names = [p.strip().lower() for p in (text.split(",") if isinstance(text, str) else text)]
    names = [p for p in names if p]
    unknown = sorted(set(names) - set(PROGRAMMES))
    if unknown or not names:
        raise RateError(
            _(
                "Program tidak dikenal: %(p)s (pilih dari jkk, jkm, jht, jkn).",
                p=", ".join(unknown),
            ),
            field="programs",
        )
    return tuple(p for p in PROGRAMMES if p in names)


def quote(
    programmes: Sequence[str],
    *,
    income_idr: int | None = None,
    jkn_class: str | None = None,
    persons: int = 1,
    month: dt.date | None = None,
) -> list[QuoteLine]:
    """One line per programme with this month's (or ``month``'s) rates."""
    month = month or business_date()
    rates = rates_in_force(month)
    lines = []
    for programme in programmes:
        key = (programme, (jkn_class or "3") if programme == "jkn" else "")
        rate = rates.get(key)
        if rate is None:
            raise RateError(
                _("Tarif %(p)s belum diisi untuk bulan ini.", p=SHORT[programme]), code="no_rate"
            )
        count = persons if programme == "jkn" else 1
        amount = rate.contribution_idr(income_idr=income_idr, persons=count)
        lines.append(QuoteLine(programme, amount, rate, count))
    return lines


# --------------------------------------------------------------------------- editing


def check_effective(effective_from: dt.date, programme: str | None = None) -> dt.date:
    """A new version starts on a month's first day, not before this month; this month only
    while it has not been billed (a billed month keeps the amounts it was billed at)."""
    from members.protection.models import Contribution

    if effective_from.day != 1:
        raise RateError(_("Tanggal berlaku harus tanggal 1 suatu bulan."), field="effective_from")
    this_month = month_start(business_date())
    if effective_from < this_month:
        raise RateError(
            _("Perubahan tidak bisa berlaku surut: mulai bulan ini atau sesudahnya."),
            field="effective_from",
        )
    if effective_from == this_month:
        billed = select(Contribution.id).where(Contribution.period == this_month)
        if programme is not None:
            billed = billed.where(Contribution.programme == programme)
        if db.session.scalar(billed.limit(1)) is not None:
            raise RateError(
                _(
                    "Bulan ini sudah ditagih dengan tarif lama; perubahan berlaku paling cepat "
                    "%(m)s.",
                    m=add_months(this_month, 1).strftime("%Y-%m"),
                ),
                field="effective_from",
            )
    return effective_from


def add_rate(
    programme: str,
    *,
    effective_from: dt.date,
    rate_bp: int | None = None,
    amount_idr: int | None = None,
    participant_idr: int | None = None,
    jkn_class: str = "",
    note: str | None = None,
    by_user=None,
) -> ContributionRate:
    """A new version of a programme's rate (the pengurus): percent programmes (JKK, JHT) take
    ``rate_bp``, the others an amount per person and the participant's part of it."""
    if programme not in PROGRAMMES:
        raise RateError(_("Program tidak dikenal."), field="programme")
    if (programme == "jkn") != (jkn_class in JKN_CLASSES):
        raise RateError(_("Kelas JKN harus 1, 2 atau 3 (hanya untuk JKN)."), field="jkn_class")
    check_effective(effective_from, programme)
    method = "percent" if programme in ("jkk", "jht") else "fixed"
    if method == "percent":
        if not isinstance(rate_bp, int) or isinstance(rate_bp, bool) or not 0 < rate_bp <= BP:
            raise RateError(
                _("Persentase harus lebih dari 0 dan paling banyak 100 persen."), field="rate_bp"
            )
        amount_idr = participant_idr = None
    else:
        participant_idr = amount_idr if participant_idr is None else participant_idr
        if not amount_idr or amount_idr <= 0 or not participant_idr or participant_idr <= 0:
            raise RateError(_("Jumlah iuran harus lebih dari Rp 0."), field="amount_idr")
        if participant_idr > amount_idr:
            raise RateError(
                _("Bagian peserta tidak boleh melebihi iuran penuh."), field="participant_idr"
            )
        rate_bp = None
    row = ContributionRate(
        programme=programme,
        jkn_class=jkn_class if programme == "jkn" else "",
        method=method,
        rate_bp=rate_bp,
        amount_idr=amount_idr,
        participant_idr=participant_idr,
        effective_from=effective_from,
        note=(note or "").strip()[:300] or None,
        created_by_id=getattr(by_user, "id", by_user),
    )
    db.session.add(row)
    db.session.flush()
    return row


def set_brackets(
    amounts: Iterable[int], *, effective_from: dt.date, note: str | None = None, by_user=None
) -> list[int]:
    """Replace the bracket list from ``effective_from`` (a list not yet in force with the same
    date is replaced; one already in force is never touched)."""
    check_effective(effective_from)
    values = sorted(set(amounts))
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in values):
        raise RateError(_("Isi minimal satu penghasilan lebih dari Rp 0."), field="brackets")
    if len(values) > 200:
        raise RateError(_("Terlalu banyak pilihan penghasilan (maks. 200)."), field="brackets")
    db.session.execute(
        IncomeBracket.__table__.delete().where(IncomeBracket.effective_from == effective_from)
    )
    for value in values:
        db.session.add(
            IncomeBracket(
                effective_from=effective_from,
                amount_idr=value,
                note=(note or "").strip()[:300] or None,
                created_by_id=getattr(by_user, "id", by_user),
            )
        )
    db.session.flush()
    return values


def install_default_rates() -> None:
    """``kmp init``: the issue's rates and the starting bracket list, once (idempotent)."""
    if db.session.scalar(select(ContributionRate.id).limit(1)) is None:
        for programme, klass, method, bp, amount, participant, since, note in DEFAULT_RATES:
            db.session.add(
                ContributionRate(
                    programme=programme,
                    jkn_class=klass,
                    method=method,
                    rate_bp=bp,
                    amount_idr=amount,
                    participant_idr=participant,
                    effective_from=dt.date.fromisoformat(since),
                    note=note,
                )
            )
    if db.session.scalar(select(IncomeBracket.id).limit(1)) is None:
        for value in DEFAULT_BRACKETS:
            db.session.add(
                IncomeBracket(
                    effective_from=DEFAULT_BRACKETS_FROM,
                    amount_idr=value,
                    note=DEFAULT_BRACKETS_NOTE,
                )
            )
    db.session.flush()


def rate_history(limit: int = 200) -> list[ContributionRate]:
    return list(
        db.session.scalars(
            select(ContributionRate)
            .order_by(
                ContributionRate.programme,
                ContributionRate.jkn_class,
                ContributionRate.effective_from.desc(),
                ContributionRate.id.desc(),
            )
            .limit(limit)
        )
    )
