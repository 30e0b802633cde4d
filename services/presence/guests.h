/* The guest rooms, on the presence side: who is in each room. */
#ifndef PRESENCE_GUESTS_H
#define PRESENCE_GUESTS_H

#include "chat/dispatch.h"
#include "chat/runtime.h"

/* chat_event_fn handlers for guest.joined and guest.left; ctx is the runtime. */
chat_err_t presence_handle_guest_joined(void *ctx, const chat_envelope_t *event,
                                        const chat_record_t *record);
chat_err_t presence_handle_guest_left(void *ctx, const chat_envelope_t *event,
                                      const chat_record_t *record);

/* Ends the guests of gateway_id that came before before_ms: their rooms
 * hear that they left and get their new lists. */
chat_err_t presence_end_gateway_guests(chat_runtime_t *rt, mongoc_client_t *client,
                                       const char *gateway_id, int64_t before_ms);

#endif
