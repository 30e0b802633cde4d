/* Delivery of chat.broadcast records to this gateway's sockets
 * (broadcast_deliver.c). */
#ifndef GATEWAY_BROADCAST_DELIVER_H
#define GATEWAY_BROADCAST_DELIVER_H

#include <stddef.h>

#include "gateway.h"

/* A broadcast record's routing headers. */
typedef struct gateway_route {
  const char *target, *event;                                              /* required */
  const char *scope, *exclude, *join, *leave, *seq, *rooms, *exclude_user; /* or NULL */
} gateway_route_t;

/* Delivers a chat.broadcast record, on the loop thread. */
void gateway_deliver(gateway_t *gw, const gateway_route_t *route, const char *value,
                     size_t value_len);

#endif
