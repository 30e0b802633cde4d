/* A second process for integration tests, built on the common wrappers:
 *   kafka_tool produce TOPIC KEY VALUE
 *       produces one record, waits for its delivery report, prints
 *       "delivered PARTITION OFFSET" and exits 0 (1 when not delivered);
 *   kafka_tool consume GROUP TOPIC COUNT commit|hold
 *       prints "record PARTITION OFFSET VALUE" for COUNT records; with
 *       commit it then stores and commits their offsets and exits 0, with
 *       hold it never commits and waits to be killed.
 * TOPIC is a catalogue name without prefix (chat.commands); the settings
 * come from the CHAT_* environment like any service's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/kafka.h"
#include "chat/log.h"

static int delivered = -1; /* -1: no report yet, 0: failed, 1: delivered */

static void on_delivery(void *ctx, uint64_t request_id, chat_err_t err, const char *errstr,
                        int32_t partition, int64_t offset) {
  (void)ctx, (void)request_id;
  if (err == CHAT_OK)
    printf("delivered %d %lld\n", partition, (long long)offset);
  else
    fprintf(stderr, "delivery failed: %s\n", errstr);
  fflush(stdout);
  delivered = err == CHAT_OK;
}

static int find_topic(const char *name, chat_topic_t *out) {
  for (int i = 0; i < CHAT_TOPIC_COUNT; i++) {
    if (strcmp(chat_topic_base_name((chat_topic_t)i), name) == 0) {
      *out = (chat_topic_t)i;
      return 0;
    }
  }
  fprintf(stderr, "unknown topic %s\n", name);
  return -1;
}

static int produce(const chat_config_t *cfg, const char *topic_base, const char *key,
                   const char *value) {
  chat_producer_t *producer = NULL;
  char why[512], topic[CHAT_TOPIC_NAME_MAX];
  chat_topic_t id;
  if (find_topic(topic_base, &id) != 0)
    return 2;
  chat_topic_name(cfg->topic_prefix, id, topic, sizeof topic);
  if (chat_producer_create(cfg, "kafka_tool", on_delivery, NULL, &producer, why, sizeof why) !=
      CHAT_OK) {
    fprintf(stderr, "%s\n", why);
    return 2;
  }
  chat_err_t err =
      chat_producer_produce(producer, topic, key, strlen(key), value, strlen(value), NULL, 0, 1);
  if (err == CHAT_OK)
    err = chat_producer_flush(producer, 30000);
  chat_producer_destroy(&producer, 1000);
  return err == CHAT_OK && delivered == 1 ? 0 : 1;
}

static int consume(const chat_config_t *cfg, const char *group, const char *topic_base, int count,
                   int commit) {
  chat_consumer_t *consumer = NULL;
  chat_record_t *records = calloc((size_t)count, sizeof *records);
  char why[512];
  chat_topic_t id;
  if (!records || find_topic(topic_base, &id) != 0)
    return 2;
  if (chat_consumer_create(cfg, group, "kafka_tool", &id, 1, NULL, &consumer, why, sizeof why) !=
      CHAT_OK) {
    fprintf(stderr, "%s\n", why);
    return 2;
  }
  for (int got = 0; got < count;) {
    if (chat_consumer_poll(consumer, 500, &records[got]) != CHAT_OK)
      continue;
    printf("record %d %lld %.*s\n", records[got].partition, (long long)records[got].offset,
           (int)records[got].value_len, records[got].value);
    fflush(stdout);
    got++;
  }
  if (!commit) {
    for (;;)
      pause(); /* holds the records uncommitted until killed */
  }
  for (int i = 0; i < count; i++) {
    chat_consumer_store(consumer, &records[i]);
    chat_record_release(&records[i]);
  }
  chat_err_t err = chat_consumer_commit(consumer);
  chat_consumer_close(&consumer);
  free(records);
  return err == CHAT_OK ? 0 : 1;
}

int main(int argc, char **argv) {
  chat_config_t cfg;
  char why[512];
  chat_log_init("kafka_tool", "test", CHAT_LOG_WARN);
  if (chat_config_load(&cfg, CHAT_SERVICE_PERSISTENCE, why, sizeof why) != CHAT_OK) {
    fprintf(stderr, "%s\n", why);
    return 2;
  }
  if (argc == 5 && strcmp(argv[1], "produce") == 0)
    return produce(&cfg, argv[2], argv[3], argv[4]);
  if (argc == 6 && strcmp(argv[1], "consume") == 0)
    return consume(&cfg, argv[2], argv[3], atoi(argv[4]), strcmp(argv[5], "commit") == 0);
  fprintf(stderr, "usage: kafka_tool produce TOPIC KEY VALUE\n"
                  "       kafka_tool consume GROUP TOPIC COUNT commit|hold\n");
  return 2;
}
