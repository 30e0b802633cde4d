#include "chat/jwt.h"

#include <errno.h>
#include <jwt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "chat/ids.h"
#include "chat/json.h"

#define JWT_HEADER_MAX 512 /* a decoded header longer than this is not ours */

chat_err_t chat_jwt_sign(const char *secret, const char *sub, int64_t now, int64_t ttl_s,
                         char **token) {
  jwt_t *jwt = NULL;
  chat_err_t err = CHAT_ERR_NOMEM;
  *token = NULL;
  if (!secret || !secret[0] || !sub || !sub[0] || ttl_s <= 0)
    return CHAT_ERR_INVALID;
  if (jwt_new(&jwt) != 0)
    return CHAT_ERR_NOMEM;
  if (jwt_add_grant(jwt, "sub", sub) == 0 && jwt_add_grant_int(jwt, "iat", (long)now) == 0 &&
      jwt_add_grant_int(jwt, "exp", (long)(now + ttl_s)) == 0 &&
      jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) == 0) {
    *token = jwt_encode_str(jwt);
    err = *token ? CHAT_OK : CHAT_ERR_NOMEM;
  }
  jwt_free(jwt);
  return err;
}

/* Reads the algorithm from the token's header ourselves, so that a token
 * libjwt would treat specially ("none") never reaches it. */
static const char *header_problem(const char *token) {
  const char *dot1 = strchr(token, '.');
  const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
  if (!dot1 || !dot2 || strchr(dot2 + 1, '.') || dot1 == token)
    return "malformed token";
  char header[JWT_HEADER_MAX];
  size_t header_len = 0;
  if (sodium_base642bin((unsigned char *)header, sizeof header - 1, token, (size_t)(dot1 - token),
                        NULL, &header_len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return "malformed token";
  header[header_len] = '\0';
  bson_t doc;
  bson_iter_t it;
  if (chat_json_parse(header, header_len, sizeof header, &doc, NULL, 0) != CHAT_OK)
    return "malformed token";
  const char *problem = NULL;
  if (!bson_iter_init_find(&it, &doc, "alg") || !BSON_ITER_HOLDS_UTF8(&it))
    problem = "malformed token";
  else if (strcmp(bson_iter_utf8(&it, NULL), "HS256") != 0)
    problem = "token algorithm is not HS256";
  bson_destroy(&doc);
  return problem;
}

chat_err_t chat_jwt_verify(const char *token, const char *secret, int64_t now,
                           chat_jwt_claims_t *claims, const char **why) {
  jwt_t *jwt = NULL;
  memset(claims, 0, sizeof *claims);
  if (!token || !token[0])
    return *why = "missing token", CHAT_ERR_UNAUTHORIZED;
  if (strlen(token) > CHAT_JWT_TOKEN_MAX)
    return *why = "malformed token", CHAT_ERR_UNAUTHORIZED;
  const char *problem = header_problem(token);
  if (problem)
    return *why = problem, CHAT_ERR_UNAUTHORIZED;
  if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)) != 0 || !jwt)
    return *why = "bad token signature", CHAT_ERR_UNAUTHORIZED;
  chat_err_t err = CHAT_ERR_UNAUTHORIZED;
  /* Decoded with the key, the algorithm must still be the one we sign with. */
  if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
    *why = "token algorithm is not HS256";
    goto out;
  }
  errno = 0;
  long exp = jwt_get_grant_int(jwt, "exp");
  if (errno == ENOENT || exp <= 0) {
    *why = "token has no expiry";
    goto out;
  }
  if (exp + CHAT_JWT_LEEWAY_S < now) {
    *why = "token expired";
    goto out;
  }
  errno = 0;
  long nbf = jwt_get_grant_int(jwt, "nbf");
  if (errno != ENOENT && nbf > now + CHAT_JWT_LEEWAY_S) {
    *why = "token not yet valid";
    goto out;
  }
  const char *sub = jwt_get_grant(jwt, "sub");
  if (!sub || !sub[0] || strlen(sub) >= sizeof claims->sub) {
    *why = "token has no subject";
    goto out;
  }
  memcpy(claims->sub, sub, strlen(sub) + 1);
  claims->exp = exp;
  errno = 0;
  long iat = jwt_get_grant_int(jwt, "iat");
  claims->iat = errno == ENOENT ? 0 : iat;
  err = CHAT_OK;
out:
  jwt_free(jwt);
  return err;
}

chat_err_t chat_jwt_verify_user(const char *token, const char *secret, int64_t now,
                                chat_jwt_claims_t *claims, const char **why) {
  chat_err_t err = chat_jwt_verify(token, secret, now, claims, why);
  if (err != CHAT_OK)
    return err;
  if (!chat_is_id(claims->sub)) {
    /* Signed by us, but not for a user (say "admin"): nothing here acts
     * for anyone but a user, and a subject that is no id would reach
     * MongoDB filters and Kafka keys as one. */
    memset(claims, 0, sizeof *claims);
    *why = "the token's subject is not a user id";
    return CHAT_ERR_UNAUTHORIZED;
  }
  return CHAT_OK;
}
