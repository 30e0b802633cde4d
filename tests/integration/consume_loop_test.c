/* The runtime's consume loop (chat_runtime_consume) against the real
 * broker: a batch's offsets move only once what it produced is delivered;
 * when a delivery fails, the batch is handled again before the next one,
 * and every record ends up committed. */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/runtime.h"
#include "stack.h"

static void teardown(void) { stack_kill_all(); }

TestSuite(consume_loop, .fini = teardown, .timeout = 180);

#define RECORDS 10
#define FAILING_OFFSET 3 /* its first handling produces what the broker refuses */
#define SMALL_TOPIC_MAX_BYTES 2000
#define HANDLED_MAX 64

typedef struct loop_test {
  chat_runtime_t *rt;
  char small_topic[CHAT_TOPIC_NAME_MAX];
  char group[CHAT_TOPIC_NAME_MAX];
  int64_t handled[HANDLED_MAX]; /* the offsets, in the order handled */
  _Atomic size_t handled_count;
  bool failed_once;
} loop_test_t;

/* A topic whose records may be at most SMALL_TOPIC_MAX_BYTES: a bigger
 * one is refused by the broker, so its delivery report is a failure. */
static void create_small_topic(const char *brokers, const char *name) {
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr),
               RD_KAFKA_CONF_OK);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  cr_assert(rk, "%s", errstr);
  rd_kafka_NewTopic_t *topic = rd_kafka_NewTopic_new(name, 1, 1, errstr, sizeof errstr);
  char max_bytes[16];
  snprintf(max_bytes, sizeof max_bytes, "%d", SMALL_TOPIC_MAX_BYTES);
  rd_kafka_NewTopic_set_config(topic, "max.message.bytes", max_bytes);
  rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &topic, 1, NULL, queue);
  rd_kafka_event_t *event = rd_kafka_queue_poll(queue, 20000);
  cr_assert(event, "CreateTopics did not answer");
  size_t count = 0;
  const rd_kafka_topic_result_t **results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
  cr_assert_eq(count, 1);
  cr_assert_eq(rd_kafka_topic_result_error(results[0]), RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
               rd_kafka_topic_result_error_string(results[0]));
  rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(topic);
  rd_kafka_destroy(rk);
}

/* Records each record's offset, and produces for each one: a record the
 * small topic takes, or, the first time FAILING_OFFSET comes, one it
 * refuses. */
static chat_err_t handle(void *ctx, const chat_record_t *records, size_t count) {
  loop_test_t *t = ctx;
  static char big[3 * SMALL_TOPIC_MAX_BYTES];
  memset(big, 'x', sizeof big);
  for (size_t i = 0; i < count; i++) {
    size_t at = atomic_load(&t->handled_count);
    if (at < HANDLED_MAX) {
      t->handled[at] = records[i].offset;
      atomic_store(&t->handled_count, at + 1);
    }
    bool refused = records[i].offset == FAILING_OFFSET && !t->failed_once;
    if (refused)
      t->failed_once = true;
    chat_err_t err = chat_producer_produce(chat_runtime_producer(t->rt), t->small_topic, "k", 1,
                                           refused ? big : "small", refused ? sizeof big : 5,
                                           NULL, 0, 0);
    if (err != CHAT_OK)
      return err;
  }
  return CHAT_OK;
}

static void *consume_main(void *arg) {
  loop_test_t *t = arg;
  const chat_topic_t topics[] = {CHAT_TOPIC_COMMANDS};
  chat_runtime_consume(t->rt, t->group, topics, 1, NULL, 1, handle, t);
  return NULL;
}

static bool has_handled(loop_test_t *t, int64_t offset, size_t times) {
  size_t seen = 0, count = atomic_load(&t->handled_count);
  for (size_t i = 0; i < count; i++)
    seen += t->handled[i] == offset;
  return seen >= times;
}

