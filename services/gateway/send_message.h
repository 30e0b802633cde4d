/* The socket event send_message: the ack says "accepted" once Kafka holds
 * the message.send command (with a message_ack event); persistence sends
 * the "persisted" message_ack. */
#ifndef GATEWAY_SEND_MESSAGE_H
#define GATEWAY_SEND_MESSAGE_H

#include <bson/bson.h>
#include <stdint.h>

#include "chat/err.h"
#include "gateway.h"
#include "socket_state.h"

/* Handles send_message with its arguments args and ack_id. */
void gateway_send_message(gateway_t *gw, gateway_socket_t *state, bson_iter_t *args,
                          int64_t ack_id);

/* A delivery report of the gateway's producer (a chat_delivery_fn; ctx is
 * the gateway); any thread. */
void gateway_on_delivery(void *ctx, uint64_t request_id, chat_err_t err, const char *errstr,
                         int32_t partition, int64_t offset);

/* At shutdown: forgets the sends still waiting for Kafka. */
void gateway_sends_discard(gateway_t *gw);

#endif
