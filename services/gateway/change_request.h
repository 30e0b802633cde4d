/* A change to a stored message as a client asks for it: an edit
 * {messageId, content} and a react / unreact {messageId, emoji}, from the
 * socket events edit_message, react and unreact (client_message_changes.c)
 * and from PATCH /api/chat/messages/:id and PUT / DELETE
 * /api/chat/messages/:id/reactions/:emoji (rest_message_changes.c), each
 * read and checked here the same way and turned into the same command on
 * chat.commands, keyed by the message id (proto/events/message.edit,
 * reaction.add, reaction.remove). Pure: no gateway state, unit tested. */
#ifndef GATEWAY_CHANGE_REQUEST_H
#define GATEWAY_CHANGE_REQUEST_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "chat/envelope.h"
#include "chat/err.h"

/* Checks an edit's new text (len bytes) as a send's is checked: a
 * non-empty string of at most max_content_bytes without NUL. Returns NULL,
 * or what is wrong with *err set (INVALID_ARGUMENT or TOO_LARGE). */
const char *change_request_check_content(const char *content, uint32_t len, bool present,
                                         int max_content_bytes, chat_err_t *err);

/* Checks a react's emoji (chat/emoji.h). Returns NULL, or what is wrong
 * (*err INVALID_ARGUMENT). */
const char *change_request_check_emoji(const char *emoji, uint32_t len, bool present,
                                       chat_err_t *err);

/* Reads doc[key] as a string into *value / *len; *present says whether
 * the key is there at all (a non-string value leaves *value NULL). */
void change_request_string(const bson_t *doc, const char *key, const char **value, uint32_t *len,
                           bool *present);

/* Starts env as message.edit of message_id by user_id to content, with a
 * fresh edit id (the one a redelivery of this command is recognized by).
 * connection_id and correlation_id may be NULL. Returns what
 * chat_envelope_init() returns; on CHAT_OK the caller produces env. */
chat_err_t change_request_edit_command(const char *message_id, const char *user_id,
                                       const char *content, uint32_t content_len,
                                       const char *source, const char *connection_id,
                                       const char *correlation_id, chat_envelope_t *env);

/* Starts env as reaction.add (add) or reaction.remove; as above. */
chat_err_t change_request_reaction_command(bool add, const char *message_id, const char *user_id,
                                           const char *emoji, uint32_t emoji_len,
                                           const char *source, const char *connection_id,
                                           const char *correlation_id, chat_envelope_t *env);

#endif
