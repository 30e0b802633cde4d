#!/usr/bin/env python3
"""The Kafka floor: how fast this machine's broker moves records of a chat
message's size with the same settings as ours (idempotent producer,
acks=all, linger.ms=5) from a producer to a consumer, with librdkafka
(confluent-kafka). The consumer reads in its own thread while the
producer writes. RATE 0 sends as fast as it can (the throughput floor);
RATE > 0 paces the producer open-loop at RATE records/s and measures each
record's latency from the moment it was due (the latency floor).
Prints one JSON line: records/s and end-to-end latency percentiles (ms).
  kafka_floor.py BROKERS COUNT [SIZE=300] [RATE=0]"""
import json
import sys
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def consume(consumer, count, latencies, done):
    deadline = time.time() + 120
    while len(latencies) < count and time.time() < deadline:
        for record in consumer.consume(500, 0.002):
            if record.error():
                continue
            latencies.append((time.time() - float(record.value().split(b" ", 1)[0])) * 1000)
    done.append(time.time())


def main():
    brokers, count = sys.argv[1], int(sys.argv[2])
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    topic = f"bench-floor-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": brokers})
    for future in admin.create_topics([NewTopic(topic, num_partitions=8, replication_factor=1)]).values():
        future.result(30)
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": topic, "auto.offset.reset": "earliest",
                         "fetch.wait.max.ms": 5})
    consumer.subscribe([topic])
    while not consumer.assignment():  # in the group before the clock starts
        consumer.poll(0.2)
    producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5})
    latencies, done = [], []
    reader = threading.Thread(target=consume, args=(consumer, count, latencies, done))
    reader.start()
    pad = "x" * max(0, size - 40)
    start = time.time()
    for i in range(count):
        due = start + i / rate if rate > 0 else time.time()
        if rate > 0:
            while time.time() < due:
                producer.poll(min(0.001, max(0.0, due - time.time())))
        producer.produce(topic, key=str(i % 1000).encode(), value=f"{due:.6f} {pad}".encode())
        if i % 100 == 0:
            producer.poll(0)
    producer.flush(60)
    produced = time.time()
    reader.join()
    consumer.close()
    admin.delete_topics([topic])
    seen = len(latencies)
    latencies.sort()
    pick = lambda p: round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 2) if latencies else None
    print(json.dumps({"records": count, "size": size, "rate": rate or None, "seen": seen,
                      "produce_per_s": round(count / (produced - start)),
                      "end_to_end_per_s": round(seen / (done[0] - start)),
                      "latency_ms": {"p50": pick(50), "p90": pick(90), "p99": pick(99), "p999": pick(99.9)}}))


if __name__ == "__main__":
    main()
