"""The RAT accountability book (laporan pertanggungjawaban pengurus) and the ministry data
export. ``sections.BUILDERS`` is the book, in order; ``render`` prints it as PDF and XLSX;
``ministry`` is the Kemenkop annual data export; ``models`` holds the texts the pengurus and
the pengawas write and the cooperative's profile."""

from __future__ import annotations
