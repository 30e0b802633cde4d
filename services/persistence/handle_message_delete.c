/* message.delete: only the sender deletes, and only once. The
 * message is marked (deletedAt), never removed; history, search and
 * resume leave it out from then on. The room hears message_deleted; a
 * refusal goes back to the asking socket as message_deletion_reverted, or
 * to the REST call that waits. Key: the message id (the gateway does not
 * know its conversation). */
#include <stdio.h>
#include <string.h>

#include "chat/broadcast.h"
#include "chat/ids.h"
#include "chat/json.h"
#include "chat/log.h"
#include "handle_conversation.h"
#include "message_changes.h"
#include "persistence_publish.h"

static const char *payload_id(const chat_envelope_t *event, const char *key) {
  const char *value = chat_envelope_string(event, key, NULL);
  return value && chat_is_id(value) ? value : NULL;
}

/* The replies that quote a deleted message lose its text: their stored
 * quotes say deleted from now on, in history, search and resume (issue
 * 21, "Replies"). One update of the conversation's replies to it; the
 * conversationId equality is what both stores serve by index (the nested
 * key is filtered within that conversation's messages), and the command
 * is one statement, as FerretDB wants. Idempotent: a replayed deletion
 * finds nothing left to change. */
static chat_err_t forget_quoted_text(mongoc_collection_t *messages, const char *conversation_id,
                                     const char *message_id) {
  bson_t *filter = BCON_NEW("conversationId", BCON_UTF8(conversation_id), "replyTo.messageId",
                            BCON_UTF8(message_id), "replyTo.deleted", BCON_BOOL(false));
  bson_t *update = BCON_NEW("$set", "{", "replyTo.excerpt", BCON_NULL, "replyTo.truncated",
                            BCON_BOOL(false), "replyTo.deleted", BCON_BOOL(true), "}");
  bson_error_t error;
  chat_err_t err = CHAT_OK;
  if (!mongoc_collection_update_many(messages, filter, update, NULL, NULL, &error)) {
    CHAT_LOG(CHAT_LOG_WARN, "forgetting the quotes of message %s: %s", message_id, error.message);
    err = chat_mongo_error(&error);
  }
  bson_destroy(update);
  bson_destroy(filter);
  return err;
}

chat_err_t persistence_handle_message_delete(void *ctx, const chat_envelope_t *event,
                                             const chat_record_t *record) {
  chat_runtime_t *rt = ctx;
  const char *message_id = payload_id(event, "messageId");
  const char *user_id = payload_id(event, "userId");
  if (!message_id || !user_id) {
    CHAT_LOG(CHAT_LOG_WARN, "message.delete at %s[%d]@%lld lacks messageId or userId; skipped",
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
  bool found = mongoc_cursor_next(cursor, &doc);
  char sender[CHAT_ID_SIZE] = "", conversation_id[CHAT_ID_SIZE] = "";
  int64_t deleted_at = 0;
  if (found) {
    if (bson_iter_init_find(&it, doc, "senderId") && BSON_ITER_HOLDS_UTF8(&it))
      snprintf(sender, sizeof sender, "%s", bson_iter_utf8(&it, NULL));
    if (bson_iter_init_find(&it, doc, "conversationId") && BSON_ITER_HOLDS_UTF8(&it))
      snprintf(conversation_id, sizeof conversation_id, "%s", bson_iter_utf8(&it, NULL));
    if (bson_iter_init_find(&it, doc, "deletedAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
      deleted_at = bson_iter_date_time(&it);
  }
  chat_err_t err = mongoc_cursor_error(cursor, &error) ? chat_mongo_error(&error) : CHAT_OK;
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  /* A replay of this very command finds its own mark (deletedAt is the
   * command's time) and publishes again; any other deletion refuses. */
  bool replay = found && deleted_at == event->ts && strcmp(sender, user_id) == 0;
  const char *reason = NULL;
  chat_err_t code = CHAT_OK;
  if (err == CHAT_OK && !replay) {
    if (!found)
      code = CHAT_ERR_NOT_FOUND, reason = "message not found";
    else if (strcmp(sender, user_id) != 0)
      code = CHAT_ERR_FORBIDDEN, reason = "only the sender may delete a message";
    else if (deleted_at)
      code = CHAT_ERR_NOT_FOUND, reason = "message already deleted";
  }
  if (err == CHAT_OK && !reason && !replay) {
    filter = BCON_NEW("_id", BCON_UTF8(message_id), "deletedAt", BCON_NULL);
    bson_t *update = BCON_NEW("$set", "{", "deletedAt", BCON_DATE_TIME(event->ts), "}");
    if (!mongoc_collection_update_one(messages, filter, update, NULL, NULL, &error))
      err = chat_mongo_error(&error);
    bson_destroy(update);
    bson_destroy(filter);
  }
  if (err == CHAT_OK && !reason && conversation_id[0])
    err = forget_quoted_text(messages, conversation_id, message_id);
  mongoc_collection_destroy(messages);
  chat_mongo_release(mongo, client);
  if (err != CHAT_OK)
    return err;
  if (reason)
    return message_changes_refuse(rt, event, message_id, "message_deletion_reverted", code,
                                  reason);
  char room[CHAT_ID_SIZE + 8];
  chat_target(room, sizeof room, CHAT_TARGET_ROOM, conversation_id);
  bson_string_t *value = bson_string_new(NULL);
  bson_string_append_printf(value, "{\"messageId\":\"%s\",\"conversationId\":\"%s\"}", message_id,
                            conversation_id);
  const chat_broadcast_route_t route = {.event = "message_deleted", .target = room};
  err = chat_broadcast_send_keyed(chat_runtime_producer(rt), chat_runtime_config(rt), &route,
                                  conversation_id, value->str, value->len, 0);
  bson_string_free(value, true);
  if (err == CHAT_OK)
    err = persistence_publish_message_deleted(rt, message_id, conversation_id, user_id, event->ts);
  if (err == CHAT_OK && event->correlation_id[0]) {
    char answer[160];
    snprintf(answer, sizeof answer,
             "{\"ok\":true,\"data\":{\"messageId\":\"%s\",\"conversationId\":\"%s\"}}", message_id,
             conversation_id);
    err = persistence_reply(rt, event, answer);
  }
  return err;
}
