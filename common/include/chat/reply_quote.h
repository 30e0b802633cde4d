/* The quote a reply carries of the message it answers (issue 21,
 * "Replies"): who wrote the original and its first characters, or that it
 * was deleted. Persistence takes it once, when it stores the reply, and
 * keeps it in the reply's document (key replyTo), so that every rendering
 * of the reply (new_message, history, search, message.created, a resume)
 * shows the same quote without reading the original again, and a
 * redelivered send keeps the quote it was stored with. */
#ifndef CHAT_REPLY_QUOTE_H
#define CHAT_REPLY_QUOTE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "chat/ids.h"
#include "chat/limits.h"

#define CHAT_REPLY_EXCERPT_MAX 120 /* bytes of the original's text a quote keeps at most */

typedef struct chat_reply_quote {
  char message_id[CHAT_ID_SIZE];                  /* the original */
  char sender_id[CHAT_ID_SIZE];                   /* who wrote the original */
  char sender_username[CHAT_USERNAME_MAX + 1];    /* "" when unknown */
  char excerpt[CHAT_REPLY_EXCERPT_MAX + 1];       /* "" when deleted */
  bool truncated;                                 /* the original is longer than excerpt */
  bool deleted;                                   /* the original was deleted: no excerpt */
} chat_reply_quote_t;

/* How many of content's first len bytes a quote of at most max bytes
 * keeps: all of them when they fit, else max cut back to the start of a
 * UTF-8 character, so that a quote is never a broken character. */
size_t chat_reply_excerpt_len(const char *content, size_t len, size_t max);

/* Fills quote of the original message_id by sender_id (username may be
 * NULL), from its content (content_len bytes; ignored when deleted). */
void chat_reply_quote_take(chat_reply_quote_t *quote, const char *message_id,
                           const char *sender_id, const char *username, const char *content,
                           size_t content_len, bool deleted);

/* Appends quote to doc under key as {messageId, senderId, senderUsername
 * (or null), excerpt (or null when deleted), truncated, deleted}: the
 * stored form and the one of message.created's payload. */
void chat_reply_quote_append(bson_t *doc, const char *key, const chat_reply_quote_t *quote);

/* Reads doc[key] as written by chat_reply_quote_append(). Returns false
 * when doc has no such key, or it is not a quote (then *quote is zeroed). */
bool chat_reply_quote_read(const bson_t *doc, const char *key, chat_reply_quote_t *quote);

/* Appends quote as JSON, in the same shape and key order. */
void chat_reply_quote_json(bson_string_t *out, const chat_reply_quote_t *quote);

#endif
