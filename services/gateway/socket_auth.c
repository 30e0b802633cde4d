#include "socket_auth.h"

#include <stdio.h>
#include <string.h>

/* One static message per reason, so the answer needs no allocation. */
static const char *refusal(const char *why) {
  static const struct {
    const char *why, *message;
  } messages[] = {
      {"missing token", "Authentication failed: missing token (send it as auth.token)"},
      {"malformed token", "Authentication failed: malformed token"},
      {"token algorithm is not HS256", "Authentication failed: token algorithm is not HS256"},
      {"bad token signature", "Authentication failed: bad token signature"},
      {"token expired", "Authentication failed: token expired"},
      {"token not yet valid", "Authentication failed: token not yet valid"},
      {"token has no expiry", "Authentication failed: token has no expiry"},
      {"token has no subject", "Authentication failed: token has no subject"},
      {"the token's subject is not a user id",
       "Authentication failed: the token's subject is not a user id"},
  };
  for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
    if (strcmp(messages[i].why, why) == 0)
      return messages[i].message;
  }
  return "Authentication failed";
}

const char *gateway_authenticate(const bson_t *auth, const char *query_token, const char *secret,
                                 int64_t now, chat_jwt_claims_t *claims) {
  bson_iter_t it;
  const char *token = NULL;
  const char *why = NULL;
  if (auth && bson_iter_init_find(&it, auth, "token")) {
    if (!BSON_ITER_HOLDS_UTF8(&it))
      return "Authentication failed: auth.token must be a string";
    token = bson_iter_utf8(&it, NULL);
  }
  if (!token)
    token = query_token;
  if (chat_jwt_verify_user(token, secret, now, claims, &why) != CHAT_OK)
    return refusal(why);
  return NULL;
}
