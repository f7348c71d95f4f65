"""Read side of exits: a member's exit cases and the board's list."""

from __future__ import annotations

from sqlalchemy import select

from kmp.extensions import db
from members.register.models import ExitCase, Member
from members.register.queries import Page, paginate


def member_exit_cases(member: Member) -> list[ExitCase]:
    return list(
        db.session.scalars(
            select(ExitCase).where(ExitCase.member_id == member.id).order_by(ExitCase.id.desc())
        )
    )


def exit_cases(status: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    stmt = select(ExitCase)
    if status:
        stmt = stmt.where(ExitCase.status == status)
    return paginate(stmt.order_by(ExitCase.id.desc()), page, per_page)
