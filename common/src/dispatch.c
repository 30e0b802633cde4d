#include "chat/dispatch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chat/log.h"
#include "chat/metrics.h"

#define CONSUMED_SERIES_MAX 128 /* event types (one handler table) times outcomes */

static chat_metric_t *consumed;
static pthread_once_t consumed_once = PTHREAD_ONCE_INIT;

static void consumed_register(void) {
  static const char *const labels[] = {"type", "outcome", NULL};
  consumed = chat_metrics_counter(
      chat_metrics_default(), "chat_records_consumed_total",
      "Enveloped records handled, by event type (a handler's; unknown for the rest) and outcome: "
      "ok, error (the batch is retried, so they count again), malformed, unhandled",
      labels, CONSUMED_SERIES_MAX);
}

/* The type label comes from the handler table, never from the record, so
 * it stays bounded whatever producers write. One lookup per run (a record
 * handled alone is a run of one): a mutex and a few string compares. */
static void count_consumed(const char *type, const char *outcome, size_t count) {
  pthread_once(&consumed_once, consumed_register);
  chat_counter_add(CHAT_SERIES(consumed, type, outcome), count);
}

static const chat_event_handler_t *find_handler(const chat_dispatch_t *dispatch, const char *type) {
  for (size_t i = 0; i < dispatch->handler_count; i++) {
    if (strcmp(dispatch->handlers[i].type, type) == 0)
      return &dispatch->handlers[i];
  }
  return NULL;
}

/* Decodes record into *event and finds its handler; NULL (logged, nothing
 * to free) for a malformed record or a type nobody handles. */
static const chat_event_handler_t *decode(const chat_dispatch_t *dispatch,
                                          const chat_record_t *record, chat_envelope_t *event) {
  char why[256];
  chat_err_t err = chat_envelope_decode(record->value ? record->value : "", record->value_len,
                                        dispatch->max_record_bytes, event, why, sizeof why);
  if (err != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_WARN, "skipping malformed record %s[%d]@%lld: %s", record->topic,
             record->partition, (long long)record->offset, why);
    count_consumed("unknown", "malformed", 1);
    return NULL;
  }
  const chat_event_handler_t *handler = find_handler(dispatch, event->type);
  if (!handler) {
    bool expected = dispatch->quiet_topic && record->topic &&
                    strcmp(record->topic, dispatch->quiet_topic) == 0;
    CHAT_LOG(expected ? CHAT_LOG_DEBUG : CHAT_LOG_WARN,
             "skipping record %s[%d]@%lld: no handler for event type '%s'", record->topic,
             record->partition, (long long)record->offset, event->type);
    count_consumed("unknown", "unhandled", 1);
    chat_envelope_cleanup(event);
  }
  return handler;
}

chat_err_t chat_dispatch_batch(void *ctx, const chat_record_t *records, size_t count) {
  const chat_dispatch_t *dispatch = ctx;
  chat_envelope_t *events = calloc(count ? count : 1, sizeof *events);
  const chat_record_t **sources = calloc(count ? count : 1, sizeof *sources);
  const chat_event_handler_t **handlers = calloc(count ? count : 1, sizeof *handlers);
  chat_err_t err = CHAT_OK;
  size_t decoded = 0;
  if (!events || !sources || !handlers) {
    err = CHAT_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < count; i++) {
    handlers[decoded] = decode(dispatch, &records[i], &events[decoded]);
    if (handlers[decoded])
      sources[decoded++] = &records[i];
  }
  for (size_t i = 0; i < decoded && err == CHAT_OK;) {
    const chat_event_handler_t *handler = handlers[i];
    size_t run = 1;
    if (handler->handle_run) {
      while (i + run < decoded && handlers[i + run] == handler)
        run++;
      err = handler->handle_run(dispatch->ctx, &events[i], &sources[i], run);
    } else {
      err = handler->handle(dispatch->ctx, &events[i], sources[i]);
    }
    count_consumed(handler->type, err == CHAT_OK ? "ok" : "error", run);
    i += run;
  }
out:
  for (size_t i = 0; i < decoded; i++)
    chat_envelope_cleanup(&events[i]);
  free(events);
  free(sources);
  free((void *)handlers);
  return err;
}
