/* message.send (proto/events/message.send.schema.json): stores messages,
 * a run of consecutive commands at a time, and publishes them. */
#ifndef PERSISTENCE_HANDLE_MESSAGE_SEND_H
#define PERSISTENCE_HANDLE_MESSAGE_SEND_H

#include "chat/dispatch.h"

/* A chat_event_run_fn; ctx is the chat_runtime_t. */
chat_err_t persistence_handle_message_sends(void *ctx, const chat_envelope_t *events,
                                            const chat_record_t *const *records, size_t count);

#endif
