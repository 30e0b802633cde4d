/* The guest rooms (guest_rooms.c): sockets without an account that log in
 * with a name and a room and talk to that room (CHAT_GUEST_ROOMS). */
#ifndef GATEWAY_GUEST_ROOMS_H
#define GATEWAY_GUEST_ROOMS_H

#include <stdbool.h>
#include <stddef.h>

#include "gateway.h"
#include "server.h"
#include "socket_state.h"

/* True when nsp is where guests connect under the configured mode. */
bool gateway_is_guest_namespace(const gateway_t *gw, const char *nsp);

/* Handles one event of a guest socket: login, logout, roomMessage, ping. */
void gateway_guest_event(gateway_t *gw, gateway_socket_t *state, const chat_sio_packet_t *packet,
                         size_t attachment_count);

/* Logs a guest out of its room (nothing when it is not logged in): the
 * room hears of it and the presence service is told. */
void gateway_guest_leave(gateway_t *gw, gateway_socket_t *state);

#endif
