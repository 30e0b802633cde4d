#include "message_changes.h"

#include <stdio.h>
#include <string.h>

#include "chat/broadcast.h"
#include "chat/json.h"

static void copy_string(const bson_t *doc, const char *key, char *out, size_t cap) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
    snprintf(out, cap, "%s", bson_iter_utf8(&it, NULL));
}

chat_err_t stored_message_load(mongoc_collection_t *messages, const char *message_id,
                               stored_message_t *out) {
  memset(out, 0, sizeof *out);
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(message_id));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, filter, NULL, NULL);
  const bson_t *doc;
  bson_error_t error;
  bson_iter_t it;
  if (mongoc_cursor_next(cursor, &doc)) {
    out->found = true;
    out->doc = bson_copy(doc);
    copy_string(doc, "senderId", out->sender_id, sizeof out->sender_id);
    copy_string(doc, "conversationId", out->conversation_id, sizeof out->conversation_id);
    out->deleted = bson_iter_init_find(&it, doc, "deletedAt") && !BSON_ITER_HOLDS_NULL(&it);
    if (bson_iter_init_find(&it, doc, "seq") && BSON_ITER_HOLDS_NUMBER(&it))
      out->seq = bson_iter_as_int64(&it);
  }
  chat_err_t err = mongoc_cursor_error(cursor, &error) ? chat_mongo_error(&error) : CHAT_OK;
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  return err;
}

void stored_message_cleanup(stored_message_t *m) {
  if (m && m->doc) {
    bson_destroy(m->doc);
    m->doc = NULL;
  }
}

chat_err_t message_changes_is_member(chat_mongo_t *mongo, mongoc_client_t *client,
                                     const char *conversation_id, const char *user_id,
                                     bool *member) {
  mongoc_collection_t *members = chat_mongo_collection(mongo, client, "members");
  bson_t *filter =
      BCON_NEW("conversationId", BCON_UTF8(conversation_id), "userId", BCON_UTF8(user_id));
  bson_error_t error;
  int64_t n = mongoc_collection_count_documents(members, filter, NULL, NULL, NULL, &error);
  bson_destroy(filter);
  mongoc_collection_destroy(members);
  *member = n > 0;
  return n < 0 ? chat_mongo_error(&error) : CHAT_OK;
}

const char *message_changes_payload_id(const chat_envelope_t *event, const char *key) {
  const char *value = chat_envelope_string(event, key, NULL);
  return value && chat_is_id(value) ? value : NULL;
}

chat_err_t message_changes_refuse(chat_runtime_t *rt, const chat_envelope_t *event,
                                  const char *message_id, const char *revert, chat_err_t code,
                                  const char *reason) {
  bson_iter_t it;
  chat_err_t err = CHAT_OK;
  /* Only a socket's command names its connection: a REST call's has none. */
  if (bson_iter_init_find(&it, &event->payload, "connectionId") && BSON_ITER_HOLDS_UTF8(&it) &&
      strchr(bson_iter_utf8(&it, NULL), '/')) {
    char target[CHAT_ENVELOPE_SOURCE_MAX + 16];
    chat_target(target, sizeof target, CHAT_TARGET_CONN, bson_iter_utf8(&it, NULL));
    bson_string_t *value = bson_string_new("{\"messageId\":");
    chat_json_append_string(value, message_id, strlen(message_id));
    bson_string_append(value, ",\"reason\":");
    chat_json_append_string(value, reason, strlen(reason));
    bson_string_append_printf(value, ",\"code\":\"%s\"}", chat_err_code(code));
    const chat_broadcast_route_t route = {.event = revert, .target = target};
    err = chat_broadcast_send(chat_runtime_producer(rt), chat_runtime_config(rt), &route,
                              value->str, value->len, 0);
    bson_string_free(value, true);
  }
  if (err == CHAT_OK)
    err = chat_broadcast_reply_error(chat_runtime_producer(rt), chat_runtime_config(rt), event,
                                     code, reason);
  return err;
}

chat_err_t message_changes_tell_room(chat_runtime_t *rt, const char *conversation_id,
                                     const char *event_name, const char *value, size_t value_len) {
  char room[CHAT_ID_SIZE + 8];
  chat_target(room, sizeof room, CHAT_TARGET_ROOM, conversation_id);
  const chat_broadcast_route_t route = {.event = event_name, .target = room};
  return chat_broadcast_send_keyed(chat_runtime_producer(rt), chat_runtime_config(rt), &route,
                                   conversation_id, value, value_len, 0);
}
