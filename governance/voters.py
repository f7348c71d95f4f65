"""Which member a login votes for: its own member record, or -- for a platform company's
staff login -- the company, but only through the company's representative login.

A company member votes once per ballot like any member (one member, one vote); the vote is
cast by the login marked representative (``members.register.representatives``) and the
participation records that login (``BallotParticipation.cast_by_user_id``). Any other staff
login of the company is refused with a message naming the representative.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmp.i18n import gettext as _
from members.register.models import Member


@dataclass(frozen=True)
class Voter:
    member: Member | None
    #: Why this login may not vote for ``member`` (a company staff login that is not the
    #: representative), else None.
    refusal: str | None = None

    @property
    def for_company(self) -> bool:
        return self.member is not None and self.member.is_company


def representative_refusal(company: Member) -> str:
    from members.register.representatives import representative_of

    rep = representative_of(company)
    if rep is None:
        return _(
            "%(company)s belum menunjuk perwakilan yang memberi suara. Pengurus atau pimpinan "
            "perusahaan menunjuknya di halaman perusahaan.",
            company=company.display_name,
        )
    return _(
        "Suara %(company)s diberikan oleh perwakilannya, %(name)s (%(login)s). Login staf "
        "lain tidak bisa memberi suara untuk perusahaan.",
        company=company.display_name,
        name=rep.user.full_name,
        login=rep.user.login_name,
    )


def voter_for(user) -> Voter:
    """The member ``user`` votes for, and a refusal when it is a company staff login other
    than the representative."""
    from members.register.queries import member_for_user
    from members.register.representatives import staff_row

    member = member_for_user(user)
    if member is None or not member.is_company:
        return Voter(member)
    row = staff_row(user, member)
    if row is not None and row.is_representative:
        return Voter(member)
    return Voter(member, representative_refusal(member))
