/* A record produced through the common producer by one process is consumed
 * through the common consumer by another, written to MongoDB and read back. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "chat/envelope.h"
#include "chat/kafka.h"
#include "chat/mongo.h"
#include "stack.h"

static void teardown(void) { stack_kill_all(); }

TestSuite(kafka_roundtrip, .fini = teardown, .timeout = 120);

Test(kafka_roundtrip, produced_by_one_process_consumed_stored_and_read_back) {
  char prefix[64], db[64], why[512], group[128];
  chat_config_t cfg;
  stack_unique_name("rt", prefix, sizeof prefix);
  stack_unique_name("rt", db, sizeof db);
  db[strlen(db) - 1] = '\0'; /* no trailing '_' needed in a database name */
  stack_config(&cfg, prefix, db, NULL);

  chat_producer_t *admin = stack_producer_with_topics(&cfg, "roundtrip-admin");
  /* Again: creating topics that exist is fine. */
  cr_assert_eq(chat_kafka_ensure_topics(admin, &cfg, 20000, why, sizeof why), CHAT_OK, "%s", why);
  chat_producer_destroy(&admin, 1000);

  /* The value is a real envelope, built by the codec. */
  chat_envelope_t sent;
  cr_assert_eq(chat_envelope_init(&sent, "message.send", "gateway/test", NULL), CHAT_OK);
  BSON_APPEND_UTF8(&sent.payload, "clientMsgId", "c-1");
  BSON_APPEND_UTF8(&sent.payload, "content", "hello \"world\" \xc3\xa9");
  bson_string_t *value = bson_string_new(NULL);
  cr_assert_eq(chat_envelope_encode(&sent, value), CHAT_OK);

  char env_brokers[600], env_prefix[128];
  snprintf(env_brokers, sizeof env_brokers, "CHAT_KAFKA_BROKERS=%s", cfg.kafka_brokers);
  snprintf(env_prefix, sizeof env_prefix, "CHAT_TOPIC_PREFIX=%s", prefix);
  char *const env[] = {env_brokers, env_prefix, NULL};
  char *const argv[] = {CHAT_KAFKA_TOOL, "produce", "chat.commands", "conv-1", value->str, NULL};
  int out_fd, status;
  char line[1024];
  pid_t producer_pid = stack_spawn(argv, env, &out_fd);
  cr_assert(stack_read_line(out_fd, line, sizeof line, 60000), "the producer reported nothing");
  cr_assert(strncmp(line, "delivered ", 10) == 0, "producer said: %s", line);
  cr_assert(stack_wait(producer_pid, 30000, &status) && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0);

  snprintf(group, sizeof group, "%sroundtrip", prefix);
  chat_consumer_t *consumer = NULL;
  const chat_topic_t topics[] = {CHAT_TOPIC_COMMANDS};
  cr_assert_eq(
      chat_consumer_create(&cfg, group, "roundtrip", topics, 1, NULL, &consumer, why, sizeof why),
      CHAT_OK, "%s", why);
  chat_record_t record;
  long long deadline = stack_now_ms() + 60000;
  while (chat_consumer_poll(consumer, 500, &record) != CHAT_OK)
    cr_assert(stack_now_ms() < deadline, "no record consumed within 60 s");
  cr_assert_eq(record.key_len, 6);
  cr_assert(memcmp(record.key, "conv-1", 6) == 0);
  chat_envelope_t got;
  cr_assert_eq(chat_envelope_decode(record.value, record.value_len, 1 << 20, &got, why, sizeof why),
               CHAT_OK, "%s", why);
  cr_assert_str_eq(got.id, sent.id);

  chat_mongo_t *mongo = NULL;
  cr_assert_eq(chat_mongo_create(&cfg, "roundtrip", &mongo, why, sizeof why), CHAT_OK, "%s", why);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *collection = chat_mongo_collection(mongo, client, "roundtrip");
  bson_t *doc = BCON_NEW("_id", BCON_UTF8(got.id), "type", BCON_UTF8(got.type), "payload",
                         BCON_DOCUMENT(&got.payload));
  bson_error_t error;
  cr_assert(mongoc_collection_insert_one(collection, doc, NULL, NULL, &error), "%s", error.message);
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(sent.id));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(collection, filter, NULL, NULL);
  const bson_t *found = NULL;
  cr_assert(mongoc_cursor_next(cursor, &found), "the stored record was not found");
  bson_iter_t it;
  cr_assert(bson_iter_init(&it, found) && bson_iter_find_descendant(&it, "payload.content", &it));
  cr_assert_str_eq(bson_iter_utf8(&it, NULL), "hello \"world\" \xc3\xa9");
  cr_assert_eq(chat_consumer_store(consumer, &record), CHAT_OK);
  cr_assert_eq(chat_consumer_commit(consumer), CHAT_OK);

  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  bson_destroy(doc);
  mongoc_collection_drop(collection, NULL);
  mongoc_collection_destroy(collection);
  chat_mongo_release(mongo, client);
  chat_mongo_destroy(&mongo);
  chat_record_release(&record);
  chat_consumer_close(&consumer);
  chat_envelope_cleanup(&got);
  chat_envelope_cleanup(&sent);
  bson_string_free(value, true);
}

