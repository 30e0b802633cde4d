/* The topic catalogue in code must match proto/topics.json, the contract. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "fixture_file.h"
#include "chat/topics.h"


Test(topics, names_take_the_prefix) {
  char name[CHAT_TOPIC_NAME_MAX];
  cr_assert_eq(chat_topic_name("", CHAT_TOPIC_COMMANDS, name, sizeof name), CHAT_OK);
  cr_assert_str_eq(name, "chat.commands");
  cr_assert_eq(chat_topic_name("t42.", CHAT_TOPIC_BROADCAST, name, sizeof name), CHAT_OK);
  cr_assert_str_eq(name, "t42.chat.broadcast");
  cr_assert_eq(chat_topic_name("t42.", CHAT_TOPIC_BROADCAST, name, 8), CHAT_ERR_INVALID);
  cr_assert_eq(chat_topic_name("", CHAT_TOPIC_COUNT, name, sizeof name), CHAT_ERR_INVALID);
}

Test(topics, code_matches_proto_topics_json) {
  size_t len;
  char *text = fixture_read(CHAT_SOURCE_DIR "/proto/topics.json", &len);
  bson_t doc;
  char why[256];
  cr_assert_eq(chat_json_parse(text, len, 1 << 20, &doc, why, sizeof why), CHAT_OK, "%s", why);
  bson_iter_t it, topics, topic;
  cr_assert(bson_iter_init_find(&it, &doc, "topics") && BSON_ITER_HOLDS_ARRAY(&it));
  cr_assert(bson_iter_recurse(&it, &topics));
  int count = 0;
  while (bson_iter_next(&topics)) {
    cr_assert(count < CHAT_TOPIC_COUNT, "proto/topics.json lists more topics than the code");
    cr_assert(bson_iter_recurse(&topics, &topic));
    cr_assert(bson_iter_find(&topic, "name"));
    cr_assert_str_eq(bson_iter_utf8(&topic, NULL), chat_topic_base_name((chat_topic_t)count),
                     "topic %d", count);
    /* "retention.ms" has a dot in the key itself: find it by hand. */
    bson_iter_t config, settings;
    cr_assert(bson_iter_recurse(&topics, &config));
    cr_assert(bson_iter_find(&config, "config") && bson_iter_recurse(&config, &settings),
              "topic %d has no config object in proto/topics.json", count);
    cr_assert(bson_iter_find(&settings, "retention.ms"),
              "topic %d has no retention.ms in proto/topics.json", count);
    cr_assert_str_eq(bson_iter_utf8(&settings, NULL), chat_topic_retention_ms((chat_topic_t)count),
                     "retention of topic %d", count);
    count++;
  }
  cr_assert_eq(count, CHAT_TOPIC_COUNT, "the code lists topics proto/topics.json does not");
  bson_destroy(&doc);
  free(text);
}
