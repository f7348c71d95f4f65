"""Small page helpers shared by the browser tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from members.ad import services as ad_services
from members.register import admission as register_admission
from members.register import services as register_services
from members.savings import deposits as savings_deposits


def submit_login(page, login: str, password: str) -> None:
    """Fill and send the real login form; no assertion on the outcome."""
    page.goto("/masuk")
    page.locator("#login").fill(login)
    page.locator("#password").fill(password)
    with page.expect_navigation():
        page.get_by_test_id("login-submit").click()


def open_menu(page):
    """Open the role navigation (``<details class="menu">``) and return it."""
    menu = page.locator("details.menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    return menu


def close_menu(page) -> None:
    """Close the menu with Escape, as a keyboard user would (it covers the page when open)."""
    if page.locator("details.menu[open]").count():
        page.keyboard.press("Escape")
        page.locator("details.menu[open]").wait_for(state="detached")


def nav_entries(page) -> dict[str, str]:
    """``{endpoint: label}`` of the navigation shown to the logged-in user (menu left closed)."""
    links = open_menu(page).locator("nav a[data-nav]")
    entries = {link.get_attribute("data-nav"): link.inner_text().strip() for link in links.all()}
    close_menu(page)
    return entries


def menu_roles(page) -> set[str]:
    """The role badges shown in the menu."""
    badges = open_menu(page).get_by_test_id("menu-roles").locator(".badge")
    roles = {badge.get_attribute("data-role") for badge in badges.all()}
    close_menu(page)
    return roles


def wait_until(check, timeout: float = 10.0, page=None):
    """Call ``check()`` until it returns something truthy (polls every 50 ms).

    For conditions that need an async script: ``page.wait_for_function`` does not await a
    returned Promise (a Promise counts as truthy), ``page.evaluate`` does."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout}s: {check}")
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)


def wait_for_service_worker(page) -> None:
    """Wait until the service worker is active and controls ``page``."""
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("() => !!navigator.serviceWorker.controller")


def saved_pages(page) -> list[str]:
    """Paths the service worker keeps for offline reading (``kmp-pages-v1``)."""
    return page.evaluate(
        """async () => (await caches.keys()).includes("kmp-pages-v1")
            ? (await (await caches.open("kmp-pages-v1")).keys()).map((r) => new URL(r.url).pathname)
            : []"""
    )


# ------------------------------------------------------------------ member pages (issue 11)


@dataclass(frozen=True)
class MemberPage:
    """A page measured by the issue-11 browser tests (budgets, slow network, axe, screenshots).

    ``path`` may hold ``{placeholders}`` filled from the dict ``seed_member_world()`` returns
    (``receipt_no``, ``proposal_id``, ...). ``endpoint``: the page is skipped while that Flask
    endpoint does not exist (so a page can be listed before its feature lands). ``public``:
    opened without logging in. ``screenshot``: a 360x800 screenshot goes to artifacts/."""

    name: str
    path: str
    endpoint: str | None = None
    public: bool = False
    screenshot: bool = False

    def url(self, world: dict) -> str:
        return self.path.format(**world)


# Every member-facing page. To add one (pay, SHU slip, ...): append a MemberPage here and, if
# its URL needs an id, put that id into the dict built by seed_member_world().
MEMBER_PAGES: list[MemberPage] = [
    MemberPage("dashboard", "/anggota", "members.dashboard", screenshot=True),
    MemberPage("member card", "/anggota/kartu", "members.my_card", screenshot=True),
    MemberPage("my savings", "/buku-besar/saya", "ledger.my_accounts", screenshot=True),
    MemberPage("savings receipt", "/kwitansi/{receipt_no}", "savings.receipt_view"),
    MemberPage("my SHU", "/shu/saya", "payouts.my_shu", screenshot=True),
    MemberPage("SHU slip", "/shu/saya/{run_id}", "payouts.my_slip", screenshot=True),
    MemberPage("profile", "/anggota/profil", "members.profile"),
    MemberPage("ballots", "/pemungutan", "governance.ballots"),
    MemberPage("vote", "/pemungutan/{proposal_id}", "governance.ballot", screenshot=True),
    MemberPage("vote receipt", "/pemungutan/{voted_id}/tanda-terima", "governance.receipt"),
    MemberPage("glossary", "/panduan", "guide.glossary", public=True),
    MemberPage("apply", "/daftar/pengemudi", "register.apply", public=True, screenshot=True),
    MemberPage("savings and pay", "/anggota/simpanan", "savings.mine", screenshot=True),
    MemberPage("statement", "/anggota/simpanan/mutasi?kind=pokok", "savings.statement"),
    MemberPage("message settings", "/pesan/pengaturan", "notify.preferences"),
    MemberPage("training", "/anggota/pelatihan", "training.mine"),
    MemberPage("BPJS cover and bill", "/anggota/perlindungan", "protection.mine", screenshot=True),
    MemberPage("BPJS enrolment", "/anggota/perlindungan/daftar", "protection.enrol"),
    MemberPage("BPJS claim guide", "/perlindungan/klaim", "protection.claim_guide"),
]

