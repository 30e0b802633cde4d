/* message.edit and reaction.add / reaction.remove
 * (proto/events/message.edit.schema.json, reaction.add.schema.json,
 * reaction.remove.schema.json): changes to a stored message that keep
 * its seq. Key: the message id. */
#ifndef PERSISTENCE_HANDLE_MESSAGE_EDIT_H
#define PERSISTENCE_HANDLE_MESSAGE_EDIT_H

#include "chat/dispatch.h"

/* chat_event_fn's; ctx is the chat_runtime_t. */
chat_err_t persistence_handle_message_edit(void *ctx, const chat_envelope_t *event,
                                           const chat_record_t *record);
chat_err_t persistence_handle_reaction_add(void *ctx, const chat_envelope_t *event,
                                           const chat_record_t *record);
chat_err_t persistence_handle_reaction_remove(void *ctx, const chat_envelope_t *event,
                                              const chat_record_t *record);

#endif
