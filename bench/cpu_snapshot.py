#!/usr/bin/env python3
"""The CPU time each part of the benchmark's system has used so far, from
/proc: one JSON line {part: seconds, ..., "machine_busy": s, "machine_total": s}.
Run once before and once after a measurement; report.py takes the
difference and divides it by the messages (or deliveries) of the window.
  cpu_snapshot.py > FILE
Parts, by command line: kafka (the broker's JVM), ferretdb, postgres (every
backend of the cluster), gateway, persistence, presence, receipts, peer
(the Node server); other processes (the load generator among them) are
left out, and machine_busy / machine_total (/proc/stat, all CPUs) say
how busy the whole machine was, other tenants included."""
import json
import os

PARTS = [("chat-gateway", "gateway"), ("chat-persistence", "persistence"),
         ("chat-presence", "presence"), ("chat-receipts", "receipts"),
         ("ferretdb", "ferretdb"), ("postgres", "postgres"),
         ("kafka.Kafka", "kafka"), ("server.mjs", "peer")]


def part_of(cmdline):
    for needle, name in PARTS:
        if needle in cmdline:
            return name
    return None


def main():
    tick = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = part_of(cmdline)
        if name:  # utime and stime, fields 14 and 15 of stat
            seconds[name] = seconds.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    with open("/proc/stat") as f:
        cpu = [int(v) for v in f.readline().split()[1:]]
    idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)
    seconds["machine_busy"] = (sum(cpu[:8]) - idle) / tick
    seconds["machine_total"] = sum(cpu[:8]) / tick
    print(json.dumps({k: round(v, 2) for k, v in seconds.items()}))


if __name__ == "__main__":
    main()
