#!/usr/bin/env python3
"""bench/run.sh's results as one set of tables: ours, the peer, the floors,
and the ratios. Every figure is the median of a rung's runs.
  report.py WORK_DIR                  prints the tables (Markdown)
  report.py --held WORK_DIR SYSTEM RATE
                                      exit 0 when SYSTEM sustained RATE
A rate is sustained when, in the median run, at least 99% of the messages
sent in the window were delivered and delivery p99 stayed under
HELD_P99_MS."""
import glob
import json
import os
import statistics
import sys

HELD_DELIVERED = 0.99
HELD_P99_MS = 1000.0


def load(path):
    try:
        with open(path) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return {}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def per_s(run, key):
    window = run.get("window_s") or 0
    return run.get(key, 0) / window if window else None


def pct(run, kind, p):
    return (run.get(f"{kind}_ms") or {}).get(p)


def summary(runs):
    """The median over runs of each figure the tables show."""
    if not runs:
        return None
    out = {"runs": len(runs)}
    for key in ("sent", "accepted", "persisted", "delivered"):
        out[key] = median([per_s(r, key) for r in runs])
    out["delivered_share"] = median([r["delivered"] / r["sent"] if r.get("sent") else None for r in runs])
    for kind in ("accepted", "persisted", "delivered"):
        for p in ("p50", "p90", "p99", "p999"):
            out[f"{kind}_{p}"] = median([pct(r, kind, p) for r in runs])
    out["errors"] = max(r.get("errors", 0) + r.get("connect_errors", 0) for r in runs)
    return out


def held(s):
    return bool(s) and (s["delivered_share"] or 0) >= HELD_DELIVERED and \
        s["delivered_p99"] is not None and s["delivered_p99"] < HELD_P99_MS


def rungs(work, system):
    """{rate: summary} of SYSTEM's 1-1 ladder."""
    by_rate = {}
    for path in glob.glob(os.path.join(work, f"{system}-pair-*-*.json")):
        rate = int(os.path.basename(path).split("-")[-2])
        run = load(path)
        if run:
            by_rate.setdefault(rate, []).append(run)
    return {rate: summary(runs) for rate, runs in sorted(by_rate.items())}


def fmt(value, digits=0):
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def ms(value):
    return fmt(value, 1)


