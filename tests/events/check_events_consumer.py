#!/usr/bin/env python3
"""Runs the Python example consumer of chat.events (proto/examples/python)
against the real Kafka broker that tests/run.sh starts: produces every
chat.events test vector of proto/vectors with its key, consumes them with
the example, and checks that each decodes, validates and comes back equal
to its vector. Also checks that a malformed record and an unknown type are
skipped without stopping the consumer. Prints "N passed, M failed"."""
import json
import os
import sys

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

here = os.path.dirname(os.path.abspath(__file__))
proto = os.path.join(here, "..", "..", "proto")
sys.path.insert(0, os.path.join(proto, "examples", "python"))
import consume_events  # noqa: E402
import push_notifications  # noqa: E402

passed = failed = 0


def check(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def main():
    brokers = os.environ.get("CHAT_TEST_KAFKA_BROKERS")
    if not brokers:
        print("CHAT_TEST_KAFKA_BROKERS is unset: run through tests/run.sh")
        return 1
    prefix = f"events_py_{os.getpid()}_"
    with open(os.path.join(proto, "vectors", "index.json")) as f:
        vectors = [v for v in json.load(f)["vectors"] if v["topic"] == "chat.events"]
    check("there are chat.events vectors", len(vectors) >= 10, len(vectors))

    topic = f"{prefix}chat.events"
    # The services create their topics at start-up; here nobody else does.
    admin = AdminClient({"bootstrap.servers": brokers})
    for future in admin.create_topics([NewTopic(topic, num_partitions=3,
                                                replication_factor=1)]).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True})
    # A malformed record and an event type this reader does not know come first.
    producer.produce(topic, key=b"x", value=b"{not json")
    producer.produce(topic, key=b"x", value=json.dumps({
        "v": 1, "type": "something.new", "id": "65f1a200e4b0a1b2c3d4e899", "ts": 1,
        "source": "persistence/p", "payload": {}}).encode())
    expected = []
    for vector in vectors:
        with open(os.path.join(proto, "vectors", vector["file"]), "rb") as f:
            value = f.read().rstrip(b"\n")
        producer.produce(topic, key=vector["key"].encode(), value=value)
        expected.append((vector["key"], json.loads(value)))
    check("the vectors were produced", producer.flush(30) == 0)

    got = []
    count = consume_events.consume(brokers, prefix, f"{prefix}group", max_events=len(expected),
                                   idle_seconds=30, handle=got.append)
    check("every vector was consumed", count == len(expected), f"{count} of {len(expected)}")
    # One partition per key: order holds per key, so compare as sets of pairs.
    want = sorted(json.dumps([k, {"type": e["type"], "id": e["id"], "ts": e["ts"],
                                   "payload": e["payload"]}], sort_keys=True) for k, e in expected)
    have = sorted(json.dumps([g["key"], {"type": g["type"], "id": g["id"], "ts": g["ts"],
                                         "payload": g["payload"]}], sort_keys=True) for g in got)
    check("each decodes to its vector", want == have,
          f"first difference: {next((w, h) for w, h in zip(want, have) if w != h) if want != have else ''}")
    types = {g["type"] for g in got}
    for vector in vectors:
        check(f"{vector['file']} decoded", vector["type"] in types)

    # The push example: one push per offline member named, none twice.
    sent = []
    pushes = push_notifications.Pushes(send=sent.append)
    for g in got + got:  # every event twice, as Kafka may redeliver
        pushes.handle(g)
    asked = [e["payload"] for _, e in expected if e["type"] == "notification.requested"]
    check("there is a notification.requested vector", len(asked) >= 1, len(asked))
    want_pushes = sorted((p["messageId"], u, p["preview"]) for p in asked for u in p["userIds"])
    check("the push example sends one push per offline member, once",
          sorted((s["messageId"], s["userId"], s["body"]) for s in sent) == want_pushes, sent)

    # A payload that breaks its schema is refused by decode().
    envelope_validator, payload_validators = consume_events.load_contract()
    bad = json.dumps({"v": 1, "type": "message.created", "id": "65f1a200e4b0a1b2c3d4e801",
                      "ts": 1, "source": "persistence/p", "payload": {"messageId": "nope"}})
    try:
        consume_events.decode(bad, envelope_validator, payload_validators)
        check("a payload against its schema is refused", False, "decode accepted it")
    except ValueError as exc:
        check("a payload against its schema is refused", "message.created" in str(exc), exc)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
