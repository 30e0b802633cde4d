#!/usr/bin/env python3
"""bench/run.sh's results as one set of tables: ours, the peer, the floors,
and the ratios. Every figure is the median of a rung's runs.
  report.py WORK_DIR                  prints the tables (Markdown)
  report.py --held WORK_DIR SYSTEM RATE [KIND]
                                      exit 0 when SYSTEM sustained RATE
                                      on its KIND ladder (pair, hot, big)
A rate is sustained when, in the median run, at least 99% of what the
window's sends owed was delivered (one delivery a 1-1 message, a room's
receivers a group message) and delivery p99 stayed under HELD_P99_MS
(issue 15's criterion)."""
import glob
import json
import os
import statistics
import sys

HELD_DELIVERED = 0.99
HELD_P99_MS = 250.0
# Issue 15's targets.
TARGET_RATE = 3000          # 1-1 msg/s sustained over 100 conversations
TARGET_PEER_RATIO = 10      # times the peer's highest sustained rate
TARGET_P99_AT_PEER_MS = 50  # our delivery p99 at the peer's highest sustained rate
TARGET_STORE_SHARE = 0.5    # persisted msg/s over the store's bulk-insert floor
TARGET_BIG_DELIVERIES = 50000  # big rooms, deliveries/s sustained
TARGET_IDLE_BYTES = 3072    # memory per idle connection


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


def owed(run):
    """Deliveries the window's sends owed (chatbench's "expected"; older
    reports and echo: one per send)."""
    return run.get("expected") or run.get("sent") or 0


def summary(runs):
    """The median over runs of each figure the tables show."""
    if not runs:
        return None
    out = {"runs": len(runs)}
    for key in ("sent", "accepted", "persisted", "delivered"):
        out[key] = median([per_s(r, key) for r in runs])
    out["delivered_share"] = median([r["delivered"] / owed(r) if owed(r) else None for r in runs])
    for kind in ("accepted", "persisted", "delivered"):
        for p in ("p50", "p90", "p99", "p999"):
            out[f"{kind}_{p}"] = median([pct(r, kind, p) for r in runs])
    out["persisted_busy"] = median([r.get("persisted_busy_per_s") for r in runs])
    out["errors"] = max(r.get("errors", 0) + r.get("connect_errors", 0) for r in runs)
    return out


def held(s):
    return bool(s) and (s["delivered_share"] or 0) >= HELD_DELIVERED and \
        s["delivered_p99"] is not None and s["delivered_p99"] < HELD_P99_MS


def rungs(work, system, kind="pair"):
    """{rate: summary} of SYSTEM's ladder of KIND (pair, hot, big)."""
    by_rate = {}
    for path in glob.glob(os.path.join(work, f"{system}-{kind}-*-*.json")):
        rate = int(os.path.basename(path).split("-")[-2])
        run = load(path)
        if run:
            by_rate.setdefault(rate, []).append(run)
    return {rate: summary(runs) for rate, runs in sorted(by_rate.items())}


CPU_PARTS = ["kafka", "ferretdb", "postgres", "gateway", "persistence", "presence", "receipts", "peer"]


def cpu_rungs(work, system, kind):
    """{rate: {part: CPU us per message (deliveries for big rooms), ...}}
    from cpu_snapshot.py's files beside each run, medians of the runs."""
    by_rate = {}
    for path in glob.glob(os.path.join(work, f"{system}-{kind}-*-*.json")):
        run, before, after = load(path), load(path + ".cpu0"), load(path + ".cpu1")
        count = run.get("delivered" if kind == "big" else "sent") if run else None
        if not (count and before and after):
            continue
        row = {part: (after.get(part, 0) - before.get(part, 0)) * 1e6 / count for part in CPU_PARTS}
        row["all parts"] = sum(row.values())
        row["machine"] = (after["machine_busy"] - before["machine_busy"]) * 1e6 / count
        total = after["machine_total"] - before["machine_total"]
        row["machine busy"] = (after["machine_busy"] - before["machine_busy"]) / total if total else None
        by_rate.setdefault(int(os.path.basename(path).split("-")[-2]), []).append(row)
    return {rate: {k: median([r[k] for r in rows]) for k in rows[0]}
            for rate, rows in sorted(by_rate.items())}