/* A consumer of the presence topic in group <prefix><stem>, or the test
 * fails. */
static chat_consumer_t *presence_consumer(const chat_config_t *cfg, const char *prefix,
                                          const char *stem, const char *client_id,
                                          const chat_consumer_options_t *opts) {
  char group[128], why[512];
  snprintf(group, sizeof group, "%s%s", prefix, stem);
  const chat_topic_t topics[] = {CHAT_TOPIC_PRESENCE};
  chat_consumer_t *consumer = NULL;
  cr_assert_eq(chat_consumer_create(cfg, group, client_id, topics, 1, opts, &consumer, why,
                                    sizeof why),
               CHAT_OK, "%s", why);
  return consumer;
}

/* Polls until the consumer returns a record (the caller releases it), or
 * fails the test once deadline (stack_now_ms) has passed. */
static void poll_record(chat_consumer_t *consumer, chat_record_t *record, long long deadline,
                        int index) {
  while (chat_consumer_poll(consumer, 500, record) != CHAT_OK)
    cr_assert(stack_now_ms() < deadline, "record %d not consumed within 60 s", index);
}

/* chat_consumer_handled_until(): the time up to which a consumer has
 * handled a partition is the timestamp of the last record it stored there
 * while records remain (fetched or not), and now once it has stored them
 * all; what it has only polled does not count. Presence judges silent
 * gateways by it (docs/architecture.md, "Presence"). */
Test(kafka_roundtrip, handled_until_follows_what_was_stored_not_what_was_fetched) {
  char prefix[64], topic[CHAT_TOPIC_NAME_MAX];
  chat_config_t cfg;
  stack_unique_name("hu", prefix, sizeof prefix);
  stack_config(&cfg, prefix, "handled_until", NULL);
  chat_producer_t *producer = stack_producer_with_topics(&cfg, "handled-until");
  chat_topic_name(prefix, CHAT_TOPIC_PRESENCE, topic, sizeof topic);
  for (int i = 0; i < 3; i++) { /* one key: one partition, in order, 50 ms apart */
    cr_assert_eq(chat_producer_produce(producer, topic, "gw", 2, "{}", 2, NULL, 0, 0), CHAT_OK);
    cr_assert_eq(chat_producer_flush(producer, 10000), CHAT_OK);
    struct timespec gap = {0, 50 * 1000000L};
    nanosleep(&gap, NULL);
  }

  chat_consumer_t *consumer = presence_consumer(&cfg, prefix, "handled", "handled-until", NULL);
  const int64_t far = 4102444800000; /* a "now" no record can reach: 2100-01-01 */
  chat_record_t records[3];
  long long deadline = stack_now_ms() + 60000;
  for (int i = 0; i < 3; i++)
    poll_record(consumer, &records[i], deadline, i);
  int32_t partition = records[0].partition;
  cr_assert(records[0].timestamp_ms < records[2].timestamp_ms);
  /* All three polled, none stored: nothing handled since the assignment
   * and nothing committed, so reading starts at the earliest record. */
  cr_assert_eq(chat_consumer_handled_until(consumer, topic, partition, far), 0);
  cr_assert_eq(chat_consumer_store(consumer, &records[0]), CHAT_OK);
  cr_assert_eq(chat_consumer_handled_until(consumer, topic, partition, far),
               records[0].timestamp_ms, "polled but not stored counts as not handled");
  cr_assert_eq(chat_consumer_store(consumer, &records[1]), CHAT_OK);
  cr_assert_eq(chat_consumer_store(consumer, &records[2]), CHAT_OK);
  cr_assert_eq(chat_consumer_handled_until(consumer, topic, partition, far), far,
               "every record the broker held is handled: now");
  /* Not its partition (none has that number): cannot tell. */
  cr_assert_eq(chat_consumer_handled_until(consumer, topic, 999, far), 0);
  /* Every owned partition: the others are empty, so now once each has
   * been fetched once. */
  deadline = stack_now_ms() + 10000;
  while (chat_consumer_handled_until(consumer, topic, -1, far) != far) {
    chat_record_t none = {0};
    chat_consumer_poll(consumer, 100, &none);
    chat_record_release(&none);
    cr_assert(stack_now_ms() < deadline, "the empty partitions never counted as read");
  }
  for (int i = 0; i < 3; i++)
    chat_record_release(&records[i]);
  chat_consumer_close(&consumer);
  chat_producer_destroy(&producer, 1000);
}

