"""Issue 21, must show 5 in a browser: a teller's phone camera reads a member card's QR code.

Chromium gets a fake camera whose picture is the member's card QR (a Y4M file made here with
segno), so the whole path runs for real: getUserMedia, the vendored jsQR decoding frames under
the app's CSP, the POST of the member number, the attendance row and the quorum box. The typed
fallback and the quorum polling are checked too."""

from __future__ import annotations

import datetime as dt

import pytest
from PIL import Image
from sqlalchemy import func, select

from governance import meetings
from governance.hybrid import services as hybrid
from governance.models import Attendance
from kmp.auth import Role
from kmp.extensions import db
from kmp.timeutil import now_utc
from members.register.web import card_qr
from tests.integration.governance_factories import ensure_ad, make_member
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, TEST_PASSWORD
from tests.web.helpers import submit_login, wait_until

pytestmark = pytest.mark.browser
WIDTH, HEIGHT = 640, 480


def _qr_video(text: str, path) -> None:
    """A two-frame YUV4MPEG2 (4:2:0) clip: the member card's QR code of ``text`` on white."""
    qr = card_qr(text)
    picture = Image.new("L", (WIDTH, HEIGHT), 255)
    modules = qr.symbol_size(scale=1, border=4)[0]
    scale = int(HEIGHT * 0.9) // modules  # whole pixels per module: no resampling
    code = Image.open(_png(qr, path.with_suffix(".png"), scale)).convert("L")
    side = code.size[0]
    picture.paste(code, ((WIDTH - side) // 2, (HEIGHT - side) // 2))
    luma = picture.tobytes()
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(2):
            out.write(b"FRAME\n" + luma + chroma + chroma)


def _png(qr, path, scale):
    qr.save(str(path), scale=scale, border=4)
    return path


def test_teller_scans_a_card_with_the_camera(browser, live_server, make_user, tmp_path):
    ensure_ad()
    members = [make_member("pengemudi") for _ in range(3)]
    db.session.commit()
    pengurus = make_user(Role.PENGURUS)
    meeting = meetings.create_meeting(
        kind="rat",
        title="RAT hibrida",
        starts_at=now_utc() + dt.timedelta(hours=1),
        mode="hybrid",
        location="Aula",
        fiscal_year=2025,
        by_user=pengurus,
    )
    teller = make_user(Role.ANGGOTA, password=TEST_PASSWORD)
    hybrid.assign_teller(meeting, teller, pengurus)
    db.session.commit()
    video = tmp_path / "card.y4m"
    _qr_video(members[0].member_no, video)

    camera = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = camera.new_context(
            base_url=live_server.url, viewport={"width": 390, "height": 844}, locale="id-ID"
        )
        context.grant_permissions(["camera"], origin=live_server.url)
        page = context.new_page()
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        submit_login(page, teller.login_name, TEST_PASSWORD)
        page.goto(f"/rapat/{meeting.id}/pindai")
        assert page.evaluate("typeof window.jsQR") == "function"  # vendored, allowed by CSP
        quorum = page.get_by_test_id("quorum")
        assert quorum.locator('[data-q="attending"]').inner_text() == "0"

        page.get_by_test_id("scan-start").click()
        status = page.get_by_test_id("scan-status")
        wait_until(lambda: members[0].full_name in status.inner_text(), page=page)
        assert "tercatat hadir" in status.inner_text()
        assert quorum.locator('[data-q="attending"]').inner_text() == "1"
        count = select(func.count()).select_from(Attendance)
        assert db.session.scalar(count.where(Attendance.member_id == members[0].id)) == 1

        # The typed fallback (a plain form post) records the second member.
        page.get_by_test_id("scan-member-no").fill(members[1].member_no)
        page.get_by_test_id("scan-submit").click()
        page.wait_for_url(f"**/rapat/{meeting.id}/pindai")
        assert quorum.locator('[data-q="attending"]').inner_text() == "2"
        # The board checks the third in at its own desk: the teller's box catches up by polling.
        meetings.check_in_member(meeting, members[2].member_no, pengurus)
        db.session.commit()
        wait_until(
            lambda: quorum.locator('[data-q="attending"]').inner_text() == "3",
            timeout=12,
            page=page,
        )
        assert quorum.get_by_test_id("quorum-met").inner_text() == "tercapai"
        assert not [e for e in errors if "Content Security Policy" in e], errors
    finally:
        camera.close()
