/* Events a client emits on an authenticated socket (client_events.c). */
#ifndef GATEWAY_CLIENT_EVENTS_H
#define GATEWAY_CLIENT_EVENTS_H

#include <bson/bson.h>

#include "gateway.h"
#include "server.h"
#include "socket_state.h"

/* Handles one client event. Every event sent with an ack callback gets an
 * answer: {ok: true, ...} or {ok: false, error: {code, message}}. */
void gateway_handle_client_event(gateway_t *gw, gateway_socket_t *state,
                                 const chat_sio_packet_t *packet);

/* Appends every client event of the dispatch table, with who may send it,
 * as a JSON array (describe_api.c): [{"name","auth","scope","object",
 * "field","revert"}, ...]. */
void gateway_describe_client_events(bson_string_t *out);

#endif
