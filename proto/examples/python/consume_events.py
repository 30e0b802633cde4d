#!/usr/bin/env python3
"""A backend service of yours reading the chat backend's public event stream.

Consumes <prefix>chat.events with confluent-kafka (pip install
confluent-kafka), checks each record against the versioned contract in
proto/ (the envelope and the payload schema its type names) and hands it on
as a plain dict. Unknown event types are skipped, as the versioning rule in
proto/README.md asks of readers; so are unknown top-level keys.

  python3 consume_events.py --brokers 127.0.0.1:9092 [--prefix ''] [--group my-service]

Each event prints as one JSON line: {"type", "key", "id", "ts", "payload"}.
Offsets are committed after an event is handled, so a restart resumes where
it stopped and an event may be seen twice: dedupe by its id. The events of
edits and reactions are made for that too: message.edited carries the
edit's editId (the same on a redelivery), reaction.added / reaction.removed
the emoji's resulting count, which a consumer sets rather than adds.
"""
import argparse
import json
import os
import sys

from confluent_kafka import Consumer, KafkaException
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def load_contract(proto=PROTO):
    """Returns (envelope validator, {type: payload validator}) for chat.events."""
    with open(os.path.join(proto, "envelope.schema.json")) as f:
        envelope = json.load(f)
    resources = [(envelope["$id"], Resource.from_contents(envelope))]
    payloads = {}
    events = os.path.join(proto, "events")
    for name in sorted(os.listdir(events)):
        with open(os.path.join(events, name)) as f:
            schema = json.load(f)
        resources.append((schema["$id"], Resource.from_contents(schema)))
        if schema.get("x-topic") == "chat.events":
            payloads[schema["title"]] = schema
    registry = Registry().with_resources(resources)
    return (Draft202012Validator(envelope, registry=registry),
            {t: Draft202012Validator(s, registry=registry) for t, s in payloads.items()})


def decode(value, envelope_validator, payload_validators):
    """Decodes one record value. Returns the event dict, or None for an event
    type this reader does not know. Raises ValueError for a malformed one."""
    try:
        event = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    errors = sorted(envelope_validator.iter_errors(event), key=str)
    if errors:
        raise ValueError(f"not an envelope: {errors[0].message}")
    validator = payload_validators.get(event["type"])
    if validator is None:
        return None
    errors = sorted(validator.iter_errors(event["payload"]), key=str)
    if errors:
        raise ValueError(f"{event['type']}: {errors[0].message}")
    return {"type": event["type"], "id": event["id"], "ts": event["ts"],
            "payload": event["payload"]}


def consume(brokers, prefix="", group="events-example", max_events=None, idle_seconds=None,
            handle=print):
    """Reads events until max_events were handled or nothing came for
    idle_seconds (either may be None: forever). Returns how many."""
    envelope_validator, payload_validators = load_contract()
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([f"{prefix}chat.events"])
    handled = idle = 0
    try:
        while max_events is None or handled < max_events:
            record = consumer.poll(1.0)
            if record is None:
                idle += 1
                if idle_seconds is not None and idle >= idle_seconds:
                    break
                continue
            idle = 0
            if record.error():
                if record.error().fatal():
                    raise KafkaException(record.error())
                # e.g. the topic does not exist yet: the services create it at start-up
                print(f"kafka: {record.error().str()}", file=sys.stderr)
                continue
            try:
                event = decode(record.value(), envelope_validator, payload_validators)
            except ValueError as exc:
                print(f"skipping {record.topic()}[{record.partition()}]@{record.offset()}: {exc}",
                      file=sys.stderr)
                event = None
            if event is not None:
                event["key"] = record.key().decode() if record.key() else None
                handle(event)
                handled += 1
            consumer.commit(record, asynchronous=False)
    finally:
        consumer.close()
    return handled


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", default=os.environ.get("CHAT_KAFKA_BROKERS", "127.0.0.1:9092"))
    parser.add_argument("--prefix", default=os.environ.get("CHAT_TOPIC_PREFIX", ""))
    parser.add_argument("--group", default="events-example")
    args = parser.parse_args()
    consume(args.brokers, args.prefix, args.group,
            handle=lambda event: print(json.dumps(event, ensure_ascii=False), flush=True))


if __name__ == "__main__":
    main()
