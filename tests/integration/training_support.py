"""Helpers for the training and competence tests (not a test module)."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets

from kmp.auth import create_user
from kmp.extensions import db
from kmp.timeutil import business_date
from members.training import services as training_services

_numbers = itertools.count(1)
SCHEMES = {"pengurus": "Pengurus Koperasi", "pengawas": "Pengawas Koperasi"}


def board_user(*roles, name: str | None = None):
    """A board login (default: pengurus) without a member record."""
    return create_user(
        full_name=name or f"Pengurus {secrets.token_hex(2)}",
        email=f"board-{secrets.token_hex(4)}@test.kmp.id",
        password="rahasia-12345",
        roles=roles or ("pengurus",),
    )


def certify(
    holder,
    office: str = "pengurus",
    *,
    scheme: str | None = None,
    expires_in_days: int | None = 365,
    issued_days_ago: int = 400,
    verify: bool = True,
    recorder=None,
    checker=None,
):
    """Record a certificate of ``holder`` for ``office`` (its AD scheme) and, unless
    ``verify=False``, have a second pengurus verify it. Returns the certificate."""
    today = business_date()
    expires = None if expires_in_days is None else today + dt.timedelta(days=expires_in_days)
    recorder = recorder or board_user(name="Perekam Sertifikat")
    certificate = training_services.record_certificate(
        holder,
        training_services.CertificateInput(
            scheme=scheme or SCHEMES[office],
            issuer="LSP Koperasi Jasa Keuangan",
            number=f"LSP-T-{next(_numbers):06d}-{secrets.token_hex(2)}",
            issued_on=today - dt.timedelta(days=issued_days_ago),
            expires_on=expires,
        ),
        by_user=recorder,
    )
    if verify:
        training_services.verify_certificate(
            certificate, by_user=checker or board_user(name="Pemeriksa Sertifikat")
        )
    db.session.flush()
    return certificate
