/* The answers a socket gets to its events: the acks of the chat events,
 * {ok: true, ...} or {ok: false, error: {code, message}}, the revert
 * events that carry a refused message command, and the plain acks of the
 * guest rooms. Every writer does nothing for an event sent without an ack
 * callback (ack_id < 0). Loop thread only. */
#ifndef GATEWAY_SOCKET_ACKS_H
#define GATEWAY_SOCKET_ACKS_H

#include <stdint.h>

#include "chat/err.h"
#include "server.h"

/* Answers [{"ok":false,"error":{"code","message"}}]. */
void gateway_ack_error(chat_sio_socket_t *socket, int64_t ack_id, chat_err_t err,
                       const char *message);

/* Answers [{"ok":true}], or [{"ok":true,<fields_json>}] with fields_json
 * like "\"a\":1" when it is not NULL. */
void gateway_ack_ok(chat_sio_socket_t *socket, int64_t ack_id, const char *fields_json);

/* Answers [<json>]: the guest rooms' acks, e.g. "{}" or a user object. */
void gateway_ack_json(chat_sio_socket_t *socket, int64_t ack_id, const char *json);

/* Answers the guest rooms' refusal, [{"error":<message>}]. */
void gateway_ack_guest_error(chat_sio_socket_t *socket, int64_t ack_id, const char *message);

/* Refuses a message command (mark_message_read, delete_message): the ack
 * error and the revert event (e.g. "message_read_reverted") with
 * {messageId, reason, code}, the same event the services send for their
 * own refusals, so that a client that listens only for the revert hears
 * of every refusal. */
void gateway_refuse_message_command(chat_sio_socket_t *socket, int64_t ack_id, const char *revert,
                                    const char *message_id, chat_err_t err, const char *reason);

#endif
