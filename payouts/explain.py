"""A member's own SHU explained line by line (the slip)."""

from __future__ import annotations

from payouts.models import (
    DistributionLine,
    DistributionRun,
)


def _pct(part: int, whole: int) -> str:
    """``part / whole`` as a percentage with two decimals, computed on integers."""
    if not whole:
        return "0"
    hundredths = (part * 10_000 * 2 + whole) // (2 * whole)  # rounded half up
    text = f"{hundredths // 100},{hundredths % 100:02d}"
    return text


def explanation_for(run: DistributionRun, line: DistributionLine) -> dict:
    """Numbers for the member's slip, from the stored line and the run's group summary."""
    group = next(
        (g for g in (run.summary or {}).get("groups", []) if g["code"] == line.group_code), {}
    )
    modal_wt = group.get("modal_weight_total", 0)
    usaha_wt = group.get("usaha_weight_total", 0)
    return {
        "group": group,
        "modal_share_pct": _pct(line.capital_basis_idr * line.months, modal_wt),
        "usaha_share_pct": _pct(line.patronage, usaha_wt),
        "modal_redirected": group.get("modal_pool_idr", 0) > 0
        and group.get("modal_paid_idr", 0) == 0,
        "usaha_redirected": group.get("usaha_pool_idr", 0) > 0
        and group.get("usaha_paid_idr", 0) == 0,
        "members_pool_idr": (run.summary or {})
        .get("table_split", {})
        .get((run.summary or {}).get("members_key", "jasa_anggota"), 0),
    }
