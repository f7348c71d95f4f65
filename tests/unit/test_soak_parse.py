"""The soak's reading of locust's CSV files and of its own samples (``bench/soak.py``)."""

from bench.locustfile import csrf_from, order_id_from
from bench.soak import count_5xx, memory_summary, parse_failures_csv, parse_stats_csv

STATS = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
    "GET,dashboard /anggota,124,0,69,112.5,12,1951,20000,2.07,0.0,"
    "69,87,110,130,270,410,1300,1600,2000,2000,2000\n"
    "POST,vote: cast,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\n"
    ",Aggregated,124,1,61,138.0,4,2506,1500,12.0,0.02,"
    "61,86,110,130,270,550,1100,1600,2500,2500,2500\n"
)
FAILURES = 'Method,Name,Error,Occurrences\nPOST,vote: cast,"vote refused: HTTP 303 /x",3\n'


def test_stats_csv_rows_and_percentiles():
    rows = parse_stats_csv(STATS)
    assert [r["name"] for r in rows] == ["dashboard /anggota", "vote: cast", "Aggregated"]
    dashboard = rows[0]
    assert dashboard["method"] == "GET" and dashboard["requests"] == 124
    assert (dashboard["p50_ms"], dashboard["p95_ms"], dashboard["p99_ms"]) == (69, 410, 1600)
    assert dashboard["rps"] == 2.07 and dashboard["max_ms"] == 1951
    assert rows[1]["p99_ms"] is None  # N/A when nothing was requested
    assert rows[2]["failures"] == 1


def test_failures_csv_keeps_the_message():
    (row,) = parse_failures_csv(FAILURES)
    assert row == {
        "method": "POST",
        "name": "vote: cast",
        "error": "vote refused: HTTP 303 /x",
        "occurrences": 3,
    }


def test_5xx_counted_per_request_name():
    codes = {
        "dashboard /anggota": {"200": 10, "500": 2, "503": 1},
        "pay: notification": {"200": 4, "error:ConnectionError": 1},
        "vote: cast": {"303": 5, "429": 1},
    }
    assert count_5xx(codes) == {"dashboard /anggota": 3}
    assert count_5xx({}) == {}


def _sample(t, workers, load=1.0):
    return {
        "t": t,
        "loadavg": [load, 0.0, 0.0],
        "master": {"rss_kib": 100 * 1024},
        "workers": {pid: {"rss_kib": mb * 1024, "anon_kib": mb * 1024} for pid, mb in workers},
        "pg": {},
        "locust": None,
    }


def test_memory_growth_compares_the_lows_and_bounds_the_peak():
    samples = [
        _sample(0, [("11", 90), ("12", 90)]),
        _sample(120, [("11", 152), ("12", 110)]),  # 11: a login's transient 32 MiB
        _sample(150, [("11", 120), ("12", 110)]),
        _sample(300, [("11", 175), ("12", 115)], load=3.0),
        _sample(570, [("11", 130), ("12", 150)]),
        _sample(600, [("11", 162), ("12", 118)]),
    ]
    summary = memory_summary(samples, reference_s=120, bound_mb=50, window_s=60)
    first = summary["workers"]["11"]["rss"]
    assert (first["start_mb"], first["reference_low_mb"], first["peak_mb"]) == (90, 120, 175)
    assert (first["end_low_mb"], first["end_mb"]) == (130, 162)
    assert first["growth_mb"] == 10.0 and first["end_growth_mb"] == 10.0
    assert first["peak_growth_mb"] == 55.0
    second = summary["workers"]["12"]["rss"]
    assert second["growth_mb"] == 8.0 and second["peak_growth_mb"] == 40.0
    assert not summary["within_bound"]  # worker 11 peaked 55 MB above its minute-2 low
    assert summary["loadavg_1min"]["max"] == 3.0
    assert memory_summary(samples, 120, 60, window_s=60)["within_bound"]


def test_a_worker_that_disappears_fails_the_bound():
    samples = [_sample(0, [("11", 90)]), _sample(120, [("11", 90)]), _sample(200, [("13", 90)])]
    summary = memory_summary(samples, reference_s=120, bound_mb=50)
    assert summary["workers_gone_before_end"] == ["11"]
    assert not summary["within_bound"]


def test_locust_page_helpers():
    html = '<form><input type="hidden" name="csrf_token" value="abc.def-1"></form>'
    assert csrf_from(html) == "abc.def-1" and csrf_from("<p>none</p>") is None
    assert order_id_from("/payments/simulate/KOP-SUK-20261129-0042-a1b2") == (
        "KOP-SUK-20261129-0042-a1b2"
    )
    assert order_id_from("/anggota/simpanan") is None
