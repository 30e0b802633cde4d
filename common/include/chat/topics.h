/* The topic catalogue of proto/topics.json, as code. A unit test checks the
 * two against each other: proto/ is the contract, this follows it. */
#ifndef CHAT_TOPICS_H
#define CHAT_TOPICS_H

#include <stddef.h>

#include "chat/err.h"

/* X(ENUM_SUFFIX, "name without prefix", "retention.ms") */
#define CHAT_TOPICS(X)                                                                             \
  X(COMMANDS, "chat.commands", "604800000")                                                        \
  X(RECEIPTS, "chat.receipts", "604800000")                                                        \
  X(PRESENCE, "chat.presence", "86400000")                                                         \
  X(BROADCAST, "chat.broadcast", "3600000")                                                        \
  X(EVENTS, "chat.events", "2592000000")

typedef enum chat_topic {
#define CHAT_TOPIC_ENUM_(id, name, retention) CHAT_TOPIC_##id,
  CHAT_TOPICS(CHAT_TOPIC_ENUM_)
#undef CHAT_TOPIC_ENUM_
      CHAT_TOPIC_COUNT
} chat_topic_t;

#define CHAT_TOPIC_NAME_MAX 160 /* prefix (at most 100) plus the longest name */

/* Returns the unprefixed name, e.g. "chat.commands". Static; never NULL for a
 * valid topic. */
const char *chat_topic_base_name(chat_topic_t topic);

/* Returns the static retention.ms value the creating service sets. */
const char *chat_topic_retention_ms(chat_topic_t topic);

/* Writes prefix + base name into out (capacity out_len).
 * Returns CHAT_OK, or CHAT_ERR_INVALID when it does not fit. */
chat_err_t chat_topic_name(const char *prefix, chat_topic_t topic, char *out, size_t out_len);

#endif
