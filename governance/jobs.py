"""Scheduled jobs of the governance feature (run by the one scheduler process)."""

from __future__ import annotations

from kmp.scheduler import Job


def ballots_job() -> None:
    from governance.services import run_ballot_schedule

    run_ballot_schedule()


def messages_job() -> None:
    from governance.notices import run_message_schedule

    run_message_schedule()


JOBS = [
    Job(
        id="governance-ballots",
        func=ballots_job,
        trigger="interval",
        trigger_args={"minutes": 1},
        description="Buka dan tutup pemungutan suara sesuai jadwal",
    ),
    Job(
        id="governance-messages",
        func=messages_job,
        trigger="interval",
        trigger_args={"minutes": 15},
        description="Kirim undangan rapat dan pengingat memilih sesuai jadwal AD",
    ),
]
