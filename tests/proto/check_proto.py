#!/usr/bin/env python3
"""Checks the proto/ contract: every schema is a valid JSON Schema, every
event type has a vector, every vector is listed in vectors/index.json,
validates against the envelope and its event schema, and is canonical
(compact, keys in the order the contract fixes). Prints "N passed, M failed".

Usage: check_proto.py [PROTO_DIR]  (default: the proto/ beside tests/)
"""
import json
import os
import re
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ENVELOPE_KEYS = ["v", "type", "id", "ts", "source", "correlationId", "payload"]
ENVELOPED_TOPICS = {"chat.commands", "chat.receipts", "chat.presence", "chat.events"}
TARGET = re.compile(r"^(room:[0-9a-f]{24}|user:[0-9a-f]{24}|conn:[A-Za-z0-9._-]+/[A-Za-z0-9._-]+"
                    r"|gateway:[A-Za-z0-9._-]+|contacts:[0-9a-f]{24}|guest:.+)$")
BROADCAST_HEADERS = {"event", "target", "scope", "exclude", "correlationId", "join", "leave", "seq",
                     "rooms", "excludeUser"}

passed, failed = 0, 0


def check(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def canonical(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def keys_in_order(obj, order):
    """True when obj's keys appear in the same relative order as in order."""
    positions = [order.index(k) for k in obj if k in order]
    return positions == sorted(positions) and all(k in order for k in obj)


def main():
    proto = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
    with open(os.path.join(proto, "envelope.schema.json")) as f:
        envelope_schema = json.load(f)
    schemas = {}
    events_dir = os.path.join(proto, "events")
    for name in sorted(os.listdir(events_dir)):
        with open(os.path.join(events_dir, name)) as f:
            schema = json.load(f)
        event = name[: -len(".schema.json")]
        check(f"{name} is named after its title", schema.get("title") == event, schema.get("title"))
        try:
            Draft202012Validator.check_schema(schema)
            check(f"{name} is a valid schema", True)
        except Exception as exc:  # the validator's own error says what is wrong
            check(f"{name} is a valid schema", False, exc)
        schemas[event] = schema
    Draft202012Validator.check_schema(envelope_schema)

    registry = Registry().with_resources(
        [(s["$id"], Resource.from_contents(s)) for s in [envelope_schema, *schemas.values()]])
    envelope_validator = Draft202012Validator(envelope_schema, registry=registry)

    with open(os.path.join(proto, "topics.json")) as f:
        topic_names = [t["name"] for t in json.load(f)["topics"]]
    with open(os.path.join(proto, "vectors", "index.json")) as f:
        index = json.load(f)["vectors"]

    listed = {entry["file"] for entry in index}
    on_disk = set()
    for folder, _, files in os.walk(os.path.join(proto, "vectors")):
        for name in files:
            rel = os.path.relpath(os.path.join(folder, name), os.path.join(proto, "vectors"))
            if rel != "index.json":
                on_disk.add(rel)
    check("every vector file is listed in index.json", on_disk == listed,
          f"unlisted {sorted(on_disk - listed)}, missing {sorted(listed - on_disk)}")
    covered = {entry["type"] for entry in index}
    check("every event type has a vector", set(schemas) <= covered,
          f"no vector for {sorted(set(schemas) - covered)}")

    for entry in index:
        name = entry["file"]
        topic, event = entry["topic"], entry["type"]
        check(f"{name}: topic in catalogue", topic in topic_names, topic)
        schema = schemas.get(event)
        check(f"{name}: has a schema", schema is not None, event)
        if schema is None:
            continue
        check(f"{name}: schema's topic", schema.get("x-topic") == topic,
              f"{schema.get('x-topic')} != {topic}")
        with open(os.path.join(proto, "vectors", name), encoding="utf-8") as f:
            text = f.read()
        check(f"{name}: ends with exactly one newline",
              text.endswith("\n") and not text.endswith("\n\n"))
        value = text[:-1]
        obj = json.loads(value)
        check(f"{name}: canonical (compact)", canonical(obj) == value)
        payload_validator = Draft202012Validator(schema, registry=registry)
        if topic in ENVELOPED_TOPICS:
            errors = list(envelope_validator.iter_errors(obj))
            check(f"{name}: envelope", not errors, "; ".join(e.message for e in errors))
            check(f"{name}: envelope key order", keys_in_order(obj, ENVELOPE_KEYS), list(obj))
            check(f"{name}: envelope type", obj.get("type") == event, obj.get("type"))
            check(f"{name}: no headers on an enveloped topic", "headers" not in entry)
            payload = obj.get("payload", {})
        else:
            headers = entry.get("headers", {})
            check(f"{name}: headers known", set(headers) <= BROADCAST_HEADERS, list(headers))
            check(f"{name}: event header", headers.get("event") == event, headers.get("event"))
            check(f"{name}: target header", bool(TARGET.match(headers.get("target", ""))),
                  headers.get("target"))
            check(f"{name}: key is the target", entry.get("key") == headers.get("target"))
            check(f"{name}: scope header", headers.get("scope") in (None, "open", "closed"),
                  headers.get("scope"))
            payload = obj
        errors = list(payload_validator.iter_errors(payload))
        check(f"{name}: payload matches {event}", not errors, "; ".join(e.message for e in errors))
        items = [payload] if isinstance(payload, dict) else payload  # an array of objects
        props = schema.get("properties") or schema.get("items", {}).get("properties", {})
        order = list(props)
        for item in items:
            check(f"{name}: payload key order", keys_in_order(item, order),
                  f"{list(item)} vs {order}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
