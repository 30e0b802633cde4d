/* Engine.IO v4 packets on the wire (socketio/engine.io-protocol README):
 * a type digit and its data on a WebSocket text frame, a WebSocket binary
 * frame for a binary message, and for HTTP long-polling a payload of
 * packets joined by the record separator 0x1e, binary ones written as 'b'
 * followed by base64. No I/O here. */
#ifndef CHAT_EIO_PACKET_H
#define CHAT_EIO_PACKET_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum chat_eio_type {
  CHAT_EIO_OPEN = 0,
  CHAT_EIO_CLOSE = 1,
  CHAT_EIO_PING = 2,
  CHAT_EIO_PONG = 3,
  CHAT_EIO_MESSAGE = 4,
  CHAT_EIO_UPGRADE = 5,
  CHAT_EIO_NOOP = 6,
} chat_eio_type_t;

#define CHAT_EIO_RECORD_SEPARATOR '\x1e' /* between packets of a polling payload */

/* A decoded packet: a view into the caller's buffer (or, for a binary
 * packet of a polling payload, into the decoder's scratch buffer, valid
 * during the callback only). */
typedef struct chat_eio_packet {
  chat_eio_type_t type;
  bool binary; /* a binary message: data holds raw bytes */
  const uint8_t *data;
  size_t len;
} chat_eio_packet_t;

/* Decodes a WebSocket frame. A binary frame is a binary message.
 * Returns false for an empty text frame or an unknown type digit. */
bool chat_eio_decode_frame(const uint8_t *frame, size_t len, bool is_binary,
                           chat_eio_packet_t *packet);

/* Called for each packet of a polling payload; returns false to stop. */
typedef bool (*chat_eio_packet_fn)(void *ctx, const chat_eio_packet_t *packet);

/* Splits a polling payload and calls on_packet for each packet in order.
 * Returns false when a packet is malformed (empty, unknown type, bad
 * base64) or on_packet stopped; packets before it were delivered. */
bool chat_eio_decode_payload(const uint8_t *payload, size_t len, chat_eio_packet_fn on_packet,
                             void *ctx);

/* Appends one packet as it goes in a polling payload, preceded by the
 * record separator unless out is empty. */
void chat_eio_append_to_payload(bson_string_t *out, chat_eio_type_t type, bool binary,
                                const uint8_t *data, size_t len);

/* Appends the open packet's handshake: 0{"sid":..,"upgrades":[..],...}. */
void chat_eio_append_open(bson_string_t *out, const char *sid, bool can_upgrade,
                          int ping_interval_ms, int ping_timeout_ms, size_t max_payload);

#endif
