#!/usr/bin/env python3
"""Persistence alone on a backlog, timed by its own /metrics: how many
sends it stores a second when nothing else competes, the measurement that
compares with the store's floor (the store alone, bench/floors). Prints
one JSON line.
  drain.py caught-up METRICS_URL TIMEOUT_S
      waits until the process's consumer lag (chat_kafka_consumer_lag,
      every partition it owns) is 0; exit 1 if it is not within TIMEOUT_S
  drain.py drain METRICS_URL BACKLOG TIMEOUT_S
      polls every 50 ms from the moment the process answers, until it has
      handled BACKLOG sends (chat_records_consumed_total, type message.send,
      outcome ok) and its lag is 0, or TIMEOUT_S passes: the sends it
      handled from the first sample that counted any to the last, over the
      time between them (a fresh process: its counter starts at 0)"""
import json
import re
import sys
import time
import urllib.request

POLL_S = 0.05
SENDS = re.compile(r'^chat_records_consumed_total\{[^}]*type="message\.send"[^}]*outcome="ok"[^}]*\} (\S+)$')
LAG = re.compile(r'^chat_kafka_consumer_lag\{[^}]*\} (\S+)$')


def scrape(url):
    """(sends handled, consumer lag, whether any lag series was there), or None."""
    try:
        with urllib.request.urlopen(url, timeout=1) as res:
            text = res.read().decode()
    except OSError:
        return None
    sends = lag = 0.0
    lag_seen = False
    for line in text.splitlines():
        m = SENDS.match(line)
        if m:
            sends += float(m.group(1))
        m = LAG.match(line)
        if m:
            lag += float(m.group(1))
            lag_seen = True
    return int(sends), int(lag), lag_seen


def caught_up(url, timeout_s):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        got = scrape(url)
        if got and got[2] and got[1] == 0:
            print(json.dumps({"caught_up": True}))
            return 0
        time.sleep(POLL_S)
    print(json.dumps({"caught_up": False}))
    return 1


def drain(url, backlog, timeout_s):
    started = time.time()
    deadline = started + timeout_s
    first = last = None
    while time.time() < deadline:
        got = scrape(url)
        now = time.time()
        if got:
            sends, lag, lag_seen = got
            if sends > 0:
                if first is None:
                    first = (now, sends)
                last = (now, sends)
                if sends >= backlog and lag_seen and lag == 0:
                    break
        time.sleep(POLL_S)
    result = {"backlog": backlog, "drained": last[1] if last else 0,
              "complete": bool(last and last[1] >= backlog), "from_start_s": None, "window_s": None,
              "per_s": None}
    if first and last and last[0] > first[0]:
        result["from_start_s"] = round(last[0] - started, 2)
        result["window_s"] = round(last[0] - first[0], 2)
        result["per_s"] = round((last[1] - first[1]) / (last[0] - first[0]))
    print(json.dumps(result))
    return 0


def main():
    if sys.argv[1] == "caught-up":
        return caught_up(sys.argv[2], float(sys.argv[3]))
    return drain(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))


if __name__ == "__main__":
    sys.exit(main())
