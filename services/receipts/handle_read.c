/* read.mark_conversation and read.mark_message: move a member's read
 * watermark (read_states: one document per member and conversation) and
 * tell the room, or tell the asking socket why not. */
#include "handle_read.h"

#include <stdio.h>
#include <string.h>

#include "chat/broadcast.h"
#include "chat/ids.h"
#include "chat/json.h"
#include "chat/log.h"
#include "chat/stored_seq.h"
#include "chat/topics.h"
#include "chat/read_rules.h"

static chat_err_t reply_error(chat_runtime_t *rt, const chat_envelope_t *event, chat_err_t code,
                              const char *message) {
  return chat_broadcast_reply_error(chat_runtime_producer(rt), chat_runtime_config(rt), event, code,
                                    message);
}

/* Sets *member; CHAT_OK or the store's error. */
static chat_err_t is_member(chat_runtime_t *rt, mongoc_client_t *client,
                            const char *conversation_id, const char *user_id, bool *member) {
  mongoc_collection_t *members = chat_mongo_collection(chat_runtime_mongo(rt), client, "members");
  bson_t *filter =
      BCON_NEW("conversationId", BCON_UTF8(conversation_id), "userId", BCON_UTF8(user_id));
  bson_error_t error;
  int64_t n = mongoc_collection_count_documents(members, filter, NULL, NULL, NULL, &error);
  bson_destroy(filter);
  mongoc_collection_destroy(members);
  *member = n > 0;
  return n < 0 ? chat_mongo_error(&error) : CHAT_OK;
}

/* Moves user's watermark in conversation to seq unless it is there or
 * past it already; *moved says which. *now_seq is the watermark after. */
static chat_err_t advance(chat_runtime_t *rt, mongoc_client_t *client, const char *conversation_id,
                          const char *user_id, int64_t seq, int64_t read_at_ms, bool *moved,
                          int64_t *now_seq) {
  mongoc_collection_t *states =
      chat_mongo_collection(chat_runtime_mongo(rt), client, "read_states");
  char id[2 * CHAT_ID_SIZE + 2];
  snprintf(id, sizeof id, "%s:%s", conversation_id, user_id);
  /* Conditional on being behind: of two marks at once, or a mark replayed,
   * only one moves it, and never backwards. */
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(id), "lastReadSeq", "{", "$lt", BCON_INT64(seq), "}");
  bson_t *update = BCON_NEW("$set", "{", "conversationId", BCON_UTF8(conversation_id), "userId",
                            BCON_UTF8(user_id), "lastReadSeq", BCON_INT64(seq), "lastReadAt",
                            BCON_DATE_TIME(read_at_ms), "}");
  bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
  bson_t reply;
  bson_error_t error;
  chat_err_t err = CHAT_OK;
  *moved = false;
  *now_seq = seq;
  if (mongoc_collection_update_one(states, filter, update, opts, &reply, &error)) {
    bson_iter_t it;
    *moved = (bson_iter_init_find(&it, &reply, "modifiedCount") && bson_iter_as_int64(&it) > 0) ||
             bson_iter_init_find(&it, &reply, "upsertedId") ||
             (bson_iter_init_find(&it, &reply, "upsertedCount") && bson_iter_as_int64(&it) > 0);
  } else if (chat_mongo_error(&error) != CHAT_ERR_DUPLICATE) {
    err = chat_mongo_error(&error);
  }
  bson_destroy(&reply);
  if (err == CHAT_OK && !*moved) {
    /* Already there or past it: report where it is. */
    bson_t *by_id = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(states, by_id, NULL, NULL);
    const bson_t *doc;
    bson_iter_t it;
    if (mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "lastReadSeq"))
      *now_seq = bson_iter_as_int64(&it);
    mongoc_cursor_destroy(cursor);
    bson_destroy(by_id);
  }
  bson_destroy(opts);
  bson_destroy(update);
  bson_destroy(filter);
  mongoc_collection_destroy(states);
  return err;
}

