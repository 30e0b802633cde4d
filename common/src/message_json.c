#include "chat/message_json.h"

#include <string.h>

#include "chat/json.h"
#include "chat/reactions.h"

static void append_nullable(bson_string_t *out, const char *str) {
  if (str)
    chat_json_append_string(out, str, strlen(str));
  else
    bson_string_append(out, "null");
}

/* A reply's quote of its original, as the last key; nothing for a
 * message that answers none. */
static void append_reply_to(bson_string_t *out, const chat_reply_quote_t *quote) {
  if (!quote)
    return;
  bson_string_append(out, ",\"replyTo\":");
  chat_reply_quote_json(out, quote);
}

void chat_new_message_json(bson_string_t *out, const chat_message_view_t *m) {
  bson_string_append(out, "{\"id\":");
  chat_json_append_string(out, m->id, strlen(m->id));
  bson_string_append(out, ",\"senderId\":");
  chat_json_append_string(out, m->sender_id, strlen(m->sender_id));
  bson_string_append(out, ",\"receiverId\":");
  append_nullable(out, m->receiver_id);
  bson_string_append(out, ",\"conversationId\":");
  chat_json_append_string(out, m->conversation_id, strlen(m->conversation_id));
  bson_string_append(out, ",\"content\":");
  chat_json_append_string(out, m->content, m->content_len);
  bson_string_append(out, ",\"attachmentUrl\":");
  append_nullable(out, m->attachment_url);
  bson_string_append(out, ",\"isRead\":false,\"createdAt\":");
  chat_json_append_time(out, m->created_at_ms);
  bson_string_append(out, ",\"sender\":{\"id\":");
  chat_json_append_string(out, m->sender_id, strlen(m->sender_id));
  bson_string_append(out, ",\"username\":");
  append_nullable(out, m->sender_username);
  bson_string_append_printf(out, "},\"seq\":%lld", (long long)m->seq);
  append_reply_to(out, m->reply_to);
  bson_string_append_c(out, '}');
}

void chat_user_ref_json(bson_string_t *out, const chat_user_ref_t *person) {
  if (!person->id) {
    bson_string_append(out, "null");
    return;
  }
  bson_string_append(out, "{\"id\":");
  chat_json_append_string(out, person->id, strlen(person->id));
  bson_string_append(out, ",\"username\":");
  append_nullable(out, person->username);
  if (person->is_online >= 0)
    bson_string_append(out, person->is_online ? ",\"isOnline\":true" : ",\"isOnline\":false");
  bson_string_append_c(out, '}');
}

void chat_rest_message_json(bson_string_t *out, const chat_rest_message_view_t *m) {
  const chat_message_view_t *message = &m->message;
  bson_string_append(out, "{\"id\":");
  append_nullable(out, message->id);
  bson_string_append(out, ",\"sender_id\":");
  append_nullable(out, message->sender_id);
  bson_string_append(out, ",\"receiver_id\":");
  append_nullable(out, message->receiver_id);
  bson_string_append(out, ",\"conversation_id\":");
  append_nullable(out, message->conversation_id);
  bson_string_append(out, ",\"content\":");
  if (message->content)
    chat_json_append_string(out, message->content, message->content_len);
  else
    bson_string_append(out, "null");
  bson_string_append(out, ",\"attachment_url\":");
  append_nullable(out, message->attachment_url);
  bson_string_append(out, m->is_read ? ",\"is_read\":true" : ",\"is_read\":false");
  bson_string_append(out, ",\"read_at\":");
  if (m->read_at_ms)
    chat_json_append_time(out, m->read_at_ms);
  else
    bson_string_append(out, "null");
  bson_string_append(out, ",\"createdAt\":");
  chat_json_append_time(out, message->created_at_ms);
  bson_string_append(out, ",\"sender\":");
  chat_user_ref_json(out, &m->sender);
  bson_string_append(out, ",\"receiver\":");
  chat_user_ref_json(out, &m->receiver);
  bson_string_append_printf(out, ",\"seq\":%lld", (long long)message->seq);
  if (m->with_changes) {
    bson_string_append(out, ",\"editedAt\":");
    if (m->edited_at_ms)
      chat_json_append_time(out, m->edited_at_ms);
    else
      bson_string_append(out, "null");
    bson_string_append(out, ",\"reactions\":");
    chat_reactions_summary_json(out, m->reactions, m->viewer_id);
  }
  if (m->client_msg_id) {
    bson_string_append(out, ",\"clientMsgId\":");
    chat_json_append_string(out, m->client_msg_id, strlen(m->client_msg_id));
  }
  append_reply_to(out, message->reply_to);
  bson_string_append_c(out, '}');
}
