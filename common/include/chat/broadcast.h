/* chat.broadcast records: the value is the Socket.IO payload exactly as
 * clients receive it, and the routing goes in record headers
 * (proto/README.md, "chat.broadcast: routing headers"). One route type,
 * written by every service (chat_broadcast_send) and read by the gateway
 * (chat_broadcast_read), with one table of header names between them, and
 * the builders of the target names that the route and the gateway's
 * rooms share. */
#ifndef CHAT_BROADCAST_H
#define CHAT_BROADCAST_H

#include <stdbool.h>
#include <bson/bson.h>
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

/* Reads the routing headers of a chat.broadcast record into *route, whose
 * strings point into *storage (one allocation, free() it; NULL when the
 * call fails). Returns CHAT_OK, CHAT_ERR_INVALID when the record has no
 * event, no target or no value, or CHAT_ERR_NOMEM. */
chat_err_t chat_broadcast_read(const chat_record_t *record, chat_broadcast_route_t *route,
                               char **storage);

/* Who of a target's sockets a record is for (the scope header). */
typedef enum chat_broadcast_scope {
  CHAT_BROADCAST_SCOPE_ALL = 0, /* no scope header: every socket of the target */
  CHAT_BROADCAST_SCOPE_OPEN,    /* "open": those that have the conversation open */
  CHAT_BROADCAST_SCOPE_CLOSED,  /* "closed": those that have not */
} chat_broadcast_scope_t;

/* Reads scope (NULL: no header) into *out; false when it is unknown. */
bool chat_broadcast_scope_parse(const char *scope, chat_broadcast_scope_t *out);

/* Whether a socket that has the record's conversation open (or not) is
 * in the audience of scope: the scope filter of delivery. */
bool chat_broadcast_scope_admits(chat_broadcast_scope_t scope, bool conversation_open);

/* The kinds of target a record goes to, each a name "<kind>:<id>" that
 * is also the name of the gateway's room that reaches it. */
typedef enum chat_target_kind {
  CHAT_TARGET_ROOM,     /* room:<conversationId>: the conversation's members */
  CHAT_TARGET_USER,     /* user:<userId>: every socket of one user */
  CHAT_TARGET_CONN,     /* conn:<gatewayId>/<socketId>: one connection */
  CHAT_TARGET_GATEWAY,  /* gateway:<gatewayId>: a gateway itself (command.result) */
  CHAT_TARGET_CONTACTS, /* contacts:<userId>: everyone who shares a room with the user */
  CHAT_TARGET_GUEST,    /* guest:<room>: a guest room */
} chat_target_kind_t;

#define CHAT_TARGET_MAX (CHAT_CONFIG_STR_MAX + 64) /* a target name's buffer, NUL included */

/* Writes "<kind>:<id>" into out (cap bytes). Returns out, or NULL when it
 * did not fit (out then holds it cut short). */
const char *chat_target(char *out, size_t cap, chat_target_kind_t kind, const char *id);

/* Writes "conn:<gateway_id>/<socket_id>" into out; as chat_target(). */
const char *chat_target_conn(char *out, size_t cap, const char *gateway_id,
                             const char *socket_id);

/* The id of target when it is of kind (borrowed from target), else NULL:
 * chat_target_id("room:abc", CHAT_TARGET_ROOM) is "abc". */
const char *chat_target_id(const char *target, chat_target_kind_t kind);

/* The Socket.IO data array a gateway sends for a record of event with
 * value (JSON, value_len bytes): ["<event>",<value>], or with last_arg
 * (JSON text, e.g. a quoted recovery offset; NULL: none) as one more
 * argument. Free with bson_string_free(frame, true). */
bson_string_t *chat_broadcast_frame(const char *event, const char *value, size_t value_len,
                                    const char *last_arg);

/* Produces value (JSON, value_len bytes) to the prefixed chat.broadcast,
 * keyed by the target. Returns what chat_producer_produce() returns, or
 * CHAT_ERR_INVALID without an event or a target. */
chat_err_t chat_broadcast_send(chat_producer_t *producer, const chat_config_t *cfg,
                               const chat_broadcast_route_t *route, const char *value,
                               size_t value_len, uint64_t request_id);

/* chat_broadcast_send() keyed by key (NULL: the target). Persistence keys
 * what it tells about a conversation by the conversation's id, whatever
 * the target (room:, user:, conn:): one partition then orders all of it,
 * and a run's records go out in one produce request per partition it
 * touched instead of one per target's partition (proto/README.md). */
chat_err_t chat_broadcast_send_keyed(chat_producer_t *producer, const chat_config_t *cfg,
                                     const chat_broadcast_route_t *route, const char *key,
                                     const char *value, size_t value_len, uint64_t request_id);

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
