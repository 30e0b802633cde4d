/* The offset and pid of connection state recovery (recovery_token.h).
 * Binary form: a kind byte, varints (unsigned LEB128) and raw bytes, then
 * a 12-byte BLAKE2b tag keyed with the derived key over all of it:
 *   offset: 0x01, written_s, partitions, next[0..partitions)
 *   pid:    0x02, user id (12 bytes), issued_s, nonce (8), socket id
 *           (20), partitions, next[0..partitions)
 * The kind byte keeps one from being taken for the other. */
#include "recovery_token.h"

#include <sodium.h>
#include <string.h>

#define KIND_OFFSET 0x01
#define KIND_PID 0x02
#define TAG_SIZE 12
#define BINARY_MAX (1 + 12 + 10 + 8 + 20 + 2 + 10 * RECOVERY_PARTITIONS_MAX + TAG_SIZE)
#define SOCKET_ID_LEN 20

void recovery_key_derive(const char *secret, uint8_t key[RECOVERY_KEY_SIZE]) {
  static const char context[] = "chat connection state recovery v1";
  uint8_t secret_key[crypto_generichash_KEYBYTES_MAX];
  size_t len = strlen(secret);
  /* BLAKE2b takes a key of 16 to 64 bytes: a longer or shorter secret is
   * hashed to one first. */
  crypto_generichash(secret_key, sizeof secret_key, (const uint8_t *)secret, len, NULL, 0);
  crypto_generichash(key, RECOVERY_KEY_SIZE, (const uint8_t *)context, sizeof context - 1,
                     secret_key, sizeof secret_key);
  sodium_memzero(secret_key, sizeof secret_key);
}

typedef struct writer {
  uint8_t bytes[BINARY_MAX];
  size_t len;
  bool overflow;
} writer_t;

static void put_byte(writer_t *w, uint8_t b) {
  if (w->len < sizeof w->bytes)
    w->bytes[w->len++] = b;
  else
    w->overflow = true;
}

static void put_varint(writer_t *w, uint64_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    put_byte(w, (uint8_t)(b | (v ? 0x80 : 0)));
  } while (v);
}

static void put_position(writer_t *w, const recovery_position_t *p) {
  if (p->partitions > RECOVERY_PARTITIONS_MAX) {
    w->overflow = true;
    return;
  }
  put_varint(w, p->partitions);
  for (size_t i = 0; i < p->partitions; i++)
    put_varint(w, p->next[i] > 0 ? (uint64_t)p->next[i] : 0);
}

static void tag(const uint8_t key[RECOVERY_KEY_SIZE], const uint8_t *bytes, size_t len,
                uint8_t out[TAG_SIZE]) {
  uint8_t full[16];
  crypto_generichash(full, sizeof full, bytes, len, key, RECOVERY_KEY_SIZE);
  memcpy(out, full, TAG_SIZE);
}

