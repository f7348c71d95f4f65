"""The annual cooperative data for the Kemenkop online data system (ODS): identity and legal
numbers, members by group and gender, officers, the RAT date, own and outside capital,
business volume, assets, SHU, training and certification. One row per figure: ``kode``
(stable, documented in the README section "Data untuk Kementerian Koperasi"), ``uraian``,
``nilai``, ``satuan``. Money from the ledger at 31 December of the fiscal year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from kmp.i18n import gettext as _
from payouts.ratbook import figures, statements
from payouts.ratbook.sections import coop_name, coop_profile

HEADERS = ("kode", "uraian", "nilai", "satuan")


def ministry_rows(year: int) -> Iterator[tuple]:
    profile = coop_profile()
    end = dt.date(year, 12, 31)

    def ident(key: str, label: str, value) -> tuple:
        return (key, label, value if value not in (None, "") else "", "")

    yield ident("tahun_buku", _("Tahun buku"), year)
    yield ident("nama_koperasi", _("Nama koperasi"), coop_name())
    yield ident("jenis_koperasi", _("Jenis koperasi"), "Koperasi Multi Pihak")
    for key, label, attr in (
        ("nomor_badan_hukum", _("Nomor badan hukum"), "legal_number"),
        ("tanggal_badan_hukum", _("Tanggal badan hukum"), "legal_date"),
        ("nik_koperasi", _("Nomor Induk Koperasi"), "nik_koperasi"),
        ("nib", "NIB", "nib"),
        ("npwp", "NPWP", "npwp"),
        ("alamat", _("Alamat"), "address"),
        ("desa_kelurahan", _("Desa/kelurahan"), "village"),
        ("kecamatan", _("Kecamatan"), "district"),
        ("kabupaten_kota", _("Kabupaten/kota"), "regency"),
        ("provinsi", _("Provinsi"), "province"),
        ("telepon", _("Telepon"), "phone"),
        ("email", _("Email"), "email"),
        ("bidang_usaha", _("Bidang usaha"), "business_field"),
    ):
        yield ident(key, label, getattr(profile, attr, None) if profile else None)
    rat = figures.rat_date(year)
    yield ("tanggal_rat", _("Tanggal RAT tahun buku ini"), rat or "", "tanggal")
    yield ("karyawan", _("Jumlah karyawan"), (profile.employees if profile else None) or 0, "orang")

    stats = figures.member_stats(year)
    yield ("anggota_jumlah", _("Jumlah anggota 31 Desember"), sum(s.active for s in stats), "orang")
    yield ("anggota_laki_laki", _("Anggota laki-laki"), sum(s.male for s in stats), "orang")
    yield ("anggota_perempuan", _("Anggota perempuan"), sum(s.female for s in stats), "orang")
    yield ("anggota_badan_hukum", _("Anggota badan hukum"), sum(s.entities for s in stats), "badan")
    yield ("anggota_masuk", _("Anggota masuk dalam tahun"), sum(s.joined for s in stats), "orang")
    yield ("anggota_keluar", _("Anggota keluar dalam tahun"), sum(s.exited for s in stats), "orang")
    for s in stats:
        yield (f"anggota_{s.code}", _("Anggota kelompok %(name)s", name=s.name), s.active, "orang")
        yield (
            f"anggota_{s.code}_laki_laki",
            _("%(name)s: laki-laki", name=s.name),
            s.male,
            "orang",
        )
        yield (
            f"anggota_{s.code}_perempuan",
            _("%(name)s: perempuan", name=s.name),
            s.female,
            "orang",
        )

    officers = figures.officers(end)
    yield (
        "pengurus_jumlah",
        _("Jumlah pengurus"),
        sum(o.body == "pengurus" for o in officers),
        "orang",
    )
    yield (
        "pengawas_jumlah",
        _("Jumlah pengawas"),
        sum(o.body == "pengawas" for o in officers),
        "orang",
    )
    for function, label in (
        ("ketua", _("Ketua pengurus")),
        ("sekretaris", _("Sekretaris")),
        ("bendahara", _("Bendahara")),
    ):
        names = ", ".join(o.name for o in officers if o.function == function)
        yield (f"{function}_nama", label, names, "")

    sheet = statements.balance_sheet(year)
    result = statements.result_statement(year)
    t = sheet.totals
    own_capital = t["equity"] + t["unclosed_result"]
    yield ("modal_sendiri", _("Modal sendiri (ekuitas)"), own_capital, "Rp")
    yield ("modal_luar", _("Modal luar (kewajiban)"), t["liabilities"], "Rp")
    yield (
        "simpanan_pokok",
        _("Simpanan pokok"),
        sum(s.pokok_idr for s in stats),
        "Rp",
    )
    yield ("simpanan_wajib", _("Simpanan wajib"), sum(s.wajib_idr for s in stats), "Rp")
    yield ("volume_usaha", _("Volume usaha (jumlah pendapatan)"), result.totals["income"], "Rp")
    yield ("aset", _("Jumlah aset"), t["assets"], "Rp")
    yield ("shu", _("Sisa hasil usaha tahun buku"), result.totals["shu"], "Rp")

    training = figures.training_figures(year)
    yield (
        "pelatihan_program",
        _("Program pelatihan yang dimulai dalam tahun"),
        len(training.programmes),
        "program",
    )
    yield ("pelatihan_peserta", _("Peserta pelatihan"), training.participants, "orang")
    yield ("pelatihan_lulus", _("Peserta yang menyelesaikan"), training.completed, "orang")
    yield (
        "anggota_bersertifikat",
        _("Anggota dengan sertifikat kompetensi berlaku"),
        training.certified_members,
        "orang",
    )
    yield (
        "pengurus_pengawas_bersertifikat",
        _("Pengurus dan pengawas dengan sertifikat kompetensi berlaku"),
        training.certified_officers,
        "orang",
    )
    yield (
        "dana_pendidikan",
        _("Saldo dana pendidikan 31 Desember"),
        training.fund.closing_idr,
        "Rp",
    )
