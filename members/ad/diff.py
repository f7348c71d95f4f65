"""What changed between two AD payloads, path by path (pure code)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def flatten_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """``{'groups.kurir.vote_weight_bp': 2500, 'shu_allocation.cadangan': 4000, ...}``."""
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "groups":
            for group in value:
                for name, item in group.items():
                    if name != "code":
                        flat[f"groups.{group['code']}.{name}"] = item
        elif key == "competence_rules":
            from members.ad.competence import flatten_rules

            flat.update(flatten_rules(value))
        elif key == "shu_allocation":
            for position, line in enumerate(value):
                flat[f"shu_allocation.{line['key']}"] = line["bp"]
                flat[f"shu_allocation.{line['key']}.order"] = position + 1
        elif isinstance(value, dict):
            for name, item in value.items():
                flat[f"{key}.{name}"] = item
        else:
            flat[key] = value
    return flat


@dataclass(frozen=True)
class DiffLine:
    path: str
    old: Any
    new: Any

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"


def diff_payloads(old: dict[str, Any] | None, new: dict[str, Any]) -> list[DiffLine]:
    """What changed between two payloads, path by path (``old`` None = everything added)."""
    before = flatten_payload(old) if old else {}
    after = flatten_payload(new)
    lines = []
    for path in sorted(before.keys() | after.keys()):
        a, b = before.get(path), after.get(path)
        if a != b:
            lines.append(DiffLine(path, a, b))
    return lines
