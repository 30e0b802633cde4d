#include "chat/kafka.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/log.h"
#include "chat/metrics.h"

#define PRODUCER_POLL_MS 100       /* poll thread wake-up when idle, bounds stop latency */
#define PRODUCER_LINGER_MS 5       /* batch records for up to 5 ms: throughput over latency */
#define PRODUCER_TOPIC_SLOTS 16    /* topics whose latency series a producer keeps at hand */
#define TOPIC_SERIES_MAX 64        /* series cap of the metrics labelled by topic alone */
#define PARTITION_SERIES_MAX 4096  /* ... by topic and partition (1000 partitions per topic) */
#define PRODUCE_ERROR_SERIES_MAX 64 /* ... by topic and librdkafka error name */
#define CONSUMER_PENDING_MAX 64    /* partitions whose stored offset a commit reports */
#define HANDLED_PARTITIONS_MAX 256 /* partitions whose handled position a consumer keeps */
#define COMMITTED_WAIT_MS 2000     /* for a partition's committed offset (chat_consumer_handled_until) */

/* The metrics of this file, in the process's registry (docs/operations.md). */
static struct kafka_metrics {
  chat_metric_t *produce_seconds; /* {topic} */
  chat_metric_t *produce_errors;  /* {topic,error} */
  chat_metric_t *lag;             /* {topic,partition} */
  chat_metric_t *committed;       /* {topic,partition} */
} metrics;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

/* A topic's delivery latency series, published with ready once name and
 * series are written: delivery reports read it without a lock. */
typedef struct topic_slot {
  char name[CHAT_TOPIC_NAME_MAX];
  chat_series_t *latency;
  atomic_bool ready;
} topic_slot_t;
/* A record not delivered this long after it was produced fails its
 * delivery report: the gateway then answers a send with UNAVAILABLE (the
 * client resends, same clientMsgId) within the 30 s a client may wait,
 * and a consumer's batch is retried; librdkafka's default, 5 minutes,
 * left sends unanswered through a broker restart (the fault runner's
 * kafka-kill: 30 s without an answer). */
#define METADATA_WAIT_MS 15000 /* how long a new topic may take to appear in the metadata */
#define WATERMARK_WAIT_MS 10000 /* for a partition's high watermark at the start */
#define START_PARTITIONS_MAX 1024 /* partitions of the first topic whose start is kept */
#define PRODUCER_DELIVERY_TIMEOUT_MS "20000" /* message.timeout.ms: a report, failed or not, within 20 s */

struct chat_producer {
  rd_kafka_t *rk;
  chat_delivery_fn on_delivery;
  void *ctx;
  pthread_t poll_thread;
  atomic_bool stop;
  pthread_mutex_t slots_lock; /* taken to fill a slot, never to read one */
  topic_slot_t slots[PRODUCER_TOPIC_SLOTS];
};

/* An offset stored since the last commit: the committed gauge moves to it
 * when the commit succeeds. */
typedef struct pending_offset {
  chat_series_t *committed;
  int64_t next_offset;
} pending_offset_t;

/* How far a consumer has handled one partition it owns: what
 * chat_consumer_store() was last given there. */
typedef struct handled_partition {
  char topic[CHAT_TOPIC_NAME_MAX];
  int32_t partition;
  int64_t next_offset; /* the first record not handled */
  int64_t newest_ms;   /* the timestamp of the last record handled */
} handled_partition_t;

struct chat_consumer {
  rd_kafka_t *rk;
  bool assigned; /* all_partitions_from_end: no group, nothing to commit */
  bool from_latest; /* with no committed offset, reading starts at the end */
  char first_topic[CHAT_TOPIC_NAME_MAX]; /* all_partitions_from_end: its first topic */
  int64_t start_offsets[START_PARTITIONS_MAX]; /* ... where each partition of it began */
  size_t start_count;
  _Atomic uint64_t *assignment_changes; /* the options', or NULL */
  void (*before_revoke)(void *ctx); /* the options', or NULL */
  void *revoke_ctx;
  pending_offset_t pending[CONSUMER_PENDING_MAX];
  size_t pending_count;
  chat_series_t *last_series;           /* the committed gauge of the last record stored */
  char last_topic[CHAT_TOPIC_NAME_MAX]; /* ... its topic */
  int32_t last_partition;               /* ... and partition */
  chat_consumer_t *next_live; /* the list the lag hook walks */
  /* Written by the consuming thread, read by any (chat_consumer_handled_until);
   * emptied when the assignment changes. */
  pthread_mutex_t handled_lock;
  handled_partition_t handled[HANDLED_PARTITIONS_MAX];
  size_t handled_count;
};

/* Every open consumer, for the scrape-time lag hook. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static chat_consumer_t *live_consumers;

/* Sets chat_kafka_consumer_lag for each partition a consumer has now: the
 * partition's high watermark, as the last fetch reported it (no request
 * to the broker), less the consumer's position. Partitions without a
 * position yet (nothing fetched) and those that went away are left out. */
