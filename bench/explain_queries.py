#!/usr/bin/env python3
"""Explains, on a running FerretDB, every query the services send outside
the message hot path (docs/queries.md lists them), on a realistic data set:
1,000 users, 900 1-1 conversations and 100 groups of 10, 2,800 members
and read states, 50,000 messages.

Usage: explain_queries.py --uri mongodb://127.0.0.1:PORT/ [--db queries] [--seed]
--seed drops the database and loads the data set (about 10 s); run ANALYZE in PostgreSQL
after it so that the planner sees the real table sizes.

For each query it prints whether FerretDB pushed the filter down, the
PostgreSQL plan's scan nodes (with the index used) and how many documents
PostgreSQL hands FerretDB (the whole collection when nothing is pushed
down, else the documents that match the pushed-down equalities); FerretDB
then filters, sorts, skips and limits those in Go. pymongo 4.10.1, as
bench/requirements.txt pins."""
import argparse
import datetime as dt
import hashlib
import random

from pymongo import MongoClient

P = argparse.ArgumentParser()
P.add_argument("--uri", required=True)
P.add_argument("--db", default="queries")
P.add_argument("--seed", action="store_true")
A = P.parse_args()
db = MongoClient(A.uri)[A.db]


def hexid(s):
    return hashlib.sha256(s.encode()).hexdigest()[:24]


def seed():
    db.client.drop_database(A.db)
    rng = random.Random(7)
    users = [hexid("user:%d" % i) for i in range(1000)]
    base = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    db.users.insert_many([{"_id": u, "username": "user%04d" % i, "passwordHash": "$argon2id$x",
                           "createdAt": base} for i, u in enumerate(users)])
    convs = []
    for i in range(900):
        convs.append({"_id": hexid("direct:%d" % i), "kind": "direct", "name": None, "ownerId": None,
                      "participants": rng.sample(users, 2), "createdAt": base, "lastSeq": 0})
    for i in range(100):
        people = rng.sample(users, 10)
        convs.append({"_id": hexid("group:%d" % i), "kind": "group", "name": "g%d" % i,
                      "ownerId": people[0], "participants": people, "createdAt": base, "lastSeq": 0})
    members = [{"conversationId": c["_id"], "userId": u, "role": "member", "joinedAt": base}
               for c in convs for u in c["participants"]]
    messages = []
    for j in range(50000):
        c = convs[rng.randrange(len(convs))]
        c["lastSeq"] += 1
        sender = rng.choice(c["participants"])
        at = base + dt.timedelta(seconds=j)
        c["lastMessageAt"] = at
        c["lastMessage"] = {"content": "m%d" % j, "senderId": sender, "createdAt": at}
        receiver = None if c["kind"] == "group" else [p for p in c["participants"] if p != sender][0]
        messages.append({"_id": hexid("msg:%d" % j), "conversationId": c["_id"], "seq": c["lastSeq"],
                         "senderId": sender, "receiverId": receiver, "clientMsgId": "c%d" % j,
                         "content": "hello there number %d " % j + "x" * 300, "createdAt": at})
    db.conversations.insert_many(convs)
    for i in range(0, len(members), 500):
        db.members.insert_many(members[i:i + 500])
    for i in range(0, len(messages), 100):
        db.messages.insert_many(messages[i:i + 100])
    db.read_states.insert_many([{"_id": m["conversationId"] + ":" + m["userId"],
                                 "conversationId": m["conversationId"], "userId": m["userId"],
                                 "lastReadSeq": 1, "lastReadAt": base} for m in members])
    db.presence.insert_many([{"_id": u, "online": rng.random() < 0.3, "changedAt": base} for u in users])
    db.sessions.insert_many([{"gatewayId": "gw-%d" % (i % 4), "connectionId": "c%d" % i,
                              "userId": users[i % 1000], "openedAt": base} for i in range(300)])
    db.gateways.insert_many([{"_id": "gw-%d" % i, "lastHeartbeatAt": base, "startedAt": base}
                             for i in range(4)])
    db.guests.insert_many([{"_id": "guest%d" % i, "room": "lobby%d" % (i % 10), "gatewayId": "gw-%d" % (i % 4),
                            "connectionId": "g%d" % i, "joinedAt": base} for i in range(200)])


if A.seed:
    seed()

# A typical user (in several conversations) and conversation (about 50 messages).
group = db.conversations.find_one({"kind": "group"})
user = group["participants"][1]
conv = group["_id"]
names = list({m["senderId"] for m in db.messages.find({"conversationId": conv}).limit(20)})
mine = [m["conversationId"] for m in db.members.find({"userId": user})]
batch = [u["_id"] for u in db.users.find().limit(50)]  # a rooms-lookup batch of 50 users
message = db.messages.find_one({"conversationId": conv})["_id"]
epoch = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

