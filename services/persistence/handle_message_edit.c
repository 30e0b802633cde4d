/* message.edit: the sender changes the text of a message of theirs that
 * is not deleted, in a conversation they are still in. The message keeps
 * its _id and seq; its content becomes the new text, editedAt the
 * command's time and editId the edit's id. The text it replaces is kept
 * in message_versions (never served by default), one document per edit
 * whose _id is the edit's id. The room hears message_edited, chat.events
 * gets message.edited; a refusal goes back as message_edit_reverted or to
 * the REST call that waits.
 *
 * Redelivery (Kafka gives at-least-once): the edit's id is the gateway's,
 * fixed in the command, so a replay is recognized whichever way it comes:
 * - the message's editId is this one: it was applied; tell again (the
 *   broadcast may not have gone out) and change nothing;
 * - a version with this id exists and the message has moved on (its
 *   editId is not that version's previousEditId): an older edit
 *   redelivered after a newer one; nothing changes, nothing is told;
 * - a version with this id exists and the message has not moved on: the
 *   first try stopped between the two writes; finish it. */
#include "handle_message_edit.h"

#include <stdio.h>
#include <string.h>

#include "chat/json.h"
#include "chat/limits.h"
#include "chat/log.h"
#include "message_changes.h"
#include "persistence_publish.h"

#define EDIT_REVERT "message_edit_reverted"

/* The fields of a message document an edit reads. */
typedef struct edit_state {
  const char *content, *edit_id; /* edit_id NULL: never edited */
  uint32_t content_len;
  int64_t written_at; /* when the current text was written: editedAt, else createdAt */
} edit_state_t;

static void read_edit_state(const bson_t *doc, edit_state_t *out) {
  bson_iter_t it;
  memset(out, 0, sizeof *out);
  if (bson_iter_init_find(&it, doc, "content") && BSON_ITER_HOLDS_UTF8(&it))
    out->content = bson_iter_utf8(&it, &out->content_len);
  if (bson_iter_init_find(&it, doc, "editId") && BSON_ITER_HOLDS_UTF8(&it))
    out->edit_id = bson_iter_utf8(&it, NULL);
  if (bson_iter_init_find(&it, doc, "editedAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
    out->written_at = bson_iter_date_time(&it);
  else if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
    out->written_at = bson_iter_date_time(&it);
}

/* Reads the version edit_id: *found, and its previousEditId into
 * previous ("" for none). */
static chat_err_t find_version(mongoc_collection_t *versions, const char *edit_id, bool *found,
                               char previous[CHAT_ID_SIZE]) {
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(edit_id));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(versions, filter, NULL, NULL);
  const bson_t *doc;
  bson_iter_t it;
  bson_error_t error;
  *found = mongoc_cursor_next(cursor, &doc);
  previous[0] = '\0';
  if (*found && bson_iter_init_find(&it, doc, "previousEditId") && BSON_ITER_HOLDS_UTF8(&it))
    snprintf(previous, CHAT_ID_SIZE, "%s", bson_iter_utf8(&it, NULL));
  chat_err_t err = mongoc_cursor_error(cursor, &error) ? chat_mongo_error(&error) : CHAT_OK;
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  return err;
}

/* Keeps the text an edit replaces, then puts the new one in place. */
static chat_err_t store_edit(mongoc_collection_t *messages, mongoc_collection_t *versions,
                             const stored_message_t *m, const edit_state_t *was,
                             bool version_stored, const char *message_id, const char *edit_id,
                             const char *content, uint32_t content_len, int64_t at_ms) {
  bson_error_t error;
  if (!version_stored) {
    bson_t version = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&version, "_id", edit_id);
    BSON_APPEND_UTF8(&version, "messageId", message_id);
    BSON_APPEND_UTF8(&version, "conversationId", m->conversation_id);
    bson_append_utf8(&version, "content", -1, was->content ? was->content : "",
                     (int)was->content_len);
    BSON_APPEND_DATE_TIME(&version, "writtenAt", was->written_at);
    BSON_APPEND_DATE_TIME(&version, "replacedAt", at_ms);
    if (was->edit_id)
      BSON_APPEND_UTF8(&version, "previousEditId", was->edit_id);
    else
      BSON_APPEND_NULL(&version, "previousEditId");
    bool ok = mongoc_collection_insert_one(versions, &version, NULL, NULL, &error);
    bson_destroy(&version);
    if (!ok && chat_mongo_error(&error) != CHAT_ERR_DUPLICATE)
      return chat_mongo_error(&error);
  }
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(message_id));
  bson_t update = BSON_INITIALIZER, set;
  BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
  bson_append_utf8(&set, "content", -1, content, (int)content_len);
  BSON_APPEND_DATE_TIME(&set, "editedAt", at_ms);
  BSON_APPEND_UTF8(&set, "editId", edit_id);
  bson_append_document_end(&update, &set);
  chat_err_t err = mongoc_collection_update_one(messages, filter, &update, NULL, NULL, &error)
                       ? CHAT_OK
                       : chat_mongo_error(&error);
  bson_destroy(&update);
  bson_destroy(filter);
  return err;
}

/* message_edited to the room, message.edited to chat.events, and the
 * answer to the REST call that waits. */
