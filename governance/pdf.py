"""The results of a closed ballot as a PDF for the minutes (through the one PDF layer)."""

from __future__ import annotations

from typing import Any

from governance.logic import percent, reason_label
from kmp.timeutil import JAKARTA


def _when(instant) -> str:
    return instant.astimezone(JAKARTA).strftime("%d-%m-%Y %H.%M WIB") if instant else "-"


def results_pdf(
    *,
    proposal,
    resolution,
    tally,
    names,
    option_keys,
    valid_keys,
    receipts,
    roll_call,
    coop_name: str,
    **_ignored,
) -> bytes:
    from kmp.pdf import Document

    doc = Document(
        title=f"Hasil pemungutan suara: {proposal.title}",
        period=f"{_when(proposal.opened_at)} – {_when(proposal.closed_at)}",
        coop_name=coop_name,
    )

    def line(text: str, size: int = 9, style: str = "") -> None:
        doc.text(text, size=size, bold="B" in style)

    def table(headers: list[str], rows: list[list[Any]], numeric_from: int = 1) -> None:
        doc.table(headers, rows, numeric=range(numeric_from, len(headers)), size=7.5)

    line(
        f"{proposal.kind.label}; dibuka {_when(proposal.opened_at)}; ditutup "
        f"{_when(proposal.closed_at)}; {'rahasia' if proposal.secret else 'terbuka'}."
    )
    outcome = "DITERIMA" if resolution.outcome.value == "passed" else "TIDAK DITERIMA"
    line(f"Keputusan (suara berbobot): {outcome}", 11, "B")
    if tally["type"] == "proposal":
        line(
            "Hasil satu anggota satu suara (UU 25/1992 Ps 24): "
            + ("diterima" if tally["plain_passed"] else "tidak diterima")
        )
    for reason in tally["reasons"]:
        line(f"- {reason_label(reason)}")
    word = "paling sedikit" if tally["quorum_inclusive"] else "lebih dari"
    line(
        f"Kuorum: {tally['total_participants']} dari {tally['total_eligible']} pemilih "
        f"({percent(tally['turnout'])}); syarat {word} {percent(tally['quorum'])}"
        + (" keseluruhan dan per kelompok" if tally["require_group_quorum"] else "")
        + "."
    )
    if tally["type"] == "proposal":
        word = "paling sedikit" if tally["threshold_inclusive"] else "lebih dari"
        line(f"Ambang: {word} {percent(tally['threshold'])} suara sah berbobot.")

    if tally["type"] == "proposal":
        rows = []
        for key in option_keys:
            if key in valid_keys:
                rows.append(
                    [
                        proposal.option_label(key),
                        tally["total_counts"][key],
                        percent((tally["weighted_shares"] or {}).get(key)),
                        percent((tally["plain_shares"] or {}).get(key)),
                    ]
                )
            else:
                rows.append([proposal.option_label(key), tally["total_counts"][key], "-", "-"])
        table(["Pilihan", "Suara", "Berbobot (keputusan)", "Satu anggota satu suara"], rows)
    else:
        rows = [
            [
                f"{proposal.option_label(c['candidate'])} ({c['candidate']})",
                names.get(c["group"], c["group"]),
                c["votes"],
                percent(c["weighted_share"]),
                percent(c["plain_share"]),
                "ya" if c["elected_weighted"] else "-",
                "ya" if c["elected_plain"] else "-",
            ]
            for c in tally["candidates"]
        ]
        table(
            [
                "Calon",
                "Kelompok",
                "Suara",
                "Berbobot",
                "Satu anggota satu suara",
                "Terpilih",
                "Terpilih (polos)",
            ],
            rows,
            numeric_from=2,
        )
        for tie in (tally.get("weighted") or {}).get("ties", []):
            line(f"Seimbang: {tie['seats']} kursi di antara {', '.join(tie['candidates'])}.")

    headers = ["Kelompok", "Bobot", "Berhak", "Memilih", "Sah"]
    headers += [proposal.option_label(k) for k in option_keys]
    headers += ["Partisipasi", "Kuorum"]
    rows = []
    for g in tally["groups"]:
        rows.append(
            [
                names.get(g["code"], g["code"]),
                f"{g['weight_bp'] / 100:.2f} %",
                g["eligible"],
                g["participants"],
                g["valid"],
                *[g["counts"].get(k, 0) for k in option_keys],
                percent(g["turnout"]),
                "ya" if g["quorum_met"] else "tidak",
            ]
        )
    table(headers, rows)

    line(f"Sidik jari SHA-256 daftar pemilih: {tally['census_fingerprint']}", 8)
    if proposal.secret:
        line(f"Daftar tanda terima ({len(receipts)} suara, urut kode)", 10, "B")
        table(
            ["Kode", "Kelompok", "Pilihan"],
            [[code, group, proposal.option_label(option)] for code, group, option in receipts],
            numeric_from=3,
        )
    else:
        line("Suara terbuka per anggota", 10, "B")
        table(
            ["No. anggota", "Nama", "Kelompok", "Pilihan"],
            [
                [m.member_no, m.display_name, v.group_code, proposal.option_label(v.option)]
                for v, m in roll_call
            ],
            numeric_from=4,
        )
    return doc.output()
