/* The chat.presence events (proto/events/session.opened, session.closed,
 * gateway.heartbeat) and the expiry of gateways gone silent. */
#ifndef PRESENCE_HANDLE_PRESENCE_H
#define PRESENCE_HANDLE_PRESENCE_H

#include "chat/dispatch.h"
#include "chat/runtime.h"

/* chat_event_fn handlers; ctx is the chat_runtime_t. */
chat_err_t presence_handle_session_opened(void *ctx, const chat_envelope_t *event,
                                          const chat_record_t *record);
chat_err_t presence_handle_session_closed(void *ctx, const chat_envelope_t *event,
                                          const chat_record_t *record);
chat_err_t presence_handle_heartbeat(void *ctx, const chat_envelope_t *event,
                                     const chat_record_t *record);

/* The tick: ends the sessions of every gateway silent for longer than
 * CHAT_PRESENCE_EXPIRY_MS. */
void presence_expire_gateways(chat_runtime_t *rt);

#endif
