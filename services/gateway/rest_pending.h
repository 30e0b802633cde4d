/* REST calls that wait for a command's outcome: the gateway produces a
 * command with a correlation id and answers the HTTP request when the
 * command.result with that id comes back to gateway:<its id> on
 * chat.broadcast, or when the deadline passes. Loop thread only. */
#ifndef GATEWAY_REST_PENDING_H
#define GATEWAY_REST_PENDING_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/err.h"

typedef struct gateway gateway_t;

/* Called once: with the result's JSON, or with value NULL when the
 * deadline passed first (answer 504) or the gateway is stopping (answer
 * nothing). Frees ctx. */
typedef void (*rest_pending_fn)(gateway_t *gw, void *ctx, const char *value, size_t value_len,
                                bool stopping);

/* Waits up to timeout_ms for the result of correlation_id. Returns CHAT_OK
 * or CHAT_ERR_NOMEM (fn is not called then). */
chat_err_t rest_pending_add(gateway_t *gw, const char *correlation_id, int timeout_ms,
                            rest_pending_fn fn, void *ctx);

/* Hands a command.result to its waiter. false when nobody waits for it
 * (answered already by a timeout, or not ours). */
bool rest_pending_resolve(gateway_t *gw, const char *correlation_id, const char *value,
                          size_t value_len);

/* Calls the waiters past their deadline; about once a second. */
void rest_pending_expire(gateway_t *gw);

/* At shutdown: calls every waiter with stopping set; returns how many. */
size_t rest_pending_discard(gateway_t *gw);

#endif
