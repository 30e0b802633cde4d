/* The new_message payload (proto/events/new_message.schema.json), written
 * by persistence for live delivery and by the gateway when it replays what
 * a reconnecting client missed: one writer, so both are the same bytes. */
#ifndef CHAT_MESSAGE_JSON_H
#define CHAT_MESSAGE_JSON_H

#include <bson/bson.h>
#include <stdint.h>

/* A stored message, as plain views. receiver_id, attachment_url and
 * sender_username may be NULL. */
typedef struct chat_message_view {
  const char *id, *sender_id, *receiver_id, *conversation_id;
  const char *content;
  size_t content_len;
  const char *attachment_url;
  int64_t created_at_ms;
  const char *sender_username;
  int64_t seq;
} chat_message_view_t;

/* Appends {"id","senderId","receiverId","conversationId","content",
 * "attachmentUrl","isRead":false,"createdAt","sender":{"id","username"},"seq"}. */
void chat_new_message_json(bson_string_t *out, const chat_message_view_t *m);

#endif
