/* Sending a message: the socket event send_message and POST
 * /api/chat/send both become a message.send command on chat.commands,
 * keyed by conversation (proto/events/message.send.schema.json). */
#ifndef GATEWAY_SEND_MESSAGE_H
#define GATEWAY_SEND_MESSAGE_H

#include "gateway.h"

#define SEND_CLIENT_MSG_ID_MAX 128
#define SEND_ATTACHMENT_URL_MAX 2048

/* A send_message payload, read and checked. */
typedef struct send_request {
  char client_msg_id[SEND_CLIENT_MSG_ID_MAX + 1]; /* generated when the client sent none */
  char conversation_id[CHAT_ID_SIZE]; /* for a first 1-1 message, derived from the pair */
  char receiver_id[CHAT_ID_SIZE];     /* "" when not given */
  const char *content;                /* borrowed from the parsed payload */
  uint32_t content_len;
  const char *attachment_url; /* borrowed; NULL when absent or null */
} send_request_t;

/* Reads {receiverId | conversationId, content, attachmentUrl?, clientMsgId?}
 * of sender_id from doc (which must outlive out). Returns NULL, or what is
 * wrong with *err set (INVALID_ARGUMENT, BAD_PAYLOAD or TOO_LARGE). */
const char *send_request_read(const bson_t *doc, const char *sender_id, int max_content_bytes,
                              send_request_t *out, chat_err_t *err);

/* Produces the message.send command. connection_id ("<gateway>/<socket>")
 * and correlation_id may be NULL. The delivery report comes back with
 * request_id (0: none wanted). */
chat_err_t send_request_produce(gateway_t *gw, const send_request_t *req, const char *sender_id,
                                const char *connection_id, const char *correlation_id,
                                uint64_t request_id);

/* The socket event send_message. The ack says "accepted" once Kafka holds
 * the command (with a message_ack event); persistence sends the
 * "persisted" message_ack. */
void gateway_send_message(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                          int64_t ack_id);

/* A delivery report of the gateway's producer (a chat_delivery_fn; ctx is
 * the gateway); any thread. */
void gateway_on_delivery(void *ctx, uint64_t request_id, chat_err_t err, const char *errstr,
                         int32_t partition, int64_t offset);

/* At shutdown: forgets the sends still waiting for Kafka. */
void gateway_sends_discard(gateway_t *gw);

#endif
