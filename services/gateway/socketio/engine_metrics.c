#include "engine_metrics.h"

#include <pthread.h>
#include <stdio.h>

#include "chat/metrics.h"

#define ROUTES_SERIES_MAX 256 /* route patterns (the application's table) times statuses */

static chat_metric_t *sessions, *dropped, *frames, *bytes, *requests, *latency;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void register_all(void) {
  chat_metrics_t *reg = chat_metrics_default();
  static const char *const by_transport[] = {"transport", NULL};
  static const char *const by_route_status[] = {"method", "route", "status", NULL};
  static const char *const by_route[] = {"method", "route", NULL};
  sessions = chat_metrics_gauge(reg, "chat_gateway_connections",
                                "Engine.IO sessions open, by transport (polling, websocket)",
                                by_transport, 4);
  static const char *const by_reason[] = {"reason", NULL};
  dropped = chat_metrics_counter(
      reg, "chat_gateway_sessions_dropped_total",
      "Engine.IO sessions the server ended because of their peer: send_queue_full (it does not "
      "read; CHAT_MAX_QUEUED_BYTES), ping_timeout",
      by_reason, 4);
  frames = chat_metrics_counter(reg, "chat_gateway_frames_sent_total",
                                "Engine.IO packets written, by transport", by_transport, 4);
  bytes = chat_metrics_counter(reg, "chat_gateway_bytes_sent_total",
                               "Bytes of Engine.IO packets written, by transport", by_transport, 4);
  requests = chat_metrics_counter(
      reg, "chat_gateway_http_requests_total",
      "REST requests answered, by method, route pattern (unmatched for no route) and HTTP status",
      by_route_status, ROUTES_SERIES_MAX);
  latency = chat_metrics_histogram(reg, "chat_gateway_http_request_seconds",
                                   "Time from a REST request's arrival to its answer, by method and "
                                   "route",
                                   by_route, chat_metrics_seconds_buckets,
                                   chat_metrics_seconds_bucket_count, 64);
}

void engine_metrics_sessions(const char *transport, int delta) {
  pthread_once(&once, register_all);
  chat_gauge_add(CHAT_SERIES(sessions, transport), delta);
}

void engine_metrics_dropped(const char *reason) {
  pthread_once(&once, register_all);
  chat_counter_add(CHAT_SERIES(dropped, reason), 1);
}

void engine_metrics_sent(const char *transport, size_t count) {
  pthread_once(&once, register_all);
  chat_counter_add(CHAT_SERIES(frames, transport), 1);
  chat_counter_add(CHAT_SERIES(bytes, transport), count);
}

void engine_metrics_http(const char *method, const char *route, int status, double seconds) {
  pthread_once(&once, register_all);
  char code[8];
  snprintf(code, sizeof code, "%d", status);
  chat_counter_add(CHAT_SERIES(requests, method, route, code), 1);
  chat_histogram_observe(CHAT_SERIES(latency, method, route), seconds);
}
