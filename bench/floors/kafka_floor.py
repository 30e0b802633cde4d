#!/usr/bin/env python3
"""The Kafka floor: how fast this machine's broker moves records of a chat
message's size with the same settings as ours (idempotent producer,
acks=all) from a producer to a consumer, with librdkafka (confluent-kafka).
Prints one JSON line: records/s and end-to-end latency percentiles (ms).
  kafka_floor.py BROKERS COUNT [SIZE=300] [RATE=0: as fast as it goes]"""
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def main():
    brokers, count = sys.argv[1], int(sys.argv[2])
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    topic = f"bench-floor-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": brokers})
    for future in admin.create_topics([NewTopic(topic, num_partitions=8, replication_factor=1)]).values():
        future.result(30)
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": topic, "auto.offset.reset": "earliest",
                         "fetch.wait.max.ms": 5})
    consumer.subscribe([topic])
    consumer.poll(1.0)  # join the group before the clock starts
    producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5})
    pad = "x" * max(0, size - 40)
    start = time.time()
    for i in range(count):
        producer.produce(topic, key=str(i % 1000).encode(), value=f"{time.time():.6f} {pad}".encode())
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(60)
    produced = time.time()
    latencies, seen = [], 0
    deadline = time.time() + 60
    while seen < count and time.time() < deadline:
        for record in consumer.consume(1000, 1.0):
            if record.error():
                continue
            latencies.append((time.time() - float(record.value().split(b" ", 1)[0])) * 1000)
            seen += 1
    done = time.time()
    consumer.close()
    admin.delete_topics([topic])
    latencies.sort()
    pick = lambda p: round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 2) if latencies else None
    print(json.dumps({"records": count, "size": size, "seen": seen,
                      "produce_per_s": round(count / (produced - start)),
                      "end_to_end_per_s": round(seen / (done - start)),
                      "latency_ms": {"p50": pick(50), "p90": pick(90), "p99": pick(99), "p999": pick(99.9)}}))


if __name__ == "__main__":
    main()
