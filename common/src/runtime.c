#include "chat/runtime.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/health.h"
#include "chat/log.h"
#include "chat/metrics.h"

#define BACKOFF_START_MS 200        /* first wait after a failed start-up step */
#define STOP_CHECK_MS 50            /* sleeps are cut into slices this long */
#define READY_KAFKA_TIMEOUT_MS 1000 /* /readyz waits at most this for Kafka */
#define ADMIN_TIMEOUT_MS 10000      /* CreateTopics request timeout */
#define CONSUME_POLL_MS 100         /* wait for the first record of a batch */
#define CONSUME_FILL_MS 2           /* a batch takes further records for up to this long */
#define CONSUME_COMMIT_MS 200       /* offsets are committed at most this often */
#define BATCH_SERIES_MAX 64         /* series cap of the batch metrics (topics times outcomes) */

struct chat_runtime {
  chat_config_t config;
  chat_service_t service;
  char source[CHAT_CONFIG_STR_MAX + 32];
  chat_health_t *health;
  chat_producer_t *producer;
  chat_mongo_t *mongo;
  atomic_bool started; /* topics and indexes exist */
  atomic_bool stop_requested;
  _Atomic uint64_t delivery_failures;
  _Atomic uint64_t assignment_changes; /* the consumer's rebalances */
  chat_delivery_fn on_delivery;
  void *delivery_ctx;
  pthread_mutex_t consumer_lock; /* consumer: set and cleared by the consume loop, read by others */
  chat_consumer_t *consumer;     /* chat_runtime_consume()'s, while it runs */
};

/* Set by the signal handler, read by every runtime. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int signo) { stop_signal = signo; }

static void install_signal_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a peer that went away is an error return, not a death */
}

bool chat_runtime_stopping(const chat_runtime_t *rt) {
  return stop_signal != 0 || atomic_load(&rt->stop_requested);
}

void chat_runtime_request_stop(chat_runtime_t *rt) { atomic_store(&rt->stop_requested, true); }

uint64_t chat_runtime_assignment_changes(const chat_runtime_t *rt) {
  return atomic_load(&rt->assignment_changes);
}

const chat_config_t *chat_runtime_config(const chat_runtime_t *rt) { return &rt->config; }
chat_producer_t *chat_runtime_producer(const chat_runtime_t *rt) { return rt->producer; }
chat_mongo_t *chat_runtime_mongo(const chat_runtime_t *rt) { return rt->mongo; }
const char *chat_runtime_source(const chat_runtime_t *rt) { return rt->source; }

/* Sleeps ms, waking early on a stop. Returns false when stopping. */
static bool sleep_unless_stopping(const chat_runtime_t *rt, int ms) {
  for (int slept = 0; slept < ms && !chat_runtime_stopping(rt); slept += STOP_CHECK_MS) {
    struct timespec slice = {0, STOP_CHECK_MS * 1000000L};
    nanosleep(&slice, NULL);
  }
  return !chat_runtime_stopping(rt);
}

static int next_backoff(const chat_runtime_t *rt, int backoff_ms) {
  int doubled = backoff_ms * 2;
  return doubled > rt->config.startup_backoff_max_ms ? rt->config.startup_backoff_max_ms : doubled;
}

static bool ready_check(void *ctx, bson_string_t *detail) {
  chat_runtime_t *rt = ctx;
  char why[256] = "";
  if (chat_runtime_stopping(rt)) {
    bson_string_append(detail, ",\"reason\":\"shutting down\"");
    return false;
  }
  bool kafka_ok = chat_producer_ping(rt->producer, READY_KAFKA_TIMEOUT_MS) == CHAT_OK;
  bool mongo_ok = chat_mongo_ping(rt->mongo, why, sizeof why) == CHAT_OK;
  bool started = atomic_load(&rt->started);
  bson_string_append_printf(detail, ",\"kafka\":\"%s\",\"mongo\":\"%s\",\"started\":%s",
                            kafka_ok ? "ok" : "unreachable", mongo_ok ? "ok" : "unreachable",
                            started ? "true" : "false");
  return kafka_ok && mongo_ok && started;
}

static void on_runtime_delivery(void *ctx, uint64_t request_id, chat_err_t err, const char *errstr,
                                int32_t partition, int64_t offset) {
  chat_runtime_t *rt = ctx;
  if (err != CHAT_OK) {
    atomic_fetch_add(&rt->delivery_failures, 1);
    CHAT_LOG(CHAT_LOG_ERROR, "kafka delivery failed: %s", errstr ? errstr : "?");
  }
  if (rt->on_delivery)
    rt->on_delivery(rt->delivery_ctx, request_id, err, errstr, partition, offset);
}

