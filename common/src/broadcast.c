#include "chat/broadcast.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/error_json.h"
#include "chat/json.h"
#include "chat/topics.h"

bson_string_t *chat_broadcast_frame(const char *event, const char *value, size_t value_len,
                                    const char *last_arg) {
  bson_string_t *frame = bson_string_new("[");
  chat_json_append_string(frame, event, strlen(event));
  bson_string_append_printf(frame, ",%.*s", (int)value_len, value);
  if (last_arg)
    bson_string_append_printf(frame, ",%s", last_arg);
  bson_string_append_c(frame, ']');
  return frame;
}

/* The one table of header names: the writer and the reader both go by it. */
static const struct {
  const char *name;
  size_t offset; /* of the field in chat_broadcast_route_t */
} route_headers[] = {
    {"event", offsetof(chat_broadcast_route_t, event)},
    {"target", offsetof(chat_broadcast_route_t, target)},
    {"scope", offsetof(chat_broadcast_route_t, scope)},
    {"exclude", offsetof(chat_broadcast_route_t, exclude)},
    {"correlationId", offsetof(chat_broadcast_route_t, correlation_id)},
    {"join", offsetof(chat_broadcast_route_t, join)},
    {"leave", offsetof(chat_broadcast_route_t, leave)},
    {"seq", offsetof(chat_broadcast_route_t, seq)},
    {"rooms", offsetof(chat_broadcast_route_t, rooms)},
    {"excludeUser", offsetof(chat_broadcast_route_t, exclude_user)},
};
#define ROUTE_HEADER_COUNT (sizeof route_headers / sizeof route_headers[0])

static const char **route_field(chat_broadcast_route_t *route, size_t i) {
  return (const char **)((char *)route + route_headers[i].offset);
}

static const char *const target_prefixes[] = {
    [CHAT_TARGET_ROOM] = "room:",       [CHAT_TARGET_USER] = "user:",
    [CHAT_TARGET_CONN] = "conn:",       [CHAT_TARGET_GATEWAY] = "gateway:",
    [CHAT_TARGET_CONTACTS] = "contacts:", [CHAT_TARGET_GUEST] = "guest:",
};

const char *chat_target(char *out, size_t cap, chat_target_kind_t kind, const char *id) {
  int n = snprintf(out, cap, "%s%s", target_prefixes[kind], id);
  return n >= 0 && (size_t)n < cap ? out : NULL;
}

const char *chat_target_conn(char *out, size_t cap, const char *gateway_id,
                             const char *socket_id) {
  int n = snprintf(out, cap, "%s%s/%s", target_prefixes[CHAT_TARGET_CONN], gateway_id, socket_id);
  return n >= 0 && (size_t)n < cap ? out : NULL;
}

const char *chat_target_id(const char *target, chat_target_kind_t kind) {
  size_t len = strlen(target_prefixes[kind]);
  return strncmp(target, target_prefixes[kind], len) == 0 ? target + len : NULL;
}

bool chat_broadcast_scope_parse(const char *scope, chat_broadcast_scope_t *out) {
  if (!scope)
    *out = CHAT_BROADCAST_SCOPE_ALL;
  else if (strcmp(scope, "open") == 0)
    *out = CHAT_BROADCAST_SCOPE_OPEN;
  else if (strcmp(scope, "closed") == 0)
    *out = CHAT_BROADCAST_SCOPE_CLOSED;
  else
    return false;
  return true;
}

bool chat_broadcast_scope_admits(chat_broadcast_scope_t scope, bool conversation_open) {
  switch (scope) {
  case CHAT_BROADCAST_SCOPE_OPEN:
    return conversation_open;
  case CHAT_BROADCAST_SCOPE_CLOSED:
    return !conversation_open;
  case CHAT_BROADCAST_SCOPE_ALL:
    break;
  }
  return true;
}

chat_err_t chat_broadcast_send(chat_producer_t *producer, const chat_config_t *cfg,
                               const chat_broadcast_route_t *route, const char *value,
                               size_t value_len, uint64_t request_id) {
  return chat_broadcast_send_keyed(producer, cfg, route, route->target, value, value_len,
                                   request_id);
}

chat_err_t chat_broadcast_send_keyed(chat_producer_t *producer, const chat_config_t *cfg,
                                     const chat_broadcast_route_t *route, const char *key,
                                     const char *value, size_t value_len, uint64_t request_id) {
  chat_kafka_header_t headers[ROUTE_HEADER_COUNT];
  size_t count = 0;
  char topic[CHAT_TOPIC_NAME_MAX];
  if (!route->event || !route->target)
    return CHAT_ERR_INVALID;
  for (size_t i = 0; i < ROUTE_HEADER_COUNT; i++) {
    const char *field = *route_field((chat_broadcast_route_t *)route, i);
    if (field)
      headers[count++] = (chat_kafka_header_t){route_headers[i].name, field, strlen(field)};
  }
  chat_topic_name(cfg->topic_prefix, CHAT_TOPIC_BROADCAST, topic, sizeof topic);
  if (!key)
    key = route->target;
  return chat_producer_produce(producer, topic, key, strlen(key), value, value_len, headers,
                               count, request_id);
}

chat_err_t chat_broadcast_read(const chat_record_t *record, chat_broadcast_route_t *route,
                               char **storage) {
  const char *values[ROUTE_HEADER_COUNT] = {NULL};
  size_t lens[ROUTE_HEADER_COUNT] = {0}, total = 0;
  memset(route, 0, sizeof *route);
  *storage = NULL;
  for (size_t i = 0; i < ROUTE_HEADER_COUNT; i++) {
    if (chat_record_header(record, route_headers[i].name, &values[i], &lens[i]))
      total += lens[i] + 1;
    else
      values[i] = NULL;
  }
  char *copy = malloc(total ? total : 1);
  if (!copy)
    return CHAT_ERR_NOMEM;
  /* Header values are bytes, not C strings: each gets its NUL here. */
  char *at = copy;
  for (size_t i = 0; i < ROUTE_HEADER_COUNT; i++) {
    if (!values[i])
      continue;
    memcpy(at, values[i], lens[i]);
    at[lens[i]] = '\0';
    *route_field(route, i) = at;
    at += lens[i] + 1;
  }
  if (!route->event || !route->target || !record->value) {
    free(copy);
    memset(route, 0, sizeof *route);
    return CHAT_ERR_INVALID;
  }
  *storage = copy;
  return CHAT_OK;
}

chat_err_t chat_broadcast_reply(chat_producer_t *producer, const chat_config_t *cfg,
                                const chat_envelope_t *event, const char *value) {
  const char *slash = strchr(event->source, '/');
  char target[CHAT_ENVELOPE_SOURCE_MAX + 16];
  if (!slash || strncmp(event->source, "gateway/", 8) != 0 || !event->correlation_id[0])
    return CHAT_OK; /* nobody waits for this answer */
  chat_target(target, sizeof target, CHAT_TARGET_GATEWAY, slash + 1);
  const chat_broadcast_route_t route = {
      .event = "command.result", .target = target, .correlation_id = event->correlation_id};
  return chat_broadcast_send(producer, cfg, &route, value, strlen(value), 0);
}

chat_err_t chat_broadcast_reply_error(chat_producer_t *producer, const chat_config_t *cfg,
                                      const chat_envelope_t *event, chat_err_t code,
                                      const char *message) {
  bson_string_t *value = bson_string_new(NULL);
  chat_error_reply_json(value, chat_err_code(code), message);
  chat_err_t err = chat_broadcast_reply(producer, cfg, event, value->str);
  bson_string_free(value, true);
  return err;
}
