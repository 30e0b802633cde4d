#include "eio_packet.h"

#include <sodium.h>
#include <string.h>

static bool type_from_digit(uint8_t c, chat_eio_type_t *type) {
  if (c < '0' || c > '6')
    return false;
  *type = (chat_eio_type_t)(c - '0');
  return true;
}

bool chat_eio_decode_frame(const uint8_t *frame, size_t len, bool is_binary,
                           chat_eio_packet_t *packet) {
  if (is_binary) {
    *packet = (chat_eio_packet_t){CHAT_EIO_MESSAGE, true, frame, len};
    return true;
  }
  if (len == 0 || !type_from_digit(frame[0], &packet->type))
    return false;
  packet->binary = false;
  packet->data = frame + 1;
  packet->len = len - 1;
  return true;
}

static bool decode_one(const uint8_t *part, size_t len, chat_eio_packet_fn on_packet, void *ctx) {
  chat_eio_packet_t packet;
  if (len > 0 && part[0] == 'b') {
    size_t max = (len - 1) / 4 * 3 + 3, decoded = 0;
    uint8_t *bytes = malloc(max ? max : 1);
    if (!bytes)
      return false;
    bool ok = sodium_base642bin(bytes, max, (const char *)part + 1, len - 1, NULL, &decoded, NULL,
                                sodium_base64_VARIANT_ORIGINAL) == 0;
    if (ok) {
      packet = (chat_eio_packet_t){CHAT_EIO_MESSAGE, true, bytes, decoded};
      ok = on_packet(ctx, &packet);
    }
    free(bytes);
    return ok;
  }
  return chat_eio_decode_frame(part, len, false, &packet) && on_packet(ctx, &packet);
}

bool chat_eio_decode_payload(const uint8_t *payload, size_t len, chat_eio_packet_fn on_packet,
                             void *ctx) {
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && payload[i] != CHAT_EIO_RECORD_SEPARATOR)
      continue;
    if (!decode_one(payload + start, i - start, on_packet, ctx))
      return false;
    start = i + 1;
  }
  return true;
}

void chat_eio_append_to_payload(bson_string_t *out, chat_eio_type_t type, bool binary,
                                const uint8_t *data, size_t len) {
  if (out->len > 0)
    bson_string_append_c(out, CHAT_EIO_RECORD_SEPARATOR);
  if (binary) {
    size_t b64_len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_len);
    if (!b64)
      return;
    sodium_bin2base64(b64, b64_len, data, len, sodium_base64_VARIANT_ORIGINAL);
    bson_string_append_c(out, 'b');
    bson_string_append(out, b64);
    free(b64);
    return;
  }
  bson_string_append_c(out, (char)('0' + type));
  if (len)
    bson_string_append_printf(out, "%.*s", (int)len, (const char *)data);
}

void chat_eio_append_open(bson_string_t *out, const char *sid, bool can_upgrade,
                          int ping_interval_ms, int ping_timeout_ms, size_t max_payload) {
  bson_string_append_printf(out,
                            "0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%d,"
                            "\"pingTimeout\":%d,\"maxPayload\":%zu}",
                            sid, can_upgrade ? "\"websocket\"" : "", ping_interval_ms,
                            ping_timeout_ms, max_payload);
}
