"""Turns run.sh's JSON lines into the Markdown tables of BENCHMARKS.md."""

import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
by = {}
for r in rows:
    by.setdefault((r["mode"], r.get("label", "")), r)
machine = by.get(("machine", ""), {})
end = by.get(("machine_end", ""), {})
NAMES = {
    "ceiling": "axum, fixed TwiML (ceiling)",
    "flask": "Flask + twilio SDK, gunicorn -w 2 (quickstart)",
    "sqlite": "callbook, SQLite",
    "postgres": "callbook, Postgres",
}
targets = [t for t in NAMES if ("max", t) in by]


def ms(v):
    return "–" if v is None or v != v else f"{v:.2f}"


def ratio(a, b):
    return f"{a / b:.2f}×" if b else "–"


print(
    f"Machine: {machine.get('nproc')} cores ({machine.get('cpu')}), kernel {machine.get('kernel')}, "
    f"{machine.get('date')}; load average before {machine.get('load_before')}, after {end.get('load_after')} "
    f"(the generator runs on the same cores; other builds share the machine). twilio {machine.get('twilio')}."
)
print()
print(f"### Max throughput (closed loop, {machine.get('conns')} keep-alive connections, {machine.get('secs')} s)")
print()
print("| target | 2xx req/s | p50 ms | p99 ms | non-2xx | errors | vs ceiling | vs quickstart |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
ceil = by.get(("max", "ceiling"), {}).get("rps", 0)
flask = by.get(("max", "flask"), {}).get("rps", 0)
for t in targets:
    r = by[("max", t)]
    print(
        f"| {NAMES[t]} | {r['rps']:,.0f} | {ms(r['p50_ms'])} | {ms(r['p99_ms'])} | {r['non_2xx']} | "
        f"{r['errors']} | {ratio(r['rps'], ceil)} | {ratio(r['rps'], flask)} |"
    )
wrk = by.get(("wrk", "ceiling"))
if wrk:
    print()
    print(
        f"Calibration: wrk 4.1 (C, one fixed body, no signing) on the ceiling with {wrk['conns']} connections: "
        f"{wrk['rps']:,.0f} req/s, p50 {ms(wrk['p50_ms'])} ms, p99 {ms(wrk['p99_ms'])} ms — the Rust generator "
        f"(signs every request, reqwest) reached {ratio(ceil, wrk['rps'])} of that, so it takes part of the 2 cores."
    )
print()
print(f"### Constant offered rate {machine.get('rate')}/s and {machine.get('rate_low')}/s (open loop, at most 1,000 in progress, latency from the scheduled send time, {machine.get('secs')} s)")
print()
print("| target | offered req/s | 2xx req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors | p99 < 10 ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for t, r in [(t, by.get(("rate", t))) for t in targets] + [(t, by.get(("rate", f"{t}-low"))) for t in targets]:
    if not r:
        continue
    good = "yes" if r["p99_ms"] < 10 and r["non_2xx"] + r["errors"] == 0 else "**no**"
    print(
        f"| {NAMES[t]} | {r['offered_rps']:,} | {r['rps']:,.0f} | {ms(r['p50_ms'])} | {ms(r['p90_ms'])} | {ms(r['p99_ms'])} | "
        f"{ms(r['max_ms'])} | {r['non_2xx']} | {r['errors']} | {good} |"
    )

servers = [t for t in ("sqlite", "postgres") if ("server", t) in by]
if servers:
    print()
    print(f"### Durability and memory (callbook server)")
    print()
    print(
        f"| database | 2xx answers (all runs) | calls in the database | lost | RSS idle | RSS after the rate runs | "
        f"peak RSS, {machine.get('inflight')} webhooks in flight | RSS after | in-flight run req/s, p99 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in servers:
        s = by[("server", t)]
        answered = sum(
            by[(m, l)]["ok"] for (m, l) in by if m in ("max", "rate") and l in (t, f"{t}-low", f"{t}-inflight")
        )
        sse = by.get(("sse", f"{t}-sse"))
        if sse:
            answered += sse["events"]
        inflight = by.get(("max", f"{t}-inflight"), {})
        print(
            f"| {t} | {answered:,} | {s['stored_calls']:,} | {answered - s['stored_calls']} | "
            f"{s['rss_idle_kb'] / 1024:.1f} MB | {s.get('rss_before_inflight_kb', 0) / 1024:.1f} MB | {s['rss_peak_inflight_kb'] / 1024:.1f} MB | "
            f"{s['rss_after_kb'] / 1024:.1f} MB | {inflight.get('rps', 0):,.0f}, {ms(inflight.get('p99_ms'))} |"
        )
    pg = by.get(("pg", "throwaway cluster")) or by.get(("pg", "CALLBOOK_TEST_DATABASE_URL"))
    if pg:
        print()
        print(f"Postgres: {pg['label']}, {pg['settings']}. SQLite: WAL, synchronous=NORMAL (the server's setting).")
    print()
    print("### Live events (SSE, `GET /api/v1/events`; one `call.received` per voice webhook, one event at a time)")
    print()
    print("| database | clients connected | events | deliveries / expected | within 1 s | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for t in servers:
        r = by.get(("sse", f"{t}-sse"))
        if not r:
            print(f"| {t} | run failed | | | | | | |")
            continue
        print(
            f"| {t} | {r['connected']} / {r['clients']} | {r['events']} | {r['deliveries']} / "
            f"{r['expected_deliveries']} | {r['within_1s']} | {ms(r['p50_ms'])} | {ms(r['p99_ms'])} | "
            f"{ms(r['max_ms'])} |"
        )
