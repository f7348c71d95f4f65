"""Blinker signals: the only way information flows back up the feature layers.

Senders pass keyword arguments only; receivers run inside the sender's transaction and must
not commit. Documented payloads:

- ``payment_settled(sender, payment=..., member_id=..., purpose=..., amount_idr=...)``
- ``payment_reversed(sender, payment=..., member_id=..., amount_idr=...)``
- ``member_admitted(sender, member=...)``
- ``member_status_changed(sender, member=..., old=..., new=...)``
- ``resolution_adopted(sender, resolution=..., proposal=...)``
- ``resolution_rejected(sender, proposal=...)``
- ``audit_event(sender, action=..., target=..., before=..., after=...)``
"""

from blinker import Namespace

_signals = Namespace()

payment_settled = _signals.signal("payment-settled")
payment_reversed = _signals.signal("payment-reversed")
member_admitted = _signals.signal("member-admitted")
member_status_changed = _signals.signal("member-status-changed")
resolution_adopted = _signals.signal("resolution-adopted")
resolution_rejected = _signals.signal("resolution-rejected")
audit_event = _signals.signal("audit-event")
