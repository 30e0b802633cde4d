/* The socket events that change a stored message: edit_message
 * {messageId, content} (the sender's new text), react and unreact
 * {messageId, emoji}. Each becomes a command on chat.commands for
 * persistence, keyed by the message id (the gateway does not know its
 * conversation), and is acked {ok: true, status: "accepted"}; the room
 * then hears message_edited / reaction_added / reaction_removed. Every
 * refusal, the gateway's here or persistence's later, comes back as
 * message_edit_reverted or reaction_reverted {messageId, reason, code}. */
#ifndef GATEWAY_CLIENT_MESSAGE_CHANGES_H
#define GATEWAY_CLIENT_MESSAGE_CHANGES_H

#include <bson/bson.h>
#include <stdint.h>

#include "gateway.h"
#include "socket_state.h"

#define GATEWAY_EDIT_REVERT "message_edit_reverted"  /* an edit_message refused */
#define GATEWAY_REACTION_REVERT "reaction_reverted"  /* a react or unreact refused */

void gateway_edit_message(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                          int64_t ack_id);
void gateway_react(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args, int64_t ack_id);
void gateway_unreact(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args, int64_t ack_id);

#endif
