#include "chat/dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "chat/log.h"

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
    return NULL;
  }
  const chat_event_handler_t *handler = find_handler(dispatch, event->type);
  if (!handler) {
    CHAT_LOG(CHAT_LOG_WARN, "skipping record %s[%d]@%lld: no handler for event type '%s'",
             record->topic, record->partition, (long long)record->offset, event->type);
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
