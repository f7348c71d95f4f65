"""Receipts (bukti): a photo or PDF, checked by its bytes, stored privately by content hash.

* The type comes from the file's magic bytes, never from its name or the browser's claim:
  JPEG, PNG, WebP or PDF; anything else is refused.
* Size: at most ``KMP_RECEIPT_MAX_BYTES`` (default 4 MiB, below the request limit).
* Images are decoded and re-encoded with Pillow (installed with fpdf2): EXIF (GPS position,
  camera) and other metadata are dropped, the orientation is applied. A file Pillow cannot
  decode is refused. Without Pillow the checked bytes are stored as they are.
* PDFs must look like a PDF from start to end and carry no JavaScript or launch action.
* Files live under ``KMP_RECEIPT_DIR`` (default ``<instance>/receipts``), outside ``static/``;
  the only way to read one is the board's receipt route, which checks the role.

A file written for a transaction that then rolls back stays on disk unreferenced (its name is
its hash, so a later upload of the same bytes reuses it).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass

from flask import current_app

from kmp.errors import DomainError
from kmp.extensions import db
from kmp.i18n import gettext as _
from kmp.ledger.books.models import ReceiptFile

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 40_000_000
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "application/pdf": "pdf",
}
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


class ReceiptRejected(DomainError):
    code = "receipt_rejected"
    status = 415


class ReceiptTooLarge(ReceiptRejected):
    code = "receipt_too_large"
    status = 413


@dataclass(frozen=True)
class CheckedFile:
    data: bytes
    media_type: str
    reencoded: bool


def max_bytes() -> int:
    return int(current_app.config.get("KMP_RECEIPT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def receipts_dir() -> str:
    folder = current_app.config.get("KMP_RECEIPT_DIR") or os.path.join(
        current_app.instance_path, "receipts"
    )
    return folder


def sniff(data: bytes) -> str | None:
    """The media type the magic bytes say, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _refuse_type() -> ReceiptRejected:
    return ReceiptRejected(
        _("Bukti harus berupa foto (JPEG, PNG, WebP) atau PDF; berkas ini bukan salah satunya."),
        field="receipt",
    )


def check_receipt(data: bytes) -> CheckedFile:
    """Validate ``data`` and return the bytes to store (images re-encoded without metadata)."""
    limit = max_bytes()
    if len(data) > limit:
        raise ReceiptTooLarge(
            _(
                "Berkas bukti terlalu besar (%(size)s KB): paling besar %(limit)s KB.",
                size=(len(data) + 1023) // 1024,
                limit=limit // 1024,
            ),
            field="receipt",
        )
    if not data:
        raise ReceiptRejected(_("Berkas bukti kosong."), field="receipt")
    media_type = sniff(data)
    if media_type is None:
        raise _refuse_type()
    if media_type == "application/pdf":
        _check_pdf(data)
        return CheckedFile(data, media_type, False)
    return _reencode(data, media_type)


def _check_pdf(data: bytes) -> None:
    if b"%%EOF" not in data[-2048:]:
        raise ReceiptRejected(_("Berkas PDF rusak atau tidak lengkap."), field="receipt")
    lowered = data.lower()
    if b"/javascript" in lowered or b"/launch" in lowered:
        raise ReceiptRejected(
            _("PDF berisi skrip atau perintah otomatis: simpan ulang sebagai PDF biasa."),
            field="receipt",
        )


def _reencode(data: bytes, media_type: str) -> CheckedFile:
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with fpdf2
        return CheckedFile(data, media_type, False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        with image:
            if image.format != _PIL_FORMATS[media_type]:
                raise _refuse_type()
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ReceiptRejected(
                    _("Gambar terlalu besar (%(w)s × %(h)s piksel).", w=width, h=height),
                    field="receipt",
                )
            image.load()
            clean = ImageOps.exif_transpose(image)
            if media_type == "image/jpeg" and clean.mode not in ("RGB", "L"):
                clean = clean.convert("RGB")
            out = io.BytesIO()
            options = {"quality": 85} if media_type in ("image/jpeg", "image/webp") else {}
            clean.save(out, format=_PIL_FORMATS[media_type], **options)
    except ReceiptRejected:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise ReceiptRejected(
            _("Gambar tidak dapat dibaca: berkas rusak atau bukan foto."), field="receipt"
        ) from None
    return CheckedFile(out.getvalue(), media_type, True)


def store_receipt(data: bytes, original_name: str | None, *, by_user=None) -> ReceiptFile:
    """Check and store a receipt; returns its (flushed) row."""
    checked = check_receipt(data)
    digest = hashlib.sha256(checked.data).hexdigest()
    relative = f"{digest[:2]}/{digest}.{EXTENSIONS[checked.media_type]}"
    path = os.path.join(receipts_dir(), relative)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(checked.data)
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
    name = os.path.basename(original_name or "").strip()[:200] or relative.rsplit("/", 1)[1]
    row = ReceiptFile(
        sha256=digest,
        media_type=checked.media_type,
        size_bytes=len(checked.data),
        original_name=name,
        storage_name=relative,
        reencoded=checked.reencoded,
        uploaded_by_id=getattr(by_user, "id", by_user),
    )
    db.session.add(row)
    db.session.flush()
    return row


def receipt_response(receipt: ReceiptFile):
    """The file as a private download (images inline, PDFs as attachments; no sniffing, no
    scripts, no caching). A file missing on disk is a 404."""
    from urllib.parse import quote

    from flask import Response, abort

    try:
        with open(receipt_path(receipt), "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        abort(404)
    response = Response(data, mimetype=receipt.media_type)
    disposition = "inline" if receipt.is_image else "attachment"
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename*=UTF-8''{quote(receipt.original_name)}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def receipt_path(receipt: ReceiptFile) -> str:
    """The file's absolute path (inside the receipts folder; the name is checked)."""
    root = os.path.realpath(receipts_dir())
    path = os.path.realpath(os.path.join(root, receipt.storage_name))
    if not path.startswith(root + os.sep):
        raise FileNotFoundError(receipt.storage_name)
    return path
