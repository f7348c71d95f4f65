"""Demo data (``flask kmp seed-demo``, after the members' year): last year's patronage of every
member (trips, deliveries, spending, the platform's contribution), the SHU distribution of
that year computed from the closed books (so every member has a slip with an amount), the RAT
that accounts for the year, and its SHU proposal, whose ballot opens by itself a minute after
the seed (the scheduler in ``make run`` opens it).

Idempotent: patronage rows carry external ids, a year's live run is reused, the RAT and the
proposal are looked up before they are created.
"""

from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import select

from governance import meetings as governance_meetings
from governance import services as governance
from governance.models import Meeting, MeetingKind, Proposal
from kmp.extensions import db
from kmp.ledger.closing.services import closed_year_shu
from kmp.timeutil import JAKARTA, business_date, now_utc
from payouts import services
from payouts.models import RunStatus
from payouts.patronage import PatronageRow, ingest_patronage

#: Seconds between the seed and the opening of the SHU ballot (``KMP_DEMO_BALLOT_OPENS_IN``).
BALLOT_OPENS_IN = 60
#: A month's patronage by group: (base, step per member) in the group's own measure.
PATRONAGE = {
    "trips": (180, 35),
    "deliveries": (240, 40),
    "spend_idr": (450_000, 90_000),
    "contribution_idr": (2_500_000, 0),
}


def seed_payouts(users: dict) -> None:
    from members.ad.services import current_ad
    from members.register.models import Member
    from members.register.states import MemberStatus

    year = business_date().year - 1
    if closed_year_shu(year) is None:
        return  # the books of that year are not closed: nothing to distribute
    ad = current_ad()
    rows = []
    members = db.session.scalars(
        select(Member)
        .where(Member.status == MemberStatus.ACTIVE, Member.joined_date.is_not(None))
        .order_by(Member.id)
    ).all()
    for index, member in enumerate(members):
        group = ad.get_group(member.group_code)
        measure = group.patronage_measure if group else ""
        if measure not in PATRONAGE or member.joined_date.year > year:
            continue
        base, step = PATRONAGE[measure]
        for month in range(member.joined_date.month, 13):
            value = base + step * ((index + month) % 5)
            rows.append(
                PatronageRow(
                    member.id,
                    f"{year}-{month:02d}",
                    measure,
                    value,
                    f"demo-{member.id}-{year}{month:02d}",
                )
            )
    ingest_patronage(rows, source="manual", source_ref="demo")
    run = services.live_run(year)
    if run is None:
        run = services.create_run(year, by_user=users["bendahara"])
    if RunStatus(run.status) is RunStatus.DRAFT:
        services.compute_run(run, by_user=users["bendahara"])
    _rat_and_ballot(year, run, users["pengurus"])
    db.session.flush()


def _rat_and_ballot(year: int, run, ketua) -> None:
    meeting = db.session.scalar(
        select(Meeting).where(Meeting.kind == MeetingKind.RAT, Meeting.fiscal_year == year)
    )
    today = business_date()
    if meeting is None:
        day = today + dt.timedelta(days=14)
        meeting = governance_meetings.create_meeting(
            kind=MeetingKind.RAT,
            title=f"RAT Tahun Buku {year}",
            agenda=(
                "1. Laporan pertanggungjawaban pengurus dan pengawas\n"
                f"2. Pengesahan laporan keuangan {year}\n"
                f"3. Pembagian SHU {year}\n"
                f"4. Rencana kerja dan anggaran {today.year + 1}"
            ),
            starts_at=dt.datetime(day.year, day.month, day.day, 9, 0, tzinfo=JAKARTA),
            mode="hybrid",
            location="Aula Koperasi, Jl. Melati No. 7, Jakarta Selatan",
            online_url="https://rapat.kmp.example/rat",
            fiscal_year=year,
            by_user=ketua,
        )
    exists = db.session.scalar(select(Proposal.id).where(Proposal.reference == run.reference))
    if exists is not None:
        return
    opens = now_utc() + dt.timedelta(
        seconds=int(os.environ.get("KMP_DEMO_BALLOT_OPENS_IN", BALLOT_OPENS_IN))
    )
    governance.create_proposal(
        kind="shu_allocation",
        title=f"Pembagian SHU tahun buku {year}",
        body="Usulan pengurus: SHU dibagi sesuai Anggaran Dasar (lihat slip SHU Anda).",
        opens_at=opens,
        closes_at=meeting.starts_at + dt.timedelta(hours=6),
        meeting=meeting,
        reference=run.reference,
        by_user=ketua,
    )