static void lag_hook(void *ctx) {
  (void)ctx;
  chat_metric_retire_all(metrics.lag);
  pthread_mutex_lock(&live_lock);
  for (chat_consumer_t *consumer = live_consumers; consumer; consumer = consumer->next_live) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(consumer->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
      continue;
    rd_kafka_position(consumer->rk, parts);
    for (int i = 0; i < parts->cnt; i++) {
      const rd_kafka_topic_partition_t *part = &parts->elems[i];
      int64_t low = -1, high = -1;
      if (part->offset < 0 ||
          rd_kafka_get_watermark_offsets(consumer->rk, part->topic, part->partition, &low,
                                         &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
          high < 0)
        continue;
      char partition[16];
      snprintf(partition, sizeof partition, "%d", (int)part->partition);
      chat_gauge_set(CHAT_SERIES(metrics.lag, part->topic, partition),
                     (double)(high > part->offset ? high - part->offset : 0));
    }
    rd_kafka_topic_partition_list_destroy(parts);
  }
  pthread_mutex_unlock(&live_lock);
}

static void metrics_register(void) {
  chat_metrics_t *reg = chat_metrics_default();
  static const char *const topic[] = {"topic", NULL};
  static const char *const topic_error[] = {"topic", "error", NULL};
  static const char *const topic_partition[] = {"topic", "partition", NULL};
  metrics.produce_seconds = chat_metrics_histogram(
      reg, "chat_kafka_produce_seconds",
      "Time from produce to the delivery report of each record delivered (acks=all), by topic",
      topic, chat_metrics_seconds_buckets, chat_metrics_seconds_bucket_count, TOPIC_SERIES_MAX);
  metrics.produce_errors = chat_metrics_counter(
      reg, "chat_kafka_produce_errors_total",
      "Records not produced: refused at once (e.g. _QUEUE_FULL) or failed in their delivery "
      "report, by topic and librdkafka error name",
      topic_error, PRODUCE_ERROR_SERIES_MAX);
  metrics.lag = chat_metrics_gauge(
      reg, "chat_kafka_consumer_lag",
      "Records behind the end of each partition this process consumes now (high watermark "
      "less position)",
      topic_partition, PARTITION_SERIES_MAX);
  metrics.committed = chat_metrics_gauge(
      reg, "chat_kafka_committed_offset",
      "The offset this process last committed for each partition it owns now (the next record "
      "to read)",
      topic_partition, PARTITION_SERIES_MAX);
  chat_metrics_add_hook(reg, lag_hook, NULL);
}

static void count_produce_error(const char *topic, rd_kafka_resp_err_t rerr) {
  chat_counter_add(CHAT_SERIES(metrics.produce_errors, topic, rd_kafka_err2name(rerr)), 1);
}

/* The latency series of the record's topic: found in the producer's slots
 * without a lock, or looked up once and kept in a free slot. */
static chat_series_t *latency_series(chat_producer_t *producer, const char *topic) {
  for (size_t i = 0; i < PRODUCER_TOPIC_SLOTS; i++) {
    topic_slot_t *slot = &producer->slots[i];
    if (!atomic_load_explicit(&slot->ready, memory_order_acquire))
      break;
    if (strcmp(slot->name, topic) == 0)
      return slot->latency;
  }
  chat_series_t *series = CHAT_SERIES(metrics.produce_seconds, topic);
  pthread_mutex_lock(&producer->slots_lock);
  for (size_t i = 0; i < PRODUCER_TOPIC_SLOTS; i++) {
    topic_slot_t *slot = &producer->slots[i];
    if (atomic_load_explicit(&slot->ready, memory_order_relaxed)) {
      if (strcmp(slot->name, topic) == 0)
        break;
      continue;
    }
    snprintf(slot->name, sizeof slot->name, "%s", topic);
    slot->latency = series;
    atomic_store_explicit(&slot->ready, true, memory_order_release);
    break;
  }
  pthread_mutex_unlock(&producer->slots_lock);
  return series;
}

/* Assigns every partition of the subscription's topics at their end: at
 * the high watermark asked of the broker, so that the offsets it started
 * at are known exactly (the first topic's are kept for
 * chat_consumer_start_offsets). */
static chat_err_t assign_all_from_end(chat_consumer_t *consumer,
                                      rd_kafka_topic_partition_list_t *topics, char *errbuf,
                                      size_t errbuf_len) {
  rd_kafka_t *rk = consumer->rk;
  rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(64);
  chat_err_t err = CHAT_OK;
  for (int i = 0; i < topics->cnt && err == CHAT_OK; i++) {
    const struct rd_kafka_metadata *metadata = NULL;
    rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, topics->elems[i].topic, NULL);
    rd_kafka_resp_err_t rerr = rd_kafka_metadata(rk, 0, topic, &metadata, 10000);
    /* A topic this process has just created may not be in the broker's
     * metadata yet (a gateway started first on a new topic prefix was
     * ready, then exited with "Unknown topic or partition"): asked again
     * for up to METADATA_WAIT_MS. */
    for (int waited = 0; waited < METADATA_WAIT_MS && !rerr && metadata->topic_cnt == 1 &&
                         (metadata->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                          metadata->topics[0].err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                          metadata->topics[0].partition_cnt == 0);
         waited += 200) {
      rd_kafka_metadata_destroy(metadata);
      metadata = NULL;
      struct timespec pause = {0, 200 * 1000000L};
      nanosleep(&pause, NULL);
      rerr = rd_kafka_metadata(rk, 0, topic, &metadata, 10000);
    }
    if (rerr || metadata->topic_cnt != 1 || metadata->topics[0].err ||
        metadata->topics[0].partition_cnt == 0) {
      snprintf(errbuf, errbuf_len, "kafka: no partitions of %s: %s", topics->elems[i].topic,
               rd_kafka_err2str(rerr ? rerr : metadata->topics[0].err));
      err = CHAT_ERR_KAFKA;
    } else {
      int count = metadata->topics[0].partition_cnt;
      for (int32_t p = 0; p < count && err == CHAT_OK; p++) {
        int64_t low = 0, high = 0;
        rd_kafka_resp_err_t werr = rd_kafka_query_watermark_offsets(
            rk, topics->elems[i].topic, p, &low, &high, WATERMARK_WAIT_MS);
        /* A new topic's partitions may have no leader yet ("Not leader
         * for partition"): asked again, as the metadata above. */
        for (int waited = 0; waited < METADATA_WAIT_MS &&
                             (werr == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                              werr == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                              werr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
             waited += 200) {
          struct timespec pause = {0, 200 * 1000000L};
          nanosleep(&pause, NULL);
          werr = rd_kafka_query_watermark_offsets(rk, topics->elems[i].topic, p, &low, &high,
                                                  WATERMARK_WAIT_MS);
        }
        if (werr) {
          snprintf(errbuf, errbuf_len, "kafka: no high watermark of %s[%d]: %s",
                   topics->elems[i].topic, (int)p, rd_kafka_err2str(werr));
          err = CHAT_ERR_KAFKA;
          break;
        }
        rd_kafka_topic_partition_list_add(assignment, topics->elems[i].topic, p)->offset = high;
        if (i == 0 && (size_t)p < START_PARTITIONS_MAX) {
          consumer->start_offsets[p] = high;
          consumer->start_count = (size_t)p + 1;
        }
      }
      if (i == 0)
        snprintf(consumer->first_topic, sizeof consumer->first_topic, "%s",
                 topics->elems[i].topic);
    }
    if (metadata)
      rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(topic);
  }
  if (err == CHAT_OK && rd_kafka_assign(rk, assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    snprintf(errbuf, errbuf_len, "kafka: cannot assign the partitions");
    err = CHAT_ERR_KAFKA;
  }
  rd_kafka_topic_partition_list_destroy(assignment);
  return err;
}

/* librdkafka's syslog levels to ours. Its errors (a broker connection that
 * failed) come again through the error callback, and whatever matters to
 * us is logged by our own code, so its lines stay at warn and below. */
static chat_log_level_t level_from_syslog(int level) {
  if (level <= 4)
    return CHAT_LOG_WARN;
  if (level <= 6)
    return CHAT_LOG_INFO;
  return CHAT_LOG_DEBUG;
}

static void on_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  /* CHAT_KAFKA_CONFIG goes to producers and consumers alike: a property
   * of the other kind is expected there, and ignored. */
  if (strcmp(fac, "CONFWARN") == 0 &&
      (strstr(buf, "is a consumer property") || strstr(buf, "is a producer property")))
    level = 7;
  /* While a broker starts, the idempotent producer's first InitProducerId
   * meets "Coordinator load in progress" and librdkafka retries until the
   * coordinator is up: harmless, and said once per start of every
   * service. A producer that never gets its id fails its deliveries, which
   * is logged and counted (chat_kafka_produce_errors_total). */
  if (strcmp(fac, "GETPID") == 0 && strstr(buf, "retrying"))
    level = 7;
  CHAT_LOG(level_from_syslog(level), "librdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

static void on_rdkafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)opaque;
  /* Brokers going away are expected while the cluster restarts; a fatal
   * error (the idempotent producer lost its guarantees) is not. */
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char fatal[512];
    rd_kafka_fatal_error(rk, fatal, sizeof fatal);
    CHAT_LOG(CHAT_LOG_ERROR, "kafka fatal error on %s: %s", rd_kafka_name(rk), fatal);
  } else {
    CHAT_LOG(CHAT_LOG_WARN, "kafka %s: %s: %s", rd_kafka_name(rk),
             rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
  }
}

/* Applies "k=v,k=v" from CHAT_KAFKA_CONFIG after our own settings, so an
 * operator can add security settings or tune anything. */
static chat_err_t apply_settings(rd_kafka_conf_t *conf, const char *const *pairs, const char *extra,
                                 char *errbuf, size_t errbuf_len) {
  char errstr[256];
  for (size_t i = 0; pairs[i]; i += 2) {
    if (rd_kafka_conf_set(conf, pairs[i], pairs[i + 1], errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      snprintf(errbuf, errbuf_len, "kafka setting %s: %s", pairs[i], errstr);
      return CHAT_ERR_CONFIG;
    }
  }
  if (!extra || !extra[0])
    return CHAT_OK;
  char *copy = strdup(extra), *save = NULL;
  chat_err_t err = CHAT_OK;
  if (!copy)
    return CHAT_ERR_NOMEM;
  for (char *pair = strtok_r(copy, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(pair, '=');
    if (!eq) {
      snprintf(errbuf, errbuf_len, "CHAT_KAFKA_CONFIG: '%s' is not key=value", pair);
      err = CHAT_ERR_CONFIG;
      break;
    }
    *eq = '\0';
    if (rd_kafka_conf_set(conf, pair, eq + 1, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      snprintf(errbuf, errbuf_len, "CHAT_KAFKA_CONFIG: %s", errstr);
      err = CHAT_ERR_CONFIG;
      break;
    }
  }
  free(copy);
  return err;
}

static void on_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  chat_producer_t *producer = opaque;
  (void)rk;
  const char *topic = rd_kafka_topic_name(msg->rkt);
  if (msg->err) {
    count_produce_error(topic, msg->err);
  } else {
    int64_t latency_us = rd_kafka_message_latency(msg);
    if (latency_us >= 0)
      chat_histogram_observe(latency_series(producer, topic), (double)latency_us / 1e6);
  }
  if (!producer->on_delivery)
    return;
  producer->on_delivery(producer->ctx, (uint64_t)(uintptr_t)msg->_private,
                        msg->err ? CHAT_ERR_KAFKA : CHAT_OK,
                        msg->err ? rd_kafka_err2str(msg->err) : NULL, msg->partition, msg->offset);
}

static void *producer_poll_main(void *arg) {
  chat_producer_t *producer = arg;
  while (!atomic_load(&producer->stop))
    rd_kafka_poll(producer->rk, PRODUCER_POLL_MS);
  return NULL;
}

chat_err_t chat_producer_create(const chat_config_t *cfg, const char *client_id,
                                chat_delivery_fn on_delivery, void *ctx, chat_producer_t **out,
                                char *errbuf, size_t errbuf_len) {
  return chat_producer_create_lingering(cfg, client_id, PRODUCER_LINGER_MS, on_delivery, ctx, out,
                                        errbuf, errbuf_len);
}

chat_err_t chat_producer_create_lingering(const chat_config_t *cfg, const char *client_id,
                                          int linger_ms, chat_delivery_fn on_delivery, void *ctx,
                                          chat_producer_t **out, char *errbuf, size_t errbuf_len) {
  char linger[16];
  snprintf(linger, sizeof linger, "%d", linger_ms > 0 ? linger_ms : PRODUCER_LINGER_MS);
  const char *const settings[] = {"bootstrap.servers",
                                  cfg->kafka_brokers,
                                  "client.id",
                                  client_id,
                                  "enable.idempotence",
                                  "true",
                                  "acks",
                                  "all",
                                  "linger.ms",
                                  linger,
                                  "message.timeout.ms",
                                  PRODUCER_DELIVERY_TIMEOUT_MS,
                                  NULL};
  char errstr[512];
  chat_producer_t *producer = calloc(1, sizeof *producer);
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  chat_err_t err;

  if (producer)
    pthread_mutex_init(&producer->slots_lock, NULL);
  if (!producer || !conf) {
    err = CHAT_ERR_NOMEM;
    goto out;
  }
  pthread_once(&metrics_once, metrics_register);
  err = apply_settings(conf, settings, cfg->kafka_config, errbuf, errbuf_len);
  if (err != CHAT_OK)
    goto out;
  producer->on_delivery = on_delivery;
  producer->ctx = ctx;
  rd_kafka_conf_set_opaque(conf, producer);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery_report);
  rd_kafka_conf_set_log_cb(conf, on_rdkafka_log);
  rd_kafka_conf_set_error_cb(conf, on_rdkafka_error);
  producer->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!producer->rk) {
    snprintf(errbuf, errbuf_len, "kafka producer: %s", errstr);
    err = CHAT_ERR_CONFIG;
    goto out;
  }
  conf = NULL; /* owned by producer->rk now */
  if (pthread_create(&producer->poll_thread, NULL, producer_poll_main, producer) != 0) {
    snprintf(errbuf, errbuf_len, "kafka producer: cannot start its poll thread");
    err = CHAT_ERR_INTERNAL;
    goto out;
  }
  *out = producer;
  producer = NULL; /* handed to the caller */
  err = CHAT_OK;
out:
  if (conf)
    rd_kafka_conf_destroy(conf);
  if (producer) {
    if (producer->rk)
      rd_kafka_destroy(producer->rk);
    pthread_mutex_destroy(&producer->slots_lock);
    free(producer);
  }
  return err;
}

/* A record kept by a hold (chat_producer_hold), with copies of its parts. */
typedef struct held_record {
  char *topic;
  void *key, *value;
  size_t key_len, value_len;
  rd_kafka_headers_t *headers;
  uint64_t request_id;
} held_record_t;

struct chat_producer_hold {
  chat_producer_t *producer;
  held_record_t *records;
  size_t count, capacity;
  bool out_of_memory; /* a record could not be kept: hold_end sends none */
};

static _Thread_local chat_producer_hold_t *thread_hold;

static rd_kafka_headers_t *make_headers(const chat_kafka_header_t *headers, size_t header_count) {
  rd_kafka_headers_t *hdrs = header_count ? rd_kafka_headers_new(header_count) : NULL;
  for (size_t i = 0; i < header_count; i++)
    rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value, (ssize_t)headers[i].value_len);
  return hdrs;
}

