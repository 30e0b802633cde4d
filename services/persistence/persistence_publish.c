#include "persistence_publish.h"

#include <stdio.h>
#include <string.h>

#include "chat/broadcast.h"
#include "chat/json.h"
#include "chat/log.h"
#include "chat/topics.h"

chat_err_t persistence_reply(chat_runtime_t *rt, const chat_envelope_t *event, const char *value) {
  return chat_broadcast_reply(chat_runtime_producer(rt), chat_runtime_config(rt), event, value);
}

/* Produces env to chat.events keyed by key, and frees its payload. */
static chat_err_t publish(chat_runtime_t *rt, chat_envelope_t *env, const char *key) {
  bson_string_t *value = bson_string_new(NULL);
  char topic[CHAT_TOPIC_NAME_MAX];
  chat_err_t err = chat_envelope_encode(env, value);
  chat_envelope_cleanup(env);
  if (err == CHAT_OK) {
    chat_topic_name(chat_runtime_config(rt)->topic_prefix, CHAT_TOPIC_EVENTS, topic, sizeof topic);
    err = chat_producer_produce(chat_runtime_producer(rt), topic, key, strlen(key), value->str,
                                value->len, NULL, 0, 0);
  }
  bson_string_free(value, true);
  return err;
}

static void append_time(bson_t *doc, const char *key, int64_t ms) {
  char text[CHAT_JSON_TIME_SIZE];
  chat_json_format_time(ms, text);
  bson_append_utf8(doc, key, -1, text, -1);
}

static void append_nullable(bson_t *doc, const char *key, const char *value) {
  if (value)
    bson_append_utf8(doc, key, -1, value, -1);
  else
    bson_append_null(doc, key, -1);
}

chat_err_t persistence_publish_message_created(chat_runtime_t *rt,
                                               const persistence_message_created_t *m) {
  chat_envelope_t env;
  chat_err_t err = chat_envelope_init(&env, "message.created", chat_runtime_source(rt), NULL);
  if (err != CHAT_OK)
    return err;
  bson_t *p = &env.payload;
  BSON_APPEND_UTF8(p, "messageId", m->message_id);
  BSON_APPEND_UTF8(p, "conversationId", m->conversation_id);
  BSON_APPEND_UTF8(p, "senderId", m->sender_id);
  append_nullable(p, "receiverId", m->receiver_id);
  bson_append_utf8(p, "content", -1, m->content, (int)m->content_len);
  append_nullable(p, "attachmentUrl", m->attachment_url);
  BSON_APPEND_INT64(p, "seq", m->seq);
  append_time(p, "createdAt", m->created_at_ms);
  if (m->reply_to)
    chat_reply_quote_append(p, "replyTo", m->reply_to);
  if (m->member_count) {
    bson_t members;
    BSON_APPEND_ARRAY_BEGIN(p, "memberIds", &members);
    for (size_t i = 0; i < m->member_count; i++) {
      char key[16];
      const char *key_str;
      bson_uint32_to_string((uint32_t)i, &key_str, key, sizeof key);
      bson_append_utf8(&members, key_str, -1, m->member_ids[i], -1);
    }
    bson_append_array_end(p, &members);
  }
  return publish(rt, &env, m->conversation_id);
}

chat_err_t persistence_publish_conversation_created(chat_runtime_t *rt, const char *conversation_id,
                                                    const char *kind, const char *name,
                                                    const char *owner_id,
                                                    const char *const *member_ids,
                                                    size_t member_count, int64_t created_at_ms) {
  chat_envelope_t env;
  chat_err_t err = chat_envelope_init(&env, "conversation.created", chat_runtime_source(rt), NULL);
  if (err != CHAT_OK)
    return err;
  bson_t *p = &env.payload, members;
  BSON_APPEND_UTF8(p, "conversationId", conversation_id);
  BSON_APPEND_UTF8(p, "kind", kind);
  append_nullable(p, "name", name);
  append_nullable(p, "ownerId", owner_id);
  BSON_APPEND_ARRAY_BEGIN(p, "memberIds", &members);
  for (size_t i = 0; i < member_count; i++) {
    char key[16];
    const char *key_str;
    bson_uint32_to_string((uint32_t)i, &key_str, key, sizeof key);
    bson_append_utf8(&members, key_str, -1, member_ids[i], -1);
  }
  bson_append_array_end(p, &members);
  append_time(p, "createdAt", created_at_ms);
  return publish(rt, &env, conversation_id);
}

/* Starts env of type; false when it cannot be. */
static bool start(chat_runtime_t *rt, chat_envelope_t *env, const char *type) {
  return chat_envelope_init(env, type, chat_runtime_source(rt), NULL) == CHAT_OK;
}

chat_err_t persistence_publish_member_added(chat_runtime_t *rt, const char *conversation_id,
                                            char (*user_ids)[25], size_t count,
                                            const char *added_by, int64_t at_ms) {
  chat_envelope_t env;
  bson_t list;
  if (!start(rt, &env, "member.added"))
    return CHAT_ERR_INVALID;
  BSON_APPEND_UTF8(&env.payload, "conversationId", conversation_id);
  BSON_APPEND_ARRAY_BEGIN(&env.payload, "userIds", &list);
  for (size_t i = 0; i < count; i++) {
    char key[16];
    const char *key_str;
    bson_uint32_to_string((uint32_t)i, &key_str, key, sizeof key);
    bson_append_utf8(&list, key_str, -1, user_ids[i], -1);
  }
  bson_append_array_end(&env.payload, &list);
  BSON_APPEND_UTF8(&env.payload, "addedBy", added_by);
  append_time(&env.payload, "addedAt", at_ms);
  return publish(rt, &env, conversation_id);
}

