"""The competence rule of the AD: which office needs which certificate (pure code).

Each ``CompetenceRule`` names an office (``role``), the certificate schemes that qualify for
it (any one of them is enough; an empty list means the office needs no certificate) and a
grace period: a certificate that expired at most ``grace_days`` ago still counts, so an
officer whose renewal is under way keeps the office. Shipped defaults (domain.md decision 11,
section 2.8; every one editable in the AD editor):

========== ================================ ==========
office     qualifying scheme                grace days
========== ================================ ==========
pengurus   Pengurus Koperasi                0
pengawas   Pengawas Koperasi                0
manager    Manajer Koperasi                 0
loan       Analis Kredit Koperasi (KSP/USP) 0
========== ================================ ==========

The whole rule is switched on and off by ``require_certified_officers`` (default on).
``members.training.competence.ensure_competent(holder, role, on_date)`` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmp.i18n import gettext

#: The offices the rule can name (``manager`` = pengelola, ``loan_officer`` = petugas kredit).
COMPETENCE_ROLES = ("pengurus", "pengawas", "manager", "loan_officer")
ROLE_LABELS = {
    "pengurus": "pengurus",
    "pengawas": "pengawas",
    "manager": "pengelola (manajer)",
    "loan_officer": "petugas kredit",
}
MAX_GRACE_DAYS = 365
MAX_SCHEME_LENGTH = 200
MAX_SCHEMES = 10


@dataclass(frozen=True)
class CompetenceRule:
    role: str
    schemes: tuple[str, ...] = ()
    grace_days: int = 0

    @property
    def role_label(self) -> str:
        return gettext(ROLE_LABELS.get(self.role, self.role))


DEFAULT_COMPETENCE_RULES = (
    CompetenceRule("pengurus", ("Pengurus Koperasi",)),
    CompetenceRule("pengawas", ("Pengawas Koperasi",)),
    CompetenceRule("manager", ("Manajer Koperasi",)),
    CompetenceRule("loan_officer", ("Analis Kredit Koperasi (KSP/USP)",)),
)


def normalise_scheme(text: str | None) -> str:
    """How schemes are compared: case and runs of spaces do not matter."""
    return " ".join((text or "").split()).casefold()


def parse_schemes(text: str | None) -> list[str]:
    """``"Pengurus Koperasi; Manajer Koperasi"`` -> the two names (``;`` or new lines)."""
    parts = (text or "").replace("\n", ";").split(";")
    return [" ".join(p.split()) for p in parts if p.strip()]


def build_rules(raw: Any, problems: list) -> tuple[CompetenceRule, ...]:
    """The rules from their JSON form (``[{"role", "schemes", "grace_days"}, ...]``)."""
    if not isinstance(raw, list | tuple):
        problems.append(("competence_rules", gettext("harus berupa daftar aturan kompetensi.")))
        return ()
    rules = []
    for index, item in enumerate(raw):
        path = f"competence_rules[{index}]"
        if not isinstance(item, dict) or not {"role", "schemes"} <= set(item):
            problems.append(
                (path, gettext("setiap aturan harus berisi 'role', 'schemes', 'grace_days'."))
            )
            continue
        for key in sorted(set(item) - {"role", "schemes", "grace_days"}):
            problems.append((f"{path}.{key}", gettext("kunci tidak dikenal.")))
        role, schemes, grace = item["role"], item["schemes"], item.get("grace_days", 0)
        if not isinstance(role, str):
            problems.append((f"{path}.role", gettext("harus teks.")))
            continue
        if not isinstance(schemes, list | tuple) or not all(isinstance(s, str) for s in schemes):
            problems.append((f"{path}.schemes", gettext("harus daftar nama skema.")))
            continue
        if isinstance(grace, bool) or not isinstance(grace, int):
            problems.append((f"{path}.grace_days", gettext("harus bilangan bulat.")))
            continue
        rules.append(
            CompetenceRule(role.strip(), tuple(" ".join(s.split()) for s in schemes), grace)
        )
    return tuple(rules)


def validate_rules(rules: tuple[CompetenceRule, ...]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        path = f"competence_rules.{rule.role}" if rule.role else f"competence_rules[{index}]"
        if rule.role not in COMPETENCE_ROLES:
            problems.append(
                (
                    f"competence_rules[{index}].role",
                    gettext(
                        "jabatan harus salah satu dari: %(choices)s.",
                        choices=", ".join(COMPETENCE_ROLES),
                    ),
                )
            )
        elif rule.role in seen:
            problems.append(
                (path, gettext("jabatan '%(role)s' punya lebih dari satu aturan.", role=rule.role))
            )
        seen.add(rule.role)
        names = [normalise_scheme(s) for s in rule.schemes]
        if any(not n for n in names):
            problems.append((f"{path}.schemes", gettext("nama skema tidak boleh kosong.")))
        if any(len(s) > MAX_SCHEME_LENGTH for s in rule.schemes):
            problems.append(
                (
                    f"{path}.schemes",
                    gettext(
                        "nama skema paling panjang %(MAX_SCHEME_LENGTH)s karakter.",
                        MAX_SCHEME_LENGTH=MAX_SCHEME_LENGTH,
                    ),
                )
            )
        if len(set(names)) != len(names):
            problems.append((f"{path}.schemes", gettext("skema yang sama disebut dua kali.")))
        if len(names) > MAX_SCHEMES:
            problems.append(
                (
                    f"{path}.schemes",
                    gettext("paling banyak %(MAX_SCHEMES)s skema.", MAX_SCHEMES=MAX_SCHEMES),
                )
            )
        if rule.grace_days < 0:
            problems.append((f"{path}.grace_days", gettext("tidak boleh negatif.")))
        elif rule.grace_days > MAX_GRACE_DAYS:
            problems.append(
                (
                    f"{path}.grace_days",
                    gettext("paling lama %(MAX_GRACE_DAYS)s hari.", MAX_GRACE_DAYS=MAX_GRACE_DAYS),
                )
            )
    return problems


def flatten_rules(value: list[dict]) -> dict[str, Any]:
    """For the AD diff: ``competence_rules.pengurus.schemes = "A; B"`` and ``.grace_days``."""
    flat: dict[str, Any] = {}
    for rule in value:
        flat[f"competence_rules.{rule['role']}.schemes"] = "; ".join(rule["schemes"]) or "–"
        flat[f"competence_rules.{rule['role']}.grace_days"] = rule.get("grace_days", 0)
    return flat