/* Polls `consumer` (releasing what it returns) until its assignment has
 * changed `changes` times in all, or fails the test after 60 s. */
static void poll_until_changes(chat_consumer_t *consumer, _Atomic uint64_t *counter,
                               uint64_t changes, chat_consumer_t *also) {
  long long deadline = stack_now_ms() + 60000;
  while (atomic_load(counter) < changes) {
    chat_record_t none = {0};
    if (chat_consumer_poll(consumer, 100, &none) == CHAT_OK)
      chat_record_release(&none);
    if (also && chat_consumer_poll(also, 100, &none) == CHAT_OK)
      chat_record_release(&none);
    cr_assert(stack_now_ms() < deadline, "%llu assignment changes, not %llu, within 60 s",
              (unsigned long long)atomic_load(counter), (unsigned long long)changes);
  }
}

/* After a rebalance, what a consumer handled of the partitions it held
 * before says nothing about the ones it holds now: a partition it has
 * read only the first record of is not read up to now, however far it
 * had read another one before. */
Test(kafka_roundtrip, handled_until_starts_again_after_a_rebalance) {
  char prefix[64], topic[CHAT_TOPIC_NAME_MAX];
  chat_config_t cfg;
  stack_unique_name("hr", prefix, sizeof prefix);
  stack_config(&cfg, prefix, "handled_rebalance", NULL);
  chat_producer_t *producer = stack_producer_with_topics(&cfg, "handled-rebalance");
  chat_topic_name(prefix, CHAT_TOPIC_PRESENCE, topic, sizeof topic);
  for (int i = 0; i < 8; i++) /* one partition read far */
    cr_assert_eq(chat_producer_produce(producer, topic, "far", 3, "{}", 2, NULL, 0, 0), CHAT_OK);
  cr_assert_eq(chat_producer_flush(producer, 10000), CHAT_OK);

  _Atomic uint64_t changes = 0, other_changes = 0;
  chat_consumer_options_t options = {.assignment_changes = &changes};
  chat_consumer_t *consumer = presence_consumer(&cfg, prefix, "handled", "handled-a", &options);
  const int64_t far = 4102444800000; /* 2100-01-01 */
  long long deadline = stack_now_ms() + 60000;
  int32_t far_partition = -1;
  for (int i = 0; i < 8; i++) {
    chat_record_t record;
    poll_record(consumer, &record, deadline, i);
    far_partition = record.partition;
    cr_assert_eq(chat_consumer_store(consumer, &record), CHAT_OK);
    chat_record_release(&record);
  }
  cr_assert_eq(chat_consumer_handled_until(consumer, topic, far_partition, far), far);
  uint64_t before = atomic_load(&changes);

  /* A second member joins (the first gives up every partition and gets
   * some back) and leaves (it gets them all back): two rebalances. */
  chat_consumer_options_t other_options = {.assignment_changes = &other_changes};
  chat_consumer_t *other = presence_consumer(&cfg, prefix, "handled", "handled-b", &other_options);
  poll_until_changes(consumer, &changes, before + 2, other);
  poll_until_changes(other, &other_changes, 1, consumer);
  chat_consumer_close(&other);
  poll_until_changes(consumer, &changes, before + 4, NULL);

  /* Three records a key on six keys: at least one partition besides the
   * one read far gets some. Store only the first record polled there. */
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < 6; k++) {
      char key[8];
      int key_len = snprintf(key, sizeof key, "k%d", k);
      cr_assert_eq(
          chat_producer_produce(producer, topic, key, (size_t)key_len, "{}", 2, NULL, 0, 0),
          CHAT_OK);
    }
  cr_assert_eq(chat_producer_flush(producer, 10000), CHAT_OK);
  chat_record_t first = {0};
  deadline = stack_now_ms() + 60000;
  for (;;) {
    cr_assert(stack_now_ms() < deadline, "no record of another partition within 60 s");
    if (chat_consumer_poll(consumer, 500, &first) != CHAT_OK)
      continue;
    if (first.partition != far_partition)
      break;
    chat_record_release(&first);
  }
  cr_assert_eq(first.offset, 0, "the first record of a partition nobody read is its first");
  cr_assert_eq(chat_consumer_store(consumer, &first), CHAT_OK);
  cr_assert_eq(chat_consumer_handled_until(consumer, topic, first.partition, far),
               first.timestamp_ms,
               "one record read of the partition's several: read up to that record, not now");
  chat_record_release(&first);
  chat_consumer_close(&consumer);
  chat_producer_destroy(&producer, 1000);
}

