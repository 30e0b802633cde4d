#include "reply_quotes.h"

#include <string.h>

#include "chat/log.h"
#include "conversation_state.h"

chat_err_t reply_quotes_lookup(chat_runtime_t *rt, mongoc_client_t *client,
                               const char *original_id, const char *conversation_id,
                               chat_reply_quote_t *quote, chat_err_t *refusal, const char **why) {
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(original_id));
  bson_t *opts = BCON_NEW("projection", "{", "conversationId", BCON_INT32(1), "senderId",
                          BCON_INT32(1), "content", BCON_INT32(1), "deletedAt", BCON_INT32(1), "}",
                          "limit", BCON_INT64(1));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, filter, opts, NULL);
  const bson_t *doc;
  bson_error_t error;
  bson_iter_t it;
  chat_err_t err = CHAT_OK;
  *refusal = CHAT_OK;
  *why = NULL;
  if (mongoc_cursor_next(cursor, &doc)) {
    const char *in = bson_iter_init_find(&it, doc, "conversationId") && BSON_ITER_HOLDS_UTF8(&it)
                         ? bson_iter_utf8(&it, NULL)
                         : "";
    const char *sender = bson_iter_init_find(&it, doc, "senderId") && BSON_ITER_HOLDS_UTF8(&it)
                             ? bson_iter_utf8(&it, NULL)
                             : "";
    uint32_t content_len = 0;
    const char *content = bson_iter_init_find(&it, doc, "content") && BSON_ITER_HOLDS_UTF8(&it)
                              ? bson_iter_utf8(&it, &content_len)
                              : NULL;
    bool deleted = bson_iter_init_find(&it, doc, "deletedAt") && !BSON_ITER_HOLDS_NULL(&it);
    if (strcmp(in, conversation_id) != 0) {
      *refusal = CHAT_ERR_INVALID;
      *why = "replyTo names a message of another conversation";
    } else {
      const char *username = NULL;
      err = conversation_state_user_name(rt, client, sender, &username);
      /* The quote keeps the name before the next call into that module
       * can invalidate it. */
      if (err == CHAT_OK)
        chat_reply_quote_take(quote, original_id, sender, username, content, content_len, deleted);
    }
  } else if (mongoc_cursor_error(cursor, &error)) {
    CHAT_LOG(CHAT_LOG_WARN, "reading the original %s of a reply: %s", original_id, error.message);
    err = chat_mongo_error(&error);
  } else {
    *refusal = CHAT_ERR_NOT_FOUND;
    *why = "replyTo names no message";
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(messages);
  return err;
}
