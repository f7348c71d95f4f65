"""Issue 22: WTForms' own validation messages follow the page's language (they leaked in
English into the Indonesian pages: "This field is required.")."""

from __future__ import annotations

from tests.conftest import csrf_from


def _empty_login(client, lang: str) -> str:
    client.set_cookie("kmp_lang", lang)
    token = csrf_from(client.get("/masuk").get_data(as_text=True))
    response = client.post("/masuk", data={"csrf_token": token, "login": "", "password": ""})
    assert response.status_code in (200, 400, 422)
    return response.get_data(as_text=True)


def test_wtforms_messages_are_indonesian_on_indonesian_pages(client, db):  # noqa: ARG001
    page = _empty_login(client, "id")
    assert "Wajib diisi." in page
    assert "This field is required." not in page


def test_wtforms_messages_stay_english_on_english_pages(client, db):  # noqa: ARG001
    page = _empty_login(client, "en")
    assert "This field is required." in page
    assert "Wajib diisi." not in page


def test_the_catalog_covers_every_listed_wtforms_message(app):
    from flask_babel import force_locale, get_translations

    from kmp.wtforms_i18n import MESSAGES

    with app.test_request_context(), force_locale("id"):
        missing = [
            str(m._args[0])  # noqa: SLF001 - the msgid of a lazy string
            for m in MESSAGES
            if get_translations().ugettext(m._args[0]) == m._args[0]  # noqa: SLF001
        ]
    assert missing == []
