/* A socket's life in the gateway, the top of its socket code: the CONNECT
 * (authentication, or a guest socket), the rooms it joins once connected
 * (its user's room, its own connection's, its conversations'), and what
 * its going undoes. Loop thread only. */
#ifndef GATEWAY_SOCKET_LIFECYCLE_H
#define GATEWAY_SOCKET_LIFECYCLE_H

#include <bson/bson.h>

#include "gateway.h"
#include "server.h"
#include "socket_state.h"

/* A CONNECT to socket with auth (may be NULL): creates the socket's state
 * and attaches it to socket (chat_sio_socket_set_user). Returns NULL, or
 * the CONNECT_ERROR message (static) that refuses it. */
const char *gateway_socket_accept(gateway_t *gw, chat_sio_socket_t *socket, const bson_t *auth);

/* The CONNECT was answered: the socket joins its rooms, presence hears of
 * the session, the rooms lookup and a resume follow. */
void gateway_socket_connected(gateway_t *gw, chat_sio_socket_t *socket);

/* The socket went: it leaves every room, its guest login and resume end,
 * presence hears of it, and the socket's own reference is let go. */
void gateway_socket_gone(gateway_t *gw, chat_sio_socket_t *socket);

/* While a new socket's rooms are looked up its events wait (up to
 * GATEWAY_HELD_EVENTS_MAX of them), so that what a client sends the moment
 * it connects (a reconnect's join_conversation or resend) is answered as
 * the member it is, not refused as a stranger. Returns true when packet
 * was held (copied), false when it is to be handled now. */
bool gateway_socket_hold_event(gateway_socket_t *state, const chat_sio_packet_t *packet);

/* The rooms lookup answered for state (still connected): the wait ends
 * and what was held is handled, in order. */
void gateway_socket_rooms_ready(gateway_t *gw, gateway_socket_t *state);

#endif
