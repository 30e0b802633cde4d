#!/usr/bin/env python3
"""Warms a system before its ladder is measured: runs COMMAND (a chatbench
run of steady traffic) ROUNDS times, or, given the pid of a JVM (the
broker), until that JVM's JIT compilers (its "C1 CompilerThread" and
"C2 CompilerThread" threads) used less than SHARE of a core over the last
round, at most ROUNDS rounds.
Why: a fresh broker's C2 compiles for about a minute once the benchmark's
traffic comes (measured at 1,000 1-1 msg/s: 0.29 to 0.36 of a core in the
first 45 s, under 0.03 after a minute, its request threads about 0.38
throughout), on the two cores our services are measured on; a broker that
has run for a while no longer spends it. The Kafka floor's traffic does
not do it (its large batches take other paths: after 12 rounds of it the
compilers still took 0.32 of a core in a 1-1 run's first 12 s).
Prints one JSON line: rounds, seconds, the compilers' CPU seconds in each
round and whether they settled (both empty, [] and null, without a JVM).
  warm_up.py ROUNDS [JVM_PID SHARE] -- COMMAND..."""
import json
import os
import subprocess
import sys
import time


def compiler_cpu(pid):
    """CPU seconds the JVM's compiler threads have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # a thread that ended
        if "CompilerThre" in stat[stat.index("(") + 1:stat.rindex(")")]:
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def main():
    split = sys.argv.index("--")
    args, command = sys.argv[1:split], sys.argv[split + 1:]
    rounds = int(args[0])
    jvm = int(args[1]) if len(args) > 1 else None
    share = float(args[2]) if len(args) > 2 else 0.05
    started, compiled, settled = time.time(), [], None if jvm is None else False
    for _ in range(rounds):
        cpu0, t0 = compiler_cpu(jvm) if jvm else 0, time.time()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if jvm:
            used = compiler_cpu(jvm) - cpu0
            compiled.append(round(used, 2))
            if used < share * (time.time() - t0):
                settled = True
                break
    print(json.dumps({"rounds": len(compiled) if jvm else rounds,
                      "seconds": round(time.time() - started, 1),
                      "compiler_cpu_s": compiled, "settled": settled}))


if __name__ == "__main__":
    main()