/* messages_read to the room and read.updated to chat.events. */
static chat_err_t publish_read(chat_runtime_t *rt, const char *conversation_id, const char *user_id,
                               int64_t seq, int64_t read_at_ms) {
  char room[CHAT_ID_SIZE + 8], when[CHAT_JSON_TIME_SIZE];
  chat_target(room, sizeof room, CHAT_TARGET_ROOM, conversation_id);
  chat_json_format_time(read_at_ms, when);
  bson_string_t *value = bson_string_new(NULL);
  bson_string_append_printf(value, "{\"conversationId\":\"%s\",\"userId\":", conversation_id);
  chat_json_append_string(value, user_id, strlen(user_id));
  bson_string_append_printf(value, ",\"lastReadSeq\":%lld,\"readAt\":\"%s\"}", (long long)seq,
                            when);
  const chat_broadcast_route_t route = {.event = "messages_read", .target = room};
  chat_err_t err = chat_broadcast_send(chat_runtime_producer(rt), chat_runtime_config(rt), &route,
                                       value->str, value->len, 0);
  bson_string_free(value, true);
  if (err != CHAT_OK)
    return err;
  chat_envelope_t env;
  err = chat_envelope_init(&env, "read.updated", chat_runtime_source(rt), NULL);
  if (err != CHAT_OK)
    return err;
  BSON_APPEND_UTF8(&env.payload, "conversationId", conversation_id);
  BSON_APPEND_UTF8(&env.payload, "userId", user_id);
  BSON_APPEND_INT64(&env.payload, "lastReadSeq", seq);
  BSON_APPEND_UTF8(&env.payload, "readAt", when);
  bson_string_t *encoded = bson_string_new(NULL);
  err = chat_envelope_encode(&env, encoded);
  chat_envelope_cleanup(&env);
  if (err == CHAT_OK) {
    char topic[CHAT_TOPIC_NAME_MAX];
    chat_topic_name(chat_runtime_config(rt)->topic_prefix, CHAT_TOPIC_EVENTS, topic, sizeof topic);
    err = chat_producer_produce(chat_runtime_producer(rt), topic, conversation_id, CHAT_ID_LEN,
                                encoded->str, encoded->len, NULL, 0, 0);
  }
  bson_string_free(encoded, true);
  return err;
}

static chat_err_t reply_ok(chat_runtime_t *rt, const chat_envelope_t *event,
                           const char *conversation_id, int64_t seq, int64_t read_at_ms) {
  char when[CHAT_JSON_TIME_SIZE], value[256];
  chat_json_format_time(read_at_ms, when);
  snprintf(
      value, sizeof value,
      "{\"ok\":true,\"data\":{\"conversationId\":\"%s\",\"lastReadSeq\":%lld,\"readAt\":\"%s\"}}",
      conversation_id, (long long)seq, when);
  return chat_broadcast_reply(chat_runtime_producer(rt), chat_runtime_config(rt), event, value);
}

chat_err_t receipts_handle_mark_conversation(void *ctx, const chat_envelope_t *event,
                                             const chat_record_t *record) {
  chat_runtime_t *rt = ctx;
  const char *conversation_id = chat_envelope_string(event, "conversationId", NULL);
  const char *user_id = chat_envelope_string(event, "userId", NULL);
  int64_t read_at_ms = event->ts;
  if (!conversation_id || !chat_is_id(conversation_id) || !user_id) {
    CHAT_LOG(CHAT_LOG_WARN,
             "read.mark_conversation at %s[%d]@%lld lacks conversationId or "
             "userId; skipped",
             record->topic, record->partition, (long long)record->offset);
    return reply_error(rt, event, CHAT_ERR_SCHEMA, "conversationId and userId are required");
  }
  chat_json_parse_time(chat_envelope_string(event, "readAt", NULL), &read_at_ms);
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  bool member = false, moved = false;
  int64_t last_seq = -1, now_seq = 0;
  chat_err_t err = is_member(rt, client, conversation_id, user_id, &member);
  if (err == CHAT_OK && member) {
    mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(conversation_id), "deletedAt", BCON_NULL);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(conversations, filter, NULL, NULL);
    const bson_t *doc;
    bson_error_t error;
    bson_iter_t it;
    if (mongoc_cursor_next(cursor, &doc))
      last_seq = bson_iter_init_find(&it, doc, "lastSeq") ? bson_iter_as_int64(&it) : 0;
    if (mongoc_cursor_error(cursor, &error))
      err = chat_mongo_error(&error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(filter);
    mongoc_collection_destroy(conversations);
    /* lastSeq is written behind the messages (chat/stored_seq.h): "read
     * up to the latest" means the latest stored message. */
    if (err == CHAT_OK && last_seq >= 0) {
      mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
      err = chat_highest_stored_seq(messages, conversation_id, last_seq, &last_seq);
      mongoc_collection_destroy(messages);
    }
  }
  if (err == CHAT_OK && member && last_seq >= 0)
    err = advance(rt, client, conversation_id, user_id, last_seq, read_at_ms, &moved, &now_seq);
  chat_mongo_release(mongo, client);
  if (err != CHAT_OK)
    return err; /* the batch is retried */
  if (!member)
    return reply_error(rt, event, CHAT_ERR_FORBIDDEN, "not a member of this conversation");
  if (last_seq < 0)
    return reply_error(rt, event, CHAT_ERR_NOT_FOUND, "no such conversation");
  if (moved)
    err = publish_read(rt, conversation_id, user_id, now_seq, read_at_ms);
  if (err == CHAT_OK)
    err = reply_ok(rt, event, conversation_id, now_seq, read_at_ms);
  return err;
}

