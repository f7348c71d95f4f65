"""The demo cooperative: logins for every role, then each feature's demo data (idempotent)."""

from __future__ import annotations

from sqlalchemy import select

from kmp.auth import Role, User, create_user

DEMO_PASSWORD = "demo-kmp-2026"  # noqa: S105 - public demo data, printed by `make run`

DEMO_USERS = (
    ("admin", "admin@demo.kmp.id", "Admin Koperasi", (Role.ADMIN,)),
    ("pengurus", "ketua@demo.kmp.id", "Siti Rahmawati (Ketua)", (Role.PENGURUS, Role.ANGGOTA)),
    (
        "bendahara",
        "bendahara@demo.kmp.id",
        "Budi Santoso (Bendahara)",
        (Role.PENGURUS, Role.BENDAHARA, Role.ANGGOTA),
    ),
    ("pengawas", "pengawas@demo.kmp.id", "Dewi Lestari (Pengawas)", (Role.PENGAWAS, Role.ANGGOTA)),
    ("anggota", "driver@demo.kmp.id", "Agus Pratama (Pengemudi)", (Role.ANGGOTA,)),
    ("partner", "mitra@demo.kmp.id", "Rina Wijaya (PT Ojek Nusantara)", (Role.PARTNER,)),
)


def ensure_demo_users() -> dict[str, User]:
    from kmp.extensions import db

    users = {}
    for key, email, name, roles in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = create_user(full_name=name, email=email, password=DEMO_PASSWORD, roles=roles)
        users[key] = user
    return users


def seed_demo() -> dict:
    from kmp.cli import install_defaults

    install_defaults()
    users = ensure_demo_users()
    from kmp.registry import get_registry

    for step in get_registry().seed_steps:
        step(users)
    return {
        "password": DEMO_PASSWORD,
        "users": {key: email for key, email, _, _ in DEMO_USERS},
    }
