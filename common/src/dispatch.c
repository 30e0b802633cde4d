#include "chat/dispatch.h"

#include <string.h>

#include "chat/log.h"

static const chat_event_handler_t *find_handler(const chat_dispatch_t *dispatch, const char *type) {
  for (size_t i = 0; i < dispatch->handler_count; i++) {
    if (strcmp(dispatch->handlers[i].type, type) == 0)
      return &dispatch->handlers[i];
  }
  return NULL;
}

chat_err_t chat_dispatch_batch(void *ctx, const chat_record_t *records, size_t count) {
  const chat_dispatch_t *dispatch = ctx;
  for (size_t i = 0; i < count; i++) {
    const chat_record_t *record = &records[i];
    chat_envelope_t event;
    char why[256];
    chat_err_t err = chat_envelope_decode(record->value ? record->value : "", record->value_len,
                                          dispatch->max_record_bytes, &event, why, sizeof why);
    if (err != CHAT_OK) {
      CHAT_LOG(CHAT_LOG_WARN, "skipping malformed record %s[%d]@%lld: %s", record->topic,
               record->partition, (long long)record->offset, why);
      continue;
    }
    const chat_event_handler_t *handler = find_handler(dispatch, event.type);
    if (!handler) {
      CHAT_LOG(CHAT_LOG_WARN, "skipping record %s[%d]@%lld: no handler for event type '%s'",
               record->topic, record->partition, (long long)record->offset, event.type);
      chat_envelope_cleanup(&event);
      continue;
    }
    err = handler->handle(dispatch->ctx, &event, record);
    chat_envelope_cleanup(&event);
    if (err != CHAT_OK)
      return err;
  }
  return CHAT_OK;
}