Test(consume_loop, a_failed_delivery_handles_its_batch_again_before_the_next) {
  char prefix[64], port[16], db[80];
  stack_unique_name("cl", prefix, sizeof prefix);
  snprintf(port, sizeof port, "%d", stack_free_port());
  snprintf(db, sizeof db, "%sdb", prefix);
  setenv("CHAT_KAFKA_BROKERS", stack_kafka_brokers(), 1);
  setenv("CHAT_MONGO_URI", stack_mongo_uri(), 1);
  setenv("CHAT_MONGO_DB", db, 1);
  setenv("CHAT_TOPIC_PREFIX", prefix, 1);
  setenv("CHAT_TOPIC_PARTITIONS", "1", 1);
  setenv("CHAT_HEALTH_PORT", port, 1);
  setenv("CHAT_LOG_LEVEL", "warn", 1);
  static loop_test_t t;
  cr_assert_eq(chat_runtime_start(&(chat_runtime_options_t){.service = CHAT_SERVICE_PERSISTENCE},
                                  &t.rt),
               CHAT_OK);
  const chat_config_t *cfg = chat_runtime_config(t.rt);
  snprintf(t.small_topic, sizeof t.small_topic, "%ssmall", prefix);
  snprintf(t.group, sizeof t.group, "%sloop", prefix);
  create_small_topic(cfg->kafka_brokers, t.small_topic);

  char commands[CHAT_TOPIC_NAME_MAX];
  chat_topic_name(prefix, CHAT_TOPIC_COMMANDS, commands, sizeof commands);
  chat_producer_t *producer = chat_runtime_producer(t.rt);
  for (int i = 0; i < RECORDS; i++)
    cr_assert_eq(chat_producer_produce(producer, commands, "k", 1, "command", 7, NULL, 0, 0),
                 CHAT_OK);
  cr_assert_eq(chat_producer_flush(producer, 20000), CHAT_OK);

  pthread_t consumer;
  cr_assert_eq(pthread_create(&consumer, NULL, consume_main, &t), 0);
  long long deadline = stack_now_ms() + 60000;
  while (!has_handled(&t, RECORDS - 1, 1) && stack_now_ms() < deadline) {
    struct timespec step = {0, 50 * 1000000L};
    nanosleep(&step, NULL);
  }
  struct timespec settle = {1, 0}; /* the last batch settles, the stream pauses: committed */
  nanosleep(&settle, NULL);
  chat_runtime_request_stop(t.rt);
  pthread_join(consumer, NULL);

  /* 0 1 2 3 | 3 | 4 ... 9: the batch whose delivery failed (3) is handled
   * again, and only then the next. */
  const int64_t expected[] = {0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9};
  size_t count = atomic_load(&t.handled_count);
  char seen[512] = "";
  for (size_t i = 0; i < count; i++)
    snprintf(seen + strlen(seen), sizeof seen - strlen(seen), " %lld", (long long)t.handled[i]);
  cr_assert_eq(count, sizeof expected / sizeof expected[0], "handled:%s", seen);
  for (size_t i = 0; i < count; i++)
    cr_assert_eq(t.handled[i], expected[i], "handled:%s", seen);

  /* Every record is committed: the group's next member reads none. */
  chat_consumer_t *next = NULL;
  char why[512];
  cr_assert_eq(chat_consumer_create(cfg, t.group, "next", (const chat_topic_t[]){CHAT_TOPIC_COMMANDS},
                                    1, NULL, &next, why, sizeof why),
               CHAT_OK, "%s", why);
  chat_record_t record;
  for (long long end = stack_now_ms() + 8000; stack_now_ms() < end;) {
    if (chat_consumer_poll(next, 200, &record) == CHAT_OK)
      cr_assert_fail("the group's next member read offset %lld: it was not committed",
                     (long long)record.offset);
  }
  chat_consumer_close(&next);
  chat_runtime_destroy(&t.rt);
}