# The board's main pages (axe-checked, logged in with every board role).
BOARD_PAGES: list[MemberPage] = [
    MemberPage("board home", "/beranda", "core.home"),
    MemberPage("board to-do", "/pengurus/beranda", "board.home"),
    MemberPage("register", "/pengurus/anggota", "register.register"),
    MemberPage("applications", "/pengurus/pendaftaran", "register.queue"),
    MemberPage("member detail", "/pengurus/anggota/{member_id}", "members.member_detail"),
    MemberPage("new receipt", "/pengurus/anggota/{member_id}/setoran", "savings.receipt_new"),
    MemberPage("meetings", "/rapat", "governance.meetings"),
    MemberPage("new ballot", "/pemungutan/baru", "governance.ballot_new"),
    MemberPage("results", "/pemungutan/{voted_id}/hasil", "governance.results"),
    MemberPage("accounts", "/buku-besar/", "ledger.accounts"),
    MemberPage("journal", "/buku-besar/jurnal", "ledger.journal"),
    MemberPage("trial balance", "/buku-besar/neraca-saldo", "ledger.trial_balance"),
    MemberPage("AD", "/admin/ad", "ad.ad_view"),
    MemberPage("payments review", "/payments/tinjauan", "payments.review_list"),
    MemberPage("savings arrears", "/pengurus/simpanan/tagihan", "savings.arrears"),
    MemberPage("withdrawals", "/pengurus/simpanan/penarikan", "savings.withdrawal_queue"),
    MemberPage("SHU runs", "/shu/", "payouts.runs"),
    MemberPage("messages", "/pesan", "notify.messages"),
    MemberPage("message campaigns", "/pesan/kampanye", "notify.campaigns"),
    MemberPage("income & expenses", "/buku-besar/pembukuan/", "ledger.books.entries"),
    MemberPage("new expense", "/buku-besar/pembukuan/baru/pengeluaran", "ledger.books.new_entry"),
    MemberPage("new journal", "/buku-besar/pembukuan/jurnal/baru", "ledger.books.new_journal"),
    MemberPage("chart groups", "/buku-besar/pembukuan/bagan-akun", "ledger.books.chart"),
    MemberPage("reconciliation", "/buku-besar/rekonsiliasi/", "ledger.reconcile.index"),
    MemberPage("period close", "/buku-besar/tutup-buku", "ledger.periods"),
    MemberPage("budget", "/buku-besar/anggaran", "ledger.closing.budget"),
    MemberPage("training programmes", "/pengurus/pelatihan", "training.programmes"),
    MemberPage("certificates", "/pengurus/sertifikat", "training.certificates"),
    MemberPage("education fund", "/pengurus/dana-pendidikan", "training.fund_page"),
    MemberPage("training report", "/pengurus/pelatihan/laporan", "training.report"),
    MemberPage("BPJS overview", "/pengurus/bpjs", "protection.board"),
    MemberPage("BPJS applications", "/pengurus/bpjs/pendaftaran", "protection.requests"),
    MemberPage("BPJS remittances", "/pengurus/bpjs/setoran", "protection.remittances"),
    MemberPage("BPJS rates", "/pengurus/bpjs/tarif", "protection.rate_table"),
    MemberPage("BPJS report", "/pengurus/bpjs/laporan", "protection.report"),
    MemberPage("BPJS claims", "/pengurus/bpjs/klaim", "protection.claim_list"),
]

