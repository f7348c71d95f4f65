"""Installing, reading (cached per process) and amending the AD configuration."""

from __future__ import annotations

from flask import g, has_request_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session, object_session

from kmp.errors import NotFound
from kmp.extensions import db
from kmp.i18n import gettext
from kmp.ledger.models import AccountType
from kmp.ledger.services import open_account
from members.ad.config import ADConfig
from members.ad.models import ADVersion
from members.ad.validation import ensure_valid

OPENING_BALANCE = "equity:opening-balance"


def install_default_ad() -> ADVersion:
    """Install version 1 with the shipped defaults when no version exists (idempotent)."""
    existing = db.session.scalar(select(ADVersion).order_by(ADVersion.version).limit(1))
    if existing is not None:
        return existing
    config = ensure_valid(ADConfig())
    version = ADVersion(
        version=1, payload=config.to_payload(), reason="AD bawaan KMP (domain.md, keputusan 1-12)"
    )
    db.session.add(version)
    db.session.flush()
    return version


def install_member_defaults() -> None:
    """The ``kmp init`` hook: the default AD and the opening-balance equity account."""
    install_default_ad()
    open_account(
        OPENING_BALANCE, "Ekuitas saldo awal (pindahan dari pembukuan lama)", AccountType.EQUITY
    )


#: Parsed AD configurations by (database, id, version, created_at). A version is append-only
#: (a change is a new row) and ``ADConfig`` is frozen, so a parsed one is reused by later
#: requests of this process; any version written through the ORM empties it.
_AD_PARSED: dict[tuple, ADConfig] = {}


@event.listens_for(ADVersion, "after_insert")
@event.listens_for(ADVersion, "after_update")
@event.listens_for(ADVersion, "after_delete")
def _forget_parsed_ad(mapper, connection, target) -> None:  # noqa: ARG001
    _AD_PARSED.clear()
    _AD_BY_ID.clear()
    session = object_session(target)
    if session is not None:
        session.info.pop(_AD_TX_KEY, None)
        session.info[_AD_WRITTEN_KEY] = True  # the id read with the login user is old now


#: The AD in force, kept in ``session.info`` for the rest of the transaction (a page reads it
#: from several services): forgotten when the outermost transaction ends or a version is
#: written.
_AD_TX_KEY = "kmp_current_ad"
_AD_WRITTEN_KEY = "kmp_ad_written"
#: The same parsed configurations by (database, id), for the id read with the login user.
_AD_BY_ID: dict[tuple, ADConfig] = {}


def _forget_transaction_ad(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_AD_TX_KEY, None)
        session.info.pop(_AD_WRITTEN_KEY, None)


def ad_in_force_load_option():
    """The id of the version in force read in the login user's query (``kmp.auth``), so a
    page that reads the AD does not ask which version is in force again."""
    from sqlalchemy.orm import with_expression

    from kmp.auth import User

    in_force = select(ADVersion.id).order_by(ADVersion.version.desc()).limit(1)
    return with_expression(User.kmp_ad_in_force, in_force.scalar_subquery())


def _ad_read_with_login() -> ADConfig | None:
    """The parsed AD whose id the login user's query read in this transaction (the user
    row's loaded values are dropped when the transaction ends), unless a version was written
    since."""
    if not has_request_context() or db.session.info.get(_AD_WRITTEN_KEY):
        return None
    user = g.get("_login_user")
    ad_id = getattr(user, "__dict__", {}).get("kmp_ad_in_force")
    if ad_id is None:
        return None
    return _AD_BY_ID.get((db.engine.url, ad_id))


event.listen(Session, "after_transaction_end", _forget_transaction_ad)


def current_ad() -> ADConfig:
    """The AD configuration in force (``version_id``/``version`` say which one). One small
    query says which version is in force; its parsed form is kept per request and per process
    (keyed so that another database or a re-created version is never mistaken), and the
    one in force is kept for the rest of the transaction (no second query in one request)."""
    kept = db.session.info.get(_AD_TX_KEY) or _ad_read_with_login()
    if kept is not None:
        db.session.info[_AD_TX_KEY] = kept
        return kept
    row = db.session.execute(
        select(ADVersion.id, ADVersion.version, ADVersion.created_at)
        .order_by(ADVersion.version.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(
            gettext("Konfigurasi AD belum dipasang: jalankan `flask kmp init`."), code="ad_missing"
        )
    cache = g.setdefault("kmp_ad_cache", {})
    if row.id not in cache:
        key = (db.engine.url, row.id, row.version, row.created_at)
        ad = _AD_PARSED.get(key)
        if ad is None:
            payload = db.session.scalar(select(ADVersion.payload).where(ADVersion.id == row.id))
            ad = ADConfig.from_payload(payload, version_id=row.id, version=row.version)
            if len(_AD_PARSED) > 64:
                _AD_PARSED.clear()
                _AD_BY_ID.clear()
            _AD_PARSED[key] = ad
            _AD_BY_ID[(db.engine.url, row.id)] = ad
        cache[row.id] = ad
    db.session.info[_AD_TX_KEY] = cache[row.id]
    return cache[row.id]


def ad_at_version(version: int) -> tuple[ADVersion, ADConfig]:
    row = db.session.scalar(select(ADVersion).where(ADVersion.version == version))
    if row is None:
        raise NotFound(gettext("Versi AD %(version)s tidak ada.", version=version))
    return row, ADConfig.from_payload(row.payload, version_id=row.id, version=row.version)
