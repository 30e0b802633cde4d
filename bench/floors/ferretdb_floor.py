#!/usr/bin/env python3
"""The FerretDB floor: how fast this machine's FerretDB (on PostgreSQL, or
on SQLite with CHAT_DEV_STORE=sqlite) stores message-shaped documents, in
ordered insert_many batches like ours, with pymongo. Prints one JSON line:
documents/s for batches of 1 and of 100.
  ferretdb_floor.py MONGO_URI COUNT"""
import json
import sys
import time
import uuid

from pymongo import MongoClient


def doc(i):
    return {"_id": uuid.uuid4().hex[:24], "conversationId": f"{i % 500:024x}", "seq": i,
            "senderId": "65f1a0c2e4b0a1b2c3d4e5f6", "receiverId": "65f1a0c2e4b0a1b2c3d4e5f7",
            "clientMsgId": f"c-{i}", "content": "b:1768991400000000:1234 hello there", "attachmentUrl": None,
            "deletedAt": None}


def main():
    uri, count = sys.argv[1], int(sys.argv[2])
    # Bounded: a wedged store (FerretDB 1.24 can hold every pooled backend
    # connection after an overload) fails the floor instead of hanging it.
    client = MongoClient(uri, serverSelectionTimeoutMS=10000, socketTimeoutMS=60000)
    db = client[f"floor_{uuid.uuid4().hex[:8]}"]
    result = {"documents": count}
    for batch in (1, 100):
        coll = db[f"messages_{batch}"]
        coll.create_index([("conversationId", 1), ("seq", 1)], unique=True)
        n = count if batch > 1 else max(1, count // 10)
        start = time.time()
        for i in range(0, n, batch):
            coll.insert_many([doc(j) for j in range(i, min(n, i + batch))], ordered=True)
        result[f"insert_batch_{batch}_per_s"] = round(n / (time.time() - start))
    client.drop_database(db.name)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