static chat_err_t produce_error(const char *topic, rd_kafka_resp_err_t rerr) {
  count_produce_error(topic, rerr);
  CHAT_LOG(CHAT_LOG_WARN, "kafka produce to %s failed: %s", topic, rd_kafka_err2str(rerr));
  switch (rerr) {
  case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    return CHAT_ERR_UNAVAILABLE;
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    return CHAT_ERR_TOO_LARGE;
  default:
    return CHAT_ERR_KAFKA;
  }
}

static void keep_record(chat_producer_hold_t *hold, const char *topic, const void *key,
                        size_t key_len, const void *value, size_t value_len,
                        const chat_kafka_header_t *headers, size_t header_count,
                        uint64_t request_id) {
  if (hold->out_of_memory)
    return;
  if (hold->count == hold->capacity) {
    size_t capacity = hold->capacity ? hold->capacity * 2 : 64;
    held_record_t *grown = realloc(hold->records, capacity * sizeof *grown);
    if (!grown) {
      hold->out_of_memory = true;
      return;
    }
    hold->records = grown;
    hold->capacity = capacity;
  }
  held_record_t *r = &hold->records[hold->count];
  *r = (held_record_t){.topic = strdup(topic),
                       .key = malloc(key_len ? key_len : 1),
                       .value = malloc(value_len ? value_len : 1),
                       .key_len = key_len,
                       .value_len = value_len,
                       .headers = make_headers(headers, header_count),
                       .request_id = request_id};
  if (!r->topic || !r->key || !r->value || (header_count && !r->headers)) {
    free(r->topic);
    free(r->key);
    free(r->value);
    if (r->headers)
      rd_kafka_headers_destroy(r->headers);
    hold->out_of_memory = true;
    return;
  }
  if (key_len)
    memcpy(r->key, key, key_len);
  if (value_len)
    memcpy(r->value, value, value_len);
  hold->count++;
}

