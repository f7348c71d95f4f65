"""Who may use each route: the expected allow/deny table for tests/integration/test_authz_matrix.py.

Adding a route? Add one line here, keyed by its endpoint (``blueprint.function``):

    "savings.deposit_new": BOARD_MONEY,          # a preset below, or
    "payouts.run_detail": "pengurus bendahara pengawas admin",   # actor names, space separated

If one endpoint answers several methods with different rules, key ``"endpoint METHOD"``
(e.g. ``"ledger.periods POST"``) overrides the plain entry for that method.
Actors: ``anon`` (not logged in), ``pengemudi kurir pengguna platform`` (an anggota of that
member group), ``partner``, ``pengawas``, ``pengurus``, ``bendahara`` (holds pengurus too),
``admin``. Presets: ``PUBLIC`` (everyone, incl. anon), ``LOGGED_IN`` (everyone but anon).
"Allowed" means the guard let the actor through (the dummy ids then give 404/400/422, fine).
"""

from __future__ import annotations

ACTORS = (
    "anon",
    "pengemudi",
    "kurir",
    "pengguna",
    "platform",
    "partner",
    "pengawas",
    "pengurus",
    "bendahara",
    "admin",
)
ANGGOTA = "pengemudi kurir pengguna platform"
PUBLIC = " ".join(ACTORS)
LOGGED_IN = " ".join(a for a in ACTORS if a != "anon")
BOARD = "pengurus bendahara"  # role_required(PENGURUS[, BENDAHARA])
BOARD_READ = "pengurus bendahara pengawas admin"
TREASURER = "bendahara"
GOV_READ = f"{BOARD_READ} {ANGGOTA}"
PARTNER_VIEW = f"partner {BOARD_READ}"
#: Nobody opens these with a session alone (a signed webhook: the signature is the credential).
NO_SESSION = ""
#: API-key routes (/api/v1): no browser session opens them (keys are tested by the API tests).
API_KEY_ONLY = ""

