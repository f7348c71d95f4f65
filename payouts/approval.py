"""Approving a computed SHU distribution: only by an adopted resolution of the members' meeting
(an SHU-allocation proposal naming the run, or chosen by the board from the adopted ones), and
the receivers of governance's ``resolution_adopted``/``resolution_rejected`` signals."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select

from kmp.auth import user_id_of
from kmp.errors import Forbidden, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.timeutil import now_utc
from payouts.models import DistributionRun, RunStatus
from payouts.services import _transition

log = logging.getLogger(__name__)


def _resolution_refusal(run: DistributionRun, resolution) -> str | None:
    proposal = getattr(resolution, "proposal", None)
    if (
        resolution is None
        or proposal is None
        or str(proposal.kind) != "shu_allocation"
        or str(getattr(resolution, "outcome", "")) != "passed"
    ):
        return gettext(
            "Pembagian SHU hanya bisa disetujui lewat keputusan rapat anggota (usulan "
            "'Pembagian SHU') yang diterima."
        )
    reference = (proposal.reference or "").strip()
    if reference and reference != run.reference:
        return gettext("Keputusan itu tentang pembagian SHU yang lain (%(ref)s).", ref=reference)
    other = db.session.scalar(
        select(DistributionRun.id).where(
            DistributionRun.resolution_id == resolution.id, DistributionRun.id != run.id
        )
    )
    if other is not None:
        return gettext("Keputusan itu sudah dipakai untuk pembagian SHU yang lain.")
    return None


def approve_run(run: DistributionRun, resolution) -> DistributionRun:
    """Approve by an adopted resolution of an SHU-allocation proposal naming this run (or
    naming no run: the board chose it from the list of adopted resolutions)."""
    refusal = _resolution_refusal(run, resolution)
    if refusal:
        raise Forbidden(refusal, code="resolution_required")
    _transition(run, RunStatus.APPROVED)
    run.resolution_id = resolution.id
    run.approved_at = now_utc()
    db.session.flush()
    return run


def adoptable_resolutions(run: DistributionRun) -> list:
    """Adopted SHU-allocation resolutions this run may rest on: passed, naming this run or no
    run, not used by another run. Newest first."""
    from governance.models import Proposal, ProposalKind, Resolution

    used = select(DistributionRun.resolution_id).where(
        DistributionRun.resolution_id.is_not(None), DistributionRun.id != run.id
    )
    rows = db.session.scalars(
        select(Resolution)
        .join(Proposal, Proposal.id == Resolution.proposal_id)
        .where(
            Proposal.kind == ProposalKind.SHU_ALLOCATION,
            Resolution.outcome == "passed",
            Resolution.id.not_in(used),
        )
        .order_by(Resolution.adopted_at.desc(), Resolution.id.desc())
    )
    return [r for r in rows if _resolution_refusal(run, r) is None]


def approve_run_with(run: DistributionRun, resolution_id: int, by_user=None) -> DistributionRun:
    """The board's choice from :func:`adoptable_resolutions` (audited)."""
    from governance.models import Resolution

    if RunStatus(run.status) is not RunStatus.COMPUTED:
        raise IllegalTransition(
            gettext("Hanya pembagian SHU yang sudah dihitung yang bisa disetujui."),
            code="illegal_run_transition",
        )
    resolution = db.session.get(Resolution, resolution_id)
    if resolution is None:
        raise NotFound(gettext("Keputusan rapat itu tidak ada."), field="resolution_id")
    approve_run(run, resolution)
    from kmp import signals

    signals.audit_event.send(
        current_app._get_current_object(),
        action="distribution_run.approved",
        target=run.reference,
        before={"status": "computed"},
        after={"status": "approved", "resolution_id": resolution.id, "by": user_id_of(by_user)},
    )
    return run


def on_resolution_adopted(sender, resolution=None, proposal=None, **extra):  # noqa: ARG001
    """``resolution_adopted`` receiver: approve the run the SHU proposal refers to."""
    if proposal is None or str(proposal.kind) != "shu_allocation":
        return
    ref = (proposal.reference or "").strip()
    if not ref.startswith("distribution_run:"):
        return
    try:
        run_id = int(ref.split(":", 1)[1])
    except ValueError:
        return
    run = db.session.get(DistributionRun, run_id)
    if run is None or RunStatus(run.status) is not RunStatus.COMPUTED:
        log.warning("SHU resolution %s: run %s is not waiting for approval", resolution, ref)
        return
    approve_run(run, resolution)


def on_resolution_rejected(sender, proposal=None, **extra):  # noqa: ARG001
    """``resolution_rejected`` receiver: the run the SHU proposal referred to stays computed
    (the board may correct it and propose again); the rejection is recorded in the audit."""
    if proposal is None or str(proposal.kind) != "shu_allocation":
        return
    ref = (proposal.reference or "").strip()
    if not ref.startswith("distribution_run:"):
        return

    from kmp import signals

    signals.audit_event.send(
        current_app._get_current_object(),
        action="distribution_run.proposal_rejected",
        target=ref,
        before=None,
        after={"proposal_id": proposal.id},
    )
