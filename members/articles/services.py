"""Amending the AD: validate, refuse removing a group that still has members, store a new
version with who, when and why (the board's AD editor and the demo call this)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kmp import signals
from kmp.auth import user_id_of
from kmp.errors import Conflict, DomainError
from kmp.extensions import db
from kmp.i18n import gettext
from members.ad.config import ADConfig, ADInvalid
from members.ad.models import ADVersion
from members.ad.services import current_ad
from members.ad.validation import validate_ad
from members.register.models import Member


def update_ad(new: ADConfig | dict, by_user, reason: str) -> ADConfig:
    """Validate and store a new AD version (who/when/why). Nothing is written if refused."""
    if not (reason or "").strip():
        raise DomainError(
            gettext("Alasan perubahan AD wajib diisi."), code="reason_required", field="reason"
        )
    config = new if isinstance(new, ADConfig) else ADConfig.from_payload(new)
    problems = validate_ad(config)
    used = set(db.session.scalars(select(Member.group_code).distinct()))
    codes = {grp.code for grp in config.groups}
    for code in sorted(used - codes):
        problems.append(
            (
                "groups",
                gettext(
                    "kelompok '%(code)s' masih punya anggota: nonaktifkan kelompok itu, "
                    "jangan dihapus.",
                    code=code,
                ),
            )
        )
    if problems:
        raise ADInvalid(problems)
    current = current_ad()
    payload = config.to_payload()
    if payload == current.to_payload():
        raise DomainError(
            gettext("Tidak ada perubahan dibanding AD yang berlaku."), code="ad_unchanged"
        )
    row = ADVersion(
        version=current.version + 1,
        payload=payload,
        reason=reason.strip(),
        created_by_id=user_id_of(by_user),
    )
    db.session.add(row)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        raise Conflict(
            gettext("AD baru saja diubah orang lain; muat ulang halaman lalu coba lagi."),
            code="ad_concurrent_change",
        ) from error
    signals.audit_event.send(
        current_app._get_current_object(),
        action="ad_updated",
        target=f"ad:{row.version}",
        before=current.version,
        after=row.version,
    )
    return current_ad()
