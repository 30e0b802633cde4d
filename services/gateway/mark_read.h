/* "Everything in this conversation read up to now": the socket event
 * mark_as_read and PUT /api/chat/conversations/:id/read both become the
 * read.mark_conversation command on chat.receipts, keyed by conversation
 * (proto/events/read.mark_conversation.schema.json). */
#ifndef GATEWAY_MARK_READ_H
#define GATEWAY_MARK_READ_H

#include "chat/err.h"
#include "gateway.h"

/* Produces read.mark_conversation for user_id. connection_id (the asking
 * socket's "<gateway>/<socket>") and correlation_id (a REST call waiting)
 * may be NULL. Returns what gateway_produce() returns. */
chat_err_t gateway_mark_conversation_read(gateway_t *gw, const char *user_id,
                                          const char *conversation_id, const char *connection_id,
                                          const char *correlation_id);

#endif
