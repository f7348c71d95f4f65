"""Issue 6, must-show 6: the stored data gives no link from a receipt or a secret choice to a
member. The test inspects the schema and every stored row, before and after the close."""

from __future__ import annotations

import pytest
from sqlalchemy import String, Text, inspect, select, text

from governance import logic, services
from governance.models import BallotChoice, BallotParticipation
from tests.integration.governance_factories import ensure_ad, make_member, make_proposal

CHOICE_COLUMNS = {"id", "proposal_id", "group_code", "option", "receipt_code", "change_hash"}


@pytest.fixture
def voted(db):  # noqa: ARG001
    ensure_ad()
    voters = [make_member(g) for g in ["pengemudi"] * 12 + ["kurir"] * 8 + ["pengguna"] * 6]
    db.session.commit()
    proposal = make_proposal(allow_change=True)
    casts = []
    for i, member in enumerate(voters):
        option = ("yes", "no", "abstain")[i % 3]
        casts.append((member, services.cast_vote(proposal, member, option)))
        db.session.commit()
    return proposal, casts


def test_choice_table_has_no_identity_time_or_order_columns(db):
    inspector = inspect(db.engine)
    columns = {c["name"]: c for c in inspector.get_columns("ballot_choices")}
    assert set(columns) == CHOICE_COLUMNS
    assert not any("member" in name or "user" in name or name.endswith("_at") for name in columns)
    # No foreign key that leads to a person or to a participation row.
    referred = {fk["referred_table"] for fk in inspector.get_foreign_keys("ballot_choices")}
    assert referred == {"proposals"}
    # The primary key is a random text id, not an autoincrement counter.
    assert inspector.get_pk_constraint("ballot_choices")["constrained_columns"] == ["id"]
    assert isinstance(columns["id"]["type"], String)
    if db.engine.dialect.name == "postgresql":
        assert columns["id"]["default"] is None
        sequence = db.session.execute(
            text("SELECT pg_get_serial_sequence('ballot_choices', 'id')")
        ).scalar()
        assert sequence is None
    else:
        # SQLite: WITHOUT ROWID, so there is no hidden insertion counter either.
        with pytest.raises(Exception, match="rowid"):
            db.session.execute(text("SELECT rowid FROM ballot_choices")).all()
        db.session.rollback()
    # The participation table knows who voted, and nothing about how.
    participation = {c["name"] for c in inspector.get_columns("ballot_participations")}
    assert not participation & {"option", "receipt_code", "choice_id", "change_hash"}


def test_no_stored_value_links_a_receipt_or_choice_to_a_member(db, voted):
    proposal, casts = voted
    choices = db.session.execute(select(BallotChoice)).scalars().all()
    assert len(choices) == len(casts)
    ids = [c.id for c in choices]
    # Random UUID ids: no shared order with the participations (cast order).
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    cast_order = [
        r
        for (r,) in db.session.execute(
            select(BallotParticipation.member_id).order_by(
                BallotParticipation.cast_at, BallotParticipation.id
            )
        )
    ]
    receipts_by_cast = [result.receipt_code for _, result in casts]
    by_id = [c.receipt_code for c in sorted(choices, key=lambda c: c.id)]
    assert by_id != receipts_by_cast
    assert len(cast_order) == len(casts)

    # No receipt code, no change token appears anywhere outside ballot_choices.
    secrets_to_find = {r.receipt_code for _, r in casts} | {r.change_token for _, r in casts}
    member_ids = {str(m.id) for m, _ in casts}
    for table in db.metadata.sorted_tables:
        text_columns = [c.name for c in table.columns if isinstance(c.type, String | Text)]
        if not text_columns:
            continue
        for row in db.session.execute(select(*[table.c[n] for n in text_columns])):
            for name, value in zip(text_columns, row, strict=True):
                if value is None:
                    continue
                if table.name == "ballot_choices" and name == "receipt_code":
                    continue
                found = {s for s in secrets_to_find if s and s in str(value)}
                assert not found, f"{table.name}.{name} holds a receipt or token"
    # A choice row holds nothing equal to a member id or number.
    numbers = {m.member_no for m, _ in casts}
    for c in choices:
        for value in (c.id, c.option, c.receipt_code, c.change_hash):
            assert value not in member_ids and value not in numbers

    # The change hash cannot be recomputed without the server secret.
    member, result = casts[0]
    stored = {c.change_hash for c in choices}
    assert logic.change_hash(result.change_token) in stored
    forged = logic.change_hash(logic.change_token("not-the-secret", proposal.id, member.id))
    assert forged not in stored


def test_close_rewrites_choices_without_change_hashes_or_old_ids(db, voted):
    proposal, casts = voted
    before_ids = {i for (i,) in db.session.execute(select(BallotChoice.id))}
    before = sorted(
        db.session.execute(
            select(BallotChoice.receipt_code, BallotChoice.group_code, BallotChoice.option)
        ).all()
    )
    services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    after_ids = {i for (i,) in db.session.execute(select(BallotChoice.id))}
    after = sorted(
        db.session.execute(
            select(BallotChoice.receipt_code, BallotChoice.group_code, BallotChoice.option)
        ).all()
    )
    assert after == before  # every receipt still says what it said
    assert not before_ids & after_ids  # but under fresh random ids
    assert (
        db.session.scalar(select(BallotChoice.id).where(BallotChoice.change_hash.is_not(None)))
        is None
    )


def test_pages_show_receipts_without_names(db, voted, client, login_as):
    proposal, casts = voted
    services.close_proposal(proposal, by_user=None, now=proposal.closes_at)
    db.session.commit()
    login_as("pengawas")
    page = client.get(f"/pemungutan/{proposal.id}/hasil").get_data(as_text=True)
    for member, result in casts:
        assert result.receipt_code in page
        assert member.full_name not in page
        assert member.member_no not in page
