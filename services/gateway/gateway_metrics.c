#include "gateway_metrics.h"

#include <pthread.h>

#include "chat/metrics.h"

#define EVENT_SERIES_MAX 256 /* event names (the table) times results (the error codes) */
#define AUTH_SERIES_MAX 32   /* paths times the token check's reasons */

static chat_metric_t *sockets, *awaiting_rooms, *events, *auth_failures;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void register_all(void) {
  chat_metrics_t *reg = chat_metrics_default();
  static const char *const by_namespace[] = {"namespace", NULL};
  static const char *const by_event_result[] = {"event", "result", NULL};
  static const char *const by_path_reason[] = {"path", "reason", NULL};
  sockets = chat_metrics_gauge(reg, "chat_gateway_sockets",
                               "Socket.IO sockets connected, by namespace", by_namespace, 8);
  awaiting_rooms = chat_metrics_gauge(
      reg, "chat_gateway_sockets_awaiting_rooms",
      "Authenticated sockets connected whose conversations are still being looked up (not in "
      "their rooms yet)",
      NULL, 1);
  events = chat_metrics_counter(
      reg, "chat_gateway_events_total",
      "Client events handled, by event (unknown for names not in the table) and result: ok, "
      "the error code of the refusal (RATE_LIMITED among them), or queued when the answer "
      "comes later",
      by_event_result, EVENT_SERIES_MAX);
  auth_failures = chat_metrics_counter(reg, "chat_gateway_auth_failures_total",
                                       "Tokens refused, by path (socket, rest) and reason",
                                       by_path_reason, AUTH_SERIES_MAX);
}

void gateway_metrics_sockets(const char *nsp, int delta) {
  pthread_once(&once, register_all);
  chat_gauge_add(CHAT_SERIES(sockets, nsp), delta);
}

void gateway_metrics_awaiting_rooms(int delta) {
  pthread_once(&once, register_all);
  chat_gauge_add(chat_metric_series(awaiting_rooms, NULL), delta);
}

void gateway_metrics_event(const char *event, const char *result) {
  pthread_once(&once, register_all);
  chat_counter_add(CHAT_SERIES(events, event, result), 1);
}

void gateway_metrics_auth_failure(const char *path, const char *reason) {
  pthread_once(&once, register_all);
  chat_counter_add(CHAT_SERIES(auth_failures, path, reason), 1);
}
