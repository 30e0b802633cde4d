/* Presence state in MongoDB: the sessions collection (one document per
 * live socket), presence (one per user: online, lastSeen) and gateways
 * (one per gateway id: startedAt, lastHeartbeatAt, expiredAt). */
#ifndef PRESENCE_STORE_H
#define PRESENCE_STORE_H

#include <stdint.h>

#include "chat/runtime.h"

/* The wall clock in ms since the epoch: what presence stores and compares
 * with the times in events. */
int64_t presence_wall_ms(void);

/* Recounts user_id's live sessions and, when that makes them come online
 * or go offline, records it (a conditional update: of two processes
 * settling at once, one changes it) and publishes user_online /
 * user_offline to everyone who shares a room with them, and
 * presence.changed on chat.events. when_ms is the time of the change. */
chat_err_t presence_settle(chat_runtime_t *rt, mongoc_client_t *client, const char *user_id,
                           int64_t when_ms);

/* Ends the sessions of gateway_id opened before before_ms and settles
 * each user they belonged to; ends its guests likewise (guests.h). */
chat_err_t presence_end_gateway_sessions(chat_runtime_t *rt, mongoc_client_t *client,
                                         const char *gateway_id, int64_t before_ms,
                                         int64_t when_ms);

#endif