static chat_err_t tell(chat_runtime_t *rt, const chat_envelope_t *event, const stored_message_t *m,
                       const char *message_id, const char *edit_id, const char *content,
                       uint32_t content_len, int64_t at_ms) {
  char at[CHAT_JSON_TIME_SIZE];
  chat_json_format_time(at_ms, at);
  bson_string_t *value = bson_string_new(NULL);
  bson_string_append_printf(value,
                            "{\"messageId\":\"%s\",\"conversationId\":\"%s\",\"senderId\":\"%s\","
                            "\"editId\":\"%s\",\"content\":",
                            message_id, m->conversation_id, m->sender_id, edit_id);
  chat_json_append_string(value, content, content_len);
  bson_string_append_printf(value, ",\"seq\":%lld,\"editedAt\":\"%s\"}", (long long)m->seq, at);
  chat_err_t err =
      message_changes_tell_room(rt, m->conversation_id, "message_edited", value->str, value->len);
  if (err == CHAT_OK)
    err = persistence_publish_message_edited(rt, message_id, m->conversation_id, m->sender_id,
                                             edit_id, content, content_len, m->seq, at_ms);
  if (err == CHAT_OK && event->correlation_id[0]) {
    bson_string_t *answer = bson_string_new("{\"ok\":true,\"data\":");
    bson_string_append(answer, value->str);
    bson_string_append_c(answer, '}');
    err = persistence_reply(rt, event, answer->str);
    bson_string_free(answer, true);
  }
  bson_string_free(value, true);
  return err;
}

chat_err_t persistence_handle_message_edit(void *ctx, const chat_envelope_t *event,
                                           const chat_record_t *record) {
  chat_runtime_t *rt = ctx;
  const char *message_id = message_changes_payload_id(event, "messageId");
  const char *user_id = message_changes_payload_id(event, "userId");
  const char *edit_id = message_changes_payload_id(event, "editId");
  uint32_t content_len = 0;
  const char *content = chat_envelope_string(event, "content", &content_len);
  if (!message_id || !user_id || !edit_id) {
    CHAT_LOG(CHAT_LOG_WARN,
             "message.edit at %s[%d]@%lld lacks messageId, userId or editId; skipped",
             record->topic, record->partition, (long long)record->offset);
    return CHAT_OK;
  }
  /* The gateway checked the text against its own, smaller, limit; this is
   * the protocol's, for a command that came some other way. */
  if (!content || content_len == 0 || memchr(content, '\0', content_len))
    return message_changes_refuse(rt, event, message_id, EDIT_REVERT, CHAT_ERR_INVALID,
                                  "content is required: a non-empty string");
  if (content_len > CHAT_CONTENT_MAX)
    return message_changes_refuse(rt, event, message_id, EDIT_REVERT, CHAT_ERR_TOO_LARGE,
                                  "content is longer than the limit");
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  mongoc_collection_t *versions = chat_mongo_collection(mongo, client, "message_versions");
  stored_message_t m;
  edit_state_t was = {0};
  bool member = false, version_stored = false, applied = false, stale = false;
  char previous[CHAT_ID_SIZE] = "";
  const char *reason = NULL;
  chat_err_t code = CHAT_OK;
  chat_err_t err = stored_message_load(messages, message_id, &m);
  if (err == CHAT_OK && m.found) {
    read_edit_state(m.doc, &was);
    applied = was.edit_id && strcmp(was.edit_id, edit_id) == 0 &&
              strcmp(m.sender_id, user_id) == 0;
  }
  if (err == CHAT_OK && m.found && !applied)
    err = find_version(versions, edit_id, &version_stored, previous);
  if (version_stored)
    stale = strcmp(previous, was.edit_id ? was.edit_id : "") != 0;
  if (err == CHAT_OK && !applied && !stale) {
    if (!m.found)
      code = CHAT_ERR_NOT_FOUND, reason = "message not found";
    else if (strcmp(m.sender_id, user_id) != 0)
      code = CHAT_ERR_FORBIDDEN, reason = "only the sender may edit a message";
    else if (m.deleted)
      code = CHAT_ERR_NOT_FOUND, reason = "message was deleted";
    else if ((err = message_changes_is_member(mongo, client, m.conversation_id, user_id,
                                              &member)) == CHAT_OK &&
             !member)
      code = CHAT_ERR_FORBIDDEN, reason = "not a member of this conversation";
  }
  if (err == CHAT_OK && !reason && !applied && !stale)
    err = store_edit(messages, versions, &m, &was, version_stored, message_id, edit_id, content,
                     content_len, event->ts);
  mongoc_collection_destroy(versions);
  mongoc_collection_destroy(messages);
  chat_mongo_release(mongo, client);
  if (err == CHAT_OK && reason)
    err = message_changes_refuse(rt, event, message_id, EDIT_REVERT, code, reason);
  else if (err == CHAT_OK && stale)
    CHAT_LOG(CHAT_LOG_INFO, "message.edit %s of %s redelivered after a newer edit; nothing changed",
             edit_id, message_id);
  else if (err == CHAT_OK)
    err = tell(rt, event, &m, message_id, edit_id, content, content_len, event->ts);
  stored_message_cleanup(&m);
  return err;
}
