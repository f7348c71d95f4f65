"""Demo: the 2025 board and pengawas reports for the RAT book and the cooperative's profile
(a registered seed step; idempotent: nothing already written is overwritten)."""

from __future__ import annotations

import datetime as dt

from kmp.extensions import db
from kmp.timeutil import business_date
from payouts.ratbook import services
from payouts.ratbook.models import CoopProfile, TextKind
from payouts.ratbook.sections import rat_text

DEMO_YEAR = 2025

BOARD_TEXT = "\n\n".join(
    (
        (
            "Puji syukur, tahun buku 2025 menjadi tahun pertama koperasi mengelola buku sendiri di "
            "KMP: setiap pendapatan dan beban dicatat bendahara dengan bukti, yang besar disetujui "
            "pengurus kedua, dan rekening bank dicocokkan setiap bulan."
        ),
        (
            "Pendapatan terbesar datang dari kontribusi mitra platform, disusul jasa layanan "
            "anggota. Beban terbesar adalah gaji dua staf administrasi dan sewa kantor. Koperasi "
            "membeli laptop dan printer untuk pelayanan anggota; penyusutannya dibebankan sejak "
            "tahun ini."
        ),
        (
            "Jumlah anggota bertambah di semua kelompok. Pengurus mengusulkan pembagian SHU sesuai "
            "tabel AD dan rencana anggaran 2026 yang terlampir dalam buku ini untuk disahkan Rapat "
            "Anggota Tahunan."
        ),
    )
)

SUPERVISORY_TEXT = "\n\n".join(
    (
        (
            "Pengawas telah memeriksa buku besar, bukti pendapatan dan beban, jurnal penyesuaian, "
            "serta rekonsiliasi bank tahun buku 2025 secara sampel setiap triwulan."
        ),
        (
            "Kami tidak menemukan transaksi tanpa bukti. Setiap pengeluaran di atas batas AD sudah "
            "disetujui dua anggota pengurus. Neraca seimbang dan SHU dalam buku ini sama dengan "
            "hasil tutup buku."
        ),
        (
            "Pengawas menyarankan agar dana pendidikan dipakai untuk sertifikasi kompetensi "
            "pengurus pada 2026."
        ),
    )
)

PROFILE = {
    "name": "Koperasi Multi Pihak Mitra Pengemudi Nusantara",
    "legal_number": "AHU-0012345.AH.01.29.TAHUN 2023",
    "legal_date": dt.date(2023, 3, 14),
    "nik_koperasi": "3174010020230001",
    "nib": "9120301234567",
    "npwp": "0123456789012000",
    "address": "Jl. Kemang Raya No. 21, RT 004/RW 002",
    "village": "Bangka",
    "district": "Mampang Prapatan",
    "regency": "Kota Jakarta Selatan",
    "province": "DKI Jakarta",
    "phone": "+62215551234",
    "email": "sekretariat@demo.kmp.id",
    "business_field": "Jasa transportasi dan pengantaran daring",
    "employees": 2,
}


def seed_ratbook(users: dict) -> None:
    if db.session.get(CoopProfile, 1) is None:
        services.save_coop_profile(PROFILE, by_user=users.get("pengurus"))
    if DEMO_YEAR >= business_date().year:
        return
    for kind, body, author in (
        (TextKind.BOARD, BOARD_TEXT, "pengurus"),
        (TextKind.SUPERVISORY, SUPERVISORY_TEXT, "pengawas"),
    ):
        if rat_text(DEMO_YEAR, kind) is None:
            services.save_rat_text(DEMO_YEAR, kind, body, by_user=users.get(author))
    db.session.flush()
