/* Routes enveloped records (chat.commands, chat.receipts, chat.presence) to
 * one handler per event type. A record that is not a valid envelope, or of
 * a type with no handler, is logged with its topic, partition and offset and
 * skipped: one poison record must never stall a partition. */
#ifndef CHAT_DISPATCH_H
#define CHAT_DISPATCH_H

#include <stddef.h>

#include "chat/envelope.h"
#include "chat/err.h"
#include "chat/kafka.h"

/* Handles one event. Returns CHAT_OK when done for good (including a
 * rejection answered to its sender) or an error for which the whole batch is
 * retried later. */
typedef chat_err_t (*chat_event_fn)(void *ctx, const chat_envelope_t *event,
                                    const chat_record_t *record);

/* Handles a run of consecutive events of one type together (a batch of
 * messages is one MongoDB write, not one per message). events[i] came from
 * *records[i]. Same return contract as chat_event_fn, for the whole run. */
typedef chat_err_t (*chat_event_run_fn)(void *ctx, const chat_envelope_t *events,
                                        const chat_record_t *const *records, size_t count);

/* One of handle and handle_run is set. */
typedef struct chat_event_handler {
  const char *type; /* the envelope type, e.g. "message.send" */
  chat_event_fn handle;
  chat_event_run_fn handle_run;
} chat_event_handler_t;

typedef struct chat_dispatch {
  const chat_event_handler_t *handlers;
  size_t handler_count;
  void *ctx;               /* passed to every handler */
  size_t max_record_bytes; /* larger values are skipped as malformed */
  /* Optional: the (prefixed) name of a topic whose records of a type
   * with no handler are skipped without a warning: a service that reads
   * a few types of the shared chat.events (presence: message.created). */
  const char *quiet_topic;
} chat_dispatch_t;

/* A chat_batch_fn: ctx is a chat_dispatch_t. Handles records in order
 * (consecutive records of a type with handle_run as one run) and stops at
 * the first handler error, which it returns. */
chat_err_t chat_dispatch_batch(void *ctx, const chat_record_t *records, size_t count);

#endif
