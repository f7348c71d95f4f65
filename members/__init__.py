"""The ``members`` feature, as sub-feature packages (each with its own ``init_app``).

Layers inside the feature, top to bottom (``lint-imports`` enforces them)::

    home                     the member's home page and the board's member file (composes all)
    importer | partners | exits | officers | articles | protection | announcements  (independent)
    training                 programmes, certificates, the competence rule, education fund
    census                   who may vote: the one census (governance asks it)
    savings                  pokok/wajib/sukarela, receipts, billing, withdrawals
    register                 applications, admission, identity, the member register
    ad                       the cooperative's articles (AD) as versioned configuration

Public services for other features, by package: ``members.ad.services.current_ad()``,
``members.census.services.compute_census(ad, at, group)`` (the one census: voters and
who is left out why), ``members.register.queries``
(``member_for_user`` ...), ``members.savings.queries.capital_basis(...)`` (jasa modal basis),
``members.savings.billing`` (obligations and arrears), ``members.training.competence``
(certificates, ``ensure_competent``), ``members.training.fund.education_fund_summary`` (the
RAT book), ``members.partners.remittances`` (check-off).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Initialise every sub-feature, lowest first, and the ``flask members`` command group."""
    from members import (
        ad,
        announcements,
        articles,
        exits,
        home,
        importer,
        officers,
        partners,
        protection,
        register,
        savings,
        training,
    )
    from members.register.cli import members_cli

    for package in (
        ad,
        register,
        savings,
        training,
        exits,
        officers,
        articles,
        partners,
        importer,
        protection,
        announcements,
        home,
    ):
        package.init_app(app)
    app.cli.add_command(members_cli)
