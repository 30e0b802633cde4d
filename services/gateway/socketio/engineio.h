/* Engine.IO v4 packets on the wire (README of socketio/engine.io-protocol),
 * with no I/O: the transports decode what they receive and encode what
 * they send through these functions.
 *
 *   WebSocket: one packet per frame. A text frame is "<type digit>[data]",
 *              e.g. "4hello" or "2probe"; a binary frame is a binary
 *              message, its bytes as they are.
 *   Polling:   a payload of packets joined by the record separator 0x1e,
 *              a binary message written as 'b' + base64:
 *              "4hello\x1ebAQIDBA==".
 *
 * Text data must be UTF-8. Every decoder refuses what the spec does not
 * allow with its own error, so the transport can close the session with a
 * precise reason. */
#ifndef CHAT_GATEWAY_ENGINEIO_H
#define CHAT_GATEWAY_ENGINEIO_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum chat_eio_type {
  CHAT_EIO_OPEN = 0,    /* server -> client, the handshake JSON */
  CHAT_EIO_CLOSE = 1,   /* the transport may be closed */
  CHAT_EIO_PING = 2,    /* heartbeat (server -> client), or the "probe" of an upgrade */
  CHAT_EIO_PONG = 3,    /* its answer, with the same data */
  CHAT_EIO_MESSAGE = 4, /* data for the layer above (Socket.IO) */
  CHAT_EIO_UPGRADE = 5, /* the client switches to the probed WebSocket */
  CHAT_EIO_NOOP = 6,    /* ends a pending poll during an upgrade */
} chat_eio_type_t;

#define CHAT_EIO_SEPARATOR '\x1e' /* between the packets of a polling payload */

/* X(ENUM_SUFFIX, "message") */
#define CHAT_EIO_ERR_MAP(X)                                                                        \
  X(OK, "success")                                                                                 \
  X(EMPTY, "empty Engine.IO packet")                                                               \
  X(TYPE, "unknown Engine.IO packet type")                                                         \
  X(BASE64, "binary packet is not valid padded base64")                                            \
  X(UTF8, "text packet is not valid UTF-8")                                                        \
  X(TOO_LARGE, "Engine.IO payload exceeds maxPayload")

typedef enum chat_eio_err {
#define CHAT_EIO_ERR_ENUM_(name, msg) CHAT_EIO_ERR_##name,
  CHAT_EIO_ERR_MAP(CHAT_EIO_ERR_ENUM_)
#undef CHAT_EIO_ERR_ENUM_
      CHAT_EIO_ERR_COUNT_ /* not an error: the number of codes */
} chat_eio_err_t;

/* One packet, as a view of bytes it does not own. A binary message has
 * type CHAT_EIO_MESSAGE and binary set; data may be NULL when len is 0. */
typedef struct chat_eio_packet {
  chat_eio_type_t type;
  bool binary;
  const uint8_t *data;
  size_t len;
} chat_eio_packet_t;

/* The packets of a decoded polling payload, in order. Text packets point
 * into the payload that was decoded (which must outlive them), binary ones
 * into decoded_ (owned). Free with chat_eio_payload_clear(). */
typedef struct chat_eio_payload {
  chat_eio_packet_t *packets;
  size_t count;
  uint8_t *decoded_; /* private: the base64-decoded bytes of binary packets */
} chat_eio_payload_t;

/* What the open packet tells the client (keys in the order of the spec). */
typedef struct chat_eio_handshake {
  const char *sid;  /* session id, JSON-escaped on output */
  bool can_upgrade; /* "upgrades":["websocket"] (polling) or [] (WebSocket) */
  uint32_t ping_interval_ms;
  uint32_t ping_timeout_ms;
  size_t max_payload; /* bytes per message or polling request */
} chat_eio_handshake_t;

/* Returns a static message for err ("unknown Engine.IO error" outside the
 * enum). Never NULL, never to be freed. */
const char *chat_eio_strerror(chat_eio_err_t err);

/* Decodes the packet in one WebSocket frame of len bytes; binary says it
 * was a binary frame (then it is a binary message, whatever its bytes).
 * *out points into frame. Returns CHAT_EIO_ERR_OK, or TOO_LARGE (len >
 * max_len), EMPTY (an empty text frame), TYPE (first byte not '0'..'6'),
 * UTF8 (text data not UTF-8). Nothing to free. */
chat_eio_err_t chat_eio_decode(const uint8_t *frame, size_t len, bool binary, size_t max_len,
                               chat_eio_packet_t *out);

/* Decodes the body of a polling POST. All or nothing: on success *out
 * holds every packet and the caller frees it with chat_eio_payload_clear();
 * on error *out is empty. Returns CHAT_EIO_ERR_OK, or TOO_LARGE (len >
 * max_len), EMPTY (an empty payload or an empty record between
 * separators), TYPE, UTF8, BASE64 (a 'b' packet with bad base64). */
chat_eio_err_t chat_eio_payload_decode(const uint8_t *payload, size_t len, size_t max_len,
                                       chat_eio_payload_t *out);

/* Frees what chat_eio_payload_decode() allocated and empties payload.
 * Accepts NULL and an already cleared payload. */
void chat_eio_payload_clear(chat_eio_payload_t *payload);

/* Appends the bytes of packet as one WebSocket frame: the type digit and
 * the data for a text packet (send as a text frame), the data alone for a
 * binary message (send as a binary frame). */
void chat_eio_encode(bson_string_t *out, const chat_eio_packet_t *packet);

/* Appends packet to the polling payload being built in out, after a 0x1e
 * separator unless out is empty; a binary message is written 'b' + base64. */
void chat_eio_payload_append(bson_string_t *out, const chat_eio_packet_t *packet);

/* Appends the open packet: 0{"sid":..,"upgrades":[..],"pingInterval":..,
 * "pingTimeout":..,"maxPayload":..}. It is the first frame of a WebSocket
 * session and the whole answer to the first poll. */
void chat_eio_encode_open(bson_string_t *out, const chat_eio_handshake_t *handshake);

#endif