chat_err_t persistence_publish_member_removed(chat_runtime_t *rt, const char *conversation_id,
                                              const char *user_id, const char *removed_by,
                                              int64_t at_ms) {
  chat_envelope_t env;
  if (!start(rt, &env, "member.removed"))
    return CHAT_ERR_INVALID;
  BSON_APPEND_UTF8(&env.payload, "conversationId", conversation_id);
  BSON_APPEND_UTF8(&env.payload, "userId", user_id);
  BSON_APPEND_UTF8(&env.payload, "removedBy", removed_by);
  append_time(&env.payload, "removedAt", at_ms);
  return publish(rt, &env, conversation_id);
}

chat_err_t persistence_publish_conversation_deleted(chat_runtime_t *rt, const char *conversation_id,
                                                    const char *deleted_by, int64_t at_ms) {
  chat_envelope_t env;
  if (!start(rt, &env, "conversation.deleted"))
    return CHAT_ERR_INVALID;
  BSON_APPEND_UTF8(&env.payload, "conversationId", conversation_id);
  BSON_APPEND_UTF8(&env.payload, "deletedBy", deleted_by);
  append_time(&env.payload, "deletedAt", at_ms);
  return publish(rt, &env, conversation_id);
}

chat_err_t persistence_publish_message_deleted(chat_runtime_t *rt, const char *message_id,
                                               const char *conversation_id, const char *deleted_by,
                                               int64_t at_ms) {
  chat_envelope_t env;
  if (!start(rt, &env, "message.deleted"))
    return CHAT_ERR_INVALID;
  BSON_APPEND_UTF8(&env.payload, "messageId", message_id);
  BSON_APPEND_UTF8(&env.payload, "conversationId", conversation_id);
  BSON_APPEND_UTF8(&env.payload, "deletedBy", deleted_by);
  append_time(&env.payload, "deletedAt", at_ms);
  return publish(rt, &env, conversation_id);
}

chat_err_t persistence_publish_replied_first(chat_runtime_t *rt, const char *conversation_id,
                                             const char *replier_id, const char *original_sender_id,
                                             const char *original_message_id,
                                             const char *reply_message_id, int64_t original_at_ms,
                                             int64_t replied_at_ms) {
  chat_envelope_t env;
  if (!start(rt, &env, "replied.in.24hr.first"))
    return CHAT_ERR_INVALID;
  BSON_APPEND_UTF8(&env.payload, "conversationId", conversation_id);
  BSON_APPEND_UTF8(&env.payload, "replierId", replier_id);
  BSON_APPEND_UTF8(&env.payload, "originalSenderId", original_sender_id);
  BSON_APPEND_UTF8(&env.payload, "originalMessageId", original_message_id);
  BSON_APPEND_UTF8(&env.payload, "replyMessageId", reply_message_id);
  append_time(&env.payload, "originalAt", original_at_ms);
  append_time(&env.payload, "repliedAt", replied_at_ms);
  return publish(rt, &env, conversation_id);
}

/* ---- edits and reactions ---- */

chat_err_t persistence_publish_message_edited(chat_runtime_t *rt, const char *message_id,
                                              const char *conversation_id, const char *sender_id,
                                              const char *edit_id, const char *content,
                                              size_t content_len, int64_t seq,
                                              int64_t edited_at_ms) {
  chat_envelope_t env;
  if (!start(rt, &env, "message.edited"))
    return CHAT_ERR_INVALID;
  bson_t *p = &env.payload;
  BSON_APPEND_UTF8(p, "messageId", message_id);
  BSON_APPEND_UTF8(p, "conversationId", conversation_id);
  BSON_APPEND_UTF8(p, "senderId", sender_id);
  BSON_APPEND_UTF8(p, "editId", edit_id);
  bson_append_utf8(p, "content", -1, content, (int)content_len);
  BSON_APPEND_INT64(p, "seq", seq);
  append_time(p, "editedAt", edited_at_ms);
  return publish(rt, &env, conversation_id);
}

chat_err_t persistence_publish_reaction(chat_runtime_t *rt, bool added, const char *message_id,
                                        const char *conversation_id, const char *user_id,
                                        const char *emoji, size_t emoji_len, int64_t count,
                                        int64_t at_ms) {
  chat_envelope_t env;
  if (!start(rt, &env, added ? "reaction.added" : "reaction.removed"))
    return CHAT_ERR_INVALID;
  bson_t *p = &env.payload;
  BSON_APPEND_UTF8(p, "messageId", message_id);
  BSON_APPEND_UTF8(p, "conversationId", conversation_id);
  BSON_APPEND_UTF8(p, "userId", user_id);
  bson_append_utf8(p, "emoji", -1, emoji, (int)emoji_len);
  BSON_APPEND_INT64(p, "count", count);
  append_time(p, "at", at_ms);
  return publish(rt, &env, conversation_id);
}
