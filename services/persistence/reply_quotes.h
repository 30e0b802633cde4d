/* The quote of the message a reply answers (chat/reply_quote.h), read
 * from the store when the reply is stored: one point read by _id, and
 * only for a send that carries replyTo. */
#ifndef PERSISTENCE_REPLY_QUOTES_H
#define PERSISTENCE_REPLY_QUOTES_H

#include <mongoc/mongoc.h>

#include "chat/reply_quote.h"
#include "chat/runtime.h"

/* Quotes the stored message original_id for a reply in conversation_id.
 * Returns CHAT_OK with *refusal CHAT_OK and *quote filled; CHAT_OK with
 * *refusal set and *why (static text) when the reply must be refused:
 * CHAT_ERR_NOT_FOUND (no such message), CHAT_ERR_INVALID (a message of
 * another conversation); or the store's error (the batch is retried). */
chat_err_t reply_quotes_lookup(chat_runtime_t *rt, mongoc_client_t *client,
                               const char *original_id, const char *conversation_id,
                               chat_reply_quote_t *quote, chat_err_t *refusal, const char **why);

#endif