chat_producer_hold_t *chat_producer_hold(chat_producer_t *producer) {
  if (thread_hold)
    return NULL;
  chat_producer_hold_t *hold = calloc(1, sizeof *hold);
  if (hold) {
    hold->producer = producer;
    thread_hold = hold;
  }
  return hold;
}

chat_err_t chat_producer_hold_end(chat_producer_hold_t *hold, bool send) {
  if (!hold)
    return CHAT_ERR_NOMEM;
  if (thread_hold == hold)
    thread_hold = NULL;
  chat_err_t err = hold->out_of_memory && send ? CHAT_ERR_NOMEM : CHAT_OK;
  for (size_t i = 0; i < hold->count; i++) {
    held_record_t *r = &hold->records[i];
    if (send && err == CHAT_OK) {
      /* The value goes over as it is (F_FREE: librdkafka frees it), the
       * headers too once accepted; the key is copied. */
      rd_kafka_resp_err_t rerr = rd_kafka_producev(
          hold->producer->rk, RD_KAFKA_V_TOPIC(r->topic), RD_KAFKA_V_KEY(r->key, r->key_len),
          RD_KAFKA_V_VALUE(r->value, r->value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
          RD_KAFKA_V_HEADERS(r->headers), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)r->request_id),
          RD_KAFKA_V_END);
      if (rerr == RD_KAFKA_RESP_ERR_NO_ERROR) {
        r->value = NULL;
        r->headers = NULL;
      } else {
        err = produce_error(r->topic, rerr);
      }
    }
    free(r->topic);
    free(r->key);
    free(r->value);
    if (r->headers)
      rd_kafka_headers_destroy(r->headers);
  }
  free(hold->records);
  free(hold);
  return err;
}

