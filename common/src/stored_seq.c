#include "chat/stored_seq.h"

#include "chat/log.h"
#include "chat/mongo.h"

static chat_err_t seq_stored(mongoc_collection_t *messages, const char *conversation_id,
                             int64_t seq, bool *stored) {
  bson_t *filter =
      BCON_NEW("conversationId", BCON_UTF8(conversation_id), "seq", BCON_INT64(seq));
  bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64(1));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, filter, opts, NULL);
  const bson_t *doc;
  bson_error_t error;
  chat_err_t err = CHAT_OK;
  *stored = mongoc_cursor_next(cursor, &doc);
  if (!*stored && mongoc_cursor_error(cursor, &error)) {
    CHAT_LOG(CHAT_LOG_WARN, "reading messages of %s: %s", conversation_id, error.message);
    err = chat_mongo_error(&error);
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  return err;
}

chat_err_t chat_highest_stored_seq(mongoc_collection_t *messages, const char *conversation_id,
                                   int64_t last_seq, int64_t *out) {
  bool stored = false;
  *out = last_seq;
  chat_err_t err = seq_stored(messages, conversation_id, last_seq + 1, &stored);
  if (err != CHAT_OK || !stored)
    return err;
  int64_t present = last_seq + 1, missing = 0;
  for (int64_t step = 2; err == CHAT_OK && !missing; step *= 2) {
    err = seq_stored(messages, conversation_id, last_seq + step, &stored);
    if (stored)
      present = last_seq + step;
    else
      missing = last_seq + step;
  }
  while (err == CHAT_OK && missing - present > 1) {
    int64_t middle = present + (missing - present) / 2;
    err = seq_stored(messages, conversation_id, middle, &stored);
    if (stored)
      present = middle;
    else
      missing = middle;
  }
  if (err == CHAT_OK)
    *out = present;
  return err;
}
