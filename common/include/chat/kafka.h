/* Kafka producer and consumer wrappers over librdkafka.
 *
 * The producer is idempotent with acks=all. Every produce carries a caller's
 * 64-bit request id and its delivery report comes back with that id on the
 * producer's own poll thread: callers match reports to their state by id,
 * never by pointer, since whatever asked (a socket) may be gone by then.
 *
 * The consumer joins a consumer group and never commits on its own: the
 * caller stores a record's offset once it has processed it and commits the
 * stored offsets when its writes are durable (at-least-once). Stored offsets
 * are also committed when partitions are revoked and on close. */
#ifndef CHAT_KAFKA_H
#define CHAT_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/config.h"
#include "chat/err.h"
#include "chat/topics.h"

typedef struct chat_producer chat_producer_t;
typedef struct chat_consumer chat_consumer_t;

/* A record header to produce; a plain value, copied by produce. */
typedef struct chat_kafka_header {
  const char *name;
  const char *value;
  size_t value_len;
} chat_kafka_header_t;

/* Called once per produced record, on the producer's poll thread, with the
 * request id given to chat_producer_produce(). err is CHAT_OK when the
 * record is durable (acks=all), else CHAT_ERR_KAFKA with errstr saying why. */
typedef void (*chat_delivery_fn)(void *ctx, uint64_t request_id, chat_err_t err, const char *errstr,
                                 int32_t partition, int64_t offset);

/* Creates a producer for cfg->kafka_brokers (plus cfg->kafka_config) and
 * starts its poll thread. on_delivery may be NULL. Connecting is lazy: this
 * succeeds while the brokers are down. Returns CHAT_OK, or CHAT_ERR_CONFIG
 * when librdkafka refuses a property (errbuf says which). Free with
 * chat_producer_destroy(). */
chat_err_t chat_producer_create(const chat_config_t *cfg, const char *client_id,
                                chat_delivery_fn on_delivery, void *ctx, chat_producer_t **out,
                                char *errbuf, size_t errbuf_len);

/* chat_producer_create() that holds records for at most linger_ms
 * (librdkafka's linger.ms; 0 or less: the default, 5 ms) before sending:
 * a producer whose every record someone waits for (the gateway's
 * commands) trades a few more produce requests for that wait. */
chat_err_t chat_producer_create_lingering(const chat_config_t *cfg, const char *client_id,
                                          int linger_ms, chat_delivery_fn on_delivery, void *ctx,
                                          chat_producer_t **out, char *errbuf, size_t errbuf_len);

/* Queues one record; key and value are copied. Returns CHAT_OK (the report
 * follows), CHAT_ERR_UNAVAILABLE when the local queue is full (back off and
 * retry, or answer the client), CHAT_ERR_TOO_LARGE past message.max.bytes,
 * or CHAT_ERR_KAFKA. No report follows an error return. */
chat_err_t chat_producer_produce(chat_producer_t *producer, const char *topic, const void *key,
                                 size_t key_len, const void *value, size_t value_len,
                                 const chat_kafka_header_t *headers, size_t header_count,
                                 uint64_t request_id);

/* Holding: records made before it is known whether they may go out.
 * Between chat_producer_hold() and chat_producer_hold_end(), what the
 * calling thread produces through `producer` is copied and kept, in order,
 * instead of being queued (other threads produce as usual). hold_end with
 * send queues the kept records in that order and returns CHAT_OK, or the
 * first error chat_producer_produce() would have returned (the records
 * after it are dropped); without send it drops them. Either way the hold
 * is freed. One hold per thread at a time; NULL when out of memory or
 * already holding (nothing is held then, and hold_end(NULL, ...) returns
 * CHAT_ERR_NOMEM). */
typedef struct chat_producer_hold chat_producer_hold_t;
chat_producer_hold_t *chat_producer_hold(chat_producer_t *producer);
chat_err_t chat_producer_hold_end(chat_producer_hold_t *hold, bool send);

/* Waits until every queued record has its delivery report. Returns CHAT_OK
 * or CHAT_ERR_TIMEOUT when records are still in flight after timeout_ms. */
chat_err_t chat_producer_flush(chat_producer_t *producer, int timeout_ms);

/* Asks the cluster for metadata. Returns CHAT_OK when a broker answered
 * within timeout_ms, else CHAT_ERR_UNAVAILABLE. */
chat_err_t chat_producer_ping(chat_producer_t *producer, int timeout_ms);

/* Creates every topic of the catalogue with cfg's prefix, partitions and
 * replication; a topic that exists already is fine. Returns CHAT_OK,
 * CHAT_ERR_UNAVAILABLE when the cluster did not answer in timeout_ms, or
 * CHAT_ERR_KAFKA (errbuf names the topic and the broker's reason). */
chat_err_t chat_kafka_ensure_topics(chat_producer_t *producer, const chat_config_t *cfg,
                                    int timeout_ms, char *errbuf, size_t errbuf_len);

/* Flushes for up to timeout_ms (logging what could not be delivered), stops
 * the poll thread and frees everything; sets *producer to NULL. Accepts
 * NULL and a NULL *producer. */