chat_err_t chat_producer_produce(chat_producer_t *producer, const char *topic, const void *key,
                                 size_t key_len, const void *value, size_t value_len,
                                 const chat_kafka_header_t *headers, size_t header_count,
                                 uint64_t request_id) {
  if (thread_hold && thread_hold->producer == producer) {
    keep_record(thread_hold, topic, key, key_len, value, value_len, headers, header_count,
                request_id);
    return CHAT_OK;
  }
  rd_kafka_headers_t *hdrs = make_headers(headers, header_count);
  rd_kafka_resp_err_t rerr = rd_kafka_producev(
      producer->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
      RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)request_id), RD_KAFKA_V_END);
  if (rerr == RD_KAFKA_RESP_ERR_NO_ERROR)
    return CHAT_OK; /* hdrs now belong to the record */
  if (hdrs)
    rd_kafka_headers_destroy(hdrs);
  return produce_error(topic, rerr);
}

/* rd_kafka_flush waits for the last delivery reports in rd_kafka_poll, up
 * to 10 ms a wait; when the poll thread (producer_poll_main) takes a report
 * first, that wait runs its whole 10 ms on an empty queue. Persistence
 * waits so after every batch, and its median wait was 11 ms for a Kafka
 * round trip of 2 to 7. So the flush goes in slices of 1 ms, each of which
 * also tells the broker threads to send what lingers. */
#define FLUSH_SLICE_MS 1

chat_err_t chat_producer_flush(chat_producer_t *producer, int timeout_ms) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t deadline_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 + timeout_ms;
  for (;;) {
    if (rd_kafka_flush(producer->rk, FLUSH_SLICE_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
      return CHAT_OK;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 >= deadline_ms)
      return CHAT_ERR_TIMEOUT;
  }
}

chat_err_t chat_producer_ping(chat_producer_t *producer, int timeout_ms) {
  const struct rd_kafka_metadata *metadata = NULL;
  rd_kafka_resp_err_t rerr = rd_kafka_metadata(producer->rk, 0, NULL, &metadata, timeout_ms);
  if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR)
    return CHAT_ERR_UNAVAILABLE;
  int brokers = metadata->broker_cnt;
  rd_kafka_metadata_destroy(metadata);
  return brokers > 0 ? CHAT_OK : CHAT_ERR_UNAVAILABLE;
}

