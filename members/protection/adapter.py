"""The seam for a future BPJS integration (no network today, none in tests).

KMP works with BPJS through files: the remittance file the bendahara uploads and the
acknowledgement file BPJS returns (``members.protection.remittance`` /
``members.protection.enrolment.import_acknowledgement``). When BPJS offers an API to a
cooperative *wadah*, an adapter implementing ``BpjsAdapter`` plugs in here: it must use
``kmp.http.http_session()`` for every call and be faked with ``responses`` in tests.

* ``FileAdapter`` (the default): nothing leaves the machine; ``register`` and ``remit`` say
  "upload the file" (``accepted=False``) and numbers come back by the acknowledgement file.
* ``FakeBpjs`` (tests, the offline demo): answers at once, issuing participant numbers and
  remittance receipts from a counter, and remembers what it was asked.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Participant:
    nik: str
    name: str
    programme: str  # "TK" (BPJS Ketenagakerjaan) or "JKN"
    income_idr: int | None = None


@dataclass(frozen=True)
class Registration:
    nik: str
    programme: str
    accepted: bool
    participant_no: str | None = None
    message: str = ""


@dataclass(frozen=True)
class RemitReceipt:
    accepted: bool
    reference: str | None
    total_idr: int
    message: str = ""


@runtime_checkable
class BpjsAdapter(Protocol):
    name: str

    def register(self, participants: list[Participant]) -> list[Registration]: ...

    def remit(
        self, programme: str, period: dt.date, rows: list[tuple[str, int]], total_idr: int
    ) -> RemitReceipt: ...


class FileAdapter:
    name = "file"

    def register(self, participants: list[Participant]) -> list[Registration]:
        return [
            Registration(p.nik, p.programme, False, None, "unggah berkas ke BPJS")
            for p in participants
        ]

    def remit(self, programme, period, rows, total_idr) -> RemitReceipt:  # noqa: ARG002
        return RemitReceipt(False, None, total_idr, "unggah berkas remitansi ke BPJS")


@dataclass
class FakeBpjs:
    """A BPJS that says yes: numbers from a counter; what it was asked is kept."""

    name: str = "fake"
    registered: list[Participant] = field(default_factory=list)
    remitted: list[tuple[str, dt.date, int, int]] = field(default_factory=list)
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    def register(self, participants: list[Participant]) -> list[Registration]:
        result = []
        for p in participants:
            self.registered.append(p)
            n = next(self._numbers)
            number = f"{n:011d}" if p.programme == "TK" else f"{n:013d}"
            result.append(Registration(p.nik, p.programme, True, number))
        return result

    def remit(self, programme, period, rows, total_idr) -> RemitReceipt:
        if sum(amount for _nik, amount in rows) != total_idr:
            return RemitReceipt(False, None, total_idr, "total tidak sama dengan rincian")
        self.remitted.append((programme, period, len(rows), total_idr))
        return RemitReceipt(
            True, f"FAKE-{programme.upper()}-{period:%Y%m}-{len(self.remitted)}", total_idr
        )


def register_with(adapter: BpjsAdapter, enrolment) -> list[Registration]:
    """Ask ``adapter`` to register ``enrolment``'s people and record the numbers it issues
    (a ``FileAdapter`` issues none: they come with the acknowledgement file)."""
    from members.protection.enrolment import latest_terms, set_participant_numbers

    member = enrolment.member
    terms = latest_terms(enrolment)
    people = []
    if terms is not None and terms.jkk:
        people.append(Participant(member.nik or "", member.full_name, "TK", terms.income_idr))
    if terms is not None and terms.jkn_class:
        people.append(Participant(member.nik or "", member.full_name, "JKN"))
        people += [Participant(p.nik, p.full_name, "JKN") for p in enrolment.family]
    answers = adapter.register(people)
    family = {p.nik: p.id for p in enrolment.family}
    for answer in answers:
        if not answer.accepted or not answer.participant_no:
            continue
        if answer.programme == "TK":
            set_participant_numbers(enrolment, kpj=answer.participant_no)
        elif answer.nik == member.nik:
            set_participant_numbers(enrolment, jkn=answer.participant_no)
        elif answer.nik in family:
            set_participant_numbers(
                enrolment, family_jkn={family[answer.nik]: answer.participant_no}
            )
    return answers
