"""Regenerate the initial migration from the models (only while KMP has no released schema).

Usage: .venv/bin/python scripts/regen_initial_migration.py
It autogenerates against an empty SQLite database, then adds the database's own guards: the
journal triggers (PostgreSQL and SQLite: ``install_pg_triggers``) and the audit triggers
(PostgreSQL: ``install_audit_triggers``, including the money tables' trail). Once a release
ships, write incremental migrations with `flask db migrate` instead.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSIONS = os.path.join(ROOT, "kmp", "migrations", "versions")


def main() -> None:
    for path in glob.glob(os.path.join(VERSIONS, "*.py")):
        os.remove(path)
    with tempfile.TemporaryDirectory() as folder:
        env = dict(
            os.environ, DATABASE_URL=f"sqlite:///{folder}/empty.sqlite3", KMP_ENV="development"
        )
        subprocess.run(
            [
                os.path.join(ROOT, ".venv", "bin", "flask"),
                "--app",
                "wsgi",
                "db",
                "migrate",
                "--rev-id",
                "0001",
                "-m",
                "initial schema",
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
    (path,) = glob.glob(os.path.join(VERSIONS, "*.py"))
    with open(path) as handle:
        text = handle.read()
    text = text.replace(
        "    # ### end Alembic commands ###\n",
        "    # ### end Alembic commands ###\n"
        "    install_pg_triggers(op)\n"
        "    install_audit_triggers(op)\n"
        "    install_member_count_triggers(op)\n",
        1,
    )
    text = text.replace(
        "def downgrade():\n",
        "def downgrade():\n    uninstall_journal_guards(op)\n    uninstall_audit_triggers(op)\n",
        1,
    )
    text = text.replace(
        "import sqlalchemy as sa\n",
        "import sqlalchemy as sa\n\n"
        "from kmp.audit import install_audit_triggers, uninstall_audit_triggers\n"
        "from kmp.ledger.models import install_pg_triggers, uninstall_journal_guards\n"
        "from members.register.models import install_member_count_triggers\n",
        1,
    )
    with open(path, "w") as handle:
        handle.write(text)
    print(f"wrote {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
