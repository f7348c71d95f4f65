"""KMP benchmarks and the synthetic cooperative generator (issue 9).

``python -m bench.run`` runs every benchmark module in this package (a module with ``NAME`` and
``run(ctx) -> list[dict]``), prints one JSON line per result and regenerates ``BENCHMARKS.md``.
``python -m bench.generate`` loads a synthetic cooperative into a database.
"""
