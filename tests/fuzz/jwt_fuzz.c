/* libFuzzer target for the token check (common/src/jwt.c,
 * chat_jwt_verify), under ASan and UBSan like socketio_fuzz.c. A fuzzer
 * cannot forge an HMAC, so half of the inputs are signed here with the
 * secret the check uses, to reach libjwt's claim parsing and our exp, nbf
 * and sub checks with any header and payload:
 *   'T' + token                         the token as a client sends it;
 *   'S' + header JSON + '\n' + payload  base64url of each, signed HS256;
 * anything else is taken as a token too. Seeds in tests/fuzz/corpus-jwt/.
 * Besides the sanitizers, the harness aborts when a token passes whose
 * header does not say HS256, or with claims the check promises to refuse
 * (expired, empty or over-long subject). */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define SECRET "fuzz-secret-0123456789abcdef" /* the key of the seeds' signed tokens */
#define NOW 1800000000                        /* the check's clock, in 2027 */

static void fail(const char *why, const char *token) {
  fprintf(stderr, "jwt_fuzz: %s: %s\n", why, token);
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return sodium_init() < 0 ? 1 : 0;
}

static void append_base64url(char *out, size_t *len, const uint8_t *bytes, size_t n) {
  sodium_bin2base64(out + *len, sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                    bytes, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  *len += strlen(out + *len);
}

/* header.payload.signature, HS256 with SECRET; malloc'd. */
static char *sign(const uint8_t *header, size_t header_len, const uint8_t *payload,
                  size_t payload_len) {
  size_t cap = sodium_base64_ENCODED_LEN(header_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
               sodium_base64_ENCODED_LEN(payload_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
               sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                         sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
               3;
  char *token = malloc(cap);
  if (!token)
    abort();
  size_t len = 0;
  append_base64url(token, &len, header, header_len);
  token[len++] = '.';
  append_base64url(token, &len, payload, payload_len);
  uint8_t mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, (const unsigned char *)SECRET, strlen(SECRET));
  crypto_auth_hmacsha256_update(&state, (const unsigned char *)token, len);
  crypto_auth_hmacsha256_final(&state, mac);
  token[len++] = '.';
  append_base64url(token, &len, mac, sizeof mac);
  return token;
}

/* The header of token, decoded, says HS256 (checked apart from jwt.c). */
static bool header_says_hs256(const char *token) {
  const char *dot = strchr(token, '.');
  char header[1024];
  size_t len = 0;
  if (!dot || sodium_base642bin((unsigned char *)header, sizeof header - 1, token,
                                (size_t)(dot - token), NULL, &len, NULL,
                                sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return false;
  header[len] = '\0';
  return strstr(header, "\"HS256\"") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *token;
  if (size > 0 && data[0] == 'S') {
    const uint8_t *header = data + 1;
    const uint8_t *newline = memchr(header, '\n', size - 1);
    size_t header_len = newline ? (size_t)(newline - header) : size - 1;
    const uint8_t *payload = newline ? newline + 1 : data + size;
    token = sign(header, header_len, payload, (size_t)(data + size - payload));
  } else {
    size_t skip = size > 0 && data[0] == 'T' ? 1 : 0;
    token = malloc(size - skip + 1);
    if (!token)
      abort();
    memcpy(token, data + skip, size - skip);
    token[size - skip] = '\0'; /* a NUL inside ends it, as for a C string from a client */
  }
  chat_jwt_claims_t claims;
  const char *why = NULL;
  chat_err_t err = chat_jwt_verify(token, SECRET, NOW, &claims, &why);
  if (err == CHAT_OK) {
    if (!header_says_hs256(token))
      fail("accepted without HS256 in its header", token);
    size_t sub_len = strnlen(claims.sub, sizeof claims.sub);
    if (sub_len == 0 || sub_len == sizeof claims.sub)
      fail("accepted with an empty or unterminated subject", token);
    if (claims.exp <= 0 || claims.exp + CHAT_JWT_LEEWAY_S < NOW)
      fail("accepted expired", token);
  } else {
    if (err != CHAT_ERR_UNAUTHORIZED || !why || !why[0])
      fail("refused without a reason", token);
  }
  free(token);
  return 0;
}
