#!/usr/bin/env python3
"""The CPU time each part of the benchmark's system has used so far, from
/proc: one JSON line {part: seconds, ..., "machine_busy": s, "machine_total": s}.
Run once before and once after a measurement; report.py takes the
difference and divides it by the messages (or deliveries) of the window.
  cpu_snapshot.py PART=PID... > FILE
Each PART is the process PID and its descendants (PostgreSQL's backends
are the postmaster's children), summed over PARTs of the same name; a
process that ended between the two snapshots is counted once its parent
has waited for it (its parent's cutime and cstime: PostgreSQL's backends
of a closed connection), not when the part's root itself ended (the
benchmark's servers live through each run). machine_busy / machine_total
(/proc/stat, all CPUs) say how busy the whole machine was: the load
generator and any other tenant included."""
import json
import os
import sys


def processes():
    """{pid: (ppid, cpu seconds)} of every process readable now."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state, ppid, ..., utime and stime (stat's 14 and
        # 15), then cutime and cstime (16, 17): the children it has waited
        # for, so a PostgreSQL backend that ended (a client's connection
        # closed) stays counted in its postmaster
        found[int(pid)] = (int(fields[1]), sum(int(v) for v in fields[11:15]) / tick)
    return found


def main():
    procs = processes()
    children = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    seconds = {}
    for arg in sys.argv[1:]:
        name, _, root = arg.partition("=")
        if not root.isdigit():
            continue
        todo, total = [int(root)], 0.0
        while todo:
            pid = todo.pop()
            if pid in procs:
                total += procs[pid][1]
                todo.extend(children.get(pid, []))
        seconds[name] = seconds.get(name, 0.0) + total
    with open("/proc/stat") as f:
        cpu = [int(v) for v in f.readline().split()[1:]]
    idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)
    tick = os.sysconf("SC_CLK_TCK")
    seconds["machine_busy"] = (sum(cpu[:8]) - idle) / tick
    seconds["machine_total"] = sum(cpu[:8]) / tick
    print(json.dumps({k: round(v, 2) for k, v in seconds.items()}))


if __name__ == "__main__":
    main()