MEMBER_PASSWORD = "rahasia-12345"


def pages_available(app, pages: list[MemberPage]) -> list[MemberPage]:
    return [p for p in pages if p.endpoint is None or p.endpoint in app.view_functions]


def seed_member_world(make_user) -> dict:
    """An active member (pokok paid, one wajib payment, a vote cast, an open ballot) and a
    board user holding every board role. Returns the ids/logins the page paths need."""
    import datetime as dt

    from governance import services as gov
    from kmp.extensions import db
    from kmp.timeutil import now_utc

    ad_services.install_default_ad()
    board = make_user("admin", "pengurus", "bendahara", "pengawas", email="papan@test.kmp.id")
    db.session.commit()
    member = register_services.apply_individual(
        register_services.IndividualApplication(
            group_code="pengemudi",
            full_name="Siti Rahmawati Kusumaningrum",
            nik="3174011505900321",
            phone="081234567890",
            password=MEMBER_PASSWORD,
            consent=True,
            address="Jl. Kenanga No. 7, Jakarta Selatan",
            platform="gojek",
            platform_worker_id="GJK-778899",
        )
    )
    pokok = register_admission.pokok_status(member).remaining_idr
    savings_deposits.record_receipt(
        member,
        purpose="pokok",
        amount_idr=pokok,
        method="cash",
        by_user=board,
        request_token=register_services.new_request_token(),
    )
    register_admission.approve_member(member, board)
    receipt = savings_deposits.record_receipt(
        member,
        purpose="wajib",
        amount_idr=25_000,
        method="cash",
        by_user=board,
        request_token=register_services.new_request_token(),
    )
    db.session.commit()
    now = now_utc()
    proposals = []
    for title in ("Iuran dana sosial Rp 5.000 per bulan", "Jam buka kantor koperasi"):
        proposal = gov.create_proposal(
            by_user=board,
            kind="ordinary",
            title=title,
            opens_at=now - dt.timedelta(minutes=1),
            closes_at=now + dt.timedelta(days=3),
        )
        gov.open_proposal(proposal, by_user=board)
        proposals.append(proposal)
    db.session.commit()
    gov.cast_vote(proposals[1], member, "yes")
    db.session.commit()
    run_id = _seed_shu_slip(member, board)
    return {
        "run_id": run_id,
        "login": member.user.login_name,
        "password": MEMBER_PASSWORD,
        "board_login": board.login_name,
        "member_id": member.id,
        "member_no": member.member_no,
        "receipt_no": receipt.number,
        "proposal_id": proposals[0].id,
        "voted_id": proposals[1].id,
    }


def _seed_shu_slip(member, board) -> int | None:
    """Last fiscal year's SHU, computed, with a line for ``member`` (a member since January of
    that year with some trips). None while the SHU feature is not installed."""
    import datetime as dt

    try:
        from payouts import services as shu
        from payouts.patronage import PatronageRow, ingest_patronage
    except ImportError:
        return None
    from kmp.extensions import db
    from kmp.timeutil import business_date

    year = business_date().year - 1
    member.joined_date = dt.date(year, 1, 15)
    ingest_patronage(
        [PatronageRow(member.id, f"{year}-03", "trips", 420, f"uji-{member.member_no}")],
        source="manual",
    )
    run = shu.create_run(year, by_user=board)
    shu.compute_run(run, shu_idr=48_000_000, reason="angka uji", by_user=board)
    db.session.commit()
    return run.id


def logged_in_state(browser, base_url: str, login: str, password: str) -> dict:
    """Log in once in a throwaway context and return its storage state (cookies), so measured
    contexts start logged in with an empty cache."""
    context = browser.new_context(base_url=base_url, service_workers="block")
    try:
        page = context.new_page()
        submit_login(page, login, password)
        assert "/masuk" not in page.url, f"login as {login} failed"
        return context.storage_state()
    finally:
        context.close()
