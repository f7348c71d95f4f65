"""The audit trail as sentences a board member reads: who did what to which record when, and
what changed from what to what. The raw record (``AuditRecord.changes``) stays one click away
on the page; nothing here changes what is stored or hashed."""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from kmp.i18n import gettext as _

#: What a table's row is, in words (singular). Unknown tables are shown by name.
TABLES = {
    "members": _l("data anggota"),
    "member_events": _l("riwayat anggota"),
    "member_staff": _l("staf perusahaan anggota"),
    "receipts": _l("kwitansi"),
    "obligations": _l("tagihan"),
    "obligation_payments": _l("pembayaran tagihan"),
    "sukarela_withdrawals": _l("penarikan sukarela"),
    "journal_entries": _l("jurnal buku besar"),
    "accounts": _l("akun buku besar"),
    "cash_entries": _l("kas masuk/keluar"),
    "manual_journals": _l("jurnal umum"),
    "manual_journal_lines": _l("baris jurnal umum"),
    "closed_periods": _l("periode tutup buku"),
    "year_end_closes": _l("tutup buku akhir tahun"),
    "distribution_runs": _l("pembagian SHU"),
    "distribution_lines": _l("baris SHU anggota"),
    "payout_transfers": _l("transfer SHU"),
    "meetings": _l("rapat"),
    "proposals": _l("usulan/pemungutan suara"),
    "governance_events": _l("peristiwa tata kelola"),
    "users": _l("pengguna"),
    "user_roles": _l("peran pengguna"),
    "officers": _l("jabatan pengurus/pengawas"),
    "certificates": _l("sertifikat"),
    "ad_versions": _l("versi Anggaran Dasar"),
    "notifications": _l("pesan"),
    "remittances": _l("remitansi mitra"),
    "remittance_lines": _l("baris remitansi"),
    "worker_links": _l("tautan mitra platform"),
    "protection_enrolments": _l("kepesertaan BPJS"),
    "payment_attempts": _l("pembayaran online"),
    "exit_cases": _l("pengajuan keluar"),
    "nik_corrections": _l("koreksi NIK"),
}

VERBS = {
    "insert": _l("menambah"),
    "update": _l("mengubah"),
    "delete": _l("menghapus"),
    "bulk_insert": _l("menambah sekaligus"),
    "bulk_update": _l("mengubah sekaligus"),
    "bulk_delete": _l("menghapus sekaligus"),
}

#: Field names shown in words; the rest are shown with underscores as spaces.
FIELDS = {
    "status": _l("status"),
    "amount_idr": _l("jumlah"),
    "paid_idr": _l("terbayar"),
    "is_open": _l("masih terbuka"),
    "full_name": _l("nama"),
    "phone": _l("nomor HP"),
    "email": _l("email"),
    "nik": _l("NIK"),
    "member_no": _l("nomor anggota"),
    "joined_date": _l("tanggal masuk"),
    "group_code": _l("kelompok"),
    "title": _l("judul"),
    "starts_at": _l("mulai"),
    "opens_at": _l("dibuka"),
    "closes_at": _l("ditutup"),
    "approved_at": _l("disetujui pada"),
    "decided_at": _l("diputuskan pada"),
    "note": _l("catatan"),
    "reason": _l("alasan"),
}


@dataclass(frozen=True)
class Sentence:
    text: str
    changes: list[tuple[str, str, str]]  # (field, before, after)
    raw: str  # the stored record, pretty-printed


def _value(value) -> str:
    if value is None or value == "":
        return "–"
    if value is True:
        return _("ya")
    if value is False:
        return _("tidak")
    return str(value)


def field_label(key: str) -> str:
    label = FIELDS.get(key)
    return str(label) if label is not None else key.replace("_", " ")


def describe(record) -> Sentence:
    """``record``: an ``AuditRecord``. The sentence names the actor, the verb, the thing and
    its identifier; the changes list every field before and after."""
    action = record.action or ""
    verb_key, _sep, rest = action.partition(":")
    actor = record.actor or _("sistem")
    thing = TABLES.get(record.table_name)
    thing = str(thing) if thing is not None else (record.table_name or rest or action)
    ident = record.target or ""
    if record.table_name and ident.startswith(record.table_name + ":"):
        ident = ident[len(record.table_name) + 1 :]
    if verb_key in VERBS:
        target = f" #{ident}" if ident else ""
        text = _(
            "%(actor)s %(verb)s %(thing)s%(target)s.",
            actor=actor,
            verb=str(VERBS[verb_key]),
            thing=thing,
            target=target,
        )
    else:  # a named event, e.g. "governance.meeting_created"
        from kmp.labels import code_label

        event = code_label(action.rsplit(".", 1)[-1])
        target = f" ({record.target})" if record.target else ""
        text = _("%(actor)s: %(event)s%(target)s.", actor=actor, event=event, target=target)
    changes = []
    data = record.changes_dict
    for key, pair in data.items():
        if isinstance(pair, list) and len(pair) == 2:
            changes.append((field_label(key), _value(pair[0]), _value(pair[1])))
        else:
            changes.append((field_label(key), "", _value(pair)))
    raw = json.dumps(
        {
            "id": record.id,
            "action": record.action,
            "table": record.table_name,
            "target": record.target,
            "actor": record.actor,
            "roles": record.roles,
            "ip": record.ip,
            "changes": data,
            "hash": record.hash,
        },
        ensure_ascii=False,
        indent=2,
        default=str,
    )
    return Sentence(text, changes, raw)
