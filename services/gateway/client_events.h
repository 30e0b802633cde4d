/* Events a client emits on an authenticated socket. */
#ifndef GATEWAY_CLIENT_EVENTS_H
#define GATEWAY_CLIENT_EVENTS_H

#include "server.h"

/* Handles one client event. Every event sent with an ack callback gets an
 * answer: {ok: true, ...} or {ok: false, error: {code, message}}. */
void gateway_handle_client_event(chat_sio_socket_t *socket, const chat_sio_packet_t *packet);

#endif