/* message_read_reverted to the socket that asked. */
static chat_err_t revert(chat_runtime_t *rt, const chat_envelope_t *event, const char *message_id,
                         receipt_verdict_t verdict) {
  const char *connection = chat_envelope_string(event, "connectionId", NULL);
  if (!connection || !strchr(connection, '/'))
    return CHAT_OK;
  char target[CHAT_ENVELOPE_SOURCE_MAX + 16];
  chat_target(target, sizeof target, CHAT_TARGET_CONN, connection);
  bson_string_t *value = bson_string_new("{\"messageId\":");
  chat_json_append_string(value, message_id, strlen(message_id));
  bson_string_append(value, ",\"reason\":");
  const char *reason = receipts_reason(verdict);
  chat_json_append_string(value, reason, strlen(reason));
  bson_string_append_printf(value, ",\"code\":\"%s\"}", chat_err_code(receipts_code(verdict)));
  const chat_broadcast_route_t route = {.event = "message_read_reverted", .target = target};
  chat_err_t err = chat_broadcast_send(chat_runtime_producer(rt), chat_runtime_config(rt), &route,
                                       value->str, value->len, 0);
  bson_string_free(value, true);
  return err;
}

chat_err_t receipts_handle_mark_message(void *ctx, const chat_envelope_t *event,
                                        const chat_record_t *record) {
  chat_runtime_t *rt = ctx;
  const char *message_id = chat_envelope_string(event, "messageId", NULL);
  const char *user_id = chat_envelope_string(event, "userId", NULL);
  if (!message_id || !user_id) {
    CHAT_LOG(CHAT_LOG_WARN,
             "read.mark_message at %s[%d]@%lld lacks messageId or userId; "
             "skipped",
             record->topic, record->partition, (long long)record->offset);
    return CHAT_OK;
  }
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(message_id));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, filter, NULL, NULL);
  const bson_t *doc;
  bson_error_t error;
  bson_iter_t it;
  bool found = mongoc_cursor_next(cursor, &doc), deleted = false, member = false, moved = false;
  char conversation_id[CHAT_ID_SIZE] = "", sender[CHAT_ID_SIZE] = "";
  int64_t seq = 0, now_seq = 0;
  chat_err_t err = mongoc_cursor_error(cursor, &error) ? chat_mongo_error(&error) : CHAT_OK;
  if (found) {
    deleted = bson_iter_init_find(&it, doc, "deletedAt") && !BSON_ITER_HOLDS_NULL(&it);
    seq = bson_iter_init_find(&it, doc, "seq") ? bson_iter_as_int64(&it) : 0;
    if (bson_iter_init_find(&it, doc, "conversationId") && BSON_ITER_HOLDS_UTF8(&it))
      snprintf(conversation_id, sizeof conversation_id, "%s", bson_iter_utf8(&it, NULL));
    if (bson_iter_init_find(&it, doc, "senderId") && BSON_ITER_HOLDS_UTF8(&it))
      snprintf(sender, sizeof sender, "%s", bson_iter_utf8(&it, NULL));
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  mongoc_collection_destroy(messages);
  if (err == CHAT_OK && found && conversation_id[0])
    err = is_member(rt, client, conversation_id, user_id, &member);
  receipt_verdict_t verdict = receipts_check_mark(found, deleted, sender, user_id, member);
  if (err == CHAT_OK && verdict == RECEIPT_OK)
    err = advance(rt, client, conversation_id, user_id, seq, event->ts, &moved, &now_seq);
  chat_mongo_release(mongo, client);
  if (err != CHAT_OK)
    return err;
  if (verdict != RECEIPT_OK)
    return revert(rt, event, message_id, verdict);
  return moved ? publish_read(rt, conversation_id, user_id, now_seq, event->ts) : CHAT_OK;
}
