/* HS256 JSON Web Tokens for accounts and socket auth, on libjwt 1.10.
 *
 * libjwt 1.10 accepts an "alg: none" token as valid when decoding without a
 * key and has no claim validation, so verification here always passes the
 * key, checks the algorithm itself before libjwt sees the token, and checks
 * exp and nbf with a small clock-skew allowance (CHAT_JWT_LEEWAY_S). */
#ifndef CHAT_JWT_H
#define CHAT_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "chat/err.h"

#define CHAT_JWT_SUB_MAX 128    /* longest subject (user id), with its NUL */
#define CHAT_JWT_LEEWAY_S 30    /* clock skew allowed on exp and nbf */
#define CHAT_JWT_TOKEN_MAX 4096 /* longer tokens are refused unread */

typedef struct chat_jwt_claims {
  char sub[CHAT_JWT_SUB_MAX];
  int64_t exp; /* seconds since the epoch */
  int64_t iat;
} chat_jwt_claims_t;

/* Signs {"sub": sub, "iat": now, "exp": now + ttl_s} with HS256. *token is
 * malloc'd; the caller frees it. Returns CHAT_OK, CHAT_ERR_INVALID (empty
 * secret or sub, ttl_s <= 0) or CHAT_ERR_NOMEM. */
chat_err_t chat_jwt_sign(const char *secret, const char *sub, int64_t now, int64_t ttl_s,
                         char **token);

/* Verifies token against secret at time now. Returns CHAT_OK with *claims
 * filled, or CHAT_ERR_UNAUTHORIZED with *why, a static sentence fit for a
 * client: missing, malformed, algorithm not HS256 (alg none included), bad
 * signature, expired, not yet valid, no subject. */
chat_err_t chat_jwt_verify(const char *token, const char *secret, int64_t now,
                           chat_jwt_claims_t *claims, const char **why);

/* The check of a user's token, for REST's Bearer token and the socket's
 * auth.token alike: chat_jwt_verify(), and the subject must be a user id
 * (chat_is_id()). Returns what chat_jwt_verify() does, or
 * CHAT_ERR_UNAUTHORIZED with *why "the token's subject is not a user id". */
chat_err_t chat_jwt_verify_user(const char *token, const char *secret, int64_t now,
                                chat_jwt_claims_t *claims, const char **why);

#endif
