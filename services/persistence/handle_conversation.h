/* Group chats: conversation.create, member.add, member.remove,
 * conversation.leave, conversation.delete. */
#ifndef PERSISTENCE_HANDLE_CONVERSATION_H
#define PERSISTENCE_HANDLE_CONVERSATION_H

#include "chat/dispatch.h"

/* chat_event_fn handlers; ctx is the chat_runtime_t. */
chat_err_t persistence_handle_conversation_create(void *ctx, const chat_envelope_t *event,
                                                  const chat_record_t *record);
chat_err_t persistence_handle_member_add(void *ctx, const chat_envelope_t *event,
                                         const chat_record_t *record);
chat_err_t persistence_handle_member_remove(void *ctx, const chat_envelope_t *event,
                                            const chat_record_t *record);
chat_err_t persistence_handle_conversation_leave(void *ctx, const chat_envelope_t *event,
                                                 const chat_record_t *record);
chat_err_t persistence_handle_conversation_delete(void *ctx, const chat_envelope_t *event,
                                                  const chat_record_t *record);

/* message.delete: the sender soft-deletes a message. */
chat_err_t persistence_handle_message_delete(void *ctx, const chat_envelope_t *event,
                                             const chat_record_t *record);

#endif