/* Retries until Kafka has our topics and MongoDB our indexes. */
static chat_err_t prepare_dependencies(chat_runtime_t *rt, const chat_runtime_options_t *opts) {
  char why[512];
  int backoff_ms = BACKOFF_START_MS;
  bool topics_ok = false, indexes_ok = opts->index_count == 0;
  while (!topics_ok || !indexes_ok) {
    if (!topics_ok) {
      /* A quick look first, so an absent cluster costs a second, not the
       * admin request's whole timeout, and a stop signal is heard soon. */
      chat_err_t err = chat_producer_ping(rt->producer, READY_KAFKA_TIMEOUT_MS);
      if (err == CHAT_OK)
        err =
            chat_kafka_ensure_topics(rt->producer, &rt->config, ADMIN_TIMEOUT_MS, why, sizeof why);
      else
        snprintf(why, sizeof why, "no broker answered within %d ms", READY_KAFKA_TIMEOUT_MS);
      if (err == CHAT_OK) {
        topics_ok = true;
        CHAT_LOG(CHAT_LOG_INFO, "kafka ready at %s, topics prefixed '%s'", rt->config.kafka_brokers,
                 rt->config.topic_prefix);
      } else if (err != CHAT_ERR_UNAVAILABLE) {
        CHAT_LOG(CHAT_LOG_ERROR, "kafka refused topic creation: %s", why);
        return err;
      } else {
        CHAT_LOG(CHAT_LOG_WARN, "kafka unreachable at %s (%s); retrying in %d ms",
                 rt->config.kafka_brokers, why, backoff_ms);
      }
    }
    if (!indexes_ok && !chat_runtime_stopping(rt)) {
      chat_err_t err =
          chat_mongo_ensure_indexes(rt->mongo, opts->indexes, opts->index_count, why, sizeof why);
      if (err == CHAT_OK) {
        indexes_ok = true;
        CHAT_LOG(CHAT_LOG_INFO, "mongodb ready, database '%s', %zu indexes ensured",
                 rt->config.mongo_db, opts->index_count);
      } else if (err != CHAT_ERR_UNAVAILABLE) {
        CHAT_LOG(CHAT_LOG_ERROR, "mongodb refused index creation: %s", why);
        return err;
      } else {
        CHAT_LOG(CHAT_LOG_WARN, "mongodb unreachable (%s); retrying in %d ms", why, backoff_ms);
      }
    }
    if (topics_ok && indexes_ok)
      break;
    if (!sleep_unless_stopping(rt, backoff_ms))
      return CHAT_ERR_STOPPED;
    backoff_ms = next_backoff(rt, backoff_ms);
  }
  return CHAT_OK;
}

chat_err_t chat_runtime_start(const chat_runtime_options_t *opts, chat_runtime_t **out) {
  char why[512];
  const char *name = chat_service_name(opts->service);
  chat_runtime_t *rt = calloc(1, sizeof *rt);
  chat_err_t err;

  *out = NULL;
  if (!rt)
    return CHAT_ERR_NOMEM;
  pthread_mutex_init(&rt->consumer_lock, NULL);
  chat_log_init(name, NULL, CHAT_LOG_INFO);
  chat_log_install_crash_report();
  err = chat_config_load(&rt->config, opts->service, why, sizeof why);
  if (err != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_ERROR, "configuration: %s", why);
    goto out;
  }
  chat_log_init(name, rt->config.instance_id, rt->config.log_level);
  chat_metrics_register_process(chat_metrics_default(), name);
  snprintf(rt->source, sizeof rt->source, "%s/%s", name, rt->config.instance_id);
  rt->service = opts->service;
  rt->on_delivery = opts->on_delivery;
  rt->delivery_ctx = opts->delivery_ctx;
  install_signal_handlers();

  err = chat_producer_create_lingering(&rt->config, rt->source, opts->producer_linger_ms,
                                       on_runtime_delivery, rt, &rt->producer, why, sizeof why);
  if (err == CHAT_OK)
    err = chat_mongo_create(&rt->config, rt->source, &rt->mongo, why, sizeof why);
  if (err != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_ERROR, "configuration: %s", why);
    goto out;
  }
  err = chat_health_start(rt->config.listen_addr, rt->config.health_port, ready_check, rt,
                          &rt->health, why, sizeof why);
  if (err != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_ERROR, "%s", why);
    goto out;
  }
  CHAT_LOG(CHAT_LOG_INFO, "starting; health on http://%s:%d/healthz and /readyz",
           rt->config.listen_addr, rt->config.health_port);
  err = prepare_dependencies(rt, opts);
  if (err != CHAT_OK)
    goto out;
  atomic_store(&rt->started, true);
  *out = rt;
  rt = NULL; /* handed to the caller */
