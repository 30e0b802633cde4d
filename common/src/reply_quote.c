#include "chat/reply_quote.h"

#include <stdio.h>
#include <string.h>

#include "chat/json.h"

size_t chat_reply_excerpt_len(const char *content, size_t len, size_t max) {
  if (len <= max)
    return len;
  size_t cut = max;
  /* content[cut] is the first byte left out: while it continues a
   * character (10xxxxxx), that character would be cut in two. */
  while (cut > 0 && ((unsigned char)content[cut] & 0xC0) == 0x80)
    cut--;
  return cut;
}

void chat_reply_quote_take(chat_reply_quote_t *quote, const char *message_id,
                           const char *sender_id, const char *username, const char *content,
                           size_t content_len, bool deleted) {
  memset(quote, 0, sizeof *quote);
  snprintf(quote->message_id, sizeof quote->message_id, "%s", message_id);
  snprintf(quote->sender_id, sizeof quote->sender_id, "%s", sender_id);
  if (username)
    snprintf(quote->sender_username, sizeof quote->sender_username, "%s", username);
  quote->deleted = deleted;
  if (deleted || !content)
    return;
  size_t len = chat_reply_excerpt_len(content, content_len, CHAT_REPLY_EXCERPT_MAX);
  memcpy(quote->excerpt, content, len);
  quote->excerpt[len] = '\0';
  quote->truncated = len < content_len;
}

void chat_reply_quote_append(bson_t *doc, const char *key, const chat_reply_quote_t *quote) {
  bson_t q;
  bson_append_document_begin(doc, key, -1, &q);
  BSON_APPEND_UTF8(&q, "messageId", quote->message_id);
  BSON_APPEND_UTF8(&q, "senderId", quote->sender_id);
  if (quote->sender_username[0])
    BSON_APPEND_UTF8(&q, "senderUsername", quote->sender_username);
  else
    BSON_APPEND_NULL(&q, "senderUsername");
  if (quote->deleted)
    BSON_APPEND_NULL(&q, "excerpt");
  else
    BSON_APPEND_UTF8(&q, "excerpt", quote->excerpt);
  BSON_APPEND_BOOL(&q, "truncated", quote->truncated);
  BSON_APPEND_BOOL(&q, "deleted", quote->deleted);
  bson_append_document_end(doc, &q);
}

/* Copies the string at it into out (cap bytes); false when it is not a
 * string or does not fit. */
static bool copy_string(const bson_iter_t *it, char *out, size_t cap) {
  uint32_t len = 0;
  if (!BSON_ITER_HOLDS_UTF8(it))
    return false;
  const char *str = bson_iter_utf8(it, &len);
  if (len >= cap)
    return false;
  memcpy(out, str, len + 1);
  return true;
}

bool chat_reply_quote_read(const bson_t *doc, const char *key, chat_reply_quote_t *quote) {
  bson_iter_t it, q;
  memset(quote, 0, sizeof *quote);
  if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
      !bson_iter_recurse(&it, &q))
    return false;
  bool ok = true;
  while (ok && bson_iter_next(&q)) {
    const char *name = bson_iter_key(&q);
    if (strcmp(name, "messageId") == 0)
      ok = copy_string(&q, quote->message_id, sizeof quote->message_id);
    else if (strcmp(name, "senderId") == 0)
      ok = copy_string(&q, quote->sender_id, sizeof quote->sender_id);
    else if (strcmp(name, "senderUsername") == 0 && !BSON_ITER_HOLDS_NULL(&q))
      ok = copy_string(&q, quote->sender_username, sizeof quote->sender_username);
    else if (strcmp(name, "excerpt") == 0 && !BSON_ITER_HOLDS_NULL(&q))
      ok = copy_string(&q, quote->excerpt, sizeof quote->excerpt);
    else if (strcmp(name, "truncated") == 0)
      quote->truncated = bson_iter_as_bool(&q);
    else if (strcmp(name, "deleted") == 0)
      quote->deleted = bson_iter_as_bool(&q);
  }
  if (!ok || !chat_is_id(quote->message_id) || !chat_is_id(quote->sender_id)) {
    memset(quote, 0, sizeof *quote);
    return false;
  }
  return true;
}

void chat_reply_quote_json(bson_string_t *out, const chat_reply_quote_t *quote) {
  bson_string_append_printf(out, "{\"messageId\":\"%s\",\"senderId\":\"%s\",\"senderUsername\":",
                            quote->message_id, quote->sender_id);
  if (quote->sender_username[0])
    chat_json_append_string(out, quote->sender_username, strlen(quote->sender_username));
  else
    bson_string_append(out, "null");
  bson_string_append(out, ",\"excerpt\":");
  if (quote->deleted)
    bson_string_append(out, "null");
  else
    chat_json_append_string(out, quote->excerpt, strlen(quote->excerpt));
  bson_string_append_printf(out, ",\"truncated\":%s,\"deleted\":%s}",
                            quote->truncated ? "true" : "false", quote->deleted ? "true" : "false");
}
