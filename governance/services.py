"""services.py."""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass
from fractions import Fraction

from flask import current_app
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from governance import logic
from governance.census import (
    _counts,
    census_counts,
    census_refusal,
    compute_census,
    participation_counts,
)
from governance.common import (
    ABSTAIN,
    YES_NO_OPTIONS,
    _event,
    _jakarta,
    _refuse,
    check_transition,
    current_ad,
)
from governance.elections import _appoint_elected, _prepare_election
from governance.models import (
    BallotChoice,
    BallotParticipation,
    CensusEntry,
    CensusExclusion,
    Meeting,
    MeetingStatus,
    Office,
    OpenBallotVote,
    Outcome,
    Proposal,
    ProposalKind,
    ProposalStatus,
    Resolution,
)
from governance.seats import tally_election
from governance.tally import GroupInput, TallyError, tally_proposal
from kmp import signals
from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError, IllegalTransition
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.timeutil import now_utc
from members.register.models import Member

log = logging.getLogger("kmp.governance")


def create_proposal(
    *,
    kind: ProposalKind | str,
    title: str,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    body: str = "",
    secret: bool = True,
    allow_change: bool = False,
    meeting: Meeting | None = None,
    reference: str | None = None,
    seats: int | None = None,
    office: Office | str | None = None,
    term_start: dt.date | None = None,
    term_end: dt.date | None = None,
    nominations_open_at: dt.datetime | None = None,
    nominations_close_at: dt.datetime | None = None,
    by_user=None,
) -> Proposal:
    kind = ProposalKind(kind)
    title = (title or "").strip()
    if not title:
        raise _refuse(gettext("Judul usulan wajib diisi."), "required", "title")
    if closes_at <= opens_at:
        raise _refuse(gettext("Waktu tutup harus sesudah waktu buka."), "window_order", "closes_at")
    if closes_at <= now_utc():
        raise _refuse(gettext("Waktu tutup sudah lewat."), "window_past", "closes_at")
    if meeting is not None and meeting.status is MeetingStatus.CANCELLED:
        raise _refuse(gettext("Rapat itu dibatalkan."), "meeting_cancelled", "meeting_id")
    reference = (reference or "").strip() or None
    if kind is ProposalKind.SHU_ALLOCATION and reference and ":" not in reference:
        raise _refuse(
            gettext("Rujukan ditulis seperti 'distribution_run:12'."),
            "reference_format",
            "reference",
        )
    options: list[dict] = [dict(o) for o in YES_NO_OPTIONS]
    if kind is ProposalKind.ELECTION:
        options = [{"key": ABSTAIN, "label": "Abstain"}]
        if not seats or seats < 1:
            raise _refuse(
                gettext("Jumlah kursi harus paling sedikit 1."), "seats_required", "seats"
            )
        if office is None:
            raise _refuse(
                gettext("Pilih badan yang dipilih (pengurus atau pengawas)."), "required", "office"
            )
        office = Office(office)
        if term_start is None or term_end is None or term_end <= term_start:
            raise _refuse(
                gettext("Isi masa jabatan: akhir harus sesudah awal."), "term_order", "term_end"
            )
        max_years = current_ad().officer_term_max_years
        from members.register.services import add_years

        if term_end > add_years(term_start, max_years):
            raise _refuse(
                gettext(
                    "Masa jabatan paling lama %(max_years)s tahun (UU 25/1992 Ps 29).",
                    max_years=max_years,
                ),
                "term_too_long",
                "term_end",
            )
        nominations_open_at = nominations_open_at or now_utc()
        nominations_close_at = nominations_close_at or opens_at
        if nominations_close_at <= nominations_open_at:
            raise _refuse(
                gettext("Akhir pencalonan harus sesudah awalnya."),
                "nomination_window",
                "nominations_close_at",
            )
        if nominations_close_at > opens_at:
            raise _refuse(
                gettext("Pencalonan harus ditutup sebelum pemungutan suara dibuka."),
                "nomination_window",
                "nominations_close_at",
            )
    else:
        seats = office = term_start = term_end = None
        nominations_open_at = nominations_close_at = None
    proposal = Proposal(
        kind=kind,
        title=title,
        body=(body or "").strip(),
        options=options,
        opens_at=opens_at,
        closes_at=closes_at,
        secret=bool(secret),
        allow_change=bool(allow_change),
        meeting_id=meeting.id if meeting is not None else None,
        reference=reference,
        seats=seats,
        office=office,
        term_start=term_start,
        term_end=term_end,
        nominations_open_at=nominations_open_at,
        nominations_close_at=nominations_close_at,
        created_by_id=user_id_of(by_user),
        status=ProposalStatus.DRAFT,
    )
    db.session.add(proposal)
    db.session.flush()
    _event("proposal_created", by_user, proposal=proposal, meeting=meeting, note=title)
    return proposal


