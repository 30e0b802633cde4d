/* Events a client emits on an authenticated socket (seed 004's names). */
#ifndef GATEWAY_CLIENT_EVENTS_H
#define GATEWAY_CLIENT_EVENTS_H

#include "gateway.h"

/* Handles one client event. Every event sent with an ack callback gets an
 * answer: {ok: true, ...} or {ok: false, error: {code, message}}. */
void gateway_handle_client_event(gateway_t *gw, gateway_socket_t *state,
                                 const chat_sio_packet_t *packet);

#endif
