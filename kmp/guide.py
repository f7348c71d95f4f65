"""The glossary / help page (issue 11): the cooperative's words in plain Indonesian.

Public (applicants need it before they have a login), linked from the footer and the menu.
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template
from flask_babel import lazy_gettext

from kmp.templating import NavItem, register_nav

bp = Blueprint("guide", __name__)


@bp.get("/panduan")
def glossary():
    return render_template("guide/glossary.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_nav(app, NavItem("guide.glossary", lazy_gettext("Kamus istilah"), (), 850))