EXPECTED: dict[str, str] = {
    # core
    "static": PUBLIC,
    "core.index": PUBLIC,
    "core.home": LOGGED_IN,
    "board.home": BOARD_READ,  # the board's to-do list
    "core.login": PUBLIC,
    "core.logout": LOGGED_IN,
    "core.set_language": PUBLIC,
    "core.account": LOGGED_IN,
    "core.healthz": PUBLIC,
    # the second login step: without the password step anon goes back to the login page and a
    # logged-in user to the home page (tested in test_auth_totp.py)
    "core.second_factor": LOGGED_IN,
    "core.enrol_second_factor": LOGGED_IN,
    "core.new_recovery_codes": LOGGED_IN,
    "core.forgot_password": PUBLIC,
    "core.reset_password_view": PUBLIC,  # the token is the credential
    "invitations.accept": PUBLIC,  # the invitation token is the credential
    "invitations.users": "admin",
    "invitations.invite": "admin",
    "invitations.cancel": "admin",
    "core.reset_with_code": PUBLIC,  # the code sent to the phone is the credential
    "register.claim_start": PUBLIC,  # "Aktifkan akun": member number + NIK, then a code
    "register.claim_code": PUBLIC,  # the code sent to the phone on record is the credential
    "pwa.manifest": PUBLIC,
    "pwa.service_worker": PUBLIC,
    # audit trail
    "audit.index": "pengawas admin",
    "audit.export": "pengawas admin",
    # payments
    "payments.midtrans_notification": PUBLIC,  # signature-verified webhook
    "payments.simulate": PUBLIC,  # fake gateway only
    "payments.review_list": "bendahara pengurus pengawas",
    "payments.review_message": TREASURER,
    "payments.review_attempt": TREASURER,
    # messages (kmp.notify)
    "notify.messages": BOARD_READ,
    "notify.message": BOARD_READ,
    "notify.campaigns": BOARD_READ,
    "notify.campaign": BOARD_READ,
    "notify.preferences": LOGGED_IN,
    "notify.whatsapp_webhook": NO_SESSION,  # verify token / signature is the credential
    # ledger
    "ledger.accounts": BOARD_READ,
    "ledger.member_accounts": BOARD_READ,
    "ledger.account": BOARD_READ,
    "ledger.entry": BOARD_READ,
    "ledger.reverse": BOARD,
    "ledger.income_statement": BOARD_READ,
    "ledger.journal": BOARD_READ,
    "ledger.balance_sheet": BOARD_READ,
    "ledger.trial_balance": BOARD_READ,
    "ledger.my_accounts": f"{ANGGOTA} partner",
    "ledger.periods": BOARD_READ,
    "ledger.close_period_view": "pengurus bendahara admin",
    # ledger sub-features: bookkeeping, reconciliation, closing (pengawas read-only)
    "ledger.books.entries": BOARD_READ,
    "ledger.books.entry_detail": BOARD_READ,
    "ledger.books.receipt": BOARD_READ,
    "ledger.books.pending": BOARD_READ,
    "ledger.books.journals": BOARD_READ,
    "ledger.books.journal_detail": BOARD_READ,
    "ledger.books.chart": BOARD_READ,
    "ledger.books.new_entry": TREASURER,
    "ledger.books.decide_entry": BOARD,
    "ledger.books.reverse_entry": BOARD,
    "ledger.books.new_journal": BOARD,
    "ledger.books.decide_journal": BOARD,
    "ledger.books.reverse_journal": BOARD,
    "ledger.books.add_account_view": BOARD,
    "ledger.books.rename_account_view": BOARD,
    "ledger.books.delete_account_view": BOARD,
    "ledger.reconcile.index": BOARD_READ,
    "ledger.reconcile.account": BOARD_READ,
    "ledger.reconcile.report": BOARD_READ,
    "ledger.reconcile.mappings": BOARD_READ,
    "ledger.reconcile.midtrans": BOARD_READ,
    "ledger.reconcile.import_statement": BOARD,
    "ledger.reconcile.auto": BOARD,
    "ledger.reconcile.manual": BOARD,
    "ledger.reconcile.unmatch_view": BOARD,
    "ledger.reconcile.save_mapping_view": BOARD,
    "ledger.reconcile.import_midtrans": BOARD,
    "ledger.closing.budget": BOARD_READ,
    "ledger.closing.budget_report": BOARD_READ,
    "ledger.closing.save_budget": BOARD,
    "ledger.closing.import_budget": BOARD,
    "ledger.closing.close_month_view": "pengurus bendahara admin",
    # members
    "ad.ad_view": BOARD_READ,
    "ad.ad_history": BOARD_READ,
    "ad.ad_edit": "pengurus bendahara admin",
    "ad.ad_version": BOARD_READ,
    "members.dashboard": ANGGOTA,
    "members.withdraw_my_application": f"{ANGGOTA} partner",
    "members.my_card": f"{ANGGOTA} partner",
    "exits.request_my_exit": ANGGOTA,
    "members.next_steps": f"{ANGGOTA} partner",
    "members.profile": ANGGOTA,
    "members.my_data": f"{ANGGOTA} partner",
    "members.request_nik_correction": ANGGOTA,
    "register.apply_start": PUBLIC,
    "register.apply": PUBLIC,
    "savings.receipt_view": LOGGED_IN,
    "members.company": "partner",
    "members.company_page": "partner",
    "members.designate_representative": "partner pengurus bendahara admin",
    "register.register": BOARD_READ,
    "members.member_detail": BOARD_READ,
    "members.member_card": BOARD_READ,
    "exits.board_exit": BOARD,
    "register.decide": BOARD,
    "savings.receipt_new": "bendahara pengurus",  # a pengurus only if no bendahara can
    "members.add_staff": "pengurus bendahara admin",
    "register.register_export": BOARD_READ,
    "importer.import_page": "pengurus bendahara admin",
    "importer.import_template": "pengurus bendahara admin",
    "announcements.announcements": BOARD_READ,
    "announcements.announcement_preview": BOARD,
    "announcements.announcement_send": BOARD,
    "officers.officers": BOARD_READ,
    "officers.officer_add": "pengurus bendahara admin",
    "officers.officer_end": "pengurus bendahara admin",
    "exits.exits": "pengurus bendahara pengawas",
    "exits.exit_case": "pengurus bendahara pengawas",
    "exits.exit_decide": BOARD,
    "exits.exit_pay": TREASURER,
    "register.nik_corrections": BOARD,
    "register.nik_correction_decide": BOARD,
    "register.queue": BOARD,
    "register.queue_decide": BOARD,
    "officers.certification": BOARD_READ,
    "register.privacy": PUBLIC,
    # governance
    "governance.ballots": f"{GOV_READ} partner",  # a company's representative votes
    "governance.ballot": f"{GOV_READ} partner",  # a company's representative votes
    "governance.ballot_cancel": BOARD,
    "governance.ballot_open": BOARD,
    "governance.candidates": GOV_READ,
    "governance.candidate_nominate": BOARD,
    "governance.candidate_withdraw": BOARD,
    "governance.receipt_check": f"{GOV_READ} partner",  # a company's representative votes
    "governance.results": f"{GOV_READ} partner",  # a company's representative votes
    "governance.results_pdf": f"{GOV_READ} partner",  # a company's representative votes
    "governance.census": BOARD_READ,
    "governance.ballot_vote": f"{ANGGOTA} partner",
    "governance.receipt": f"{ANGGOTA} partner",
    "governance.ballot_close": BOARD,
    "governance.ballot_new": BOARD,
    "governance.meetings": GOV_READ,
    "governance.meeting": GOV_READ,
    "governance.meeting_cancel": BOARD,
    "governance.meeting_held": BOARD,
    "governance.attend_online": ANGGOTA,
    "governance.minutes": BOARD_READ,
    "governance.minutes_save": BOARD,
    "governance.minutes_attach": BOARD,
    "governance.minutes_attachment": GOV_READ,
    "governance.minutes_publish": BOARD,
    "governance.attendance": BOARD_READ,
    "governance.attendance_check_in": BOARD,
    "governance.meeting_notice": BOARD,
    "governance.tellers": BOARD_READ,
    "governance.teller_assign": BOARD,
    "governance.teller_remove": BOARD,
    "governance.scanner": GOV_READ,  # then only the meeting's tellers (403 for the others)
    "governance.scanner_check_in": GOV_READ,  # the meeting's tellers
    "governance.quorum_json": GOV_READ,  # the board and the meeting's tellers
    "governance.paper": GOV_READ,  # the meeting's tellers
    "governance.paper_issue": GOV_READ,  # the meeting's tellers
    "governance.paper_sheet": GOV_READ,  # the meeting's tellers
    "governance.paper_decide": GOV_READ,  # the meeting's tellers
    "governance.paper_merge": GOV_READ,  # the meeting's tellers
    "governance.meeting_new": BOARD,
    "governance.audit_trail": BOARD_READ,
    "guide.glossary": PUBLIC,
    # savings
    "savings.mine": f"{ANGGOTA} partner",
    "savings.pay": f"{ANGGOTA} partner",
    "savings.payment_return": f"{ANGGOTA} partner",
    "savings.statement": f"{ANGGOTA} partner",
    "savings.payment_status": f"{ANGGOTA} partner",
    "savings.withdraw_request": f"{ANGGOTA} partner",
    "savings.withdrawal_cancel": f"{ANGGOTA} partner",  # own pending request only (issue 22)
    "savings.payout_account": f"{ANGGOTA} partner",  # the member's payout account (issue 22)
    "savings.receipt_void": BOARD,
    "savings.receipt_pdf": LOGGED_IN,
    "savings.withdrawal_queue": BOARD_READ,
    # the bendahara decides; a pengurus/pengawas only when no bendahara can (guards.py)
    "savings.withdrawal_approve": "bendahara pengurus pengawas",
    "savings.withdrawal_reject": "bendahara pengurus pengawas",
    "savings.arrears": BOARD_READ,
    "savings.bill_month": BOARD,
    # partners (portal pages; the API below)
    "partners.my_links": ANGGOTA,
    "partners.my_link_withdraw": ANGGOTA,
    "partners.dashboard": PARTNER_VIEW,
    "partners.export": PARTNER_VIEW,
    "partners.api_keys": PARTNER_VIEW,
    "partners.revoke_key": PARTNER_VIEW,
    "partners.webhook": PARTNER_VIEW,
    "partners.remittance": PARTNER_VIEW,
    "partners.remittance_receipt": PARTNER_VIEW,
    "partners.upload_template": PARTNER_VIEW,
    "partners.upload": "partner pengurus bendahara",
    "partners.board_overview": BOARD_READ,
    "partner_api.contributions": API_KEY_ONLY,
    "partner_api.post_remittance": API_KEY_ONLY,
    "partner_api.list_remittances": API_KEY_ONLY,
    "partner_api.get_remittance": API_KEY_ONLY,
    "partner_api.list_workers": API_KEY_ONLY,
    "partner_api.get_worker": API_KEY_ONLY,
    "patronage_api.post_patronage": API_KEY_ONLY,
    "api_docs.api_docs": PUBLIC,
    "api-docs.openapi_json": PUBLIC,
    # SHU payouts
    "payouts.runs": BOARD_READ,
    "payouts.run": BOARD_READ,
    "payouts.run_export": BOARD_READ,
    "payouts.cancel": BOARD,
    "payouts.approve": BOARD,
    "payouts.post": TREASURER,
    "payouts.report": BOARD_READ,
    "payouts.payments": BOARD_READ,
    "payouts.request_transfer": BOARD,
    "payouts.pay_cash": TREASURER,
    "payouts.compute": BOARD,
    "payouts.iris_notification": NO_SESSION,  # signature-verified webhook
    "payouts.import_patronage": "pengurus bendahara admin",
    "payouts.my_shu": f"{ANGGOTA} partner",
    "payouts.my_slip": f"{ANGGOTA} partner",
    "payouts.my_slip_pdf": f"{ANGGOTA} partner",
    "payouts.approve_transfer": BOARD,
    "payouts.reject_transfer": BOARD,
    # the RAT book, the ministry export and the cooperative's profile (payouts.ratbook):
    # the pengawas read everything and write only their own report
    "ratbook.index": BOARD_READ,
    "ratbook.board_text": BOARD_READ,
    "ratbook.save_board_text": BOARD,
    "ratbook.supervisory_text": BOARD_READ,
    "ratbook.save_supervisory_text": "pengawas",
    "ratbook.download": BOARD_READ,
    "ratbook.ministry_export": BOARD_READ,
    "ratbook.profile": BOARD_READ,
    "ratbook.save_profile": BOARD,
    # training and certification (members.training)
    "training.mine": ANGGOTA,
    "training.programme": ANGGOTA,
    "training.enrol": ANGGOTA,
    "training.withdraw": ANGGOTA,
    "training.certificate_scan": f"{ANGGOTA} {BOARD_READ}",
    "training.programmes": BOARD_READ,
    "training.programme_new": BOARD,
    "training.programme_edit": BOARD,
    "training.programme_detail": BOARD_READ,
    "training.programme_toggle": BOARD,
    "training.attendance": BOARD,
    "training.completion": BOARD,
    "training.remove_enrolment": BOARD,
    "training.enrolment_certificate": BOARD,
    "training.certificate_new": BOARD,
    "training.certificates": BOARD_READ,
    "training.certificate_detail": BOARD_READ,
    "training.certificate_decide": BOARD,  # role PENGURUS (the bendahara holds it too)
    "training.fund_page": BOARD_READ,
    "training.fund_pay": BOARD,
    "training.fund_decide": BOARD,
    "training.fund_reverse": BOARD,
    "training.report": BOARD_READ,
    "training.blk_export": BOARD,
    # social protection (BPJS, issue 19)
    "protection.mine": ANGGOTA,
    "protection.enrol": ANGGOTA,
    "protection.cancel": ANGGOTA,
    "protection.pay": ANGGOTA,
    "protection.payment_return": ANGGOTA,
    "protection.payment_status": ANGGOTA,
    "protection.claim_guide": GOV_READ,
    "protection.board": BOARD_READ,
    "protection.bill_now": BOARD,
    "protection.requests": BOARD_READ,
    "protection.confirm": TREASURER,
    "protection.reject": TREASURER,
    "protection.participants": BOARD_READ,
    "protection.participant": BOARD_READ,
    "protection.set_numbers": TREASURER,
    "protection.take_cash": TREASURER,
    "protection.stop": TREASURER,
    "protection.import_ack": TREASURER,
    "protection.remittances": BOARD_READ,
    "protection.remittance_file": BOARD,
    "protection.record": TREASURER,
    "protection.sync": TREASURER,
    "protection.rate_table": BOARD_READ,
    "protection.add_rate": BOARD,  # role_required(PENGURUS): the bendahara holds pengurus too
    "protection.set_brackets": BOARD,
    "protection.add_subsidy": BOARD,
    "protection.report": BOARD_READ,
    "protection.claim_list": BOARD_READ,
    "protection.claim_new": BOARD,
    # member financing (loans, issue 18)
    "loans.mine": ANGGOTA,
    "loans.apply": ANGGOTA,
    "loans.loan": ANGGOTA,
    "loans.pay": ANGGOTA,
    "loans.withdraw": ANGGOTA,
    "loans.auto_debit": ANGGOTA,
    "loans.board": BOARD_READ,
    "loans.case": BOARD_READ,
    "loans.decide": BOARD,
    "loans.disburse": BOARD,
    "loans.receive": BOARD,
    "loans.request_action": BOARD,
    "loans.decide_action": BOARD,
    "loans.portfolio": BOARD_READ,
    "loans.arrears": BOARD_READ,
    "loans.products": BOARD_READ,
    "loans.products POST": BOARD,
    "loans.approve_product": BOARD,
    "protection.claim_detail": BOARD_READ,
    "protection.claim_step": BOARD,
}


def allowed_actors(table: dict[str, str], endpoint: str, method: str) -> frozenset[str]:
    """The actors allowed for ``endpoint`` with ``method``; KeyError when there is no entry."""
    spec = table.get(f"{endpoint} {method}", table.get(endpoint))
    if spec is None:
        raise KeyError(endpoint)
    names = frozenset(spec.split())
    unknown = names - set(ACTORS)
    if unknown:
        raise ValueError(f"tests/authz_table.py: unknown actor(s) {sorted(unknown)} for {endpoint}")
    return names
