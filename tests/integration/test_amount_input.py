"""Issue 22: amounts are read as people type them, with one parser: "10.000.000",
"10000000" and "10 jt" are the same ten million (the SHU amount field misread
"10.000.000")."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from kmp.money import parse_rupiah_input
from payouts.forms import ComputeForm


@pytest.mark.parametrize(
    "typed", ["10.000.000", "10000000", "10 jt", "Rp 10.000.000", "10 juta", "10jt", "10000 rb"]
)
def test_the_parser_reads_ten_million_every_way(typed):
    assert parse_rupiah_input(typed) == 10_000_000


@pytest.mark.parametrize("typed", ["10.000.000", "10000000", "10 jt"])
def test_the_shu_amount_field_reads_ten_million(app, typed):
    with app.test_request_context(method="POST"):
        form = ComputeForm(
            formdata=MultiDict({"fiscal_year": "2025", "shu_idr": typed}), meta={"csrf": False}
        )
        assert form.validate(), form.errors
        assert form.shu_idr.data == 10_000_000


@pytest.mark.parametrize("typed", ["sepuluh juta", "10.5", "-5.000", "1,2345 rb"])
def test_what_is_not_an_amount_is_a_field_error(app, typed):
    with app.test_request_context(method="POST"):
        form = ComputeForm(
            formdata=MultiDict({"fiscal_year": "2025", "shu_idr": typed}), meta={"csrf": False}
        )
        assert not form.validate()
        assert form.shu_idr.errors and form.shu_idr.data is None
        assert "10 jt" in str(form.shu_idr.errors[0]) or "negatif" in str(form.shu_idr.errors[0])


def test_left_empty_means_the_ledger_figure(app):
    with app.test_request_context(method="POST"):
        form = ComputeForm(
            formdata=MultiDict({"fiscal_year": "2025", "shu_idr": ""}), meta={"csrf": False}
        )
        assert form.validate(), form.errors
        assert form.shu_idr.data is None