def _lock(proposal: Proposal, *, shared: bool = False) -> Proposal:
    """Re-read the proposal under a row lock (FOR UPDATE, or FOR SHARE when ``shared``).

    Casting takes the shared lock and closing the exclusive one, so on PostgreSQL a close
    waits for the casts in flight and a cast that starts after the close sees it closed."""
    stmt = (
        select(Proposal)
        .where(Proposal.id == proposal.id)
        .with_for_update(read=shared)
        .execution_options(populate_existing=True)
    )
    return db.session.execute(stmt).scalar_one()


def proposal_for_casting(proposal_id: int) -> Proposal | None:
    """The proposal read once, under the shared lock casting takes (``cast_vote(...,
    locked=True)`` then does not read it again)."""
    stmt = (
        select(Proposal)
        .where(Proposal.id == proposal_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return db.session.execute(stmt).scalar_one_or_none()


def open_proposal(proposal: Proposal, *, by_user=None, now: dt.datetime | None = None) -> Proposal:
    """Open the ballot: freeze the census and snapshot the AD. ``by_user=None`` is the
    scheduler (only once ``opens_at`` has come); a pengurus may open early."""
    proposal = _lock(proposal)
    check_transition(proposal.status, ProposalStatus.OPEN)
    now = now or now_utc()
    if now >= proposal.closes_at:
        raise _refuse(
            gettext("Waktu pemungutan suara sudah habis; usulan tidak bisa dibuka."), "window_past"
        )
    if now < proposal.opens_at:
        if by_user is None:
            raise _refuse(gettext("Belum waktunya dibuka."), "not_yet")
        proposal.opens_at = now
    if proposal.is_election:
        if proposal.nominations_close_at and now < proposal.nominations_close_at:
            if by_user is None:
                raise _refuse(gettext("Pencalonan belum ditutup."), "nominations_open")
            proposal.nominations_close_at = now
    ad = current_ad()
    census, excluded = compute_census(ad, now)
    if not census:
        raise _refuse(
            gettext("Tidak ada anggota yang berhak memilih; pemungutan suara tidak bisa dibuka."),
            "census_empty",
        )
    eligible_groups = {row.group_code for row in census}
    weights = {
        g.code: g.vote_weight_bp
        for g in ad.active_groups
        if g.members_vote and g.code in eligible_groups and g.vote_weight_bp > 0
    }
    if proposal.is_election:
        _prepare_election(proposal, ad, weights)
    if proposal.kind.is_special:
        threshold = ad.special_threshold
    else:
        threshold = ad.ordinary_threshold
    proposal.ad_version_id = ad.version_id
    proposal.quorum_num, proposal.quorum_den = ad.quorum.numerator, ad.quorum.denominator
    proposal.quorum_inclusive = not ad.quorum.strict
    proposal.require_group_quorum = ad.quorum_per_group
    proposal.threshold_num, proposal.threshold_den = threshold.numerator, threshold.denominator
    proposal.threshold_inclusive = not threshold.strict
    proposal.group_weights = weights
    census = [row for row in census if row.group_code in weights]
    if census:
        db.session.execute(
            insert(CensusEntry),
            [
                {
                    "proposal_id": proposal.id,
                    "member_id": r.member_id,
                    "member_no": r.member_no,
                    "group_code": r.group_code,
                }
                for r in census
            ],
        )
    if excluded:
        db.session.execute(
            insert(CensusExclusion),
            [
                {
                    "proposal_id": proposal.id,
                    "member_id": e.member_id,
                    "group_code": e.group_code,
                    "reason": e.reason,
                    "arrears_months": e.arrears_months,
                    "pokok_paid_idr": e.pokok_paid_idr,
                    "pokok_required_idr": e.pokok_required_idr,
                }
                for e in excluded
            ],
        )
    proposal.census_fingerprint = logic.census_fingerprint(
        (r.member_no, r.group_code) for r in census
    )
    proposal.census_size = len(census)
    proposal.status = ProposalStatus.OPEN
    proposal.opened_at = now
    proposal.opened_by_id = user_id_of(by_user)
    db.session.flush()
    _event(
        "proposal_opened",
        by_user,
        proposal=proposal,
        note=f"{len(census)} pemilih; sidik jari {proposal.census_fingerprint}",
    )
    from governance.notices import queue_ballot_opened

    queue_ballot_opened(proposal)
    return proposal


def cancel_proposal(proposal: Proposal, by_user=None, reason: str = "") -> Proposal:
    proposal = _lock(proposal)
    check_transition(proposal.status, ProposalStatus.CANCELLED)
    if not (reason or "").strip():
        raise _refuse(gettext("Alasan pembatalan wajib diisi."), "reason_required", "reason")
    proposal.status = ProposalStatus.CANCELLED
    proposal.cancelled_reason = reason.strip()
    db.session.flush()
    _event("proposal_cancelled", by_user, proposal=proposal, note=reason.strip())
    return proposal


@dataclass(frozen=True)
class CastResult:
    receipt_code: str | None  # None on an open (roll-call) ballot
    changed: bool
    change_token: str | None  # only on a secret ballot that allows a change


def ballot_secret() -> str:
    return current_app.config.get("KMP_BALLOT_SECRET") or current_app.config["SECRET_KEY"]


def cast_vote(
    proposal: Proposal,
    member: Member,
    option: str,
    *,
    now: dt.datetime | None = None,
    by_user=None,
    locked: bool = False,
) -> CastResult:
    """Record ``member``'s vote for ``option`` in one transaction (the caller commits).

    ``by_user`` is the login that casts it (the member's own, or a platform company's
    representative: ``governance.voters.voter_for``); it is kept on the participation.

    Checked here: the ballot is open *by its timestamps at this instant*, the member is in the
    frozen census, the option exists, and a second vote is only a change when the proposal
    allows it. ``UNIQUE (proposal_id, member_id)`` on ``ballot_participations`` is the final
    guard: a concurrent duplicate fails in the database and is refused here.

    ``locked=True``: the caller read ``proposal`` with ``proposal_for_casting`` in this
    transaction (the shared lock is held), so it is not read again."""
    if not locked:
        proposal = _lock(proposal, shared=True)
    now = now or now_utc()
    if proposal.status is ProposalStatus.DRAFT or now < proposal.opens_at:
        raise _refuse(gettext("Pemungutan suara belum dibuka."), "ballot_not_open")
    if proposal.status is not ProposalStatus.OPEN or now >= proposal.closes_at:
        raise DomainError(
            gettext(
                "Pemungutan suara sudah ditutup (%(closes_at)s); suara tidak diterima.",
                closes_at=_jakarta(proposal.closes_at),
            ),
            code="ballot_closed",
            status=409,
        )
    census = db.session.execute(
        select(CensusEntry.group_code).where(
            CensusEntry.proposal_id == proposal.id, CensusEntry.member_id == member.id
        )
    ).first()
    if census is None:
        raise census_refusal(proposal, member)
    group_code = census.group_code
    if option not in proposal.option_keys:
        raise _refuse(gettext("Pilihan tidak dikenal."), "invalid_option", "option")
    existing = db.session.execute(
        select(BallotParticipation)
        .where(
            BallotParticipation.proposal_id == proposal.id,
            BallotParticipation.member_id == member.id,
        )
        .with_for_update()
    ).scalar_one_or_none()
    token = None
    if proposal.secret and proposal.allow_change:
        token = logic.change_token(ballot_secret(), proposal.id, member.id)
    if existing is not None:
        if existing.channel == "paper":
            raise Conflict(
                gettext("Anda sudah memilih dengan surat suara kertas di tempat rapat."),
                code="already_voted_paper",
            )
        if not proposal.allow_change:
            raise Conflict(
                gettext(
                    "Suara Anda untuk usulan ini sudah tercatat; usulan ini tidak "
                    "mengizinkan perubahan suara."
                ),
                code="already_voted",
            )
        if by_user is not None:
            existing.cast_by_user_id = user_id_of(by_user)
        return _change_vote(proposal, member, existing, option, token)
    participation = BallotParticipation(
        proposal_id=proposal.id,
        member_id=member.id,
        group_code=group_code,
        cast_at=now,
        change_count=0,
        cast_by_user_id=user_id_of(by_user),
    )
    db.session.add(participation)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            gettext("Suara Anda untuk usulan ini sudah tercatat."), code="already_voted"
        ) from error
    if proposal.secret:
        receipt = logic.new_receipt_code()
        db.session.execute(
            insert(BallotChoice).values(
                id=_random_id(),
                proposal_id=proposal.id,
                group_code=group_code,
                option=option,
                receipt_code=receipt,
                change_hash=logic.change_hash(token) if token else None,
            )
        )
        return CastResult(receipt, False, token)
    db.session.add(
        OpenBallotVote(
            proposal_id=proposal.id,
            member_id=member.id,
            group_code=group_code,
            option=option,
            updated_at=now,
        )
    )
    db.session.flush()
    return CastResult(None, False, None)


def _random_id() -> str:
    import uuid

    return uuid.uuid4().hex


def _change_vote(
    proposal: Proposal,
    member: Member,
    participation: BallotParticipation,
    option: str,
    token: str | None,
) -> CastResult:
    participation.change_count += 1
    if not proposal.secret:
        vote = db.session.scalar(
            select(OpenBallotVote).where(
                OpenBallotVote.proposal_id == proposal.id, OpenBallotVote.member_id == member.id
            )
        )
        vote.option = option
        vote.updated_at = now_utc()
        db.session.flush()
        return CastResult(None, True, None)
    hashed = logic.change_hash(token)
    removed = db.session.execute(
        delete(BallotChoice).where(
            BallotChoice.proposal_id == proposal.id, BallotChoice.change_hash == hashed
        )
    )
    if removed.rowcount != 1:
        raise Conflict(
            gettext("Suara sebelumnya tidak ditemukan; perubahan dibatalkan."),
            code="previous_choice_missing",
        )
    receipt = logic.new_receipt_code()
    db.session.execute(
        insert(BallotChoice).values(
            id=_random_id(),
            proposal_id=proposal.id,
            group_code=participation.group_code,
            option=option,
            receipt_code=receipt,
            change_hash=hashed,
        )
    )
    db.session.flush()
    return CastResult(receipt, True, token)


def tally_of(proposal: Proposal) -> dict:
    """Tally the stored ballots with the AD snapshot taken at opening; JSON form."""
    counts = _counts(proposal)
    eligible = census_counts(proposal)
    participants = participation_counts(proposal)
    for code in set(counts) | set(participants):
        cast = sum(counts.get(code, {}).values())
        if cast != participants.get(code, 0):
            raise IllegalTransition(
                gettext(
                    "Jumlah pilihan (%(cast)s) dan jumlah pemilih (%(participants)s) "
                    "kelompok %(code)s tidak sama; penutupan dihentikan untuk diperiksa.",
                    cast=cast,
                    participants=participants.get(code, 0),
                    code=code,
                ),
                code="tally_inconsistent",
            )
    weights = proposal.group_weights or {}
    groups = [
        GroupInput(code, int(weights[code]), eligible.get(code, 0), counts.get(code, {}))
        for code in weights
        if eligible.get(code, 0) > 0
    ]
    quorum = Fraction(proposal.quorum_num, proposal.quorum_den)
    if proposal.is_election:
        candidates = [o["key"] for o in proposal.options if o["key"] != ABSTAIN]
        result = tally_election(
            groups,
            candidates,
            proposal.seats,
            proposal.reserved_seats or {},
            {o["key"]: o["group"] for o in proposal.options if o["key"] != ABSTAIN},
            quorum=quorum,
            quorum_inclusive=bool(proposal.quorum_inclusive),
            require_group_quorum=bool(proposal.require_group_quorum),
            abstain_option=ABSTAIN,
        )
        data = logic.election_result_json(result)
        data["passed"] = result.quorate and bool(result.weighted and result.weighted.elected)
    else:
        result = tally_proposal(
            groups,
            proposal.option_keys,
            quorum=quorum,
            threshold=Fraction(proposal.threshold_num, proposal.threshold_den),
            threshold_inclusive=bool(proposal.threshold_inclusive),
            quorum_inclusive=bool(proposal.quorum_inclusive),
            require_group_quorum=bool(proposal.require_group_quorum),
            abstain_option=ABSTAIN,
            yes_option="yes",
        )
        data = logic.proposal_result_json(result)
    data["census_fingerprint"] = proposal.census_fingerprint
    data["ad_version_id"] = proposal.ad_version_id
    data["participations"] = sum(participants.values())
    return data


def close_proposal(
    proposal: Proposal, *, by_user=None, now: dt.datetime | None = None
) -> Resolution:
    """Close the ballot, tally it, record the resolution and send the signal. ``by_user=None``
    is the scheduler (only once ``closes_at`` has come); a pengurus may close early."""
    proposal = _lock(proposal)
    check_transition(proposal.status, ProposalStatus.CLOSED)
    from governance.hybrid.services import check_paper_merged

    check_paper_merged(proposal)
    now = now or now_utc()
    if now < proposal.closes_at:
        if by_user is None:
            raise _refuse(gettext("Belum waktunya ditutup."), "not_yet")
        proposal.closes_at = max(now, proposal.opens_at + dt.timedelta(microseconds=1))
    try:
        data = tally_of(proposal)
    except TallyError as error:  # pragma: no cover - guarded by the census at opening
        raise DomainError(
            gettext("Penghitungan suara gagal: %(error)s", error=error), code="tally_failed"
        ) from error
    outcome = Outcome.PASSED if data["passed"] else Outcome.FAILED
    resolution = Resolution(
        proposal_id=proposal.id,
        outcome=outcome,
        tally=data,
        adopted_at=now,
        decided_by_id=user_id_of(by_user),
    )
    db.session.add(resolution)
    proposal.status = ProposalStatus.CLOSED
    proposal.closed_at = now
    proposal.closed_by_id = user_id_of(by_user)
    if proposal.secret:
        _scrub_choices(proposal)
    db.session.flush()
    if proposal.is_election and outcome is Outcome.PASSED:
        _appoint_elected(proposal, data, by_user)
    _event("proposal_closed", by_user, proposal=proposal, note=outcome.value)
    from governance.notices import queue_ballot_result

    queue_ballot_result(proposal, resolution)
    app = current_app._get_current_object()
    if outcome is Outcome.PASSED:
        signals.resolution_adopted.send(app, resolution=resolution, proposal=proposal)
    else:
        signals.resolution_rejected.send(app, proposal=proposal)
    return resolution


def _scrub_choices(proposal: Proposal) -> None:
    """Rewrite the closed ballot's choices in random order with fresh ids and no change
    hashes: the live table then keeps neither the casting order nor the change link."""
    rows = db.session.execute(
        select(BallotChoice.group_code, BallotChoice.option, BallotChoice.receipt_code).where(
            BallotChoice.proposal_id == proposal.id
        )
    ).all()
    db.session.execute(delete(BallotChoice).where(BallotChoice.proposal_id == proposal.id))
    rows = list(rows)
    random.SystemRandom().shuffle(rows)
    if rows:
        db.session.execute(
            insert(BallotChoice),
            [
                {
                    "id": _random_id(),
                    "proposal_id": proposal.id,
                    "group_code": g,
                    "option": o,
                    "receipt_code": r,
                    "change_hash": None,
                }
                for g, o, r in rows
            ],
        )


def run_ballot_schedule(now: dt.datetime | None = None) -> dict[str, list[int]]:
    """The every-minute job: open due drafts, close due ballots, cancel drafts whose window
    passed without opening. Idempotent; one failing proposal does not stop the others."""
    now = now or now_utc()
    done: dict[str, list[int]] = {"opened": [], "closed": [], "cancelled": [], "failed": []}
    for proposal in db.session.scalars(
        select(Proposal)
        .where(Proposal.status == ProposalStatus.DRAFT, Proposal.opens_at <= now)
        .order_by(Proposal.id)
    ).all():
        try:
            with db.session.begin_nested():
                if proposal.closes_at <= now:
                    cancel_proposal(
                        proposal, None, "Tidak dibuka sampai waktu pemungutan habis (otomatis)."
                    )
                    done["cancelled"].append(proposal.id)
                else:
                    open_proposal(proposal, now=now)
                    done["opened"].append(proposal.id)
        except DomainError as error:
            log.warning("proposal %s not opened: %s", proposal.id, error.message)
            done["failed"].append(proposal.id)
    for proposal in db.session.scalars(
        select(Proposal)
        .where(Proposal.status == ProposalStatus.OPEN, Proposal.closes_at <= now)
        .order_by(Proposal.id)
    ).all():
        try:
            with db.session.begin_nested():
                close_proposal(proposal, now=now)
                done["closed"].append(proposal.id)
        except DomainError as error:
            log.error("proposal %s not closed: %s", proposal.id, error.message)
            done["failed"].append(proposal.id)
    return done
