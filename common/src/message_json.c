#include "chat/message_json.h"

#include <string.h>

#include "chat/json.h"

static void append_nullable(bson_string_t *out, const char *str) {
  if (str)
    chat_json_append_string(out, str, strlen(str));
  else
    bson_string_append(out, "null");
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
  bson_string_append_printf(out, "},\"seq\":%lld}", (long long)m->seq);
}
