#!/usr/bin/env python3
"""Prints bench/run.sh's results as one table: ours, the peer, the floors,
and the ratios. Usage: report.py WORK_DIR"""
import json
import os
import sys


def load(work, name):
    try:
        with open(os.path.join(work, name)) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return {}


def idle_rows(work):
    rows = {}
    try:
        with open(os.path.join(work, "table")) as f:
            for line in f:
                name, held, per_conn = line.split()
                rows[name] = (int(held), int(per_conn))
    except OSError:
        pass
    return rows


def fmt(value, digits=1):
    if value is None or value != value:  # None or NaN
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def rate(run, key):
    window = run.get("window_s") or 0
    return run.get(key, 0) / window if window else None


def main():
    work = sys.argv[1]
    idle = idle_rows(work)
    runs = [("ours, 1-1 across 2 gateways", load(work, "pair.json")),
            ("ours, fan-out (group rooms)", load(work, "fanout.json")),
            ("peer (Node, socket.io), 1-1", load(work, "peer-pair.json"))]
    print()
    print("| run | sent/s | accepted/s | persisted/s | delivered/s | accepted p50 / p99 ms | "
          "persisted p50 / p99 ms | delivery p50 / p90 / p99 / p99.9 ms | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, run in runs:
        if not run:
            print(f"| {name} | (did not run) | | | | | | | |")
            continue
        a, p, d = run.get("accepted_ms", {}), run.get("persisted_ms", {}), run.get("delivered_ms", {})
        print(f"| {name} | {fmt(rate(run, 'sent'), 0)} | {fmt(rate(run, 'accepted'), 0)} | "
              f"{fmt(rate(run, 'persisted'), 0)} | {fmt(rate(run, 'delivered'), 0)} | "
              f"{fmt(a.get('p50'))} / {fmt(a.get('p99'))} | {fmt(p.get('p50'))} / {fmt(p.get('p99'))} | "
              f"{fmt(d.get('p50'))} / {fmt(d.get('p90'))} / {fmt(d.get('p99'))} / {fmt(d.get('p999'))} | "
              f"{run.get('errors', 0) + run.get('connect_errors', 0)} |")
    print()
    print("| idle connections | held | bytes per connection |")
    print("|---|---|---|")
    for key, label in (("ours_idle", "ours (one gateway process)"), ("peer_idle", "peer (one Node process)")):
        held, per_conn = idle.get(key, (None, None))
        print(f"| {label} | {fmt(held)} | {fmt(per_conn)} |")
    kafka, ferret = load(work, "kafka.json"), load(work, "ferretdb.json")
    print()
    print("| floor | throughput | latency p50 / p99 ms |")
    print("|---|---|---|")
    lat = kafka.get("latency_ms", {})
    print(f"| Kafka, produce to consume, {kafka.get('size', '-')} B records (librdkafka, acks=all) | "
          f"{fmt(kafka.get('end_to_end_per_s'))} records/s | {fmt(lat.get('p50'))} / {fmt(lat.get('p99'))} |")
    print(f"| FerretDB (SQLite) ordered inserts, batches of 100 / of 1 | "
          f"{fmt(ferret.get('insert_batch_100_per_s'))} / {fmt(ferret.get('insert_batch_1_per_s'))} docs/s | - |")
    ours, peer = runs[0][1], runs[2][1]
    print()
    if ours and peer:
        ours_d, peer_d = rate(ours, "delivered") or 0, rate(peer, "delivered") or 0
        print(f"ratio ours / peer: delivered/s {fmt(ours_d / peer_d if peer_d else None, 2)}, "
              f"delivery p99 {fmt(ours['delivered_ms'].get('p99', 0) / peer['delivered_ms']['p99'] if peer.get('delivered_ms', {}).get('p99') else None, 2)}")
    if "ours_idle" in idle and "peer_idle" in idle and idle["peer_idle"][1]:
        print(f"ratio ours / peer: bytes per idle connection {idle['ours_idle'][1] / idle['peer_idle'][1]:.2f}")


if __name__ == "__main__":
    main()
