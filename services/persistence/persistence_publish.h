/* What persistence publishes besides broadcasts: answers to the gateway
 * that waits for a command (command.result to gateway:<id>), and the
 * stable events on chat.events (proto/README.md). */
#ifndef PERSISTENCE_PUBLISH_H
#define PERSISTENCE_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/envelope.h"
#include "chat/reply_quote.h"
#include "chat/runtime.h"

/* Sends value (a command.result JSON) to the gateway in event's source
 * ("gateway/<id>") with event's correlation id. Nothing when the command
 * came from elsewhere or has no correlation id. */
chat_err_t persistence_reply(chat_runtime_t *rt, const chat_envelope_t *event, const char *value);

/* A stored message as message.created tells it. receiver_id,
 * attachment_url and reply_to may be NULL. */
typedef struct persistence_message_created {
  const char *message_id, *conversation_id, *sender_id, *receiver_id;
  const char *content;
  size_t content_len;
  const char *attachment_url;
  int64_t seq, created_at_ms;
  const chat_reply_quote_t *reply_to; /* a reply: the quote of its original */
  /* The conversation's members when it was stored, the sender among them:
   * whom the message is for, e.g. for presence's notification.requested
   * (docs/architecture.md, "Push for offline members"). */
  const char *const *member_ids;
  size_t member_count;
} persistence_message_created_t;

/* message.created on chat.events, keyed by conversation. */
chat_err_t persistence_publish_message_created(chat_runtime_t *rt,
                                               const persistence_message_created_t *m);

/* conversation.created on chat.events. name and owner_id may be NULL. */
chat_err_t persistence_publish_conversation_created(chat_runtime_t *rt, const char *conversation_id,
                                                    const char *kind, const char *name,
                                                    const char *owner_id,
                                                    const char *const *member_ids,
                                                    size_t member_count, int64_t created_at_ms);

/* member.added, member.removed, conversation.deleted and message.deleted
 * on chat.events, keyed by conversation; at_ms is when it happened. */
chat_err_t persistence_publish_member_added(chat_runtime_t *rt, const char *conversation_id,
                                            char (*user_ids)[25], size_t count,
                                            const char *added_by, int64_t at_ms);
chat_err_t persistence_publish_member_removed(chat_runtime_t *rt, const char *conversation_id,
                                              const char *user_id, const char *removed_by,
                                              int64_t at_ms);
chat_err_t persistence_publish_conversation_deleted(chat_runtime_t *rt, const char *conversation_id,
                                                    const char *deleted_by, int64_t at_ms);
chat_err_t persistence_publish_message_deleted(chat_runtime_t *rt, const char *message_id,
                                               const char *conversation_id, const char *deleted_by,
                                               int64_t at_ms);

/* replied.in.24hr.first (a 1-1 reply within 24 hours) on chat.events. */
chat_err_t persistence_publish_replied_first(chat_runtime_t *rt, const char *conversation_id,
                                             const char *replier_id, const char *original_sender_id,
                                             const char *original_message_id,
                                             const char *reply_message_id, int64_t original_at_ms,
                                             int64_t replied_at_ms);

/* ---- edits and reactions (handle_message_edit.c, handle_message_reaction.c) ---- */

/* message.edited on chat.events, keyed by conversation: the message's new
 * content (content_len bytes), the edit's id and when it was made. */
chat_err_t persistence_publish_message_edited(chat_runtime_t *rt, const char *message_id,
                                              const char *conversation_id, const char *sender_id,
                                              const char *edit_id, const char *content,
                                              size_t content_len, int64_t seq,
                                              int64_t edited_at_ms);

/* reaction.added (added) or reaction.removed on chat.events, keyed by
 * conversation: who, which emoji (emoji_len bytes), how many react with
 * it now, and when. */
chat_err_t persistence_publish_reaction(chat_runtime_t *rt, bool added, const char *message_id,
                                        const char *conversation_id, const char *user_id,
                                        const char *emoji, size_t emoji_len, int64_t count,
                                        int64_t at_ms);

#endif
