/* The gateway's own metrics beside the engine's (socketio/engine_metrics.h)
 * and the runtime's (produce latency, the broadcast consumer's batches and
 * lag): Socket.IO sockets by namespace, client events by name and result,
 * and authentication failures by reason (docs/operations.md). Label values
 * come from the gateway's own tables and reasons, never from a client. */
#ifndef GATEWAY_METRICS_H
#define GATEWAY_METRICS_H

/* A socket connected (+1) or went (-1) on namespace nsp (one of the
 * server's namespaces). */
void gateway_metrics_sockets(const char *nsp, int delta);

/* A socket started (+1) or ended (-1) waiting for the lookup of its
 * conversations (rooms_lookup.c): ended once it is in its rooms, or gone. */
void gateway_metrics_awaiting_rooms(int delta);

/* A client event handled: event is a name of the event table, or
 * "unknown"; result is "ok", an error code (RATE_LIMITED, FORBIDDEN, ...),
 * or "queued" when its answer comes later (send_message waits for Kafka). */
void gateway_metrics_event(const char *event, const char *result);

/* A token refused, on "socket" or "rest", for reason (one of the token
 * check's own reasons). */
void gateway_metrics_auth_failure(const char *path, const char *reason);

#endif
