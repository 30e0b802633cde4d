/* A message send as a client asks for it: the socket event send_message
 * (send_message.c) and POST /api/chat/send (rest_messages.c) both read the
 * same payload here and turn it into the same message.send command on
 * chat.commands, keyed by conversation
 * (proto/events/message.send.schema.json). Pure: no gateway state, so
 * that its checks are unit-tested alone. */
#ifndef GATEWAY_SEND_REQUEST_H
#define GATEWAY_SEND_REQUEST_H

#include <bson/bson.h>
#include <stdint.h>

#include "chat/envelope.h"
#include "chat/err.h"
#include "chat/ids.h"
#include "chat/limits.h"

/* A send_message payload, read and checked. */
typedef struct send_request {
  char client_msg_id[CHAT_CLIENT_MSG_ID_MAX + 1]; /* generated when the client sent none */
  char conversation_id[CHAT_ID_SIZE]; /* for a first 1-1 message, derived from the pair */
  char receiver_id[CHAT_ID_SIZE];     /* "" when not given */
  const char *content;                /* borrowed from the parsed payload */
  uint32_t content_len;
  const char *attachment_url; /* borrowed; NULL when absent or null */
  char reply_to[CHAT_ID_SIZE]; /* a reply: the id of the message it answers; "" when none */
} send_request_t;

/* Reads {receiverId | conversationId, content, attachmentUrl?, clientMsgId?,
 * replyTo?}
 * of sender_id from doc (which must outlive out). Returns NULL, or what is
 * wrong with *err set (INVALID_ARGUMENT, BAD_PAYLOAD or TOO_LARGE). */
const char *send_request_read(const bson_t *doc, const char *sender_id, int max_content_bytes,
                              send_request_t *out, chat_err_t *err);

/* Starts env as the message.send command of req from sender_id, by
 * source. connection_id ("<gateway>/<socket>") and correlation_id may be
 * NULL. Returns what chat_envelope_init() returns; on CHAT_OK the caller
 * produces env (keyed by req->conversation_id), which cleans it up. */
chat_err_t send_request_command(const send_request_t *req, const char *sender_id,
                                const char *source, const char *connection_id,
                                const char *correlation_id, chat_envelope_t *env);

#endif
