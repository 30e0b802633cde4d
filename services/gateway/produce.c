#include "produce.h"

#include <string.h>

#include "chat/kafka.h"

chat_err_t gateway_produce(gateway_t *gw, chat_topic_t topic, chat_envelope_t *env, const char *key,
                           uint64_t request_id) {
  bson_string_t *value = bson_string_new(NULL);
  chat_err_t err = chat_envelope_encode(env, value);
  chat_envelope_cleanup(env);
  if (err == CHAT_OK) {
    char name[CHAT_TOPIC_NAME_MAX];
    chat_topic_name(chat_runtime_config(gw->rt)->topic_prefix, topic, name, sizeof name);
    err = chat_producer_produce(chat_runtime_producer(gw->rt), name, key, strlen(key), value->str,
                                value->len, NULL, 0, request_id);
  }
  bson_string_free(value, true);
  return err;
}
