/* What the gateway tells the presence service (presence_events.c). */
#ifndef GATEWAY_PRESENCE_EVENTS_H
#define GATEWAY_PRESENCE_EVENTS_H

#include <stdbool.h>

#include "gateway.h"
#include "socket_state.h"

/* session.opened / session.closed for an account's socket. */
void gateway_presence_session(gateway_t *gw, const gateway_socket_t *state, bool opened);

/* The gateway's heartbeat: a call_later callback that schedules itself;
 * arg is the gateway. */
void gateway_presence_heartbeat(void *arg);

#endif
