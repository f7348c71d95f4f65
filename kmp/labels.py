"""Words instead of internal codes on the pages: ``{{ code|label }}``.

Known codes (ledger sources, member and governance events, patronage measures, SHU funds and
parts) have a translated label here; any other ``snake_case`` code is shown as words
("meeting_created" -> "Meeting created") rather than raw, so no page shows a bare code."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LABELS = {
    # ledger entry sources
    "bill_receipt": _l("Pembayaran tagihan"),
    "bpjs_autodebit": _l("Autodebet BPJS"),
    "bpjs_remittance": _l("Setoran BPJS"),
    "bpjs_subsidy": _l("Subsidi BPJS"),
    "cash_entry": _l("Kas masuk/keluar"),
    "exit_case": _l("Anggota keluar"),
    "manual_journal": _l("Jurnal umum"),
    "member_admission": _l("Penerimaan anggota"),
    "member_import": _l("Impor anggota"),
    "payment": _l("Pembayaran online"),
    "receipt": _l("Kwitansi"),
    "remittance": _l("Remitansi mitra (potong gaji)"),
    "reversal": _l("Jurnal pembalik"),
    "sukarela_withdrawal": _l("Penarikan sukarela"),
    "year_end_close": _l("Tutup buku akhir tahun"),
    "month_close": _l("Tutup buku bulanan"),
    "shu_distribution": _l("Pembagian SHU"),
    # member events
    "bpjs_requested": _l("Minta ikut BPJS"),
    "bpjs_confirmed": _l("Kepesertaan BPJS dikonfirmasi"),
    "bpjs_rejected": _l("Pendaftaran BPJS ditolak"),
    "bpjs_stopped": _l("Kepesertaan BPJS dihentikan"),
    "partner_linked": _l("Tertaut ke mitra platform"),
    "partner_unlinked": _l("Tautan mitra platform dicabut"),
    # audit events
    "nik_revealed": _l("NIK lengkap ditampilkan"),
    # governance events
    "meeting_created": _l("Rapat dibuat"),
    "meeting_notice_sent": _l("Undangan rapat dikirim"),
    "meeting_held": _l("Rapat diadakan"),
    "meeting_cancelled": _l("Rapat dibatalkan"),
    "proposal_created": _l("Usulan dibuat"),
    "proposal_opened": _l("Pemungutan suara dibuka"),
    "proposal_closed": _l("Pemungutan suara ditutup"),
    "proposal_cancelled": _l("Usulan dibatalkan"),
    # AD settings
    "year_end": _l("saldo akhir tahun"),
    "average_month_end": _l("rata-rata saldo akhir bulan"),
    "prorate": _l("sebanding bulan keanggotaan"),
    "exclude": _l("tidak ikut"),
    # patronage measures
    "trips": _l("jumlah perjalanan"),
    "deliveries": _l("jumlah pengiriman"),
    "spend_idr": _l("belanja (Rp)"),
    "contribution_idr": _l("kontribusi (Rp)"),
    # SHU funds and parts
    "cadangan": _l("Cadangan"),
    "jasa_anggota": _l("Jasa anggota"),
    "jasa_modal": _l("Jasa modal"),
    "jasa_usaha": _l("Jasa usaha"),
    "dana_pengurus": _l("Dana pengurus"),
    "dana_karyawan": _l("Dana karyawan"),
    "dana_pendidikan": _l("Dana pendidikan"),
    "dana_sosial": _l("Dana sosial"),
    "dana_pembangunan_daerah": _l("Dana pembangunan daerah kerja"),
    # login roles (the badges in the menu)
    "admin": _l("Admin"),
    "pengurus": _l("Pengurus"),
    "bendahara": _l("Bendahara"),
    "pengawas": _l("Pengawas"),
    "anggota": _l("Anggota"),
    "partner": _l("Mitra platform"),
    # offices (the register of officers)
    "ketua": _l("Ketua"),
    "sekretaris": _l("Sekretaris"),
    "anggota_pengurus": _l("Anggota pengurus"),
}


def code_label(code) -> str:
    """The words for ``code`` (in the page's language)."""
    if code is None:
        return ""
    text = str(getattr(code, "value", code))
    label = LABELS.get(text)
    if label is not None:
        return str(label)
    if "_" in text and text.replace("_", "").isalnum() and text.islower():
        words = text.replace("_", " ")
        return words[:1].upper() + words[1:]
    return text
