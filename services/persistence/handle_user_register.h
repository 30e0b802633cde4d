/* user.register (proto/events/user.register.schema.json): creates the
 * account and answers the gateway that asked with command.result. */
#ifndef PERSISTENCE_HANDLE_USER_REGISTER_H
#define PERSISTENCE_HANDLE_USER_REGISTER_H

#include "chat/dispatch.h"

/* A chat_event_fn; ctx is the chat_runtime_t. */
chat_err_t persistence_handle_user_register(void *ctx, const chat_envelope_t *event,
                                            const chat_record_t *record);

#endif
