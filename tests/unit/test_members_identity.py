import datetime as dt

import pytest

from members.register.identity import (
    IdentityError,
    format_member_no,
    parse_nib,
    parse_nik,
    parse_npwp,
    split_member_no,
)

TODAY = dt.date(2026, 3, 1)


def test_valid_male_nik():
    info = parse_nik("3174011505900001", TODAY)
    assert info.province == "DKI Jakarta"
    assert info.birth_date == dt.date(1990, 5, 15)
    assert not info.is_female


def test_valid_female_nik_has_day_plus_40_and_separators_are_ignored():
    info = parse_nik("3273 0157 0895 0002", TODAY)
    assert info.birth_date == dt.date(1995, 8, 17)
    assert info.is_female


def test_century_is_chosen_so_the_birth_is_not_in_the_future():
    assert parse_nik("3174011505050001", TODAY).birth_date == dt.date(2005, 5, 15)
    assert parse_nik("3174011505300001", TODAY).birth_date == dt.date(1930, 5, 15)


@pytest.mark.parametrize(
    ("nik", "words"),
    [
        ("", "wajib"),
        ("317401150590001", "16 angka"),
        ("31740115059000012", "16 angka"),
        ("31740115059000a1", "16 angka"),
        ("9974011505900001", "kode provinsi 99"),
        ("2074011505900001", "kode provinsi 20"),
        ("3100011505900001", "00"),
        ("3174001505900001", "00"),
        ("3174013102900001", "tanggal lahir"),  # 31 February
        ("3174017205900001", "tanggal lahir"),  # woman, day 32
        ("3174010013900001", "tanggal lahir"),  # month 13
        ("3174011505900000", "0000"),
        ("3174012902250001", "tanggal lahir"),  # 29 Feb 2025 does not exist
    ],
)
def test_invalid_niks_are_refused_with_a_reason(nik, words):
    with pytest.raises(IdentityError) as caught:
        parse_nik(nik, TODAY)
    assert words in caught.value.message
    assert caught.value.field == "nik"


def test_future_birth_is_refused():
    # born 15 Feb 2026 seen on 1 Jan 2026: the century rule gives 2026, which is the future
    with pytest.raises(IdentityError, match="masa depan"):
        parse_nik("3174011502260001", dt.date(2026, 1, 1))


def test_nib_and_npwp():
    assert parse_nib("9120 0012 34567") == "9120001234567"
    assert parse_npwp("01.234.567.8-901.000") == "012345678901000"
    assert parse_npwp("3174011505900001") == "3174011505900001"
    with pytest.raises(IdentityError, match="13 angka"):
        parse_nib("12345")
    with pytest.raises(IdentityError, match="15 atau 16"):
        parse_npwp("1234567890123")


def test_member_numbers():
    assert format_member_no("DRV", 2026, 123) == "DRV-2026-000123"
    assert split_member_no("DRV-2026-000123") == ("DRV", 2026, 123)
    assert split_member_no("A-001") is None
