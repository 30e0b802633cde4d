/* libFuzzer target for the gateway's packet parsers: bytes go in as a
 * WebSocket text frame, a binary frame and a polling payload; every
 * Socket.IO packet that decodes is re-encoded. Crashes, leaks and undefined
 * behaviour are the findings (built with -fsanitize=fuzzer,address,undefined
 * by tests/CMakeLists.txt, run for a bounded time by CTest). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "eio_packet.h"
#include "sio_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sio_roundtrip(const uint8_t *text, size_t len) {
  chat_sio_packet_t packet;
  const char *why = NULL;
  if (chat_sio_decode((const char *)text, len, 1 << 20, &packet, &why)) {
    bson_iter_t args;
    bson_string_t *out = bson_string_new(NULL);
    chat_sio_append_header(out, packet.type, packet.attachments, packet.nsp, packet.ack_id);
    if (packet.type == CHAT_SIO_EVENT || packet.type == CHAT_SIO_BINARY_EVENT)
      (void)chat_sio_event_name(&packet, &args);
    bson_string_free(out, true);
  }
  chat_sio_packet_cleanup(&packet);
}

static bool on_packet(void *ctx, const chat_eio_packet_t *packet) {
  bson_string_t *payload = ctx;
  if (packet->type == CHAT_EIO_MESSAGE && !packet->binary)
    sio_roundtrip(packet->data, packet->len);
  chat_eio_append_to_payload(payload, packet->type, packet->binary, packet->data, packet->len);
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  chat_eio_packet_t packet;
  if (chat_eio_decode_frame(data, size, false, &packet) && packet.type == CHAT_EIO_MESSAGE)
    sio_roundtrip(packet.data, packet.len);
  (void)chat_eio_decode_frame(data, size, true, &packet);
  bson_string_t *payload = bson_string_new(NULL);
  (void)chat_eio_decode_payload(data, size, on_packet, payload);
  bson_string_free(payload, true);
  return 0;
}
