"""The board's home (``/pengurus/beranda``): what waits on the signed-in role, with counts and
links, from every feature's to-do counter (``Registry.add_todo``). Board roles land here after
login (registered before the members' own home, so a ketua who is also a member starts with
the board's work; "Keanggotaan saya" stays in the menu)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, render_template, url_for
from flask_login import current_user

from kmp.auth import BOARD_ROLES, role_required
from kmp.registry import get_registry

bp = Blueprint("board", __name__)


@dataclass(frozen=True)
class TodoItem:
    key: str
    label: str
    url: str
    count: int


def todo_for(user) -> list[TodoItem]:
    """Every counter whose roles the user holds, in registration order."""
    items = []
    for key, label, endpoint, roles, count in get_registry().todo_sources:
        if not any(user.has_role(role) for role in roles):
            continue
        items.append(TodoItem(key, str(label), url_for(endpoint), int(count() or 0)))
    return items


@bp.get("/pengurus/beranda")
@role_required(*BOARD_ROLES)
def home():
    items = todo_for(current_user)
    return render_template(
        "board/home.html",
        waiting=[item for item in items if item.count],
        clear=[item for item in items if not item.count],
    )


def init_app(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from kmp.templating import NavItem, register_nav
    from kmp.views import register_home

    app.register_blueprint(bp)
    for role in BOARD_ROLES:
        register_home(app, role, "board.home")
    register_nav(app, NavItem("board.home", _l("Tugas pengurus"), tuple(BOARD_ROLES), 5))
