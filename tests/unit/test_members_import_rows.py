import datetime as dt

from members.ad.config import ADConfig
from members.importer.services import read_csv, validate_rows

TODAY = dt.date(2026, 3, 1)
HEADER = (
    "member_no,full_name,nik,phone,email,group,joined_date,platform,platform_worker_id,"
    "opening_pokok_idr,opening_wajib_idr,opening_sukarela_idr,opening_date"
)


def _validate(text):
    headers, rows = read_csv(text)
    return validate_rows(headers, rows, ADConfig(), TODAY)


def test_good_rows_parse_with_indonesian_formats():
    text = (
        HEADER
        + "\n"
        + (
            ",Siti,3174015505900001,0812-1111-2222,,pengemudi,01/03/2024,Gojek,gj-1,"
            "100.000,75000,,2026-01-31\n"
        )
    )
    rows, errors = _validate(text)
    assert errors == []
    (row,) = rows
    assert row.phone == "+6281211112222"
    assert row.joined_date == dt.date(2024, 3, 1)
    assert (row.platform, row.worker_id) == ("gojek", "GJ-1")
    assert (row.pokok, row.wajib, row.sukarela) == (100_000, 75_000, 0)
    assert row.opening_date == dt.date(2026, 1, 31)


def test_semicolon_files_and_bom_are_read():
    row = ";Ani;3174015505900001;081211112222;;pengguna;2024-01-01;;;;;;"
    text = "\ufeff" + HEADER.replace(",", ";") + "\n" + row + "\n"
    rows, errors = _validate(text.encode("utf-8"))
    assert errors == [] and rows[0].full_name == "Ani"


def test_every_problem_is_reported_with_row_and_column():
    text = (
        HEADER
        + "\n"
        + "\n".join(
            [
                ",Ok,3174015505900001,081211112222,,pengguna,2024-01-01,,,,,,",
                ",,9999015505900001,123,bad-email,pengemudi,2030-01-01,,,-5,x,,",
                ",Dup,3174015505900001,081211112222,,kurir,2024-01-01,grab,G1,,,,",
            ]
        )
        + "\n"
    )
    _, errors = _validate(text)
    found = {(e.row, e.column) for e in errors}
    assert {
        (3, "full_name"),
        (3, "nik"),
        (3, "phone"),
        (3, "email"),
        (3, "joined_date"),
        (3, "platform"),
        (3, "platform_worker_id"),
        (3, "opening_pokok_idr"),
        (3, "opening_wajib_idr"),
    } <= found
    assert (4, "nik") in found and (4, "phone") in found
    dup = next(e for e in errors if e.row == 4 and e.column == "nik")
    assert "baris 2" in dup.reason
    assert str(dup).startswith("baris 4, kolom nik:")


def test_missing_and_unknown_columns():
    _, errors = _validate("full_name,nik,colour\nA,1,red\n")
    assert {(e.row, e.column) for e in errors} == {
        (1, "phone"),
        (1, "group"),
        (1, "joined_date"),
        (1, "colour"),
    }


def test_companies_are_not_imported():
    text = HEADER + "\n,PT X,3174015505900001,081211112222,,platform,2024-01-01,,,,,,\n"
    _, errors = _validate(text)
    assert [(e.row, e.column) for e in errors] == [(2, "group")]
