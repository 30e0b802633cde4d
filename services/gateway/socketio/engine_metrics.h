/* The protocol engine's metrics (docs/operations.md): Engine.IO sessions
 * open by transport, frames and bytes written to WebSockets and polls, and
 * HTTP requests answered for the application by route and status, with
 * their latency. Registered in the process's registry on first use; every
 * call is cheap enough for the event loop (a series lookup takes a mutex). */
#ifndef CHAT_SIO_ENGINE_METRICS_H
#define CHAT_SIO_ENGINE_METRICS_H

#include <stddef.h>

/* A session opened (+1) or ended (-1) on transport "polling" or "websocket";
 * an upgrade is -1 on polling and +1 on websocket. */
void engine_metrics_sessions(const char *transport, int delta);

/* A session ended by the server because of its peer: "send_queue_full"
 * (the peer does not read: CHAT_MAX_QUEUED_BYTES) or "ping_timeout". */
void engine_metrics_dropped(const char *reason);

/* One frame of bytes written on transport ("websocket" or "polling"). */
void engine_metrics_sent(const char *transport, size_t bytes);

/* An application request answered: method (GET, POST, PUT, DELETE), route
 * the pattern it matched (or "unmatched"), status the HTTP status, seconds
 * from its arrival. */
void engine_metrics_http(const char *method, const char *route, int status, double seconds);

#endif
