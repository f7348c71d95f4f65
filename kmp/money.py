"""Whole-Rupiah money helpers.

Money in KMP is always a Python ``int`` of whole Rupiah (columns ``*_idr``). Nothing here
accepts or returns a float.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from flask.globals import _cv_app

K = TypeVar("K", bound=Hashable)

__all__ = [
    "MoneyError",
    "allocate",
    "allocate_list",
    "format_rupiah",
    "parse_gateway_amount",
    "parse_rupiah",
    "parse_rupiah_input",
    "to_gateway_amount",
]


class MoneyError(ValueError):
    """An amount or a split that cannot be represented in whole Rupiah."""


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MoneyError(f"{what} must be an integer, got {type(value).__name__}")
    return value


def allocate(total: int, weights: Mapping[K, int] | Iterable[tuple[K, int]]) -> dict[K, int]:
    """Split ``total`` whole Rupiah by integer ``weights`` with the largest-remainder method.

    Each key gets ``floor(total * w / W)``; the Rupiah left over go one each to the keys
    with the largest remainders, ties broken by the order in which the keys were given.
    The parts always sum to ``total`` exactly. When every weight is zero, a ``MoneyError``
    is raised (the caller decides where an undistributable amount goes). ``total`` may be
    negative; the split is then the mirror of the split of ``-total``.
    """
    _check_int(total, "total")
    items = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
    keys = [k for k, _ in items]
    if len(set(keys)) != len(keys):
        raise MoneyError("duplicate key in weights")
    ws = [_check_int(w, f"weight of {k!r}") for k, w in items]
    if any(w < 0 for w in ws):
        raise MoneyError("weights must not be negative")
    if not items:
        if total == 0:
            return {}
        raise MoneyError("cannot allocate a non-zero total over no keys")
    weight_sum = sum(ws)
    if weight_sum == 0:
        if total == 0:
            return dict.fromkeys(keys, 0)
        raise MoneyError("cannot allocate a non-zero total when every weight is zero")
    if total < 0:
        return {k: -v for k, v in allocate(-total, items).items()}
    parts = []
    remainders = []
    for index, w in enumerate(ws):
        quotient, remainder = divmod(total * w, weight_sum)
        parts.append(quotient)
        remainders.append((-remainder, index))
    leftover = total - sum(parts)
    for _, index in sorted(remainders)[:leftover]:
        parts[index] += 1
    return dict(zip(keys, parts, strict=True))


def allocate_list(total: int, weights: Iterable[int]) -> list[int]:
    """``allocate`` over positions: returns a list in the order of ``weights``."""
    result = allocate(total, list(enumerate(weights)))
    return [result[i] for i in range(len(result))]


_GATEWAY_AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,17})(\.[0-9]{1,2})?\Z")


def parse_gateway_amount(text: object) -> int:
    """Parse a gateway amount such as ``"150000.00"`` into whole Rupiah (``150000``).

    Refuses non-strings, signs, exponents, separators, whitespace and any non-zero fraction.
    """
    if not isinstance(text, str):
        raise MoneyError(f"gateway amount must be a string, got {type(text).__name__}")
    if not _GATEWAY_AMOUNT.match(text):
        raise MoneyError(f"malformed gateway amount {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise MoneyError(f"malformed gateway amount {text!r}") from exc
    if value != value.to_integral_value():
        raise MoneyError(f"gateway amount {text!r} has a fraction of a Rupiah")
    return int(value)


def to_gateway_amount(amount_idr: int) -> int:
    """The integer gross amount sent to a gateway (Midtrans accepts whole IDR)."""
    _check_int(amount_idr, "amount")
    if amount_idr <= 0:
        raise MoneyError("a gateway amount must be positive")
    return amount_idr


def _current_locale():
    """The request's locale (Flask-Babel), else the cooperative's default, else Indonesian.

    Fast path: the locale Flask-Babel already resolved for this app context (where it keeps
    it, ``g._flask_babel.babel_locale``, also while ``force_locale`` is active), read straight
    from the context variable instead of through the proxies on every amount of a list."""
    from babel import Locale

    ctx = _cv_app.get(None)
    if ctx is not None:
        cached = getattr(getattr(ctx.g, "_flask_babel", None), "babel_locale", None)
        if cached is not None:
            return cached

    try:
        from flask_babel import get_locale

        locale = get_locale()
    except (RuntimeError, KeyError, AttributeError):  # outside an app (scripts, pure tests)
        locale = None
    return locale or Locale.parse("id")


#: Per locale: the group separator when Babel's integer output is plain 3-digit grouping
#: (checked against Babel once per locale), else None (Babel formats every value).
_INT_GROUPING: dict[str, str | None] = {}
_GROUPING_PROBES = (0, 7, 999, 1000, 12_345, 999_999, 1_250_000, -5000, -1_234_567, 10**15)


def _int_grouping(locale) -> str | None:
    from babel.numbers import format_decimal

    key = str(locale)
    if key not in _INT_GROUPING:
        group = format_decimal(1000, locale=locale)[1:2]
        fast = None
        if group and not group.isdigit():
            fast = group
            for probe in _GROUPING_PROBES:
                if format_decimal(probe, locale=locale) != f"{probe:,}".replace(",", group):
                    fast = None
                    break
        _INT_GROUPING[key] = fast
    return _INT_GROUPING[key]


def format_number(value: int | None, locale=None) -> str:
    """The ONE number formatter: Babel's grouping for the locale (``1.250.000`` in
    Indonesian, ``1,250,000`` in English). Whole numbers take a fast path that gives Babel's
    exact output (verified per locale), since list pages format hundreds of amounts."""
    from babel.numbers import format_decimal

    if value is None:
        return "–"
    locale = locale or _current_locale()
    if type(value) is int:
        group = _int_grouping(locale)
        if group is not None:
            return f"{value:,}".replace(",", group)
    return format_decimal(value, locale=locale, decimal_quantization=False)


def format_rupiah(amount_idr: int | None, locale=None) -> str:
    """``1250000 -> 'Rp 1.250.000'`` (``'Rp 1,250,000'`` in English); negative amounts as
    ``'-Rp 5.000'``. The ``rupiah`` template filter and every message use this."""
    if amount_idr is None:
        return "–"
    _check_int(amount_idr, "amount")
    sign = "-" if amount_idr < 0 else ""
    return f"{sign}Rp {format_number(abs(amount_idr), locale)}"


_RUPIAH_INPUT = re.compile(r"^(?:Rp\.?\s*)?([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]{1,18})(?:,00?)?$", re.I)


def parse_rupiah(text: str) -> int:
    """Parse what a person types: ``'25000'``, ``'25.000'``, ``'Rp 25.000'``, ``'25.000,00'``."""
    if not isinstance(text, str):
        raise MoneyError("amount must be text")
    match = _RUPIAH_INPUT.match(text.strip())
    if not match:
        raise MoneyError(f"not a Rupiah amount: {text!r}")
    return int(match.group(1).replace(".", ""))


_SHORTHAND = re.compile(
    r"^(?:Rp\.?\s*)?([0-9]+(?:[.,][0-9]+)?)\s*(jt|juta|rb|ribu|k|m|miliar|milyar)\.?$", re.I
)
_SHORTHAND_FACTORS = {
    "rb": 1_000,
    "ribu": 1_000,
    "k": 1_000,
    "jt": 1_000_000,
    "juta": 1_000_000,
    "m": 1_000_000_000,
    "miliar": 1_000_000_000,
    "milyar": 1_000_000_000,
}


def parse_rupiah_input(text: str) -> int:
    """What a treasurer types, including shorthand: everything ``parse_rupiah`` reads plus
    ``'10 jt'``, ``'1,5 juta'``, ``'1.5jt'``, ``'750 rb'``, ``'2 miliar'``. The result must be
    whole Rupiah (``'1,2345 rb'`` is refused)."""
    if not isinstance(text, str):
        raise MoneyError("amount must be text")
    match = _SHORTHAND.match(text.strip())
    if not match:
        return parse_rupiah(text)
    number = Decimal(match.group(1).replace(",", "."))
    value = number * _SHORTHAND_FACTORS[match.group(2).lower()]
    if value != value.to_integral_value():
        raise MoneyError(f"not a whole Rupiah amount: {text!r}")
    return int(value)