chat_err_t chat_kafka_ensure_topics(chat_producer_t *producer, const chat_config_t *cfg,
                                    int timeout_ms, char *errbuf, size_t errbuf_len) {
  rd_kafka_NewTopic_t *new_topics[CHAT_TOPIC_COUNT] = {0};
  rd_kafka_AdminOptions_t *options = NULL;
  rd_kafka_queue_t *queue = rd_kafka_queue_new(producer->rk);
  rd_kafka_event_t *event = NULL;
  char errstr[256];
  chat_err_t err = CHAT_OK;

  for (int i = 0; i < CHAT_TOPIC_COUNT; i++) {
    char name[CHAT_TOPIC_NAME_MAX];
    chat_topic_name(cfg->topic_prefix, (chat_topic_t)i, name, sizeof name);
    new_topics[i] = rd_kafka_NewTopic_new(name, cfg->topic_partitions, cfg->topic_replication,
                                          errstr, sizeof errstr);
    if (!new_topics[i]) {
      snprintf(errbuf, errbuf_len, "topic %s: %s", name, errstr);
      err = CHAT_ERR_CONFIG;
      goto out;
    }
    rd_kafka_NewTopic_set_config(new_topics[i], "retention.ms",
                                 chat_topic_retention_ms((chat_topic_t)i));
  }
  options = rd_kafka_AdminOptions_new(producer->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, errstr, sizeof errstr);
  rd_kafka_CreateTopics(producer->rk, new_topics, CHAT_TOPIC_COUNT, options, queue);

  /* The admin request has its own timeout; wait a little longer for it. */
  event = rd_kafka_queue_poll(queue, timeout_ms + 1000);
  if (!event) {
    snprintf(errbuf, errbuf_len, "no answer to CreateTopics within %d ms", timeout_ms);
    err = CHAT_ERR_UNAVAILABLE;
    goto out;
  }
  if (rd_kafka_event_error(event)) {
    snprintf(errbuf, errbuf_len, "CreateTopics: %s", rd_kafka_event_error_string(event));
    err = rd_kafka_event_error(event) == RD_KAFKA_RESP_ERR__TIMED_OUT ? CHAT_ERR_UNAVAILABLE
                                                                      : CHAT_ERR_KAFKA;
    goto out;
  }
  size_t count = 0;
  const rd_kafka_topic_result_t **results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
  for (size_t i = 0; i < count; i++) {
    rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(results[i]);
    if (terr == RD_KAFKA_RESP_ERR_NO_ERROR || terr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      continue;
    snprintf(errbuf, errbuf_len, "topic %s: %s", rd_kafka_topic_result_name(results[i]),
             rd_kafka_topic_result_error_string(results[i]));
    err = terr == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ? CHAT_ERR_UNAVAILABLE : CHAT_ERR_KAFKA;
    goto out;
  }
out:
  if (event)
    rd_kafka_event_destroy(event);
  if (options)
    rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy_array(new_topics, CHAT_TOPIC_COUNT);
  rd_kafka_queue_destroy(queue);
  return err;
}

void chat_producer_destroy(chat_producer_t **producer_ptr, int timeout_ms) {
  chat_producer_t *producer = producer_ptr ? *producer_ptr : NULL;
  if (!producer)
    return;
  /* Stop the poll thread first: flush serves the last delivery reports on
   * this thread, so no report races with the teardown below. */
  atomic_store(&producer->stop, true);
  pthread_join(producer->poll_thread, NULL);
  if (rd_kafka_flush(producer->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
    CHAT_LOG(CHAT_LOG_ERROR, "kafka producer closed with %d records undelivered",
             rd_kafka_outq_len(producer->rk));
  rd_kafka_destroy(producer->rk);
  pthread_mutex_destroy(&producer->slots_lock);
  free(producer);
  *producer_ptr = NULL;
}

/* The series of metric for a topic and partition. */
static chat_series_t *partition_series(chat_metric_t *metric,
                                       const rd_kafka_topic_partition_t *part) {
  char partition[16];
  snprintf(partition, sizeof partition, "%d", (int)part->partition);
  return CHAT_SERIES(metric, part->topic, partition);
}

/* Moves the committed gauges to the offsets a commit just took. */
static void apply_pending(chat_consumer_t *consumer) {
  for (size_t i = 0; i < consumer->pending_count; i++)
    chat_gauge_set(consumer->pending[i].committed, (double)consumer->pending[i].next_offset);
  consumer->pending_count = 0;
}

/* Commits what was processed before partitions move to another member, so
 * the new owner does not redo it; then hands the partitions over. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions, void *opaque) {
  bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  chat_consumer_t *consumer = opaque;
  if (consumer && consumer->assignment_changes)
    atomic_fetch_add(consumer->assignment_changes, 1);
  if (consumer) { /* what it handled of partitions it owned is the committed offset's now */
    pthread_mutex_lock(&consumer->handled_lock);
    consumer->handled_count = 0;
    pthread_mutex_unlock(&consumer->handled_lock);
  }
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    CHAT_LOG(CHAT_LOG_INFO, "kafka %s assigned %d partitions", rd_kafka_name(rk), partitions->cnt);
    if (cooperative)
      rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, partitions));
    else
      rd_kafka_assign(rk, partitions);
    return;
  }
  CHAT_LOG(CHAT_LOG_INFO, "kafka %s revoked %d partitions (%s)", rd_kafka_name(rk), partitions->cnt,
           rd_kafka_err2name(err));
  if (consumer && consumer->before_revoke)
    consumer->before_revoke(consumer->revoke_ctx);
  rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
  if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
    CHAT_LOG(CHAT_LOG_WARN, "kafka commit on revoke failed: %s", rd_kafka_err2str(cerr));
  if (consumer) {
    if (!cerr)
      apply_pending(consumer);
    consumer->pending_count = 0;
    /* What another member owns now is its to report. */
    for (int i = 0; i < partitions->cnt; i++)
      chat_gauge_retire(partition_series(metrics.committed, &partitions->elems[i]));
  }
  if (cooperative)
    rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, partitions));
  else
    rd_kafka_assign(rk, NULL);
}

chat_err_t chat_consumer_create(const chat_config_t *cfg, const char *group_id,
                                const char *client_id, const chat_topic_t *topics,
                                size_t topic_count, const chat_consumer_options_t *opts,
                                chat_consumer_t **out, char *errbuf, size_t errbuf_len) {
  const char *const settings[] = {"bootstrap.servers",
                                  cfg->kafka_brokers,
                                  "group.id",
                                  group_id,
                                  "client.id",
                                  client_id,
                                  "enable.auto.commit",
                                  "false",
                                  "enable.auto.offset.store",
                                  "false",
                                  "auto.offset.reset",
                                  opts && opts->from_latest ? "latest" : "earliest",
                                  NULL};
  char errstr[512];
  chat_consumer_t *consumer = calloc(1, sizeof *consumer);
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_topic_partition_list_t *subscription = NULL;
  chat_err_t err;

  if (!consumer || !conf) {
    err = CHAT_ERR_NOMEM;
    goto out;
  }
  pthread_once(&metrics_once, metrics_register);
  pthread_mutex_init(&consumer->handled_lock, NULL);
  consumer->from_latest = opts && opts->from_latest;
  err = apply_settings(conf, settings, cfg->kafka_config, errbuf, errbuf_len);
  if (err != CHAT_OK)
    goto out;
  rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  rd_kafka_conf_set_opaque(conf, consumer);
  consumer->assignment_changes = opts ? opts->assignment_changes : NULL;
  consumer->before_revoke = opts ? opts->before_revoke : NULL;
  consumer->revoke_ctx = opts ? opts->revoke_ctx : NULL;
  rd_kafka_conf_set_log_cb(conf, on_rdkafka_log);
  rd_kafka_conf_set_error_cb(conf, on_rdkafka_error);
  consumer->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!consumer->rk) {
    snprintf(errbuf, errbuf_len, "kafka consumer: %s", errstr);
    err = CHAT_ERR_CONFIG;
    goto out;
  }
  conf = NULL; /* owned by consumer->rk now */
  rd_kafka_poll_set_consumer(consumer->rk);

  subscription = rd_kafka_topic_partition_list_new((int)topic_count);
  for (size_t i = 0; i < topic_count; i++) {
    char name[CHAT_TOPIC_NAME_MAX];
    chat_topic_name(cfg->topic_prefix, topics[i], name, sizeof name);
    rd_kafka_topic_partition_list_add(subscription, name, RD_KAFKA_PARTITION_UA);
  }
  if (opts && opts->all_partitions_from_end) {
    consumer->assigned = true;
    err = assign_all_from_end(consumer, subscription, errbuf, errbuf_len);
    if (err != CHAT_OK)
      goto out;
    if (opts->on_started)
      opts->on_started(opts->started_ctx, consumer->start_offsets, consumer->start_count);
  } else {
    rd_kafka_resp_err_t rerr = rd_kafka_subscribe(consumer->rk, subscription);
    if (rerr) {
      snprintf(errbuf, errbuf_len, "kafka subscribe: %s", rd_kafka_err2str(rerr));
      err = CHAT_ERR_KAFKA;
      goto out;
    }
  }
  pthread_mutex_lock(&live_lock);
  consumer->next_live = live_consumers;
  live_consumers = consumer;
  pthread_mutex_unlock(&live_lock);
  *out = consumer;
  consumer = NULL; /* handed to the caller */
  err = CHAT_OK;
