/* Producing to chat.broadcast: the value is the Socket.IO payload exactly as
 * clients receive it, and the routing goes in record headers
 * (proto/README.md, "chat.broadcast: routing headers"). */
#ifndef CHAT_BROADCAST_H
#define CHAT_BROADCAST_H

#include <stddef.h>

#include "chat/config.h"
#include "chat/envelope.h"
#include "chat/err.h"
#include "chat/kafka.h"

/* Routing of one broadcast record; a plain value. NULL fields are left out. */
typedef struct chat_broadcast_route {
  const char *event;   /* Socket.IO event name; required */
  const char *target;  /* room:<id>, user:<id>, conn:<gw>/<conn>, gateway:<id>, contacts:<id> */
  const char *scope;   /* "open", "closed" or NULL */
  const char *exclude; /* conn:<gw>/<conn> or NULL */
  const char *correlation_id; /* on command.result, or NULL */
  const char *join;           /* a conversation id: the target's sockets join its room first */
  const char *leave;          /* a conversation id: the target's sockets leave its room first */
  const char *seq;            /* on new_message and message_notification: the message's seq */
  const char *rooms;          /* target contacts:<userId>: "room:<a>,room:<b>" to deliver in */
  const char *exclude_user;   /* a user id: none of that user's sockets get it */
} chat_broadcast_route_t;

/* Produces value (JSON, value_len bytes) to the prefixed chat.broadcast,
 * keyed by the target. Returns what chat_producer_produce() returns, or
 * CHAT_ERR_INVALID without an event or a target. */
chat_err_t chat_broadcast_send(chat_producer_t *producer, const chat_config_t *cfg,
                               const chat_broadcast_route_t *route, const char *value,
                               size_t value_len, uint64_t request_id);

/* Answers the command in event with value (a command.result JSON), sent to
 * the gateway in event's source ("gateway/<id>") with event's correlation
 * id, where a REST call waits for it. Nothing when the command came from
 * elsewhere or has no correlation id. */
chat_err_t chat_broadcast_reply(chat_producer_t *producer, const chat_config_t *cfg,
                                const chat_envelope_t *event, const char *value);

/* chat_broadcast_reply() with the refusal
 * {"ok":false,"error":{"code":chat_err_code(code),"message":message}}. */
chat_err_t chat_broadcast_reply_error(chat_producer_t *producer, const chat_config_t *cfg,
                                      const chat_envelope_t *event, chat_err_t code,
                                      const char *message);

#endif
