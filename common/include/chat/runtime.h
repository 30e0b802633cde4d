/* What every service process does around its own logic: configuration,
 * logging, signals, the health server, the Kafka producer and the MongoDB
 * pool with their start-up retries, topic and index creation, a batched
 * consume loop with commit-after-processing, and a clean shutdown. A
 * service's main.c wires its handlers into this and nothing more. */
#ifndef CHAT_RUNTIME_H
#define CHAT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/config.h"
#include "chat/dispatch.h"
#include "chat/err.h"
#include "chat/kafka.h"
#include "chat/mongo.h"

typedef struct chat_runtime chat_runtime_t;

typedef struct chat_runtime_options {
  chat_service_t service;
  const chat_mongo_index_t *indexes; /* created at start-up, idempotently */
  size_t index_count;
  chat_delivery_fn on_delivery; /* the producer's delivery reports; may be NULL */
  void *delivery_ctx;
  /* The producer's linger.ms (chat_producer_create_lingering()); 0 keeps
   * the default, 5 ms. */
  int producer_linger_ms;
} chat_runtime_options_t;

/* Starts the common parts: loads and validates the configuration, starts
 * the health server, then retries with capped exponential backoff until
 * Kafka has every topic and MongoDB every index, logging each failure.
 * Returns CHAT_OK; CHAT_ERR_CONFIG for a bad setting (logged with the
 * variable's name: exit non-zero); CHAT_ERR_IO when the health port cannot
 * be bound; CHAT_ERR_STOPPED when SIGTERM or SIGINT came first. On error
 * *out is NULL and nothing needs freeing. */
chat_err_t chat_runtime_start(const chat_runtime_options_t *opts, chat_runtime_t **out);

/* True once SIGTERM or SIGINT has arrived (or chat_runtime_request_stop). */
bool chat_runtime_stopping(const chat_runtime_t *rt);
void chat_runtime_request_stop(chat_runtime_t *rt);

/* How many times the consumer's partitions were assigned or revoked so
 * far: state kept for the partitions one owns is stale once it moved. */
uint64_t chat_runtime_assignment_changes(const chat_runtime_t *rt);

const chat_config_t *chat_runtime_config(const chat_runtime_t *rt);
chat_producer_t *chat_runtime_producer(const chat_runtime_t *rt);
chat_mongo_t *chat_runtime_mongo(const chat_runtime_t *rt);

/* "<service>/<instance id>", the envelope source of this process. */
const char *chat_runtime_source(const chat_runtime_t *rt);

/* Handles a batch of records in order. Returns CHAT_OK when all of them are
 * done for good (a malformed record counts as done once logged), or an
 * error when the batch must be tried again (e.g. MongoDB unreachable):
 * handlers are idempotent, so doing a record twice is harmless. */
typedef chat_err_t (*chat_batch_fn)(void *ctx, const chat_record_t *records, size_t count);

/* Consumes topics in consumer group group_id (opts as for
 * chat_consumer_create()) until a stop signal, handing handle batches of
 * up to batch_max records. After each handled batch the producer is
 * flushed (whatever the handler produced is durable) and the offsets are
 * committed; a failed batch is retried with backoff and never
 * committed. Returns CHAT_OK on a clean stop or the error that prevented
 * consuming (logged). */
chat_err_t chat_runtime_consume(chat_runtime_t *rt, const char *group_id,
                                const chat_topic_t *topics, size_t topic_count,
                                const chat_consumer_options_t *opts, size_t batch_max,
                                chat_batch_fn handle, void *ctx);

/* A consuming service described as data: what services/<name>/main.c
 * hands to chat_service_run(). */
typedef struct chat_service_spec {
  chat_runtime_options_t runtime;
  const char *group_name; /* consumer group, after the topic prefix */
  chat_topic_t topic;     /* the topic it consumes */
  /* Optional: it also consumes chat.events in the same group, handling
   * the types of its handlers and skipping the others quietly (presence
   * turns message.created into notification.requested). */
  bool also_events;
  const chat_event_handler_t *handlers;
  size_t handler_count;
  size_t batch_max;        /* records per handled batch */
  size_t max_record_bytes; /* larger values are skipped as malformed */
  /* Optional: called every tick_ms on a thread of its own while the
   * service consumes (e.g. presence's expiry of silent gateways). */
  void (*tick)(chat_runtime_t *rt);
  int tick_ms;
  /* Optional: called on the consuming thread after each batch, handled or
   * failed (e.g. persistence copies its cache's counters into metrics,
   * which only that thread may read). */
  void (*after_batch)(chat_runtime_t *rt);
  /* Optional: called once the runtime is up, before consuming (e.g.
   * persistence starts its summary writers); an error ends the service
   * with status 1. */
  chat_err_t (*start)(chat_runtime_t *rt);
  /* Optional: called on the consuming thread when partitions are revoked,
   * before their offsets are committed and another member takes them
   * (e.g. persistence writes what it kept behind). */
  void (*before_revoke)(chat_runtime_t *rt);
  /* Optional: called after the last batch, before the producer's final
   * flush (e.g. persistence drains its summary writers). */
  void (*stop)(chat_runtime_t *rt);
} chat_service_spec_t;

/* The time up to which the running consume loop has handled its
 * partition of topic (partition < 0: every partition of topic it owns):
 * chat_consumer_handled_until() with the wall clock as now. 0 when no
 * consume loop runs or it cannot tell. For a judgement by time that must
 * not run ahead of what was read (presence's expiry of silent gateways);
 * any thread. */
int64_t chat_runtime_handled_until(chat_runtime_t *rt, chat_topic_t topic, int32_t partition);

/* Starts the runtime, consumes spec->topic through a dispatcher over
 * spec->handlers (ctx: the runtime) until SIGTERM, then shuts down cleanly.
 * Returns the process exit status: 0 after a clean stop, 1 on a start-up
 * or consume failure (logged), 2 for a bad configuration. */
int chat_service_run(const chat_service_spec_t *spec);

/* Flushes the producer within CHAT_SHUTDOWN_TIMEOUT_MS, stops the health
 * server and frees everything; sets *rt to NULL. Accepts NULL. */
void chat_runtime_destroy(chat_runtime_t **rt);

#endif
