/* Events a client emits on an authenticated socket (seed 004's names). */
#ifndef GATEWAY_CLIENT_EVENTS_H
#define GATEWAY_CLIENT_EVENTS_H

#include "gateway.h"

/* Handles one client event. Every event sent with an ack callback gets an
 * answer: {ok: true, ...} or {ok: false, error: {code, message}}. */
void gateway_handle_client_event(gateway_t *gw, gateway_socket_t *state,
                                 const chat_sio_packet_t *packet);

/* Appends every client event of the dispatch table, with who may send it,
 * as a JSON array (describe_api.c): [{"name","auth","scope","object",
 * "field","revert"}, ...]. */
void gateway_describe_client_events(bson_string_t *out);

/* Answers an event's ack (when it asked for one, ack_id >= 0) with
 * [{"ok":false,"error":{"code","message"}}]. */
void gateway_ack_error(chat_sio_socket_t *socket, int64_t ack_id, chat_err_t err,
                       const char *message);

/* Answers [{"ok":true}], or [{"ok":true,<fields_json>}] with fields_json
 * like "\"a\":1" when it is not NULL. */
void gateway_ack_ok(chat_sio_socket_t *socket, int64_t ack_id, const char *fields_json);

/* Takes one token of the socket's rate limit; false when it is spent. */
bool gateway_rate_allow(gateway_t *gw, gateway_socket_t *state);

/* Produces read.mark_conversation for user_id: everything in the
 * conversation read up to now. state (the asking socket) and
 * correlation_id (a REST call waiting) may be NULL. */
chat_err_t gateway_mark_conversation_read(gateway_t *gw, const char *user_id,
                                          const char *conversation_id,
                                          const gateway_socket_t *state,
                                          const char *correlation_id);

#endif
