/* The rules of presence, as pure functions, so that they are unit-tested
 * alone; presence_store.c applies them to MongoDB. */
#ifndef PRESENCE_LOGIC_H
#define PRESENCE_LOGIC_H

#include <stdbool.h>
#include <stdint.h>

typedef enum presence_change {
  PRESENCE_UNCHANGED,
  PRESENCE_NOW_ONLINE,
  PRESENCE_NOW_OFFLINE,
} presence_change_t;

/* A user is online while they have at least one live session, on any
 * gateway and device. */
presence_change_t presence_decide(bool was_online, int64_t live_sessions);

/* A gateway is dead once its last heartbeat is more than expiry_ms older
 * than handled_until_ms: the time up to which this process has read the
 * partition the gateway's heartbeats go to (chat_runtime_handled_until()),
 * which is the wall clock only once it has read everything there. A
 * presence behind its stream (a connect storm, a pause, a restart) judges
 * by what it has read: by the wall clock it took every live gateway for
 * dead. 0 (it cannot tell, or the partition is another's) judges none. */
bool presence_gateway_dead(int64_t last_heartbeat_ms, int64_t handled_until_ms,
                           int64_t expiry_ms);

/* A session.opened that arrives after its gateway restarted (opened
 * before started_ms) or was declared dead (opened before expired_ms, 0:
 * never) belongs to a gateway life that is over: it is not counted. */
bool presence_session_stale(int64_t opened_ms, int64_t gateway_started_ms,
                            int64_t gateway_expired_ms);

/* A heartbeat whose startedAt is later than the one stored means the
 * gateway restarted with the same id: its earlier sessions are over. */
bool presence_gateway_restarted(int64_t stored_started_ms, int64_t heartbeat_started_ms);

#endif