out:
  chat_runtime_destroy(&rt);
  return err;
}

/* Flushes what the handler produced and checks none of it failed. */
static chat_err_t wait_produced_durable(chat_runtime_t *rt, uint64_t failures_before) {
  while (chat_producer_flush(rt->producer, rt->config.shutdown_timeout_ms) != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_WARN, "kafka: produced records not yet delivered; waiting");
    if (chat_runtime_stopping(rt))
      return CHAT_ERR_STOPPED;
  }
  return atomic_load(&rt->delivery_failures) == failures_before ? CHAT_OK : CHAT_ERR_KAFKA;
}

/* The batch metrics of one topic, looked up when a batch of another topic
 * than the last one's comes (one topic per consumer here: once). */
typedef struct batch_metrics {
  char topic[CHAT_TOPIC_NAME_MAX];
  chat_series_t *records;                /* chat_consumer_batch_records{topic} */
  chat_series_t *done_seconds;           /* chat_consumer_batch_seconds{topic,outcome="ok"} */
  chat_series_t *failed_seconds;         /* ... outcome="failed" */
} batch_metrics_t;

static void batch_metrics_for(batch_metrics_t *metrics, const char *topic) {
  static const char *const topic_label[] = {"topic", NULL};
  static const char *const topic_outcome[] = {"topic", "outcome", NULL};
  if (metrics->records && strcmp(metrics->topic, topic) == 0)
    return;
  chat_metrics_t *reg = chat_metrics_default();
  chat_metric_t *records = chat_metrics_histogram(
      reg, "chat_consumer_batch_records", "Records in each batch handed to the handler, by topic",
      topic_label, chat_metrics_batch_buckets, chat_metrics_batch_bucket_count, BATCH_SERIES_MAX);
  chat_metric_t *seconds = chat_metrics_histogram(
      reg, "chat_consumer_batch_seconds",
      "Time to handle a batch and make what it produced durable (handler, then producer flush), "
      "per attempt, by topic and outcome (ok, or failed: the batch is retried)",
      topic_outcome, chat_metrics_seconds_buckets, chat_metrics_seconds_bucket_count,
      BATCH_SERIES_MAX);
  snprintf(metrics->topic, sizeof metrics->topic, "%s", topic);
  metrics->records = CHAT_SERIES(records, topic);
  metrics->done_seconds = CHAT_SERIES(seconds, topic, "ok");
  metrics->failed_seconds = CHAT_SERIES(seconds, topic, "failed");
}

static double seconds_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Commits what consumer has stored; true when that is done, and then
 * *committed_at is now. */
static bool commit_stored(chat_consumer_t *consumer, struct timespec *committed_at) {
  if (chat_consumer_commit(consumer) != CHAT_OK)
    return false;
  clock_gettime(CLOCK_MONOTONIC, committed_at);
  return true;
}

