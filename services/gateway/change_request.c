#include "change_request.h"

#include <string.h>

#include "chat/emoji.h"
#include "chat/ids.h"

void change_request_string(const bson_t *doc, const char *key, const char **value, uint32_t *len,
                           bool *present) {
  bson_iter_t it;
  *value = NULL;
  *len = 0;
  *present = bson_iter_init_find(&it, doc, key) && !BSON_ITER_HOLDS_NULL(&it);
  if (*present && BSON_ITER_HOLDS_UTF8(&it))
    *value = bson_iter_utf8(&it, len);
}

const char *change_request_check_content(const char *content, uint32_t len, bool present,
                                         int max_content_bytes, chat_err_t *err) {
  *err = CHAT_ERR_INVALID;
  if (!present || !content)
    return "content is required and must be a string";
  if (len == 0)
    return "content must not be empty";
  if (len > (uint32_t)max_content_bytes) {
    *err = CHAT_ERR_TOO_LARGE;
    return "content is longer than the limit (CHAT_MAX_CONTENT_BYTES)";
  }
  if (memchr(content, '\0', len))
    return "content must not contain NUL characters";
  *err = CHAT_OK;
  return NULL;
}

const char *change_request_check_emoji(const char *emoji, uint32_t len, bool present,
                                       chat_err_t *err) {
  *err = CHAT_ERR_INVALID;
  if (!present || !emoji)
    return "emoji is required and must be a string";
  if (!chat_emoji_is_valid(emoji, len))
    return "emoji must be one emoji of at most 32 bytes";
  *err = CHAT_OK;
  return NULL;
}

static chat_err_t start(chat_envelope_t *env, const char *type, const char *message_id,
                        const char *user_id, const char *source, const char *connection_id,
                        const char *correlation_id) {
  chat_err_t err = chat_envelope_init(env, type, source, correlation_id);
  if (err != CHAT_OK)
    return err;
  BSON_APPEND_UTF8(&env->payload, "messageId", message_id);
  BSON_APPEND_UTF8(&env->payload, "userId", user_id);
  if (connection_id)
    BSON_APPEND_UTF8(&env->payload, "connectionId", connection_id);
  return CHAT_OK;
}

chat_err_t change_request_edit_command(const char *message_id, const char *user_id,
                                       const char *content, uint32_t content_len,
                                       const char *source, const char *connection_id,
                                       const char *correlation_id, chat_envelope_t *env) {
  chat_err_t err =
      start(env, "message.edit", message_id, user_id, source, connection_id, correlation_id);
  if (err != CHAT_OK)
    return err;
  /* The edit's id is made once, here: Kafka may deliver the command more
   * than once, and persistence tells a replay by it. */
  bson_oid_t oid;
  char edit_id[CHAT_ID_SIZE];
  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, edit_id);
  BSON_APPEND_UTF8(&env->payload, "editId", edit_id);
  bson_append_utf8(&env->payload, "content", 7, content, (int)content_len);
  return CHAT_OK;
}

chat_err_t change_request_reaction_command(bool add, const char *message_id, const char *user_id,
                                           const char *emoji, uint32_t emoji_len,
                                           const char *source, const char *connection_id,
                                           const char *correlation_id, chat_envelope_t *env) {
  chat_err_t err = start(env, add ? "reaction.add" : "reaction.remove", message_id, user_id, source,
                         connection_id, correlation_id);
  if (err == CHAT_OK)
    bson_append_utf8(&env->payload, "emoji", 5, emoji, (int)emoji_len);
  return err;
}
