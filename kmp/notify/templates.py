"""Message kinds and the WhatsApp message templates that carry them.

A business may start a WhatsApp conversation only with a message *template* approved by Meta
(free text is allowed only inside the 24 hours after the member wrote to the cooperative, which
KMP does not use). Every kind of message therefore names an approved template and the ordered
list of the values that fill its ``{{1}}``, ``{{2}}``, ... body parameters.

Defaults (below) name one template per kind, ``kmp_<kind>``, whose body has two parameters:
``{{1}}`` the cooperative's name and ``{{2}}`` the message text. Security codes use a template of
Meta's *authentication* category: one parameter, the code, repeated in its copy-code button.
Register templates with these names in WhatsApp Manager (README, "Pesan / messages"), or map
each kind to templates of your own with ``KMP_WHATSAPP_TEMPLATES`` (JSON)::

    {"meeting_notice": {"name": "undangan_rat", "language": "id",
                        "params": ["name", "meeting", "date", "place"]},
     "wajib_bill": "tagihan_wajib_v2",
     "login_code": {"name": "kode_masuk", "params": ["code"], "button_param": "code"}}

A string is a template name with the default parameters. Parameter values come from the
message's ``params`` (``queue_notification(..., params={"meeting": "RAT 2026"})``), then from
three built-ins: ``body`` (the message text), ``subject`` and ``coop_name``. A template whose
parameter has no value is not sent by WhatsApp (the message falls back to SMS or e-mail, which
carry the text).

``essential`` kinds are sent even to a recipient who opted out (security codes, the formal
notice of a members' meeting that the AD requires); ``urgent`` kinds are sent during quiet hours
(codes the member is waiting for, the receipt of their own payment).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from kmp.config import ConfigError

GENERIC_TEMPLATE = "kmp_pesan"
DEFAULT_PARAMS = ("coop_name", "body")
CODE_PARAMS = ("code",)
BUILT_IN_PARAMS = ("body", "subject", "coop_name")


@dataclass(frozen=True)
class MessageKind:
    code: str
    label: object  # a lazy string
    essential: bool = False
    urgent: bool = False
    template: str = GENERIC_TEMPLATE
    params: tuple[str, ...] = DEFAULT_PARAMS
    button_param: str | None = None


def _code_kind(code: str, label) -> MessageKind:
    return MessageKind(
        code,
        label,
        essential=True,
        urgent=True,
        template=f"kmp_{code}",
        params=CODE_PARAMS,
        button_param="code",
    )


def _kind(code: str, label, **flags) -> MessageKind:
    return MessageKind(code, label, template=f"kmp_{code}", **flags)


#: Every kind KMP sends; another kind is allowed and uses the generic template ``kmp_pesan``.
KINDS: dict[str, MessageKind] = {
    k.code: k
    for k in (
        _kind("wajib_bill", _l("Tagihan simpanan wajib")),
        _kind("wajib_arrears", _l("Pengingat tunggakan simpanan wajib")),
        _kind("payment_receipt", _l("Bukti pembayaran"), urgent=True),
        _code_kind("password_reset", _l("Kode atur ulang kata sandi")),
        _code_kind("password_reset_code", _l("Kode atur ulang kata sandi lewat HP")),
        _code_kind("login_code", _l("Kode masuk")),
        _code_kind("account_claim", _l("Kode aktivasi akun")),
        _kind("account_invite", _l("Undangan mengaktifkan akun anggota")),
        _kind("meeting_notice", _l("Undangan rapat anggota"), essential=True),
        _kind("vote_open", _l("Pemungutan suara dibuka")),
        _kind("vote_reminder", _l("Pengingat memilih")),
        _kind("vote_result", _l("Hasil pemungutan suara")),
        _kind("member_welcome", _l("Selamat datang anggota baru")),
        _kind("announcement", _l("Pengumuman pengurus")),
        _kind("training_seat", _l("Kursi pelatihan")),
        _kind("certificate_verified", _l("Sertifikat terverifikasi")),
        _kind("certificate_expiry", _l("Peringatan sertifikat akan habis")),
        _kind("bpjs_lapse", _l("Pengingat iuran BPJS sebelum perlindungan terputus")),
        _kind("bpjs_remittance_due", _l("Pengingat setoran BPJS untuk bendahara")),
    )
}


def kind_of(code: str) -> MessageKind:
    return KINDS.get(code) or MessageKind(code, code)


def optional_kinds() -> list[MessageKind]:
    """The kinds a recipient may opt out of (every kind that is not essential)."""
    return [k for k in KINDS.values() if not k.essential]


@dataclass(frozen=True)
class WhatsAppTemplate:
    name: str
    language: str  # the language code registered with Meta, e.g. "id" or "en_US"
    params: tuple[str, ...]
    button_param: str | None = None
    #: Recipient locale -> registered language, when the template exists in several.
    languages: tuple[tuple[str, str], ...] = ()

    def language_for(self, locale: str | None) -> str:
        return dict(self.languages).get(locale or "", self.language)


def parse_templates(text: str | None) -> dict[str, dict]:
    """``KMP_WHATSAPP_TEMPLATES`` checked and normalised; ``ConfigError`` names the problem."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"KMP_WHATSAPP_TEMPLATES is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError("KMP_WHATSAPP_TEMPLATES must be a JSON object keyed by message kind.")
    out = {}
    for kind, spec in raw.items():
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ConfigError(
                f"KMP_WHATSAPP_TEMPLATES[{kind!r}] must be a template name or an object "
                '{"name": ..., "language": ..., "params": [...]}.'
            )
        params = spec.get("params")
        if params is not None and (
            not isinstance(params, list) or not all(isinstance(p, str) for p in params)
        ):
            raise ConfigError(f"KMP_WHATSAPP_TEMPLATES[{kind!r}].params must be a list of names.")
        languages = spec.get("languages") or {}
        if not isinstance(languages, dict):
            raise ConfigError(
                f"KMP_WHATSAPP_TEMPLATES[{kind!r}].languages must map locales to codes."
            )
        out[str(kind)] = {**spec, "languages": languages}
    return out


def whatsapp_template(kind: str, config: dict) -> WhatsAppTemplate:
    """The template that carries ``kind``: the configured one, else the default."""
    base = kind_of(kind)
    overrides = parse_templates(config.get("KMP_WHATSAPP_TEMPLATES"))
    spec = overrides.get(kind) or overrides.get(ALL) or {}
    default_language = config.get("KMP_WHATSAPP_LANGUAGE") or "id"
    params = spec.get("params")
    return WhatsAppTemplate(
        name=spec.get("name") or base.template,
        language=spec.get("language") or default_language,
        params=tuple(params) if params is not None else base.params,
        button_param=spec.get("button_param", base.button_param if params is None else None),
        languages=tuple(sorted((spec.get("languages") or {}).items())),
    )


#: ``KMP_WHATSAPP_TEMPLATES`` key for the template of every kind not listed on its own.
ALL = "*"