def drain_summary(work):
    """Persistence alone on a backlog (run.sh, bench/drain.py): the median
    rate and backlog of the runs, whether every run drained it all, and
    the CPU us per send of each part, medians of the runs."""
    runs = []
    for path in sorted(glob.glob(os.path.join(work, "ours-drain-[0-9]*.json"))):
        run, before, after = load(path), load(path + ".cpu0"), load(path + ".cpu1")
        if not run.get("per_s"):
            continue
        cpu = {}
        if before and after and run.get("drained"):
            cpu = {part: (after.get(part, 0) - before.get(part, 0)) * 1e6 / run["drained"] for part in CPU_PARTS}
            total = after["machine_total"] - before["machine_total"]
            cpu["machine busy"] = (after["machine_busy"] - before["machine_busy"]) / total if total else None
        runs.append((run, cpu))
    if not runs:
        return None
    return {"per_s": median([r["per_s"] for r, _ in runs]), "drained": median([r["drained"] for r, _ in runs]),
            "complete": all(r["complete"] for r, _ in runs), "runs": len(runs),
            "cpu": {k: median([c.get(k) for _, c in runs]) for k in CPU_PARTS + ["machine busy"]}}


def cpu_table(work):
    ladders = [("ours 1-1", "ours", "pair"), ("ours hot", "ours", "hot"),
               ("ours big rooms (per delivery)", "ours", "big"), ("peer 1-1", "peer", "pair")]
    print("| CPU us per message | offered/s | " + " | ".join(CPU_PARTS) + " | all parts | machine | machine busy |")
    print("|---|---|" + "---|" * (len(CPU_PARTS) + 3))
    for name, system, kind in ladders:
        for rate, row in cpu_rungs(work, system, kind).items():
            busy = row["machine busy"]
            print(f"| {name} | {fmt(rate)} | " + " | ".join(fmt(row[p]) for p in CPU_PARTS) +
                  f" | {fmt(row['all parts'])} | {fmt(row['machine'])} | "
                  f"{'-' if busy is None else f'{busy:.0%}'} |")


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
        kind = sys.argv[5] if len(sys.argv) > 5 else "pair"
        sys.exit(0 if held(rungs(work, system, kind).get(rate)) else 1)
    work = sys.argv[1]
    ours, peer = rungs(work, "ours"), rungs(work, "peer")
    hot, big = rungs(work, "ours", "hot"), rungs(work, "ours", "big")
    capacity = rungs(work, "ours", "capacity")
    fanout = summary([r for r in (load(p) for p in sorted(glob.glob(os.path.join(work, "ours-fanout-*.json")))) if r])
    echo = summary([r for r in (load(p) for p in sorted(glob.glob(os.path.join(work, "lws-echo-[0-9]*.json")))) if r])
    print()
    print("1-1 messages, sender and receiver on different gateways (the peer: one Node process); medians of the runs")
    print()
    rows = [("ours", rate, s) for rate, s in ours.items()] + [("peer (Node, socket.io)", rate, s) for rate, s in peer.items()]
    if echo:
        rows.append(("floor: bare libwebsockets echo", None, echo))
    traffic_table(rows)
    print()
    print("The hot conversation (one pair, its own ladder; msg/s) and group rooms (offered in deliveries/s; "
          "sent/s counts messages, delivered/s deliveries)")
    print()
    rows = [("ours, hot conversation", rate, s) for rate, s in hot.items()]
    rows += [("ours, big rooms, deliveries", rate, s) for rate, s in big.items()]
    rows += [("ours, 1-1 at the top rate (persistence's throughput)", rate, s) for rate, s in capacity.items()]
    if fanout:
        rows.append(("ours, small rooms (5 of 20), deliveries", None, fanout))
    traffic_table(rows)
    print()
    print("Where the CPU goes: CPU time each part used during a run over the messages sent in it "
          "(big rooms: over deliveries); machine: the whole machine's busy time, the load "
          "generator and other tenants included, over the same count")
    print()
    cpu_table(work)
    drained = drain_summary(work)
    if drained:
        busy = drained["cpu"]["machine busy"]
        print()
        print(f"Persistence alone on a backlog (presence and receipts stopped; the gateways take "
              f"{fmt(drained['drained'])} sends into Kafka, chatbench's warm-up included, then a fresh "
              f"persistence drains them): "
              f"{fmt(drained['per_s'])} sends/s stored and published, median of {drained['runs']} runs"
              f"{'' if drained['complete'] else ' (one or more runs did not drain it all in 120 s)'}; "
              "CPU us per send: " + ", ".join(f"{p} {fmt(drained['cpu'][p])}" for p in CPU_PARTS
                                             if drained["cpu"][p]) +
              (f"; machine busy {busy:.0%}" if busy is not None else ""))
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
    hot_rate, hot_best = best_sustained(hot)
    big_rate, big_best = best_sustained(big)
    print(f"Hot conversation, highest rate sustained: {fmt(hot_rate)} msg/s"
          + (f" (delivery p99 {ms(hot_best['delivered_p99'])} ms)" if hot_best else ""))
    print(f"Big rooms, highest rate sustained: {fmt(big_rate)} deliveries/s offered"
          + (f" ({fmt(big_best['delivered'])} delivered/s, delivery p99 {ms(big_best['delivered_p99'])} ms)" if big_best else ""))
    one, peer_idle, floor = idle.get("ours-idle-one"), idle.get("peer-idle-one"), idle.get("lws-echo-idle-one")
    if one and peer_idle:
        print(f"Memory per idle connection, ours / peer: {ratio(one['per_conn'], peer_idle['per_conn'])}")
    if one and floor:
        print(f"Memory per idle connection, ours / bare libwebsockets: {ratio(one['per_conn'], floor['per_conn'])}")

    targets(ours, peer, hot, big, capacity, idle, ferret, drain_summary(work))
    loads = load_rows(work)
    if loads:
        print()
        print("Load average (1, 5, 15 min) at each part: " +
              "; ".join(f"{label} {avg}" for label, avg in loads))