out:
  if (subscription)
    rd_kafka_topic_partition_list_destroy(subscription);
  if (conf)
    rd_kafka_conf_destroy(conf);
  if (consumer) {
    if (consumer->rk)
      rd_kafka_destroy(consumer->rk);
    free(consumer);
  }
  return err;
}

chat_err_t chat_consumer_poll(chat_consumer_t *consumer, int timeout_ms, chat_record_t *record) {
  memset(record, 0, sizeof *record);
  rd_kafka_message_t *msg = rd_kafka_consumer_poll(consumer->rk, timeout_ms);
  if (!msg)
    return CHAT_ERR_TIMEOUT;
  if (msg->err) {
    chat_err_t err =
        msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ? CHAT_ERR_TIMEOUT : CHAT_ERR_KAFKA;
    if (err == CHAT_ERR_KAFKA)
      CHAT_LOG(CHAT_LOG_WARN, "kafka consumer %s: %s", rd_kafka_name(consumer->rk),
               rd_kafka_message_errstr(msg));
    rd_kafka_message_destroy(msg); /* error messages are destroyed too */
    return err;
  }
  record->topic = rd_kafka_topic_name(msg->rkt);
  record->partition = msg->partition;
  record->offset = msg->offset;
  record->key = msg->key;
  record->key_len = msg->key_len;
  record->value = msg->payload;
  record->value_len = msg->len;
  record->timestamp_ms = rd_kafka_message_timestamp(msg, NULL);
  record->impl_ = msg;
  return CHAT_OK;
}

size_t chat_consumer_start_offsets(const chat_consumer_t *consumer, int64_t *out, size_t cap) {
  size_t n = consumer->start_count < cap ? consumer->start_count : cap;
  memcpy(out, consumer->start_offsets, n * sizeof *out);
  return consumer->start_count;
}