def traffic_table(rows):
    print("| run | offered msg/s | sent/s | accepted/s | persisted/s | delivered/s | delivered | "
          "accepted p50 / p99 ms | persisted p50 / p99 ms | delivery p50 / p90 / p99 / p99.9 ms | runs | sustained |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, rate, s in rows:
        if not s:
            print(f"| {name} | {fmt(rate)} | (no run) |||||||||")
            continue
        print(f"| {name} | {fmt(rate)} | {fmt(s['sent'])} | {fmt(s['accepted'])} | {fmt(s['persisted'])} | "
              f"{fmt(s['delivered'])} | {fmt(s['delivered_share'] * 100, 1) + '%' if s['delivered_share'] is not None else '-'} | "
              f"{ms(s['accepted_p50'])} / {ms(s['accepted_p99'])} | {ms(s['persisted_p50'])} / {ms(s['persisted_p99'])} | "
              f"{ms(s['delivered_p50'])} / {ms(s['delivered_p90'])} / {ms(s['delivered_p99'])} / {ms(s['delivered_p999'])} | "
              f"{s['runs']} | {('yes' if held(s) else 'no') if s['delivered_share'] is not None else '-'} |")


def idle_rows(work):
    rows = {}
    try:
        with open(os.path.join(work, "idle.txt")) as f:
            for line in f:
                label, total, count, per_conn, before, during = line.split()
                rows[label] = {"asked": int(total), "held": int(count), "per_conn": int(per_conn),
                               "before_kb": int(before), "during_kb": int(during)}
    except OSError:
        pass
    return rows


def best_sustained(ladder):
    rates = [rate for rate, s in ladder.items() if held(s)]
    return (max(rates), ladder[max(rates)]) if rates else (None, None)


def ratio(a, b, digits=2):
    return fmt(a / b, digits) if a and b else "-"


def main():
    if sys.argv[1] == "--held":
        work, system, rate = sys.argv[2], sys.argv[3], int(sys.argv[4])
        sys.exit(0 if held(rungs(work, system).get(rate)) else 1)
    work = sys.argv[1]
    ours, peer = rungs(work, "ours"), rungs(work, "peer")
    fanout = summary([r for r in (load(p) for p in sorted(glob.glob(os.path.join(work, "ours-fanout-*.json")))) if r])
    echo = summary([r for r in (load(p) for p in sorted(glob.glob(os.path.join(work, "lws-echo-[0-9]*.json")))) if r])
    print()
    print("1-1 messages, sender and receiver on different gateways (the peer: one Node process); medians of the runs")
    print()
    rows = [("ours", rate, s) for rate, s in ours.items()] + [("peer (Node, socket.io)", rate, s) for rate, s in peer.items()]
    if fanout:  # one send is room-size deliveries: no share to show
        fanout["delivered_share"] = None
        rows.append(("ours, fan-out (group rooms), deliveries", None, fanout))
    if echo:
        rows.append(("floor: bare libwebsockets echo", None, echo))
    traffic_table(rows)
    idle = idle_rows(work)
    print()
    print("| idle authenticated connections | asked | held | server memory per connection (RSS growth) |")
    print("|---|---|---|---|")
    for label, name in (("ours-idle-one", "ours, one gateway process"),
                        ("ours-idle-many", "ours, 3 gateway processes, 3 chatbench processes"),
                        ("peer-idle-one", "peer, one Node process"),
                        ("lws-echo-idle-one", "floor: bare libwebsockets, 512 B rx buffer (no auth)")):
        row = idle.get(label)
        if row:
            print(f"| {name} | {fmt(row['asked'])} | {fmt(row['held'])} | {fmt(row['per_conn'])} B |")
    kafka, paced, ferret = load(os.path.join(work, "kafka.json")), load(os.path.join(work, "kafka-paced.json")), \
        load(os.path.join(work, "ferretdb.json"))
    print()
    print("| floor | throughput | latency p50 / p99 ms |")
    print("|---|---|---|")
    for name, k in (("as fast as it goes", kafka), ("paced at 2,000 records/s", paced)):
        lat = k.get("latency_ms", {})
        print(f"| Kafka produce to consume, {k.get('size', '-')} B records, acks=all, idempotent, {name} | "
              f"{fmt(k.get('end_to_end_per_s'))} records/s | {ms(lat.get('p50'))} / {ms(lat.get('p99'))} |")
    store = {"sqlite": "SQLite"}.get(os.environ.get("CHAT_DEV_STORE", ""), "PostgreSQL")
    print(f"| FerretDB ({store}) ordered inserts, batches of 100 / of 1 | "
          f"{fmt(ferret.get('insert_batch_100_per_s'))} / {fmt(ferret.get('insert_batch_1_per_s'))} docs/s | - |")
    print()
    ours_rate, ours_best = best_sustained(ours)
    peer_rate, peer_best = best_sustained(peer)
    print(f"Highest 1-1 rate sustained (>= {HELD_DELIVERED:.0%} delivered, delivery p99 < {HELD_P99_MS:.0f} ms): "
          f"ours {fmt(ours_rate)} msg/s, peer {fmt(peer_rate)} msg/s; ratio {ratio(ours_rate, peer_rate)}")
    if peer_rate and peer_rate in ours and ours[peer_rate]:
        print(f"At the peer's highest sustained rate ({fmt(peer_rate)} msg/s), delivery p99: ours "
              f"{ms(ours[peer_rate]['delivered_p99'])} ms, peer {ms(peer_best['delivered_p99'])} ms")
    one, peer_idle, floor = idle.get("ours-idle-one"), idle.get("peer-idle-one"), idle.get("lws-echo-idle-one")
    if one and peer_idle:
        print(f"Memory per idle connection, ours / peer: {ratio(one['per_conn'], peer_idle['per_conn'])}")
    if one and floor:
        print(f"Memory per idle connection, ours / bare libwebsockets: {ratio(one['per_conn'], floor['per_conn'])}")


if __name__ == "__main__":
    main()
