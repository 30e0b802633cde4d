/* Socket.IO CONNECT authentication: the token comes in the CONNECT payload
 * as auth.token (the setting for production); a token in the query
 * string is read only when CHAT_ALLOW_QUERY_TOKEN allows it. */
#ifndef GATEWAY_SOCKET_AUTH_H
#define GATEWAY_SOCKET_AUTH_H

#include <bson/bson.h>
#include <stdint.h>

#include "chat/jwt.h"

/* Verifies auth.token of auth (may be NULL), or, when auth has none,
 * query_token (NULL unless CHAT_ALLOW_QUERY_TOKEN is on), with secret at
 * time now.
 * Returns NULL with *claims filled, or the CONNECT_ERROR message for the
 * client, e.g. "Authentication failed: token expired" (static). */
const char *gateway_authenticate(const bson_t *auth, const char *query_token, const char *secret,
                                 int64_t now, chat_jwt_claims_t *claims);

#endif