# (label, collection, filter, sort, limit) as the C code builds them.
QUERIES = [
    ("login", "users", {"username": "user0001"}, None, 0),
    ("list users", "users", {}, {"username": 1}, 1000),
    ("usernames by $in (before)", "users", {"_id": {"$in": names}}, None, 0),
    ("username by _id (after)", "users", {"_id": names[0]}, None, 0),
    ("online by $in (before)", "presence", {"_id": {"$in": names}, "online": True}, None, 0),
    ("presence by _id", "presence", {"_id": user}, None, 0),
    ("member check", "members", {"conversationId": conv, "userId": user}, None, 0),
    ("conversation live", "conversations", {"_id": conv, "deletedAt": None}, None, 0),
    ("history count", "messages", {"conversationId": conv, "deletedAt": None}, None, 0),
    ("history page", "messages", {"conversationId": conv, "deletedAt": None}, {"seq": -1}, 51),
    ("history before/after", "messages", {"conversationId": conv, "deletedAt": None, "seq": {"$lt": 30}},
     {"seq": -1}, 51),
    ("read states of conv", "read_states", {"conversationId": conv}, None, 0),
    ("conversation by _id", "conversations", {"_id": conv}, None, 0),
    ("memberships of user", "members", {"userId": user}, None, 10000),
    ("conversation list by $in (before)", "conversations", {"_id": {"$in": mine}, "deletedAt": None},
     {"lastMessageAt": -1, "createdAt": -1}, 20),
    ("conversation list by participants (after)", "conversations", {"participants": user, "deletedAt": None},
     {"lastMessageAt": -1, "createdAt": -1}, 20),
    ("read states of user", "read_states", {"userId": user}, None, 0),
    ("unread of conv", "messages", {"conversationId": conv, "seq": {"$gt": 1}, "senderId": {"$ne": user},
                                    "deletedAt": None}, None, 0),
    ("search", "messages", {"conversationId": conv, "deletedAt": None,
                            "content": {"$regex": "number", "$options": "i"}}, {"seq": -1}, 20),
    ("members of conv", "members", {"conversationId": conv}, {"joinedAt": 1}, 10000),
    ("rooms lookup by $in (before)", "members", {"userId": {"$in": batch}}, None, 0),
    ("rooms lookup by user (after)", "members", {"userId": batch[0]}, None, 0),
    ("resume", "messages", {"conversationId": conv, "deletedAt": None, "seq": {"$gt": 10}}, {"seq": 1}, 201),
    ("message by _id", "messages", {"_id": message}, None, 0),
    ("seq probe", "messages", {"conversationId": conv, "seq": 7}, None, 1),
    ("username taken", "users", {"username": "user0002"}, None, 0),
    ("read state by _id", "read_states", {"_id": conv + ":" + user, "lastReadSeq": {"$lt": 5}}, None, 0),
    ("sessions of user", "sessions", {"userId": user}, None, 0),
    ("presence cas", "presence", {"_id": user, "online": {"$ne": True}}, None, 0),
    ("sessions of gateway", "sessions", {"gatewayId": "gw-1", "openedAt": {"$lt": epoch}}, None, 0),
    ("expired gateways", "gateways", {"lastHeartbeatAt": {"$lt": epoch}}, None, 0),
    ("gateway by _id", "gateways", {"_id": "gw-1"}, None, 0),
    ("guests of room", "guests", {"room": "lobby1"}, {"joinedAt": 1}, 1000),
    ("guests of gateway", "guests", {"gatewayId": "gw-1", "joinedAt": {"$lt": epoch}}, None, 0),
]


def scans(plan, out):
    kind = plan.get("Node Type", "")
    if "Scan" in kind and "Heap" not in kind:
        out.append(kind + (" " + plan["Index Name"] if plan.get("Index Name") else ""))
    for child in plan.get("Plans", []):
        scans(child, out)
    return out


def pushed_part(flt):
    """The part of flt that FerretDB 1.24 on PostgreSQL pushes down:
    top-level equalities on a string, number or boolean."""
    return {k: v for k, v in flt.items() if isinstance(v, (str, int, float, bool))}


print("| query | collection | pushdown | PostgreSQL | documents read | matching |")
print("|---|---|---|---|---|---|")
for label, coll, flt, sort, limit in QUERIES:
    cmd = {"find": coll, "filter": flt}
    if sort:
        cmd["sort"] = sort
    if limit:
        cmd["limit"] = limit
    answer = db.command({"explain": cmd})
    pushed = answer.get("filterPushdown", False)
    read = db[coll].count_documents(pushed_part(flt)) if pushed else db[coll].estimated_document_count()
    matching = db[coll].count_documents(flt)
    plan = ", ".join(scans(answer["queryPlanner"]["Plan"], []))
    print(f"| {label} | {coll} | {'yes' if pushed else 'no'}"
          f"{', sort in Go' if sort else ''} | {plan} | {read} | {matching} |")