def load_rows(work):
    rows = []
    try:
        with open(os.path.join(work, "load.txt")) as f:
            for line in f:
                words = line.split()
                rows.append((" ".join(words[:-3]), " ".join(words[-3:])))
    except OSError:
        pass
    return rows


def verdict(met, text):
    return f"- {'met' if met else 'MISSED'}: {text}"


def targets(ours, peer, hot, big, capacity, idle, ferret, drained):
    """Issue 15's targets against this run, each with its figures."""
    ours_rate, _ = best_sustained(ours)
    peer_rate, peer_best = best_sustained(peer)
    print()
    print("Issue 15's targets, this run:")
    print(verdict((ours_rate or 0) >= TARGET_RATE,
                  f"1-1 over {TARGET_RATE:,} msg/s sustained: ours {fmt(ours_rate)} msg/s "
                  f"({ratio(ours_rate, TARGET_RATE)} of the target)"))
    print(verdict(bool(ours_rate and peer_rate and ours_rate >= TARGET_PEER_RATIO * peer_rate),
                  f"{TARGET_PEER_RATIO} times the peer's highest sustained rate: ours {fmt(ours_rate)}, "
                  f"peer {fmt(peer_rate)} msg/s, ratio {ratio(ours_rate, peer_rate)}"))
    at_peer = ours.get(peer_rate) if peer_rate else None
    p99 = at_peer["delivered_p99"] if at_peer else None
    print(verdict(p99 is not None and p99 < TARGET_P99_AT_PEER_MS,
                  f"delivery p99 under {TARGET_P99_AT_PEER_MS} ms at the peer's highest sustained rate "
                  f"({fmt(peer_rate)} msg/s): ours {ms(p99)} ms"))
    # Persistence alone on a backlog against the store alone (the floor);
    # beside it, persisted acks a second while they came in the full path
    # (chatbench's persisted_busy_per_s), best median rung of the 1-1, hot
    # and top-rate runs, where persistence shares the two cores with the
    # gateways, the broker and the load generator.
    alone = drained["per_s"] if drained else None
    persisted = max([s["persisted_busy"] or 0 for s in list(ours.values()) + list(hot.values())
                     + list(capacity.values()) if s] or [0])
    floor = ferret.get("insert_batch_100_per_s")
    print(verdict(bool(floor and alone and alone >= TARGET_STORE_SHARE * floor),
                  f"persisted msg/s at least half the store's bulk-insert floor ({fmt(floor)} docs/s): "
                  f"persistence alone on a backlog {fmt(alone)} msg/s, ratio {ratio(alone, floor)}; "
                  f"in the full path {fmt(persisted)} msg/s (best of the 1-1, hot and top-rate runs), "
                  f"ratio {ratio(persisted, floor)}"))
    big_rate, big_best = best_sustained(big)
    delivered = big_best["delivered"] if big_best else None
    print(verdict(bool(delivered and delivered >= 0.99 * TARGET_BIG_DELIVERIES and big_rate >= TARGET_BIG_DELIVERIES),
                  f"big rooms, {TARGET_BIG_DELIVERIES:,} deliveries/s with p99 < {HELD_P99_MS:.0f} ms: "
                  f"highest sustained {fmt(big_rate)} offered ({fmt(delivered)} delivered/s, p99 "
                  f"{ms(big_best['delivered_p99'] if big_best else None)} ms)"))
    for label, name in (("ours-idle-one", "one gateway"), ("ours-idle-many", "three gateways")):
        row = idle.get(label)
        if row:
            print(verdict(row["per_conn"] <= TARGET_IDLE_BYTES and row["held"] == row["asked"],
                          f"idle memory per connection at most {TARGET_IDLE_BYTES:,} B ({name}): "
                          f"{fmt(row['per_conn'])} B for {fmt(row['held'])} of {fmt(row['asked'])}"))


if __name__ == "__main__":
    main()
