"""The hybrid meeting: tellers, door check-in, live quorum, paper ballots and the merged tally.

* The board assigns **tellers** per meeting (``assign_teller``). Only a meeting's tellers
  scan cards at the door, hand out paper ballots and enter the paper count.
* **Check-in** (``teller_check_in``): the member number read from the card's QR code (or typed)
  records a physical attendance; ``meeting_quorum`` counts the attending census members
  against the AD's quorum (the teller page polls it).
* **Paper ballots** (secret ballots only): ``issue_paper_ballot`` records that a checked-in
  census member took a sheet (a ``paper`` participation; the unique key of
  ``ballot_participations`` refuses a member who voted online, and ``cast_vote`` refuses an
  online vote after a paper one). After the vote two tellers enter every sheet independently
  (``enter_paper_sheet``); sheets they read differently are flagged (``paper_sheets``) for a
  third teller (``decide_paper_sheet``). ``merge_paper_ballots`` adds the agreed sheets to the
  ballot's secret choices once every sheet is agreed and, per group, the sheets equal the
  paper participations; the ballot then closes on one tally of online and paper votes.

Services flush, never commit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from governance import logic
from governance.common import _event, current_ad
from governance.hybrid.models import (
    MeetingTeller,
    PaperBallotDecision,
    PaperBallotEntry,
    PaperBallotMerge,
)
from governance.models import (
    Attendance,
    AttendanceHow,
    BallotChoice,
    BallotParticipation,
    CensusEntry,
    Meeting,
    MeetingMode,
    Proposal,
    ProposalStatus,
)
from kmp.auth import User, user_id_of
from kmp.errors import Conflict, DomainError, Forbidden, IllegalTransition, NotFound
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.timeutil import now_utc
from members.census.services import compute_census
from members.register.models import Member

PAPER = "paper"
MAX_SERIAL = 1_000_000


# --------------------------------------------------------------------------- tellers


def assign_teller(meeting: Meeting, user: User, by_user=None) -> MeetingTeller:
    if user is None or not user.is_active:
        raise NotFound(
            _("Akun penghitung suara tidak ditemukan."), code="user_not_found", field="login"
        )
    teller = MeetingTeller(
        meeting_id=meeting.id, user_id=user.id, assigned_by_id=user_id_of(by_user)
    )
    db.session.add(teller)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            _("%(name)s sudah menjadi penghitung suara rapat ini.", name=user.full_name),
            code="already_teller",
            field="login",
        ) from error
    _event("teller_assigned", by_user, meeting=meeting, note=user.full_name)
    return teller


def remove_teller(meeting: Meeting, teller_id: int, by_user=None) -> None:
    teller = db.session.get(MeetingTeller, teller_id)
    if teller is None or teller.meeting_id != meeting.id:
        raise NotFound(_("Penghitung suara tidak ditemukan."), code="teller_not_found")
    name = teller.user.full_name
    db.session.delete(teller)
    db.session.flush()
    _event("teller_removed", by_user, meeting=meeting, note=name)


def tellers_of(meeting: Meeting) -> list[MeetingTeller]:
    return list(
        db.session.scalars(
            select(MeetingTeller)
            .where(MeetingTeller.meeting_id == meeting.id)
            .order_by(MeetingTeller.id)
        )
    )


def is_teller(meeting: Meeting | None, user) -> bool:
    if meeting is None or user is None or user_id_of(user) is None:
        return False
    return (
        db.session.scalar(
            select(MeetingTeller.id).where(
                MeetingTeller.meeting_id == meeting.id,
                MeetingTeller.user_id == user_id_of(user),
            )
        )
        is not None
    )


def require_teller(meeting: Meeting | None, user) -> None:
    if not is_teller(meeting, user):
        raise Forbidden(
            _("Hanya penghitung suara rapat ini yang boleh melakukannya."), code="not_teller"
        )


# --------------------------------------------------------------------------- check-in, quorum


def _member_by_no(member_no: str) -> Member:
    text = (member_no or "").strip().upper()
    member = db.session.scalar(select(Member).where(Member.member_no == text)) if text else None
    if member is None:
        raise NotFound(
            _("Nomor anggota '%(no)s' tidak ditemukan.", no=text[:40]),
            code="member_not_found",
            field="member_no",
        )
    return member


def teller_check_in(meeting: Meeting, member_no: str, by_user) -> Attendance:
    """A teller records a member at the door (number from the card's QR code, or typed)."""
    from governance.meetings import record_attendance

    require_teller(meeting, by_user)
    member = _member_by_no(member_no)
    return record_attendance(meeting, member, AttendanceHow.CHECKIN, by_user)


@dataclass
class Quorum:
    census: int
    attending: int
    in_hall: int
    online: int
    needed: int
    met: bool
    rule: str

    def as_json(self) -> dict:
        return dict(self.__dict__)


def meeting_quorum(meeting: Meeting) -> Quorum:
    """Attending census members (in the hall and online) against the AD's quorum."""
    ad = current_ad()
    census = {row.member_id for row in compute_census(ad, now_utc(), meeting.group_code)[0]}
    rows = db.session.execute(
        select(Attendance.member_id, Attendance.how).where(Attendance.meeting_id == meeting.id)
    ).all()
    present = [(m, how) for m, how in rows if m in census]
    in_hall = sum(1 for _m, how in present if how is AttendanceHow.CHECKIN)
    q, whole = ad.quorum, len(census)
    if q.strict:
        needed = q.numerator * whole // q.denominator + 1
    else:
        needed = -(-q.numerator * whole // q.denominator)
    return Quorum(
        census=len(census),
        attending=len(present),
        in_hall=in_hall,
        online=len(present) - in_hall,
        needed=needed,
        met=ad.quorum.passes(len(present), len(census)),
        rule=ad.quorum.describe(),
    )


# --------------------------------------------------------------------------- paper ballots


def _paper_proposal(proposal: Proposal, by_user) -> Meeting:
    meeting = proposal.meeting
    if meeting is None or meeting.mode is MeetingMode.ONLINE:
        raise DomainError(
            _("Surat suara kertas hanya untuk usulan rapat tatap muka atau hibrida."),
            code="no_paper_ballots",
        )
    if not proposal.secret:
        raise DomainError(
            _("Pemungutan terbuka tidak memakai surat suara kertas."), code="no_paper_ballots"
        )
    require_teller(meeting, by_user)
    return meeting


def _merged(proposal: Proposal) -> bool:
    return (
        db.session.scalar(
            select(PaperBallotMerge.id).where(PaperBallotMerge.proposal_id == proposal.id)
        )
        is not None
    )


def issue_paper_ballot(proposal: Proposal, member_no: str, by_user) -> BallotParticipation:
    """A checked-in census member takes a paper sheet: their participation (who, not how)."""
    from governance.services import _lock

    meeting = _paper_proposal(proposal, by_user)
    proposal = _lock(proposal, shared=True)
    now = now_utc()
    if not proposal.is_open_at(now) or _merged(proposal):
        raise IllegalTransition(
            _("Pemungutan suara ini tidak sedang dibuka."), code="ballot_not_open"
        )
    member = _member_by_no(member_no)
    hall = db.session.scalar(
        select(Attendance.id).where(
            Attendance.meeting_id == meeting.id,
            Attendance.member_id == member.id,
            Attendance.how == AttendanceHow.CHECKIN,
        )
    )
    if hall is None:
        raise DomainError(
            _("%(name)s belum tercatat hadir di tempat.", name=member.display_name),
            code="not_checked_in",
            field="member_no",
        )
    group = db.session.scalar(
        select(CensusEntry.group_code).where(
            CensusEntry.proposal_id == proposal.id, CensusEntry.member_id == member.id
        )
    )
    if group is None:
        raise Forbidden(
            _("%(name)s tidak ada dalam daftar pemilih.", name=member.display_name),
            code="not_in_census",
            field="member_no",
        )
    earlier = db.session.scalar(
        select(BallotParticipation.channel).where(
            BallotParticipation.proposal_id == proposal.id,
            BallotParticipation.member_id == member.id,
        )
    )
    if earlier is not None:
        raise _already(member, earlier)
    participation = BallotParticipation(
        proposal_id=proposal.id,
        member_id=member.id,
        group_code=group,
        cast_at=now,
        change_count=0,
        cast_by_user_id=user_id_of(by_user),
        channel=PAPER,
    )
    db.session.add(participation)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:  # a concurrent online vote: the unique key decides
        raise _already(member, "online") from error
    return participation


def _already(member: Member, channel: str) -> Conflict:
    if channel == PAPER:
        text = _("%(name)s sudah mengambil surat suara kertas.", name=member.display_name)
    else:
        text = _(
            "%(name)s sudah memilih secara daring; tidak boleh memilih lagi di kertas.",
            name=member.display_name,
        )
    return Conflict(text, code="already_voted", field="member_no")


def _check_sheet(proposal: Proposal, serial, group_code: str, option: str) -> int:
    try:
        serial = int(serial)
    except (TypeError, ValueError):
        serial = 0
    if not 1 <= serial <= MAX_SERIAL:
        raise DomainError(
            _("Nomor lembar harus angka 1 sampai %(n)s.", n=MAX_SERIAL),
            code="serial_invalid",
            field="serial",
        )
    if group_code not in (proposal.group_weights or {}):
        raise DomainError(_("Kelompok tidak dikenal."), code="group_invalid", field="group_code")
    if option not in proposal.option_keys:
        raise DomainError(_("Pilihan tidak dikenal."), code="invalid_option", field="option")
    return serial


def _open_for_count(proposal: Proposal) -> None:
    if proposal.status is not ProposalStatus.OPEN:
        raise IllegalTransition(
            _("Pemungutan suara ini tidak sedang dibuka."), code="ballot_not_open"
        )
    if _merged(proposal):
        raise Conflict(
            _("Hitungan kertas sudah digabung ke hasil; tidak bisa diubah."), code="merged"
        )


def enter_paper_sheet(
    proposal: Proposal, serial, group_code: str, option: str, by_user
) -> PaperBallotEntry:
    """One teller's reading of one sheet; each sheet is read by two tellers."""
    _paper_proposal(proposal, by_user)
    _open_for_count(proposal)
    serial = _check_sheet(proposal, serial, group_code, option)
    readers = set(
        db.session.scalars(
            select(PaperBallotEntry.teller_id).where(
                PaperBallotEntry.proposal_id == proposal.id, PaperBallotEntry.serial == serial
            )
        )
    )
    if user_id_of(by_user) in readers:
        raise Conflict(_("Anda sudah memasukkan lembar %(n)s.", n=serial), code="already_entered")
    if len(readers) >= 2:
        raise Conflict(
            _("Lembar %(n)s sudah dimasukkan dua penghitung.", n=serial), code="sheet_full"
        )
    entry = PaperBallotEntry(
        proposal_id=proposal.id,
        serial=serial,
        group_code=group_code,
        option=option,
        teller_id=user_id_of(by_user),
    )
    db.session.add(entry)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            _("Anda sudah memasukkan lembar %(n)s.", n=serial), code="already_entered"
        ) from error
    return entry


@dataclass
class Sheet:
    serial: int
    readings: list[tuple[int, str, str]] = field(default_factory=list)  # (teller, group, option)
    decision: tuple[str, str] | None = None

    @property
    def state(self) -> str:
        """``single`` (one reading), ``agreed``, ``mismatch`` (for a third) or ``decided``."""
        if self.decision is not None:
            return "decided"
        if len(self.readings) < 2:
            return "single"
        first, second = ((g, o) for _t, g, o in self.readings[:2])
        return "agreed" if first == second else "mismatch"

    @property
    def final(self) -> tuple[str, str] | None:
        if self.decision is not None:
            return self.decision
        if self.state == "agreed":
            return self.readings[0][1], self.readings[0][2]
        return None


def paper_sheets(proposal: Proposal) -> list[Sheet]:
    sheets: dict[int, Sheet] = {}
    for entry in db.session.scalars(
        select(PaperBallotEntry)
        .where(PaperBallotEntry.proposal_id == proposal.id)
        .order_by(PaperBallotEntry.serial, PaperBallotEntry.id)
    ):
        sheets.setdefault(entry.serial, Sheet(entry.serial)).readings.append(
            (entry.teller_id, entry.group_code, entry.option)
        )
    for decision in db.session.scalars(
        select(PaperBallotDecision).where(PaperBallotDecision.proposal_id == proposal.id)
    ):
        sheet = sheets.setdefault(decision.serial, Sheet(decision.serial))
        sheet.decision = (decision.group_code, decision.option)
    return [sheets[k] for k in sorted(sheets)]


def decide_paper_sheet(
    proposal: Proposal, serial, group_code: str, option: str, by_user
) -> PaperBallotDecision:
    """A third teller (not one of the two readers) decides a flagged sheet."""
    _paper_proposal(proposal, by_user)
    _open_for_count(proposal)
    serial = _check_sheet(proposal, serial, group_code, option)
    sheet = next((s for s in paper_sheets(proposal) if s.serial == serial), None)
    if sheet is None or sheet.state != "mismatch":
        raise Conflict(
            _("Lembar %(n)s tidak sedang ditandai berbeda.", n=serial), code="not_flagged"
        )
    if user_id_of(by_user) in {t for t, _g, _o in sheet.readings}:
        raise Forbidden(
            _("Lembar yang berbeda diputuskan oleh penghitung ketiga."), code="third_teller"
        )
    decision = PaperBallotDecision(
        proposal_id=proposal.id,
        serial=serial,
        group_code=group_code,
        option=option,
        teller_id=user_id_of(by_user),
    )
    db.session.add(decision)
    db.session.flush()
    return decision


def paper_participations(proposal: Proposal) -> dict[str, int]:
    return dict(
        db.session.execute(
            select(BallotParticipation.group_code, func.count())
            .where(
                BallotParticipation.proposal_id == proposal.id,
                BallotParticipation.channel == PAPER,
            )
            .group_by(BallotParticipation.group_code)
        ).all()
    )


def merge_paper_ballots(proposal: Proposal, by_user) -> int:
    """Add the agreed paper sheets to the ballot's secret choices (once). Refused while a
    sheet is unread, read once or flagged, or when a group's sheets differ from its paper
    voters. Returns the sheets merged."""
    from governance.services import _lock, _random_id

    _paper_proposal(proposal, by_user)
    proposal = _lock(proposal)
    _open_for_count(proposal)
    sheets = paper_sheets(proposal)
    open_sheets = [s.serial for s in sheets if s.final is None]
    if open_sheets:
        shown = ", ".join(str(n) for n in open_sheets[:10])
        raise Conflict(
            _(
                "Lembar %(list)s belum dibaca dua penghitung atau masih berbeda.",
                list=shown,
            ),
            code="sheets_open",
        )
    counted: dict[str, int] = defaultdict(int)
    for sheet in sheets:
        counted[sheet.final[0]] += 1
    voters = paper_participations(proposal)
    for code in sorted(set(counted) | set(voters)):
        if counted.get(code, 0) != voters.get(code, 0):
            raise Conflict(
                _(
                    "Kelompok %(g)s: %(s)s lembar kertas, tetapi %(v)s pemilih mengambil "
                    "surat suara kertas. Periksa lagi kotak suaranya.",
                    g=code,
                    s=counted.get(code, 0),
                    v=voters.get(code, 0),
                ),
                code="paper_count_mismatch",
            )
    rows = [
        {
            "id": _random_id(),
            "proposal_id": proposal.id,
            "group_code": sheet.final[0],
            "option": sheet.final[1],
            "receipt_code": logic.new_receipt_code(),
            "change_hash": None,
        }
        for sheet in sheets
    ]
    if rows:
        db.session.execute(insert(BallotChoice), rows)
    db.session.add(
        PaperBallotMerge(
            proposal_id=proposal.id, sheets=len(rows), merged_by_id=user_id_of(by_user)
        )
    )
    db.session.flush()
    _event("paper_ballots_merged", by_user, proposal=proposal, note=f"{len(rows)} lembar")
    return len(rows)


def check_paper_merged(proposal: Proposal) -> None:
    """Closing waits for the paper count: refused while paper ballots are not merged."""
    if not paper_participations(proposal) or _merged(proposal):
        return
    raise IllegalTransition(
        _(
            "Surat suara kertas belum digabung ke hasil: penghitung suara memasukkan dan "
            "menggabungkan hitungan kertas dulu."
        ),
        code="paper_not_merged",
    )