static size_t finish(const uint8_t key[RECOVERY_KEY_SIZE], writer_t *w, char *out, size_t cap) {
  uint8_t t[TAG_SIZE];
  tag(key, w->bytes, w->len, t);
  for (size_t i = 0; i < TAG_SIZE; i++)
    put_byte(w, t[i]);
  if (w->overflow ||
      cap < sodium_base64_ENCODED_LEN(w->len, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
    return 0;
  sodium_bin2base64(out, cap, w->bytes, w->len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return strlen(out);
}

size_t recovery_offset_write(const uint8_t key[RECOVERY_KEY_SIZE],
                             const recovery_position_t *position, int64_t now_s, char *out,
                             size_t cap) {
  writer_t w = {.len = 0};
  put_byte(&w, KIND_OFFSET);
  put_varint(&w, now_s > 0 ? (uint64_t)now_s : 0);
  put_position(&w, position);
  return finish(key, &w, out, cap);
}

size_t recovery_pid_write(const uint8_t key[RECOVERY_KEY_SIZE], const recovery_session_t *session,
                          char *out, size_t cap) {
  writer_t w = {.len = 0};
  uint8_t user[12];
  size_t user_len = 0;
  if (sodium_hex2bin(user, sizeof user, session->user_id, strlen(session->user_id), NULL,
                     &user_len, NULL) != 0 ||
      user_len != sizeof user)
    return 0;
  put_byte(&w, KIND_PID);
  for (size_t i = 0; i < sizeof user; i++)
    put_byte(&w, user[i]);
  put_varint(&w, session->issued_s > 0 ? (uint64_t)session->issued_s : 0);
  for (size_t i = 0; i < sizeof session->nonce; i++)
    put_byte(&w, session->nonce[i]);
  if (strlen(session->socket_id) != SOCKET_ID_LEN)
    return 0;
  for (size_t i = 0; i < SOCKET_ID_LEN; i++)
    put_byte(&w, (uint8_t)session->socket_id[i]);
  put_position(&w, &session->start);
  return finish(key, &w, out, cap);
}

typedef struct reader {
  const uint8_t *bytes;
  size_t len, at;
  bool bad;
} reader_t;

static uint8_t get_byte(reader_t *r) {
  if (r->at >= r->len) {
    r->bad = true;
    return 0;
  }
  return r->bytes[r->at++];
}

static uint64_t get_varint(reader_t *r) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b = get_byte(r);
    if (r->bad)
      return 0;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return v;
  }
  r->bad = true; /* longer than any 64-bit number */
  return 0;
}

static void get_position(reader_t *r, recovery_position_t *p) {
  uint64_t n = get_varint(r);
  if (r->bad || n > RECOVERY_PARTITIONS_MAX) {
    r->bad = true;
    return;
  }
  p->partitions = (size_t)n;
  for (size_t i = 0; i < p->partitions && !r->bad; i++) {
    uint64_t next = get_varint(r);
    if (next > (uint64_t)INT64_MAX)
      r->bad = true;
    p->next[i] = (int64_t)next;
  }
}

/* Decodes text and checks its tag and kind; the reader then covers the
 * tagged bytes after the kind byte. */
static bool open_token(const uint8_t key[RECOVERY_KEY_SIZE], const char *text, uint8_t kind,
                       uint8_t *buf, reader_t *r) {
  size_t text_len = strlen(text), len = 0;
  if (text_len == 0 ||
      text_len > sodium_base64_ENCODED_LEN(BINARY_MAX, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
      sodium_base642bin(buf, BINARY_MAX, text, text_len, NULL, &len, NULL,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      len < 1 + TAG_SIZE || buf[0] != kind)
    return false;
  uint8_t expected[TAG_SIZE];
  tag(key, buf, len - TAG_SIZE, expected);
  if (sodium_memcmp(expected, buf + len - TAG_SIZE, TAG_SIZE) != 0)
    return false;
  *r = (reader_t){.bytes = buf, .len = len - TAG_SIZE, .at = 1};
  return true;
}

bool recovery_offset_read(const uint8_t key[RECOVERY_KEY_SIZE], const char *offset,
                          recovery_position_t *position, int64_t *written_s) {
  uint8_t buf[BINARY_MAX];
  reader_t r;
  if (!offset || !open_token(key, offset, KIND_OFFSET, buf, &r))
    return false;
  uint64_t at = get_varint(&r);
  get_position(&r, position);
  if (r.bad || r.at != r.len || at > (uint64_t)INT64_MAX)
    return false;
  *written_s = (int64_t)at;
  return true;
}

bool recovery_pid_read(const uint8_t key[RECOVERY_KEY_SIZE], const char *pid,
                       recovery_session_t *session) {
  uint8_t buf[BINARY_MAX], user[12];
  reader_t r;
  if (!pid || !open_token(key, pid, KIND_PID, buf, &r))
    return false;
  for (size_t i = 0; i < sizeof user; i++)
    user[i] = get_byte(&r);
  uint64_t issued = get_varint(&r);
  for (size_t i = 0; i < sizeof session->nonce; i++)
    session->nonce[i] = get_byte(&r);
  for (size_t i = 0; i < SOCKET_ID_LEN; i++)
    session->socket_id[i] = (char)get_byte(&r);
  session->socket_id[SOCKET_ID_LEN] = '\0';
  get_position(&r, &session->start);
  if (r.bad || r.at != r.len || issued > (uint64_t)INT64_MAX)
    return false;
  sodium_bin2hex(session->user_id, sizeof session->user_id, user, sizeof user);
  session->issued_s = (int64_t)issued;
  return true;
}
