#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jwt.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define NOW 1768991400

static char *b64url(const char *text) {
  size_t cap = sodium_base64_encoded_len(strlen(text), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  char *out = malloc(cap);
  sodium_bin2base64(out, cap, (const unsigned char *)text, strlen(text),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

/* A token with any header and claims, signed with key (HMAC-SHA256) or not
 * at all (key NULL: empty signature). */
static char *forge(const char *header, const char *claims, const char *key) {
  char *h = b64url(header), *c = b64url(claims);
  char signing_input[1024];
  snprintf(signing_input, sizeof signing_input, "%s.%s", h, c);
  char sig[128] = "";
  if (key) {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing_input, strlen(signing_input));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(sig, sizeof sig, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  }
  char *token = malloc(2048);
  snprintf(token, 2048, "%s.%s", signing_input, sig);
  free(h);
  free(c);
  return token;
}

static void expect_refused(const char *token, const char *why_expected) {
  chat_jwt_claims_t claims;
  const char *why = NULL;
  cr_assert_eq(chat_jwt_verify(token, SECRET, NOW, &claims, &why), CHAT_ERR_UNAUTHORIZED,
               "accepted %s", token ? token : "(null)");
  cr_assert(why && strcmp(why, why_expected) == 0, "said '%s', expected '%s'", why ? why : "",
            why_expected);
}

Test(jwt, sign_then_verify) {
  char *token = NULL;
  cr_assert_eq(chat_jwt_sign(SECRET, "65f1a0c2e4b0a1b2c3d4e5f6", NOW, 3600, &token), CHAT_OK);
  chat_jwt_claims_t claims;
  const char *why = NULL;
  cr_assert_eq(chat_jwt_verify(token, SECRET, NOW + 10, &claims, &why), CHAT_OK, "%s", why);
  cr_assert_str_eq(claims.sub, "65f1a0c2e4b0a1b2c3d4e5f6");
  cr_assert_eq(claims.exp, NOW + 3600);
  cr_assert_eq(claims.iat, NOW);
  free(token);
}

Test(jwt, a_forged_hs256_token_with_the_right_key_is_accepted) {
  char *token =
      forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"sub\":\"u1\",\"exp\":1768995000}", SECRET);
  chat_jwt_claims_t claims;
  const char *why = NULL;
  cr_assert_eq(chat_jwt_verify(token, SECRET, NOW, &claims, &why), CHAT_OK, "%s", why);
  cr_assert_str_eq(claims.sub, "u1");
  free(token);
}

Test(jwt, every_bad_token_is_refused_with_its_reason) {
  expect_refused(NULL, "missing token");
  expect_refused("", "missing token");
  expect_refused("abc", "malformed token");
  expect_refused("a.b", "malformed token");
  expect_refused("a.b.c.d", "malformed token");
  expect_refused("!!!.e30.x", "malformed token");

  char *none =
      forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"sub\":\"u1\",\"exp\":1768995000}", NULL);
  expect_refused(none, "token algorithm is not HS256");
  free(none);

  char *hs512 = forge("{\"alg\":\"HS512\"}", "{\"sub\":\"u1\",\"exp\":1768995000}", SECRET);
  expect_refused(hs512, "token algorithm is not HS256");
  free(hs512);

  char *wrong_key = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"u1\",\"exp\":1768995000}",
                          "another-secret-another-secret-xx");
  expect_refused(wrong_key, "bad token signature");
  free(wrong_key);

  char *expired = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"u1\",\"exp\":1768991000}", SECRET);
  expect_refused(expired, "token expired");
  free(expired);

  char *no_exp = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"u1\"}", SECRET);
  expect_refused(no_exp, "token has no expiry");
  free(no_exp);

  char *future = forge("{\"alg\":\"HS256\"}",
                       "{\"sub\":\"u1\",\"exp\":1768999000,\"nbf\":1768995000}", SECRET);
  expect_refused(future, "token not yet valid");
  free(future);

  char *no_sub = forge("{\"alg\":\"HS256\"}", "{\"exp\":1768995000}", SECRET);
  expect_refused(no_sub, "token has no subject");
  free(no_sub);
}

Test(jwt, clock_skew_is_allowed) {
  /* Expired 10 s ago: within the 30 s allowance. */
  char *token = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"u1\",\"exp\":1768991390}", SECRET);
  chat_jwt_claims_t claims;
  const char *why = NULL;
  cr_assert_eq(chat_jwt_verify(token, SECRET, NOW, &claims, &why), CHAT_OK, "%s", why);
  free(token);
}

Test(jwt, sign_refuses_bad_arguments) {
  char *token = NULL;
  cr_assert_eq(chat_jwt_sign("", "u1", NOW, 60, &token), CHAT_ERR_INVALID);
  cr_assert_eq(chat_jwt_sign(SECRET, "", NOW, 60, &token), CHAT_ERR_INVALID);
  cr_assert_eq(chat_jwt_sign(SECRET, "u1", NOW, 0, &token), CHAT_ERR_INVALID);
}

/* The one check of REST's Bearer token and the socket's auth.token: a
 * valid token whose subject is not a user id ("admin") is refused, with
 * the same reason on both. */
Test(jwt, a_user_token_must_name_a_user_id) {
  char *admin =
      forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"sub\":\"admin\",\"exp\":1768995000}", SECRET);
  chat_jwt_claims_t claims;
  const char *why = NULL;
  cr_assert_eq(chat_jwt_verify_user(admin, SECRET, NOW, &claims, &why), CHAT_ERR_UNAUTHORIZED);
  cr_assert_str_eq(why, "the token's subject is not a user id");
  free(admin);
  char *user = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                     "{\"sub\":\"65f1a0c2e4b0a1b2c3d4e5f6\",\"exp\":1768995000}", SECRET);
  why = NULL;
  cr_assert_eq(chat_jwt_verify_user(user, SECRET, NOW, &claims, &why), CHAT_OK, "%s", why);
  cr_assert_str_eq(claims.sub, "65f1a0c2e4b0a1b2c3d4e5f6");
  free(user);
  why = NULL;
  cr_assert_eq(chat_jwt_verify_user("", SECRET, NOW, &claims, &why), CHAT_ERR_UNAUTHORIZED);
  cr_assert_str_eq(why, "missing token", "the reasons of chat_jwt_verify() come through");
}
