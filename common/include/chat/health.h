/* A small HTTP/1.1 server on its own thread for probes:
 *   GET /healthz -> 200 {"status":"ok"} while the process runs;
 *   GET /readyz  -> 200 or 503 with {"status":"ready"|"unavailable", ...}
 *                   from the caller's readiness check;
 *   GET /metrics -> 200 with chat_metrics_default() in Prometheus' text
 *                   format 0.0.4 (Content-Type: text/plain; version=0.0.4);
 *   anything else -> 404 (405 for another method), one request per
 * connection. Every service, the gateway included, serves it on
 * CHAT_HEALTH_PORT, apart from client traffic. */
#ifndef CHAT_HEALTH_H
#define CHAT_HEALTH_H

#include <bson/bson.h>
#include <stdbool.h>

#include "chat/err.h"

typedef struct chat_health chat_health_t;

/* Called on the health thread for each /readyz. Appends JSON members
 * (",\"kafka\":\"ok\"" style, each starting with a comma) to detail and
 * returns true when ready. */
typedef bool (*chat_ready_fn)(void *ctx, bson_string_t *detail);

/* Binds addr:port and starts serving. Returns CHAT_OK, or CHAT_ERR_IO when
 * the port cannot be bound (errbuf says why). Stop with chat_health_stop(). */
chat_err_t chat_health_start(const char *addr, int port, chat_ready_fn ready, void *ctx,
                             chat_health_t **out, char *errbuf, size_t errbuf_len);

/* Stops the thread, closes the socket, frees; sets *health to NULL. Accepts
 * NULL and a NULL *health. */
void chat_health_stop(chat_health_t **health);

#endif
