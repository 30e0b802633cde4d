#include "chat/topics.h"

#include <stdio.h>

static const struct {
  const char *name;
  const char *retention_ms;
} topics[CHAT_TOPIC_COUNT] = {
#define TOPIC_ROW_(id, name, retention) {name, retention},
    CHAT_TOPICS(TOPIC_ROW_)
#undef TOPIC_ROW_
};

const char *chat_topic_base_name(chat_topic_t topic) {
  return (unsigned)topic < CHAT_TOPIC_COUNT ? topics[topic].name : NULL;
}

const char *chat_topic_retention_ms(chat_topic_t topic) {
  return (unsigned)topic < CHAT_TOPIC_COUNT ? topics[topic].retention_ms : NULL;
}

chat_err_t chat_topic_name(const char *prefix, chat_topic_t topic, char *out, size_t out_len) {
  if ((unsigned)topic >= CHAT_TOPIC_COUNT)
    return CHAT_ERR_INVALID;
  int n = snprintf(out, out_len, "%s%s", prefix ? prefix : "", topics[topic].name);
  return n < 0 || (size_t)n >= out_len ? CHAT_ERR_INVALID : CHAT_OK;
}
