"""Blinker signals: the only way information flows back up the feature layers.

Every signal KMP uses is declared here, with its sender, payload and receivers. Senders pass
keyword arguments only; receivers run inside the sender's transaction and must not commit.
Each feature connects its receivers in its ``init_app`` (``weak=False``), and
``kmp.registry.check_wiring`` fails the test suite when a declared signal has no receiver.

Events (any number of receivers):

- ``payment_settled(purpose, payment=..., member_id=..., purpose=..., amount_idr=...)``
  sent by ``kmp.payments`` when a gateway payment is settled; received by the savings
  allocator (``members.savings``) and admission (``members.register``).
- ``payment_reversed(purpose, payment=..., member_id=..., amount_idr=..., counted=...)``: a
  booked payment was refunded, denied or charged back (its entry reversed); ``counted`` says
  whether it was the payment that paid the intent (the intent is open again) or a duplicate.
  Received by ``members.savings`` (the allocator takes back what it paid).
- ``member_admitted(app, member=...)``: a member became active; received by
  ``members.register`` (welcome message with the member number).
- ``member_status_changed(app, member=..., old=..., new=...)``: received by
  ``members.partners`` (tells the member's platform companies).
- ``resolution_adopted(app, resolution=..., proposal=...)``: received by ``payouts`` (approves
  the distribution run the resolution refers to).
- ``resolution_rejected(app, proposal=...)``: received by ``payouts`` (the run waiting for it
  goes back to the board).
- ``audit_event(app, action=..., target=..., before=..., after=...)``: received by
  ``kmp.audit``.

Questions (exactly one receiver; ask with ``ask(signal, sender, **payload)``, which raises when
nobody or more than one answers, so a missing receiver fails loudly, never silently):

- ``member_accounts_requested(app, user=...) -> list[int]``: the ledger account ids a login
  may see as "my accounts"; answered by ``members.register``.
- ``partner_patronage_requested(app, company_id=...) -> list[dict]``: the last periods of
  patronage a platform company reported; answered by ``payouts``.
- ``payment_allocation_requested(purpose, intent=..., attempt=..., amount_idr=...,
  paid_on=...) -> (credit_lines, notes)``: where the money of a settling gateway payment is
  credited, decided when it arrives; ``notes`` flag the payment for the treasurer. Answered
  by ``members.savings`` (the obligations allocator).
- ``competence_check_requested(app, holder=..., email=..., role=..., on_date=...) -> str |
  None``: may this person (a ``User`` or ``Member``; else found by ``email``) hold office
  ``role`` (a login role such as ``"pengurus"``, or ``"manager"``/``"loan_officer"``) on
  ``on_date``? None if yes, else the refusal message naming the missing certificate. Asked by
  every role-granting path below ``members`` (board invitations); answered by
  ``members.training`` (the AD's competence rule, ``ensure_competent``).
- ``proposal_references_requested(app, kind=...) -> list[tuple[str, str]]``: what a new
  proposal of ``kind`` may refer to, as ``(reference, label)`` (for an SHU allocation: the
  computed distribution runs, so nobody types ``distribution_run:12``); asked by
  ``governance`` (the proposal form); answered by ``payouts``.
- ``office_holders_requested(app, on_date=...) -> list[dict]``: who holds an office on that
  day, as ``{"office", "function", "member_id", "user_id", "name"}``; asked by
  ``members.training`` (officers per role, the competence report); answered by
  ``members.officers``.
"""

from __future__ import annotations

from blinker import Namespace, Signal

_signals = Namespace()

payment_settled = _signals.signal("payment-settled")
payment_reversed = _signals.signal("payment-reversed")
member_admitted = _signals.signal("member-admitted")
member_status_changed = _signals.signal("member-status-changed")
resolution_adopted = _signals.signal("resolution-adopted")
resolution_rejected = _signals.signal("resolution-rejected")
audit_event = _signals.signal("audit-event")

member_accounts_requested = _signals.signal("member-accounts-requested")
partner_patronage_requested = _signals.signal("partner-patronage-requested")
payment_allocation_requested = _signals.signal("payment-allocation-requested")
competence_check_requested = _signals.signal("competence-check-requested")
office_holders_requested = _signals.signal("office-holders-requested")
proposal_references_requested = _signals.signal("proposal-references-requested")

#: Signals that are questions: exactly one receiver answers.
QUESTIONS = frozenset(
    {
        "member-accounts-requested",
        "partner-patronage-requested",
        "payment-allocation-requested",
        "competence-check-requested",
        "office-holders-requested",
        "proposal-references-requested",
    }
)


class UnansweredSignal(RuntimeError):
    """A question signal had no receiver, or more than one."""


def declared() -> dict[str, Signal]:
    """Every signal declared in this module, by name."""
    return dict(_signals)


def ask(signal: Signal, sender, **payload):
    """Send a question signal and return its one receiver's answer."""
    answers = signal.send(sender, **payload)
    if len(answers) != 1:
        raise UnansweredSignal(
            f"signal {signal.name!r} needs exactly one receiver, has {len(answers)}"
        )
    return answers[0][1]
