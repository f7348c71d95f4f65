"""Issue 18: ``flask loans schedule`` prints the CSV operators and auditors read; ``flask loans
age --on`` runs the aging for a date."""

from __future__ import annotations

import datetime as dt

from kmp.extensions import db
from members.loans import repayment
from tests.integration.loans_support import active_loan, borrower, make_product


def test_schedule_csv(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "loans",
            "schedule",
            "--principal",
            "1200000",
            "--annual-rate",
            "18",
            "--months",
            "12",
            "--method",
            "flat",
            "--start",
            "2026-01-15",
        ]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "no,due_date,principal_idr,interest_idr,total_idr,balance_idr"
    assert lines[1] == "1,2026-02-15,100000,18000,118000,1100000"
    assert len(lines) == 13 and lines[-1].endswith(",0")
    for method in ("annuity", "declining"):
        out = runner.invoke(
            args=[
                "loans",
                "schedule",
                "--principal",
                "1200000",
                "--annual-rate",
                "16.5",
                "--months",
                "6",
                "--method",
                method,
            ]
        )
        rows = [line.split(",") for line in out.output.splitlines()[1:]]
        assert sum(int(r[2]) for r in rows) == 1_200_000 and rows[-1][5] == "0"
    bad = runner.invoke(
        args=[
            "loans",
            "schedule",
            "--principal",
            "1200000",
            "--annual-rate",
            "1.234",
            "--months",
            "6",
            "--method",
            "flat",
        ]
    )
    assert bad.exit_code != 0 and "dua desimal" in bad.output


def test_age_command(app, make_user):
    bendahara, pengurus, other = (
        make_user("bendahara", "pengurus"),
        make_user("pengurus"),
        make_user("pengurus"),
    )
    product = make_product(pengurus, other)
    loan = active_loan(borrower(1, bendahara, pengurus), product, other, bendahara)
    due = repayment.instalment_rows(loan)[0]["row"].due_date
    db.session.commit()
    on = (due + dt.timedelta(days=91)).isoformat()
    result = app.test_cli_runner().invoke(args=["loans", "age", "--on", on])
    assert result.exit_code == 0, result.output
    assert f"on={on} late=1" in result.output
    assert "kurang_lancar,1,1200000,180000" in result.output
    bad = app.test_cli_runner().invoke(args=["loans", "age", "--on", "31-12-2026"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
