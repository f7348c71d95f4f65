"""Pure governance helpers (no Flask, no database): census fingerprint, receipt codes, change
tokens, the RAT deadline and the JSON form of a tally (what a resolution stores)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from governance.seats import ElectionResult, SeatAllocation
from governance.tally import GroupRow, ProposalResult, format_percent

# --------------------------------------------------------------------------- census


def census_lines(entries: Iterable[tuple[str, str]]) -> list[str]:
    """``[(member_no, group_code), ...]`` -> the sorted ``member_no|group`` lines."""
    return sorted(f"{member_no}|{group}" for member_no, group in entries)


def census_fingerprint(entries: Iterable[tuple[str, str]]) -> str:
    """SHA-256 (hex) of the census: its ``member_no|group_code`` lines sorted, each ended by
    ``\\n``, UTF-8. Anyone holding the list can recompute it (``sha256sum`` of the file)."""
    text = "".join(line + "\n" for line in census_lines(entries))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- receipts

RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
RECEIPT_LENGTH = 12  # 60 random bits
_RECEIPT_FIX = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_receipt_code() -> str:
    """A random receipt code such as ``7K3M-Q9TX-2HRB`` (60 bits from ``secrets``)."""
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
    return f"{raw[0:4]}-{raw[4:8]}-{raw[8:12]}"


def normalise_receipt_code(text: str | None) -> str | None:
    """What a voter typed -> the stored form, or ``None`` if it cannot be a receipt code.
    Spaces, dashes and case do not matter; O reads as 0 and I/L as 1."""
    raw = "".join(ch for ch in (text or "").upper() if ch.isalnum()).translate(_RECEIPT_FIX)
    if len(raw) != RECEIPT_LENGTH or any(ch not in RECEIPT_ALPHABET for ch in raw):
        return None
    return f"{raw[0:4]}-{raw[4:8]}-{raw[8:12]}"


def change_token(secret: str | bytes, proposal_id: int, member_id: int) -> str:
    """The voter's secret token for changing their vote: HMAC-SHA256 of the proposal and the
    member under the server secret. Only its hash (``change_hash``) is stored."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    message = f"ballot-change:{proposal_id}:{member_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def change_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


# --------------------------------------------------------------------------- RAT deadline


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def rat_deadline(fiscal_year: int, deadline_months: int = 6) -> dt.date:
    """Last day on which the RAT of ``fiscal_year`` may be held (30 June of the next year by
    default: UU 25/1992 Ps 26 and domain decision 10)."""
    return _add_months(dt.date(fiscal_year + 1, 1, 1), deadline_months) - dt.timedelta(days=1)


def rat_warning_from(fiscal_year: int, warning_months: int = 5) -> dt.date:
    """First day of the warning period: the start of month ``warning_months`` after year end
    (1 May of the next year by default)."""
    return _add_months(dt.date(fiscal_year + 1, 1, 1), warning_months - 1)


def rat_status(
    fiscal_year: int,
    held_on: dt.date | None,
    today: dt.date,
    deadline_months: int = 6,
    warning_months: int = 5,
) -> str:
    """``on_time`` | ``late`` (held after the deadline) | ``overdue`` (not held, deadline
    passed) | ``due_soon`` (not held, in the warning period) | ``pending``."""
    deadline = rat_deadline(fiscal_year, deadline_months)
    if held_on is not None:
        return "on_time" if held_on <= deadline else "late"
    if today > deadline:
        return "overdue"
    if today >= rat_warning_from(fiscal_year, warning_months):
        return "due_soon"
    return "pending"


# --------------------------------------------------------------------------- tally <-> JSON


def frac(value: Fraction | None) -> str | None:
    """``Fraction(2, 3)`` -> ``"2/3"`` (exact, JSON-safe); ``None`` stays ``None``."""
    if value is None:
        return None
    return f"{value.numerator}/{value.denominator}"


def unfrac(text: str | None) -> Fraction | None:
    if text is None:
        return None
    numerator, _, denominator = str(text).partition("/")
    return Fraction(int(numerator), int(denominator or 1))


def percent(text: str | Fraction | None, places: int = 2) -> str:
    """``"2/3"`` -> ``"66,67 %"`` (Indonesian decimal comma); ``None`` -> ``"–"``."""
    value = unfrac(text) if isinstance(text, str) else text
    if value is None:
        return "–"
    return format_percent(value, places).replace(".", ",") + " %"


def _shares(mapping) -> dict[str, str] | None:
    return None if mapping is None else {k: frac(v) for k, v in mapping.items()}


def _group(row: GroupRow) -> dict[str, Any]:
    return {
        "code": row.code,
        "weight_bp": row.weight_bp,
        "eligible": row.eligible,
        "participants": row.participants,
        "valid": row.valid,
        "counts": dict(row.counts),
        "shares": _shares(row.shares),
        "turnout": frac(row.turnout),
        "quorum_met": row.quorum_met,
        "counted": row.counted,
        "effective_weight": frac(row.effective_weight),
    }


def proposal_result_json(result: ProposalResult) -> dict[str, Any]:
    return {
        "type": "proposal",
        "groups": [_group(r) for r in result.groups],
        "options": list(result.options),
        "yes_option": result.yes_option,
        "abstain_option": result.abstain_option,
        "quorum": frac(result.quorum),
        "quorum_inclusive": result.quorum_inclusive,
        "threshold": frac(result.threshold),
        "threshold_inclusive": result.threshold_inclusive,
        "require_group_quorum": result.require_group_quorum,
        "total_eligible": result.total_eligible,
        "total_participants": result.total_participants,
        "total_valid": result.total_valid,
        "total_counts": dict(result.total_counts),
        "turnout": frac(Fraction(result.total_participants, result.total_eligible))
        if result.total_eligible
        else None,
        "quorum_met": result.quorum_met,
        "group_quorums_met": result.group_quorums_met,
        "weighted_shares": _shares(result.weighted_shares),
        "weighted_yes_share": frac(result.weighted_yes_share),
        "passed": result.passed,
        "reasons": list(result.reasons),
        "plain_shares": _shares(result.plain_shares),
        "plain_yes_share": frac(result.plain_yes_share),
        "plain_passed": result.plain_passed,
        "plain_reasons": list(result.plain_reasons),
    }


def _allocation(allocation: SeatAllocation | None) -> dict[str, Any] | None:
    if allocation is None:
        return None
    return {
        "seats": allocation.seats,
        "elected": list(allocation.elected),
        "ties": [
            {
                "kind": t.kind,
                "group": t.group,
                "share": frac(t.share),
                "candidates": list(t.candidates),
                "seats": t.seats,
            }
            for t in allocation.ties
        ],
        "reserved": {
            g: {"total": c.total, "filled": c.filled, "contested": c.contested, "vacant": c.vacant}
            for g, c in allocation.reserved.items()
        },
        "general": {
            "total": allocation.general.total,
            "filled": allocation.general.filled,
            "contested": allocation.general.contested,
            "vacant": allocation.general.vacant,
        },
        "unfilled": allocation.unfilled,
        "reasons": list(allocation.reasons),
    }


def election_result_json(result: ElectionResult) -> dict[str, Any]:
    return {
        "type": "election",
        "groups": [_group(r) for r in result.groups],
        "candidates": [
            {
                "candidate": c.candidate,
                "group": c.group,
                "votes": c.votes,
                "weighted_share": frac(c.weighted_share),
                "plain_share": frac(c.plain_share),
                "elected_weighted": c.elected_weighted,
                "elected_plain": c.elected_plain,
            }
            for c in result.candidates
        ],
        "seats": result.seats,
        "quorum": frac(result.quorum),
        "quorum_inclusive": result.quorum_inclusive,
        "require_group_quorum": result.require_group_quorum,
        "total_eligible": result.total_eligible,
        "total_participants": result.total_participants,
        "total_valid": result.total_valid,
        "turnout": frac(Fraction(result.total_participants, result.total_eligible))
        if result.total_eligible
        else None,
        "quorum_met": result.quorum_met,
        "group_quorums_met": result.group_quorums_met,
        "quorate": result.quorate,
        "weighted": _allocation(result.weighted),
        "plain": _allocation(result.plain),
        "complete": result.complete,
        "reasons": list(result.reasons),
    }


REASON_LABELS = {
    "quorum_not_met": "Kuorum keseluruhan tidak tercapai",
    "group_quorum_not_met": "Kuorum kelompok tidak tercapai",
    "no_valid_votes": "Tidak ada suara sah",
    "threshold_not_reached": "Ambang persetujuan tidak tercapai",
    "seats_tied": "Ada suara seimbang untuk kursi terakhir (belum diputuskan)",
    "reserved_seats_vacant": "Kursi khusus kelompok tidak terisi",
    "general_seats_vacant": "Kursi umum tidak terisi",
    "no_eligible_voters": "Tidak ada pemilih yang berhak",
}


def reason_label(reason: str) -> str:
    """``"group_quorum_not_met:kurir"`` -> ``"Kuorum kelompok tidak tercapai (kurir)"``."""
    code, _, group = reason.partition(":")
    label = REASON_LABELS.get(code, code)
    return f"{label} ({group})" if group else label


def bar_chart(
    rows: list[tuple[str, Fraction | None, Fraction | None]],
    *,
    width: int = 320,
    bar_height: int = 14,
    gap: int = 10,
    label_width: int = 110,
) -> dict[str, Any]:
    """Geometry of a horizontal bar chart: per row a weighted and a plain bar.

    ``rows`` = ``[(label, weighted_share, plain_share), ...]``; returns a dict the template
    turns into SVG ``<rect>`` elements (presentation attributes only: CSP-safe).
    """
    usable = width - label_width - 52
    items = []
    y = 4
    for label, weighted, plain in rows:
        w = int((weighted or 0) * usable)
        p = int((plain or 0) * usable)
        items.append(
            {
                "label": label,
                "y": y,
                "text_y": y + bar_height,
                "weighted_width": w,
                "plain_width": p,
                "weighted_text": percent(weighted),
                "plain_text": percent(plain),
                "plain_y": y + bar_height + 2,
            }
        )
        y += 2 * bar_height + 2 + gap
    return {
        "width": width,
        "height": y,
        "bar_height": bar_height,
        "x0": label_width,
        "bars": items,
    }