/* chat_producer_hold(): what a thread produces while holding goes out
 * when the hold ends with send, in order and whole (headers too), and
 * not at all when it ends without. Persistence makes a run's records so
 * while the store takes its insert, and sends them only once it has. */
Test(kafka_roundtrip, held_records_go_out_only_when_sent) {
  char prefix[64], topic[CHAT_TOPIC_NAME_MAX];
  chat_config_t cfg;
  stack_unique_name("hold", prefix, sizeof prefix);
  stack_config(&cfg, prefix, "held_records", NULL);
  chat_producer_t *producer = stack_producer_with_topics(&cfg, "held-records");
  chat_topic_name(prefix, CHAT_TOPIC_PRESENCE, topic, sizeof topic);
  const chat_kafka_header_t header = {"x-kind", "held", 4};

  chat_producer_hold_t *hold = chat_producer_hold(producer);
  cr_assert_not_null(hold);
  cr_assert_null(chat_producer_hold(producer), "one hold per thread at a time");
  cr_assert_eq(chat_producer_produce(producer, topic, "k", 1, "dropped", 7, NULL, 0, 0), CHAT_OK);
  cr_assert_eq(chat_producer_hold_end(hold, false), CHAT_OK);

  hold = chat_producer_hold(producer);
  cr_assert_not_null(hold, "a hold ended, the thread may hold again");
  cr_assert_eq(chat_producer_produce(producer, topic, "k", 1, "kept-1", 6, &header, 1, 0), CHAT_OK);
  cr_assert_eq(chat_producer_produce(producer, topic, "k", 1, "kept-2", 6, NULL, 0, 0), CHAT_OK);
  cr_assert_eq(chat_producer_hold_end(hold, true), CHAT_OK);
  cr_assert_eq(chat_producer_produce(producer, topic, "k", 1, "direct", 6, NULL, 0, 0), CHAT_OK);
  cr_assert_eq(chat_producer_flush(producer, 10000), CHAT_OK);

  chat_consumer_t *consumer = presence_consumer(&cfg, prefix, "held", "held-records", NULL);
  const char *expected[] = {"kept-1", "kept-2", "direct"};
  long long deadline = stack_now_ms() + 60000;
  for (int i = 0; i < 3; i++) {
    chat_record_t record;
    poll_record(consumer, &record, deadline, i);
    cr_assert_eq(record.value_len, strlen(expected[i]));
    cr_assert(memcmp(record.value, expected[i], record.value_len) == 0, "record %d: %.*s", i,
              (int)record.value_len, record.value);
    const char *value = NULL;
    size_t value_len = 0;
    bool has = chat_record_header(&record, "x-kind", &value, &value_len);
    cr_assert_eq(has, i == 0, "only the first record has the header");
    if (has)
      cr_assert(value_len == 4 && memcmp(value, "held", 4) == 0);
    chat_record_release(&record);
  }
  chat_consumer_close(&consumer);
  chat_producer_destroy(&producer, 1000);
}
