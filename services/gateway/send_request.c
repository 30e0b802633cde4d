#include "send_request.h"

#include <string.h>

static const char *string_field(const bson_t *doc, const char *key, bool *present, uint32_t *len) {
  bson_iter_t it;
  *present = bson_iter_init_find(&it, doc, key) && !BSON_ITER_HOLDS_NULL(&it);
  if (!*present || !BSON_ITER_HOLDS_UTF8(&it))
    return NULL;
  return bson_iter_utf8(&it, len);
}

static bool has_control_characters(const char *str, uint32_t len) {
  for (uint32_t i = 0; i < len; i++) {
    if ((unsigned char)str[i] < 0x20 || str[i] == 0x7f)
      return true;
  }
  return false;
}

const char *send_request_read(const bson_t *doc, const char *sender_id, int max_content_bytes,
                              send_request_t *out, chat_err_t *err) {
  bool present;
  uint32_t len = 0;
  memset(out, 0, sizeof *out);
  *err = CHAT_ERR_INVALID;
  const char *value = string_field(doc, "clientMsgId", &present, &len);
  if (present) {
    if (!value || len == 0 || len > CHAT_CLIENT_MSG_ID_MAX || has_control_characters(value, len))
      return "clientMsgId must be a string of 1 to 128 printable bytes";
    memcpy(out->client_msg_id, value, len + 1);
  } else {
    /* Older clients send none: such a message cannot be deduplicated
     * when resent, but it goes through. */
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, out->client_msg_id);
  }
  out->content = string_field(doc, "content", &present, &out->content_len);
  if (!out->content)
    return "content is required and must be a string";
  if (out->content_len == 0)
    return "content must not be empty";
  if (out->content_len > (uint32_t)max_content_bytes) {
    *err = CHAT_ERR_TOO_LARGE;
    return "content is longer than the limit (CHAT_MAX_CONTENT_BYTES)";
  }
  if (memchr(out->content, '\0', out->content_len))
    return "content must not contain NUL characters";
  value = string_field(doc, "attachmentUrl", &present, &len);
  if (present) {
    if (!value || len > CHAT_ATTACHMENT_URL_MAX ||
        (strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0) ||
        has_control_characters(value, len))
      return "attachmentUrl must be an http(s) URL of at most 2048 bytes, or null";
    out->attachment_url = value;
  }
  /* A reply names its original by id; whether that message is one of
   * this conversation is for persistence, which reads it, to say. */
  value = string_field(doc, "replyTo", &present, &len);
  if (present) {
    if (!value || !chat_is_id(value))
      return "replyTo must be the id (24 hex digits) of a message of this conversation, or null";
    memcpy(out->reply_to, value, CHAT_ID_SIZE);
  }
  const char *conversation_id = string_field(doc, "conversationId", &present, &len);
  if (present && (!conversation_id || !chat_is_id(conversation_id)))
    return "conversationId must be 24 hex digits";
  const char *receiver_id = string_field(doc, "receiverId", &present, &len);
  if (present && (!receiver_id || !chat_is_id(receiver_id)))
    return "receiverId must be 24 hex digits";
  if (!conversation_id && !receiver_id)
    return "conversationId or receiverId is required";
  if (receiver_id) {
    /* A 1-1 send names its conversation by the pair: the id is derived
     * from the two user ids, and a conversationId beside it must be that
     * one, so that a receiverId never vouches for another conversation. */
    if (strcmp(receiver_id, sender_id) == 0)
      return "cannot send a message to yourself";
    memcpy(out->receiver_id, receiver_id, CHAT_ID_SIZE);
    if (!chat_direct_conversation_id(sender_id, receiver_id, out->conversation_id))
      return "receiverId must be 24 hex digits";
    if (conversation_id && strcmp(conversation_id, out->conversation_id) != 0)
      return "conversationId is not the direct conversation with receiverId";
  } else {
    memcpy(out->conversation_id, conversation_id, CHAT_ID_SIZE);
  }
  *err = CHAT_OK;
  return NULL;
}

chat_err_t send_request_command(const send_request_t *req, const char *sender_id,
                                const char *source, const char *connection_id,
                                const char *correlation_id, chat_envelope_t *env) {
  chat_err_t err = chat_envelope_init(env, "message.send", source, correlation_id);
  if (err != CHAT_OK)
    return err;
  bson_t *p = &env->payload;
  BSON_APPEND_UTF8(p, "clientMsgId", req->client_msg_id);
  BSON_APPEND_UTF8(p, "senderId", sender_id);
  BSON_APPEND_UTF8(p, "conversationId", req->conversation_id);
  if (req->receiver_id[0])
    BSON_APPEND_UTF8(p, "receiverId", req->receiver_id);
  bson_append_utf8(p, "content", 7, req->content, (int)req->content_len);
  if (req->attachment_url)
    BSON_APPEND_UTF8(p, "attachmentUrl", req->attachment_url);
  else
    BSON_APPEND_NULL(p, "attachmentUrl");
  if (connection_id)
    BSON_APPEND_UTF8(p, "connectionId", connection_id);
  if (req->reply_to[0])
    BSON_APPEND_UTF8(p, "replyTo", req->reply_to);
  return CHAT_OK;
}