void chat_producer_destroy(chat_producer_t **producer, int timeout_ms);

/* A consumed record: a view valid until chat_record_release(). */
typedef struct chat_record {
  const char *topic;
  int32_t partition;
  int64_t offset;
  const char *key; /* not NUL-terminated; NULL when the record has none */
  size_t key_len;
  const char *value; /* not NUL-terminated; NULL for a tombstone */
  size_t value_len;
  int64_t timestamp_ms;
  void *impl_; /* the rd_kafka_message_t; private */
} chat_record_t;

typedef struct chat_consumer_options {
  bool from_latest; /* with no committed offset: start at the end, not the start */
  /* Read every partition from its end, outside any consumer group (the
   * gateway's broadcast reader): no group state piles up on the cluster
   * and there is no rebalance to wait for. Commits are no-ops. Partitions
   * added later are not seen until the next start. */
  bool all_partitions_from_end;
  /* When set, incremented at every assignment and every revocation of
   * partitions (on the polling thread, before the records of the new
   * assignment): a cache of what the partitions' owner holds compares it
   * to know when to drop what it kept. */
  _Atomic uint64_t *assignment_changes;
  /* With all_partitions_from_end, when set: called once the consumer is
   * made (on the creating thread) with the offsets the partitions of its
   * first topic start at, in partition order. */
  void (*on_started)(void *ctx, const int64_t *start_offsets, size_t count);
  void *started_ctx;
  /* When set: called on the polling thread when partitions are revoked,
   * before their offsets are committed. */
  void (*before_revoke)(void *ctx);
  void *revoke_ctx;
  /* chat_runtime_consume(): hand each batch over with what has already
   * arrived, without the short wait for more (a consumer that handles
   * records one by one gains nothing from bigger batches, and its first
   * record would wait). */
  bool batch_without_wait;
} chat_consumer_options_t;

/* Creates a consumer in group_id subscribed to the prefixed topics. opts may
 * be NULL (start from the earliest record). Returns CHAT_OK or
 * CHAT_ERR_CONFIG / CHAT_ERR_KAFKA with errbuf filled. Close with
 * chat_consumer_close(). */
chat_err_t chat_consumer_create(const chat_config_t *cfg, const char *group_id,
                                const char *client_id, const chat_topic_t *topics,
                                size_t topic_count, const chat_consumer_options_t *opts,
                                chat_consumer_t **out, char *errbuf, size_t errbuf_len);

/* Waits up to timeout_ms for a record. Returns CHAT_OK with *record filled
 * (release it with chat_record_release()), CHAT_ERR_TIMEOUT when none came,
 * or CHAT_ERR_KAFKA for a consumer error (logged; keep polling). */
chat_err_t chat_consumer_poll(chat_consumer_t *consumer, int timeout_ms, chat_record_t *record);

/* For a consumer made with all_partitions_from_end: the offset each
 * partition of its first topic began at (its high watermark when the
 * consumer was made), in partition order, at most cap of them written to
 * out. Returns the number of partitions. */
size_t chat_consumer_start_offsets(const chat_consumer_t *consumer, int64_t *out, size_t cap);

/* For a consumer made with all_partitions_from_end: reads its first
 * topic's partitions from now on from from[p] (count must be its number of
 * partitions). A partition that no longer holds from[p] (retention took
 * it) starts at its earliest record, which the caller sees by its offset.
 * Returns CHAT_OK, CHAT_ERR_INVALID or CHAT_ERR_KAFKA. */
chat_err_t chat_consumer_seek_all(chat_consumer_t *consumer, const int64_t *from, size_t count);

/* Finds header name on record. Returns true and sets *value (not
 * NUL-terminated) and *value_len, or false when it is absent. */
bool chat_record_header(const chat_record_t *record, const char *name, const char **value,
                        size_t *value_len);

/* Frees what record points at; record may be one poll did not fill. */
void chat_record_release(chat_record_t *record);

/* Marks record processed: its offset + 1 is committed by the next commit. */
chat_err_t chat_consumer_store(chat_consumer_t *consumer, const chat_record_t *record);

/* The time up to which consumer has handled its partition of topic
 * (partition < 0: each partition of topic it owns, the earliest of them):
 * now_ms when it has handled every record the broker held at its last
 * fetch, otherwise the timestamp of the last record it handled there.
 * Every record produced before that time is handled. 0 when it cannot
 * tell: the partition is not its own, nothing has been fetched yet, or the
 * broker did not answer for the committed offset (asked when nothing was
 * handled there since the assignment). Safe from any thread while the
 * consumer is open; a group consumer only (0 for all_partitions_from_end). */
int64_t chat_consumer_handled_until(chat_consumer_t *consumer, const char *topic,
                                    int32_t partition, int64_t now_ms);

/* Commits the stored offsets synchronously. Returns CHAT_OK (also when
 * nothing was stored) or CHAT_ERR_KAFKA. */
chat_err_t chat_consumer_commit(chat_consumer_t *consumer);

/* Commits what is stored, leaves the group and frees everything; sets
 * *consumer to NULL. Accepts NULL and a NULL *consumer. */
void chat_consumer_close(chat_consumer_t **consumer);

#endif
