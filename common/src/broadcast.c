#include "chat/broadcast.h"

#include <stdio.h>
#include <string.h>

#include "chat/json.h"
#include "chat/topics.h"

chat_err_t chat_broadcast_send(chat_producer_t *producer, const chat_config_t *cfg,
                               const chat_broadcast_route_t *route, const char *value,
                               size_t value_len, uint64_t request_id) {
  chat_kafka_header_t headers[10];
  size_t count = 0;
  const struct {
    const char *name, *value;
  } fields[] = {{"event", route->event},
                {"target", route->target},
                {"scope", route->scope},
                {"exclude", route->exclude},
                {"correlationId", route->correlation_id},
                {"join", route->join},
                {"leave", route->leave},
                {"seq", route->seq},
                {"rooms", route->rooms},
                {"excludeUser", route->exclude_user}};
  char topic[CHAT_TOPIC_NAME_MAX];
  if (!route->event || !route->target)
    return CHAT_ERR_INVALID;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    if (fields[i].value)
      headers[count++] =
          (chat_kafka_header_t){fields[i].name, fields[i].value, strlen(fields[i].value)};
  }
  chat_topic_name(cfg->topic_prefix, CHAT_TOPIC_BROADCAST, topic, sizeof topic);
  return chat_producer_produce(producer, topic, route->target, strlen(route->target), value,
                               value_len, headers, count, request_id);
}

chat_err_t chat_broadcast_reply(chat_producer_t *producer, const chat_config_t *cfg,
                                const chat_envelope_t *event, const char *value) {
  const char *slash = strchr(event->source, '/');
  char target[CHAT_ENVELOPE_SOURCE_MAX + 16];
  if (!slash || strncmp(event->source, "gateway/", 8) != 0 || !event->correlation_id[0])
    return CHAT_OK; /* nobody waits for this answer */
  snprintf(target, sizeof target, "gateway:%s", slash + 1);
  const chat_broadcast_route_t route = {
      .event = "command.result", .target = target, .correlation_id = event->correlation_id};
  return chat_broadcast_send(producer, cfg, &route, value, strlen(value), 0);
}

chat_err_t chat_broadcast_reply_error(chat_producer_t *producer, const chat_config_t *cfg,
                                      const chat_envelope_t *event, chat_err_t code,
                                      const char *message) {
  bson_string_t *value = bson_string_new("{\"ok\":false,\"error\":{\"code\":\"");
  bson_string_append(value, chat_err_code(code));
  bson_string_append(value, "\",\"message\":");
  chat_json_append_string(value, message, strlen(message));
  bson_string_append(value, "}}");
  chat_err_t err = chat_broadcast_reply(producer, cfg, event, value->str);
  bson_string_free(value, true);
  return err;
}