chat_err_t chat_consumer_seek_all(chat_consumer_t *consumer, const int64_t *from, size_t count) {
  if (!consumer->assigned || count != consumer->start_count)
    return CHAT_ERR_INVALID;
  rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new((int)count);
  for (size_t p = 0; p < count; p++)
    rd_kafka_topic_partition_list_add(assignment, consumer->first_topic, (int32_t)p)->offset =
        from[p];
  rd_kafka_resp_err_t rerr = rd_kafka_assign(consumer->rk, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  if (rerr) {
    CHAT_LOG(CHAT_LOG_WARN, "kafka consumer %s: cannot assign %s at given offsets: %s",
             rd_kafka_name(consumer->rk), consumer->first_topic, rd_kafka_err2str(rerr));
    return CHAT_ERR_KAFKA;
  }
  return CHAT_OK;
}

bool chat_record_header(const chat_record_t *record, const char *name, const char **value,
                        size_t *value_len) {
  rd_kafka_headers_t *headers = NULL;
  const void *found = NULL;
  if (!record->impl_ || rd_kafka_message_headers(record->impl_, &headers) != 0)
    return false;
  if (rd_kafka_header_get_last(headers, name, &found, value_len) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;
  *value = found;
  return true;
}

void chat_record_release(chat_record_t *record) {
  if (record && record->impl_) {
    rd_kafka_message_destroy(record->impl_);
    memset(record, 0, sizeof *record);
  }
}

/* Notes record's partition and next offset for the committed gauge. A
 * batch's records mostly come partition after partition, so the series of
 * the previous one is tried first; past CONSUMER_PENDING_MAX partitions
 * in one commit the rest wait for a later one. */
static void remember_pending(chat_consumer_t *consumer, const chat_record_t *record) {
  if (!consumer->last_series || consumer->last_partition != record->partition ||
      strcmp(consumer->last_topic, record->topic) != 0) {
    const rd_kafka_topic_partition_t part = {.topic = (char *)record->topic,
                                             .partition = record->partition};
    consumer->last_series = partition_series(metrics.committed, &part);
    consumer->last_partition = record->partition;
    snprintf(consumer->last_topic, sizeof consumer->last_topic, "%s", record->topic);
  }
  for (size_t i = 0; i < consumer->pending_count; i++) {
    if (consumer->pending[i].committed == consumer->last_series) {
      consumer->pending[i].next_offset = record->offset + 1;
      return;
    }
  }
  if (consumer->pending_count < CONSUMER_PENDING_MAX)
    consumer->pending[consumer->pending_count++] =
        (pending_offset_t){consumer->last_series, record->offset + 1};
}

/* The entry of handled[] for topic and partition, or NULL; the caller
 * holds handled_lock. */
static handled_partition_t *handled_entry(chat_consumer_t *consumer, const char *topic,
                                          int32_t partition) {
  for (size_t i = 0; i < consumer->handled_count; i++) {
    handled_partition_t *at = &consumer->handled[i];
    if (at->partition == partition && !strcmp(at->topic, topic))
      return at;
  }
  return NULL;
}

static void note_handled(chat_consumer_t *consumer, const chat_record_t *record) {
  pthread_mutex_lock(&consumer->handled_lock);
  handled_partition_t *entry = handled_entry(consumer, record->topic, record->partition);
  if (!entry && consumer->handled_count < HANDLED_PARTITIONS_MAX) {
    entry = &consumer->handled[consumer->handled_count++];
    snprintf(entry->topic, sizeof entry->topic, "%s", record->topic);
    entry->partition = record->partition;
    entry->next_offset = 0;
  }
  if (entry && record->offset + 1 > entry->next_offset) {
    entry->next_offset = record->offset + 1;
    entry->newest_ms = record->timestamp_ms;
  }
  pthread_mutex_unlock(&consumer->handled_lock);
}

/* Where the consumer's handling of one owned partition stands: the first
 * record not handled and the timestamp of the last one handled (0: none
 * since the assignment; the committed offset stands for it then). */
static bool handled_position(chat_consumer_t *consumer, const char *topic, int32_t partition,
                             int64_t *next_offset, int64_t *newest_ms) {
  pthread_mutex_lock(&consumer->handled_lock);
  const handled_partition_t *at = handled_entry(consumer, topic, partition);
  bool found = at != NULL;
  if (found) {
    *next_offset = at->next_offset;
    *newest_ms = at->newest_ms;
  }
  pthread_mutex_unlock(&consumer->handled_lock);
  if (found)
    return true;
  rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(one, topic, partition);
  bool known = rd_kafka_committed(consumer->rk, one, COMMITTED_WAIT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
               one->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR;
  *next_offset = known ? one->elems[0].offset : -1;
  *newest_ms = 0;
  rd_kafka_topic_partition_list_destroy(one);
  return known;
}

int64_t chat_consumer_handled_until(chat_consumer_t *consumer, const char *topic,
                                    int32_t partition, int64_t now_ms) {
  rd_kafka_topic_partition_list_t *parts = NULL;
  if (consumer->assigned || rd_kafka_assignment(consumer->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      !parts)
    return 0;
  int64_t until = 0;
  bool owned = false;
  for (int i = 0; i < parts->cnt; i++) {
    const rd_kafka_topic_partition_t *part = &parts->elems[i];
    if (strcmp(part->topic, topic) || (partition >= 0 && part->partition != partition))
      continue;
    owned = true;
    int64_t low = -1, high = -1, next = -1, newest = 0;
    if (rd_kafka_get_watermark_offsets(consumer->rk, topic, part->partition, &low, &high) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0 || !handled_position(consumer, topic, part->partition, &next, &newest)) {
      until = 0; /* nothing fetched yet, or the broker did not say: cannot tell */
      break;
    }
    if (next < 0) /* nothing committed: reading starts at one end */
      next = consumer->from_latest ? high : low;
    int64_t here = next >= high ? now_ms : newest;
    if (!here) {
      until = 0;
      break;
    }
    until = until && until < here ? until : here;
  }
  rd_kafka_topic_partition_list_destroy(parts);
  return owned ? until : 0;
}

chat_err_t chat_consumer_store(chat_consumer_t *consumer, const chat_record_t *record) {
  const rd_kafka_message_t *msg = record->impl_;
  if (consumer->assigned)
    return CHAT_OK; /* no group: nothing is ever committed */
  /* Stores offset + 1: the next record to read after a restart. */
  rd_kafka_resp_err_t rerr = rd_kafka_offset_store(msg->rkt, msg->partition, msg->offset);
  if (rerr) {
    CHAT_LOG(CHAT_LOG_WARN, "kafka offset store %s[%d]@%lld: %s", record->topic, record->partition,
             (long long)record->offset, rd_kafka_err2str(rerr));
    return CHAT_ERR_KAFKA;
  }
  remember_pending(consumer, record);
  note_handled(consumer, record);
  return CHAT_OK;
}

chat_err_t chat_consumer_commit(chat_consumer_t *consumer) {
  if (consumer->assigned)
    return CHAT_OK;
  rd_kafka_resp_err_t rerr = rd_kafka_commit(consumer->rk, NULL, 0);
  if (rerr == RD_KAFKA_RESP_ERR_NO_ERROR || rerr == RD_KAFKA_RESP_ERR__NO_OFFSET) {
    apply_pending(consumer);
    return CHAT_OK;
  }
  CHAT_LOG(CHAT_LOG_WARN, "kafka commit failed: %s", rd_kafka_err2str(rerr));
  return CHAT_ERR_KAFKA;
}

void chat_consumer_close(chat_consumer_t **consumer_ptr) {
  chat_consumer_t *consumer = consumer_ptr ? *consumer_ptr : NULL;
  if (!consumer)
    return;
  /* Out of the lag hook's list first: once unlinked, no scrape uses it. */
  pthread_mutex_lock(&live_lock);
  for (chat_consumer_t **link = &live_consumers; *link; link = &(*link)->next_live) {
    if (*link == consumer) {
      *link = consumer->next_live;
      break;
    }
  }
  pthread_mutex_unlock(&live_lock);
  chat_consumer_commit(consumer);
  rd_kafka_resp_err_t rerr = rd_kafka_consumer_close(consumer->rk);
  if (rerr)
    CHAT_LOG(CHAT_LOG_WARN, "kafka consumer close: %s", rd_kafka_err2str(rerr));
  rd_kafka_destroy(consumer->rk);
  pthread_mutex_destroy(&consumer->handled_lock);
  free(consumer);
  *consumer_ptr = NULL;
}