chat_err_t chat_runtime_consume(chat_runtime_t *rt, const char *group_id,
                                const chat_topic_t *topics, size_t topic_count,
                                const chat_consumer_options_t *opts, size_t batch_max,
                                chat_batch_fn handle, void *ctx) {
  char why[512];
  chat_consumer_t *consumer = NULL;
  chat_record_t *batch = calloc(batch_max, sizeof *batch);
  batch_metrics_t metrics = {0};
  chat_err_t err;

  if (!batch)
    return CHAT_ERR_NOMEM;
  chat_consumer_options_t options = opts ? *opts : (chat_consumer_options_t){0};
  options.assignment_changes = &rt->assignment_changes;
  err = chat_consumer_create(&rt->config, group_id, rt->source, topics, topic_count, &options,
                             &consumer, why, sizeof why);
  if (err != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_ERROR, "consumer: %s", why);
    free(batch);
    return err;
  }
  CHAT_LOG(CHAT_LOG_INFO, "consuming as group '%s'", group_id);
  pthread_mutex_lock(&rt->consumer_lock);
  rt->consumer = consumer;
  pthread_mutex_unlock(&rt->consumer_lock);
  /* Offsets are stored after every batch and committed at most every
   * CONSUME_COMMIT_MS, and when the stream pauses: a commit per batch was
   * one more request to the broker per batch and a round trip that every
   * batch waited for. A crash redelivers what came after the last commit,
   * which every handler recognizes (docs/architecture.md, "Delivery
   * guarantees"); a revocation and a stop commit everything stored. */
  struct timespec committed_at;
  clock_gettime(CLOCK_MONOTONIC, &committed_at);
  bool uncommitted = false;
  int fill_ms = options.batch_without_wait ? 0 : CONSUME_FILL_MS;
  while (!chat_runtime_stopping(rt)) {
    size_t count = 0;
    if (chat_consumer_poll(consumer, CONSUME_POLL_MS, &batch[0]) != CHAT_OK) {
      if (uncommitted && commit_stored(consumer, &committed_at))
        uncommitted = false;
      continue;
    }
    count = 1;
    /* The window is counted from the first record, not per record: under
     * a steady stream every record comes within any per-record wait, and
     * the batch would grow to batch_max before its first record is
     * handled (a gateway's 1,000 broadcast records, 300 ms at 3,000 a
     * second, before the first delivery). */
    struct timespec first;
    clock_gettime(CLOCK_MONOTONIC, &first);
    while (count < batch_max) {
      int left_ms = fill_ms - (int)(seconds_since(&first) * 1000);
      if (chat_consumer_poll(consumer, left_ms > 0 ? left_ms : 0, &batch[count]) != CHAT_OK)
        break;
      count++;
    }

    int backoff_ms = BACKOFF_START_MS;
    batch_metrics_for(&metrics, batch[0].topic);
    chat_histogram_observe(metrics.records, (double)count);
    for (;;) {
      uint64_t failures_before = atomic_load(&rt->delivery_failures);
      struct timespec started;
      clock_gettime(CLOCK_MONOTONIC, &started);
      err = handle(ctx, batch, count);
      double handled_s = seconds_since(&started);
      if (err == CHAT_OK)
        err = wait_produced_durable(rt, failures_before);
      if (err == CHAT_OK)
        CHAT_LOG(CHAT_LOG_DEBUG, "batch of %zu records from %s[%d] handled in %.0f us, what it "
                 "produced durable %.0f us later", count, batch[0].topic, batch[0].partition,
                 handled_s * 1e6, (seconds_since(&started) - handled_s) * 1e6);
      if (err != CHAT_ERR_STOPPED)
        chat_histogram_observe(err == CHAT_OK ? metrics.done_seconds : metrics.failed_seconds,
                               seconds_since(&started));
      if (err == CHAT_OK || err == CHAT_ERR_STOPPED)
        break;
      CHAT_LOG(CHAT_LOG_WARN,
               "batch of %zu records from %s[%d]@%lld failed (%s); retrying in %d ms", count,
               batch[0].topic, batch[0].partition, (long long)batch[0].offset, chat_strerror(err),
               backoff_ms);
      if (!sleep_unless_stopping(rt, backoff_ms)) {
        err = CHAT_ERR_STOPPED;
        break;
      }
      backoff_ms = next_backoff(rt, backoff_ms);
    }
    /* Offsets move only past records that are done; a batch cut short by a
     * stop is read again by whoever owns the partition next. */
    if (err == CHAT_OK) {
      for (size_t i = 0; i < count; i++)
        chat_consumer_store(consumer, &batch[i]);
      uncommitted = true;
      if (seconds_since(&committed_at) * 1000 >= CONSUME_COMMIT_MS &&
          commit_stored(consumer, &committed_at))
        uncommitted = false;
    }
    for (size_t i = 0; i < count; i++)
      chat_record_release(&batch[i]);
  }
  CHAT_LOG(CHAT_LOG_INFO, "stopping: committing offsets and leaving group '%s'", group_id);
  pthread_mutex_lock(&rt->consumer_lock);
  rt->consumer = NULL;
  pthread_mutex_unlock(&rt->consumer_lock);
  chat_consumer_close(&consumer);
  free(batch);
  return CHAT_OK;
}

int64_t chat_runtime_handled_until(chat_runtime_t *rt, chat_topic_t topic, int32_t partition) {
  char name[CHAT_TOPIC_NAME_MAX];
  chat_topic_name(rt->config.topic_prefix, topic, name, sizeof name);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
  pthread_mutex_lock(&rt->consumer_lock);
  int64_t until = rt->consumer ? chat_consumer_handled_until(rt->consumer, name, partition, now_ms) : 0;
  pthread_mutex_unlock(&rt->consumer_lock);
  return until;
}

