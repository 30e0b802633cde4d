/* Delivery of chat.broadcast records to this gateway's sockets
 * (broadcast_deliver.c). */
#ifndef GATEWAY_BROADCAST_DELIVER_H
#define GATEWAY_BROADCAST_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "chat/broadcast.h"
#include "gateway.h"

/* Delivers the chat.broadcast record of (partition, offset) with route
 * (read by chat_broadcast_read) and value, on the loop thread. A
 * recoverable event carries its recovery offset as its last argument
 * (socket_recovery.h). */
void gateway_deliver(gateway_t *gw, const chat_broadcast_route_t *route, const char *value,
                     size_t value_len, int32_t partition, int64_t offset);

#endif
