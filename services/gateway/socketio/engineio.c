#include "socketio/engineio.h"

#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"

const char *chat_eio_strerror(chat_eio_err_t err) {
  switch (err) {
#define CHAT_EIO_ERR_MSG_(name, msg)                                                               \
  case CHAT_EIO_ERR_##name:                                                                        \
    return msg;
    CHAT_EIO_ERR_MAP(CHAT_EIO_ERR_MSG_)
#undef CHAT_EIO_ERR_MSG_
  case CHAT_EIO_ERR_COUNT_:
    break;
  }
  return "unknown Engine.IO error";
}

/* Makes room for n more bytes (and the NUL) at the end of out and returns
 * where they go; the caller writes them and moves out->len. We write into
 * bson_string_t ourselves because bson_string_append() stops at the first
 * NUL, and binary frames (and even text data) may hold one. */
static char *reserve(bson_string_t *out, size_t n) {
  size_t need = (size_t)out->len + n + 1;
  CHAT_ASSERT(need <= UINT32_MAX);
  if (need > out->alloc) {
    size_t alloc = (size_t)out->alloc * 2;
    if (alloc < need)
      alloc = need;
    if (alloc > UINT32_MAX)
      alloc = UINT32_MAX;
    out->str = bson_realloc(out->str, alloc);
    out->alloc = (uint32_t)alloc;
  }
  return out->str + out->len;
}

static void append_bytes(bson_string_t *out, const uint8_t *data, size_t n) {
  char *dst = reserve(out, n);
  if (n)
    memcpy(dst, data, n);
  out->len += (uint32_t)n;
  out->str[out->len] = '\0';
}

/* A text packet: "<type digit>[data]". */
static chat_eio_err_t decode_text(const uint8_t *text, size_t len, chat_eio_packet_t *out) {
  if (len == 0)
    return CHAT_EIO_ERR_EMPTY;
  if (text[0] < '0' || text[0] > '6')
    return CHAT_EIO_ERR_TYPE;
  /* NUL is valid UTF-8 text; whatever reads the data next (Socket.IO's JSON)
   * has its own rules about it. */
  if (!bson_utf8_validate((const char *)text + 1, len - 1, true))
    return CHAT_EIO_ERR_UTF8;
  *out = (chat_eio_packet_t){(chat_eio_type_t)(text[0] - '0'), false, text + 1, len - 1};
  return CHAT_EIO_ERR_OK;
}

chat_eio_err_t chat_eio_decode(const uint8_t *frame, size_t len, bool binary, size_t max_len,
                               chat_eio_packet_t *out) {
  if (len > max_len)
    return CHAT_EIO_ERR_TOO_LARGE;
  if (binary) {
    *out = (chat_eio_packet_t){CHAT_EIO_MESSAGE, true, frame, len};
    return CHAT_EIO_ERR_OK;
  }
  return decode_text(frame, len, out);
}

void chat_eio_payload_clear(chat_eio_payload_t *payload) {
  if (!payload)
    return;
  bson_free(payload->packets);
  bson_free(payload->decoded_);
  *payload = (chat_eio_payload_t){0};
}

chat_eio_err_t chat_eio_payload_decode(const uint8_t *payload, size_t len, size_t max_len,
                                       chat_eio_payload_t *out) {
  chat_eio_err_t err = CHAT_EIO_ERR_OK;
  size_t count = 1, decoded_len = 0;
  *out = (chat_eio_payload_t){0};
  if (len > max_len)
    return CHAT_EIO_ERR_TOO_LARGE;
  if (len == 0)
    return CHAT_EIO_ERR_EMPTY;
  for (size_t i = 0; i < len; i++)
    count += payload[i] == CHAT_EIO_SEPARATOR;
  out->packets = bson_malloc0(count * sizeof *out->packets);

  for (size_t start = 0, end = 0; start <= len; start = end + 1) {
    const uint8_t *sep = memchr(payload + start, CHAT_EIO_SEPARATOR, len - start);
    end = sep ? (size_t)(sep - payload) : len;
    const uint8_t *record = payload + start;
    size_t record_len = end - start;
    chat_eio_packet_t *packet = &out->packets[out->count];

    if (record_len > 0 && record[0] == 'b') {
      /* Base64 is longer than what it encodes, so the decoded bytes of all
       * the binary packets fit in len bytes. */
      if (!out->decoded_)
        out->decoded_ = bson_malloc(len);
      size_t bin_len = 0;
      uint8_t *bin = out->decoded_ + decoded_len;
      if (sodium_base642bin(bin, len - decoded_len, (const char *)record + 1, record_len - 1, NULL,
                            &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        err = CHAT_EIO_ERR_BASE64;
        goto out;
      }
      *packet = (chat_eio_packet_t){CHAT_EIO_MESSAGE, true, bin, bin_len};
      decoded_len += bin_len;
    } else if ((err = decode_text(record, record_len, packet)) != CHAT_EIO_ERR_OK) {
      goto out;
    }
    out->count++;
  }
  CHAT_ASSERT(out->count == count);

out:
  if (err != CHAT_EIO_ERR_OK)
    chat_eio_payload_clear(out);
  return err;
}

void chat_eio_encode(bson_string_t *out, const chat_eio_packet_t *packet) {
  CHAT_ASSERT(packet->type >= CHAT_EIO_OPEN && packet->type <= CHAT_EIO_NOOP);
  CHAT_ASSERT(!packet->binary || packet->type == CHAT_EIO_MESSAGE);
  if (!packet->binary)
    bson_string_append_c(out, (char)('0' + packet->type));
  append_bytes(out, packet->data, packet->len);
}

void chat_eio_payload_append(bson_string_t *out, const chat_eio_packet_t *packet) {
  if (out->len > 0)
    bson_string_append_c(out, CHAT_EIO_SEPARATOR);
  if (!packet->binary) {
    chat_eio_encode(out, packet);
    return;
  }
  CHAT_ASSERT(packet->type == CHAT_EIO_MESSAGE);
  size_t b64_size = sodium_base64_encoded_len(packet->len, sodium_base64_VARIANT_ORIGINAL);
  bson_string_append_c(out, 'b');
  char *b64 = reserve(out, b64_size); /* b64_size counts the NUL, reserve() adds one more */
  sodium_bin2base64(b64, b64_size, packet->data, packet->len, sodium_base64_VARIANT_ORIGINAL);
  out->len += (uint32_t)(b64_size - 1);
}

void chat_eio_encode_open(bson_string_t *out, const chat_eio_handshake_t *handshake) {
  bson_string_append(out, "0{\"sid\":");
  chat_json_append_string(out, handshake->sid, strlen(handshake->sid));
  bson_string_append_printf(out,
                            ",\"upgrades\":[%s],\"pingInterval\":%" PRIu32
                            ",\"pingTimeout\":%" PRIu32 ",\"maxPayload\":%zu}",
                            handshake->can_upgrade ? "\"websocket\"" : "",
                            handshake->ping_interval_ms, handshake->ping_timeout_ms,
                            handshake->max_payload);
}
