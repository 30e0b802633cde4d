/* The chat.receipts events (proto/events/read.mark_conversation and
 * read.mark_message). */
#ifndef RECEIPTS_HANDLE_READ_H
#define RECEIPTS_HANDLE_READ_H

#include "chat/dispatch.h"
#include "chat/runtime.h"

/* chat_event_fn handlers; ctx is the chat_runtime_t. */
chat_err_t receipts_handle_mark_conversation(void *ctx, const chat_envelope_t *event,
                                             const chat_record_t *record);
chat_err_t receipts_handle_mark_message(void *ctx, const chat_envelope_t *event,
                                        const chat_record_t *record);

#endif
