/* The two shapes of a message on the wire, one writer each, so that every
 * service writes the same bytes:
 * - the new_message payload (proto/events/new_message.schema.json), written
 *   by persistence for live delivery and by the gateway when it replays
 *   what a reconnecting client missed;
 * - the REST message (proto/openapi.yaml, Message), written by persistence
 *   for the answer of POST /api/chat/send and by the gateway for pages of
 *   history. */
#ifndef CHAT_MESSAGE_JSON_H
#define CHAT_MESSAGE_JSON_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "chat/reply_quote.h"

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
  const chat_reply_quote_t *reply_to; /* a reply: the quote of its original; NULL: no replyTo key */
} chat_message_view_t;

/* Appends {"id","senderId","receiverId","conversationId","content",
 * "attachmentUrl","isRead":false,"createdAt","sender":{"id","username"},"seq"
 * [,"replyTo":{...}]} (chat/reply_quote.h). */
void chat_new_message_json(bson_string_t *out, const chat_message_view_t *m);

/* A person as REST answers name one (proto/openapi.yaml, UserRef). */
typedef struct chat_user_ref {
  const char *id;       /* NULL: the person is written as null */
  const char *username; /* NULL when unknown: null */
  int is_online;        /* 1 or 0; -1 when presence was not read: no isOnline key */
} chat_user_ref_t;

/* Appends {"id","username"[,"isOnline"]}, or null when person->id is NULL. */
void chat_user_ref_json(bson_string_t *out, const chat_user_ref_t *person);

/* A stored message as a REST answer shows it to one viewer. Its strings
 * may be NULL (written as null) for a stored document that lacks one. */
typedef struct chat_rest_message_view {
  chat_message_view_t message; /* its sender_username is not used: sender.username is */
  bool is_read;
  int64_t read_at_ms;           /* 0: null */
  chat_user_ref_t sender, receiver;
  const char *client_msg_id; /* NULL: no clientMsgId key (only a send's answer has it) */
  /* Edits and reactions, as history shows them: with_changes writes
   * "editedAt" (edited_at_ms, 0: null) and "reactions" (the stored array,
   * NULL: none, summarized for viewer_id; chat/reactions.h). */
  bool with_changes;
  int64_t edited_at_ms;
  const bson_t *reactions;
  const char *viewer_id;
} chat_rest_message_view_t;

/* Appends {"id","sender_id","receiver_id","conversation_id","content",
 * "attachment_url","is_read","read_at","createdAt","sender":{"id","username"
 * [,"isOnline"]},"receiver":{...}|null,"seq"[,"editedAt","reactions"]
 * [,"clientMsgId"][,"replyTo":{...}]}. */
void chat_rest_message_json(bson_string_t *out, const chat_rest_message_view_t *m);

#endif
