#include "chat/ids.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

bool chat_is_id(const char *id) {
  size_t n = 0;
  for (; id[n]; n++) {
    if (n >= CHAT_ID_LEN || !((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f')))
      return false;
  }
  return n == CHAT_ID_LEN;
}

bool chat_direct_conversation_id(const char *user_a, const char *user_b, char out[CHAT_ID_SIZE]) {
  if (!chat_is_id(user_a) || !chat_is_id(user_b))
    return false;
  int order = strcmp(user_a, user_b);
  if (order == 0)
    return false;
  char key[7 + 2 * CHAT_ID_LEN + 2];
  snprintf(key, sizeof key, "direct:%s:%s", order < 0 ? user_a : user_b,
           order < 0 ? user_b : user_a);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, (const unsigned char *)key, strlen(key));
  sodium_bin2hex(out, CHAT_ID_SIZE, digest, CHAT_ID_LEN / 2);
  return true;
}
