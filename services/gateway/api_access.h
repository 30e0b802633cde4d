/* Who may call a REST route or send a socket event: one value on each row
 * of the gateway's two tables (routes[] in rest.c, client_events[] in
 * client_events.c), printed by `chat-gateway --describe-api` so that the
 * authorization test (tests/clients/authorization.test.mjs) tries every
 * row as every kind of caller without a list of its own. The handlers do
 * the checking; this says what they must check. */
#ifndef GATEWAY_API_ACCESS_H
#define GATEWAY_API_ACCESS_H

#include <bson/bson.h>

/* The zero value is GATEWAY_SCOPE_UNDECLARED: a row added without saying
 * who may use it is described as "undeclared", and the test fails on it. */
typedef enum gateway_scope {
  GATEWAY_SCOPE_UNDECLARED = 0, /* nobody said: a failure of the authorization test */
  GATEWAY_SCOPE_PUBLIC,         /* no token (register, login) */
  GATEWAY_SCOPE_USER,           /* any authenticated user, on what is theirs */
  GATEWAY_SCOPE_MEMBER,         /* a member of the conversation the object names */
  GATEWAY_SCOPE_OWNER,          /* the group's owner, or the message's sender */
} gateway_scope_t;

/* What the row acts on, named by the request. */
typedef enum gateway_object {
  GATEWAY_OBJECT_NONE = 0,     /* nothing of another user's: no id to check */
  GATEWAY_OBJECT_CONVERSATION, /* a conversation id */
  GATEWAY_OBJECT_MESSAGE,      /* a message id (its conversation is looked up) */
} gateway_object_t;

typedef struct gateway_access {
  gateway_scope_t scope;
  gateway_object_t object;
  const char *in;   /* where the object's id is: "path", "body", "query", "payload"; or NULL */
  const char *name; /* its name there: "id", "conversationId", "messageId"; or NULL */
} gateway_access_t;

#define GATEWAY_PUBLIC {.scope = GATEWAY_SCOPE_PUBLIC}
#define GATEWAY_USER {.scope = GATEWAY_SCOPE_USER}
/* A member of the conversation named by name (in path, body or payload),
 * or of the conversation of the message named so. */
#define GATEWAY_MEMBER_OF(object_, in_, name_)                                                     \
  {.scope = GATEWAY_SCOPE_MEMBER, .object = GATEWAY_OBJECT_##object_, .in = in_, .name = name_}
#define GATEWAY_OWNER_OF(object_, in_, name_)                                                      \
  {.scope = GATEWAY_SCOPE_OWNER, .object = GATEWAY_OBJECT_##object_, .in = in_, .name = name_}

/* Appends access as JSON members to out, after a comma:
 * ,"auth":true,"scope":"member","object":"conversation" and, when
 * with_param, ,"param":{"in":"path","name":"id"} (null when none); else
 * ,"field":"conversationId" (null when none). */
void gateway_access_describe(bson_string_t *out, const gateway_access_t *access, bool with_param);

#endif