void chat_runtime_destroy(chat_runtime_t **rt_ptr) {
  chat_runtime_t *rt = rt_ptr ? *rt_ptr : NULL;
  if (!rt)
    return;
  /* The health thread's readiness check uses the producer and the pool:
   * stop it before they go. */
  chat_health_stop(&rt->health);
  chat_producer_destroy(&rt->producer, rt->config.shutdown_timeout_ms);
  chat_mongo_destroy(&rt->mongo);
  pthread_mutex_destroy(&rt->consumer_lock);
  free(rt);
  *rt_ptr = NULL;
}

typedef struct ticker {
  const chat_service_spec_t *spec;
  chat_runtime_t *rt;
} ticker_t;

/* Calls spec->tick every tick_ms until the stop, in steps short enough
 * that a stop is noticed within 100 ms. */
static void *tick_main(void *arg) {
  ticker_t *ticker = arg;
  int waited = 0;
  while (!chat_runtime_stopping(ticker->rt)) {
    struct timespec step = {0, 100 * 1000000L};
    nanosleep(&step, NULL);
    waited += 100;
    if (waited >= ticker->spec->tick_ms && !chat_runtime_stopping(ticker->rt)) {
      waited = 0;
      ticker->spec->tick(ticker->rt);
    }
  }
  return NULL;
}

/* What chat_service_run() hands to chat_runtime_consume(): the dispatcher,
 * then the service's after_batch on the same thread. */
typedef struct service_batch {
  const chat_service_spec_t *spec;
  chat_runtime_t *rt;
  chat_dispatch_t dispatch;
} service_batch_t;

static chat_err_t handle_service_batch(void *ctx, const chat_record_t *records, size_t count) {
  service_batch_t *batch = ctx;
  chat_err_t err = chat_dispatch_batch(&batch->dispatch, records, count);
  if (batch->spec->after_batch)
    batch->spec->after_batch(batch->rt);
  return err;
}

static void service_before_revoke(void *ctx) {
  service_batch_t *batch = ctx;
  batch->spec->before_revoke(batch->rt);
}

int chat_service_run(const chat_service_spec_t *spec) {
  chat_runtime_t *rt = NULL;
  chat_err_t err = chat_runtime_start(&spec->runtime, &rt);
  if (err != CHAT_OK)
    return err == CHAT_ERR_STOPPED ? 0 : err == CHAT_ERR_CONFIG ? 2 : 1;
  if (spec->start && (err = spec->start(rt)) != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_ERROR, "start-up failed: %s", chat_err_code(err));
    chat_runtime_destroy(&rt);
    return 1;
  }
  ticker_t ticker = {spec, rt};
  pthread_t tick_thread;
  bool ticking = spec->tick && spec->tick_ms > 0 &&
                 pthread_create(&tick_thread, NULL, tick_main, &ticker) == 0;

  char group[CHAT_CONFIG_STR_MAX + CHAT_TOPIC_NAME_MAX];
  snprintf(group, sizeof group, "%s%s", rt->config.topic_prefix, spec->group_name);
  service_batch_t batch = {.spec = spec,
                           .rt = rt,
                           .dispatch = {.handlers = spec->handlers,
                                        .handler_count = spec->handler_count,
                                        .ctx = rt,
                                        .max_record_bytes = spec->max_record_bytes}};
  const chat_consumer_options_t options = {
      .before_revoke = spec->before_revoke ? service_before_revoke : NULL, .revoke_ctx = &batch};
  const chat_topic_t topics[2] = {spec->topic, CHAT_TOPIC_EVENTS};
  char events_topic[CHAT_TOPIC_NAME_MAX];
  if (spec->also_events &&
      chat_topic_name(rt->config.topic_prefix, CHAT_TOPIC_EVENTS, events_topic,
                      sizeof events_topic) == CHAT_OK)
    batch.dispatch.quiet_topic = events_topic;
  err = chat_runtime_consume(rt, group, topics, spec->also_events ? 2 : 1, &options,
                             spec->batch_max, handle_service_batch, &batch);
  chat_runtime_request_stop(rt);
  if (spec->stop)
    spec->stop(rt);
  if (ticking)
    pthread_join(tick_thread, NULL);
  chat_runtime_destroy(&rt);
  CHAT_LOG(CHAT_LOG_INFO, "stopped");
  return err == CHAT_OK ? 0 : 1;
}
