"""The one explicit registry: what features contribute to the core, typed and checked.

``kmp`` imports no feature. Features tell it what they add in their ``init_app`` through the
typed methods below (navigation entries, landing pages, scheduled jobs, ``kmp init`` steps,
demo seed steps, URL prefixes the service worker must never cache, API blueprints) and the
adapters chosen at start-up live in typed slots (payment gateway, disburser, notification
providers). Nothing here is a free-form ``app.extensions[...]`` key: a misspelt slot is an
``AttributeError`` at start-up, not a silent ``.get()`` returning ``None``.

``check_wiring(app)`` lists every entry that points nowhere (a navigation or home endpoint no
view serves, a job without a callable) and every signal of ``kmp.signals`` without a
receiver; the test suite fails on any (``tests/unit/test_wiring.py``).

Information flows back *up* the layers only through ``kmp.signals``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:  # pragma: no cover - types only
    from kmp.scheduler import Job
    from kmp.templating import NavItem

#: The one ``app.extensions`` key KMP uses.
EXTENSION_KEY = "kmp"


@dataclass
class Registry:
    """Everything features contribute to the core, in registration order."""

    nav: list[NavItem] = field(default_factory=list)
    homes: list[tuple[str, str]] = field(default_factory=list)  # (role, endpoint), first wins
    jobs: list[Job] = field(default_factory=list)
    init_steps: list[Callable[[], None]] = field(default_factory=list)
    seed_steps: list[Callable[[dict], None]] = field(default_factory=list)
    no_offline_prefixes: list[str] = field(default_factory=list)
    #: Board "to-do" counters: (key, label, endpoint, roles, count function).
    todo_sources: list[tuple] = field(default_factory=list)

    # --- typed adapter slots (chosen at start-up; tests replace them) ---
    api: Any = None  # kmp.api.KmpApi
    gateway: Any = None  # kmp.payments.gateway.PaymentGateway (checkout, reconciliation)
    webhook_gateway: Any = None  # the same, built with webhook timeouts
    disburser: Any = None  # kmp.payments.iris.Disburser
    notify_state: Any = None  # kmp.notify.ratelimit.NotifyState (providers, rate buckets)
    api_key_resolver: Callable[[str, str], Any] | None = None  # (prefix, hash) -> principal
    fake_outbox: list[dict] = field(default_factory=list)  # what the fake notifier "sent"
    audit_installed: bool = False
    replica_engine: Any = None  # a read replica's engine (KMP_READONLY_DATABASE_URL)
    #: The income/expense approval threshold in Rupiah (the AD); None: the config key
    #: KMP_EXPENSE_APPROVAL_THRESHOLD_IDR (kmp.ledger.books.services.approval_threshold_idr).
    expense_threshold_provider: Callable[[], int] | None = None
    #: Cached per process: the visible navigation per frozen role set (kmp.templating).
    nav_cache: dict = field(default_factory=dict)
    #: Loader options a higher layer adds to the login user's one query (``kmp.auth``), each
    #: a function returning an option (called once, when every model is mapped).
    user_load_options: list[Callable[[], Any]] = field(default_factory=list)
    user_load_statement: Any = None  # built from them on the first request

    # --- typed registration methods ---
    def add_nav(self, *items: NavItem) -> None:
        self.nav.extend(items)
        self.nav.sort(key=lambda item: item.order)
        self.nav_cache.clear()

    def add_user_load_option(self, option: Callable[[], Any]) -> None:
        self.user_load_options.append(option)
        self.user_load_statement = None

    def add_home(self, role: str, endpoint: str) -> None:
        self.homes.append((str(role), endpoint))

    def add_jobs(self, *jobs: Job) -> None:
        known = {job.id for job in self.jobs}
        for job in jobs:
            if job.id in known:
                raise ValueError(f"scheduled job {job.id!r} registered twice")
            known.add(job.id)
            self.jobs.append(job)

    def job(self, job_id: str) -> Job:
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise KeyError(job_id)

    def add_init_step(self, step: Callable[[], None]) -> None:
        self.init_steps.append(step)

    def add_seed_step(self, step: Callable[[dict], None]) -> None:
        self.seed_steps.append(step)

    def add_no_offline(self, *prefixes: str) -> None:
        self.no_offline_prefixes.extend(prefixes)

    def add_todo(
        self,
        key: str,
        label: object,
        endpoint: str,
        roles: tuple[str, ...],
        count: Callable[[], int],
    ) -> None:
        """A board home counter: ``count()`` says how many items wait at ``endpoint``."""
        self.todo_sources.append((key, label, endpoint, tuple(str(r) for r in roles), count))


def init_app(app: Flask) -> Registry:
    registry = Registry()
    app.extensions[EXTENSION_KEY] = registry
    return registry


def get_registry(app: Flask | None = None) -> Registry:
    """The app's registry (``current_app``'s when no app is given)."""
    return (app or current_app).extensions[EXTENSION_KEY]


def check_wiring(app: Flask) -> list[str]:
    """Every registry entry that points nowhere and every declared signal without a receiver."""
    from kmp import signals

    registry = get_registry(app)
    problems = []
    views = app.view_functions
    for item in registry.nav:
        if item.endpoint not in views:
            problems.append(f"navigation entry {item.endpoint!r} has no view")
    for role, endpoint in registry.homes:
        if endpoint not in views:
            problems.append(f"home page of {role!r} ({endpoint!r}) has no view")
    for key, _label, endpoint, _roles, count in registry.todo_sources:
        if endpoint not in views:
            problems.append(f"to-do counter {key!r} links to {endpoint!r}, which has no view")
        if not callable(count):
            problems.append(f"to-do counter {key!r} has no count function")
    for job in registry.jobs:
        if not callable(job.func):
            problems.append(f"job {job.id!r} has no callable")
    for step in (*registry.init_steps, *registry.seed_steps):
        if not callable(step):
            problems.append(f"init/seed step {step!r} is not callable")
    for name, signal in signals.declared().items():
        if not signal.receivers:
            problems.append(f"signal {name!r} has no receiver")
    return problems
