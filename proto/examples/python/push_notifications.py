#!/usr/bin/env python3
"""A push service of yours: phone notifications for members who are offline.

Reads notification.requested from <prefix>chat.events with the example
consumer beside it (consume_events.py: the contract's checks, offsets
committed after each event) and turns each into one push per user, to hand
to APNs or FCM. The chat backend publishes one notification.requested per
message, naming each offline member once (presence dedupes redeliveries);
Kafka itself may still hand this reader an event twice after a restart, so
pushes are deduplicated here too, by (messageId, userId).

  python3 push_notifications.py --brokers 127.0.0.1:9092 [--prefix ''] [--group push]

Each push prints as one JSON line: {"userId", "conversationId", "messageId",
"title", "body"}. Replace send() with your APNs / FCM client: look the
user's device tokens up in your own store (the chat backend keeps none).
"""
import argparse
import json
import os
from collections import OrderedDict

import consume_events

SEEN_MAX = 100_000  # (messageId, userId) pairs remembered against Kafka's redeliveries


class Pushes:
    """Turns notification.requested events into pushes, each at most once."""

    def __init__(self, send):
        self.send = send
        self.seen = OrderedDict()

    def handle(self, event):
        """Handles one decoded event (consume_events.decode); other types are
        not this service's business. Returns the pushes sent for it."""
        if event["type"] != "notification.requested":
            return []
        p = event["payload"]
        sent = []
        for user_id in p["userIds"]:
            key = (p["messageId"], user_id)
            if key in self.seen:
                continue
            self.seen[key] = True
            if len(self.seen) > SEEN_MAX:
                self.seen.popitem(last=False)
            push = {"userId": user_id, "conversationId": p["conversationId"],
                    "messageId": p["messageId"], "title": "New message", "body": p["preview"]}
            self.send(push)
            sent.append(push)
        return sent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", default=os.environ.get("CHAT_KAFKA_BROKERS", "127.0.0.1:9092"))
    parser.add_argument("--prefix", default=os.environ.get("CHAT_TOPIC_PREFIX", ""))
    parser.add_argument("--group", default="push-notifications")
    args = parser.parse_args()
    pushes = Pushes(send=lambda push: print(json.dumps(push, ensure_ascii=False), flush=True))
    consume_events.consume(args.brokers, args.prefix, args.group, handle=pushes.handle)


if __name__ == "__main__":
    main()
