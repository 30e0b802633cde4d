/* Socket.IO v5 packets (README of socketio/socket.io-protocol), with no
 * I/O. Each packet travels as the data of one Engine.IO message:
 *
 *   <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
 *
 *   2["chat",{"text":"hi"}]               EVENT "chat" on the main namespace
 *   3/admin,13["bar"]                     ACK 13 on /admin
 *   51-["up",{"_placeholder":true,"num":0}]  BINARY_EVENT, then 1 binary message
 *
 * The decoder is strict: each departure from the spec (or from what the
 * reference parser, socket.io-parser, accepts) has its own error, and the
 * transport closes the session on any of them. */
#ifndef CHAT_GATEWAY_SOCKETIO_H
#define CHAT_GATEWAY_SOCKETIO_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "socketio/engineio.h"

typedef enum chat_sio_type {
  CHAT_SIO_CONNECT = 0,       /* data: absent or an object (client: auth; server: {"sid":..}) */
  CHAT_SIO_DISCONNECT = 1,    /* no data */
  CHAT_SIO_EVENT = 2,         /* data: ["name", args...], optional ack id */
  CHAT_SIO_ACK = 3,           /* data: [args...], ack id required */
  CHAT_SIO_CONNECT_ERROR = 4, /* data: an object, {"message":..} */
  CHAT_SIO_BINARY_EVENT = 5,  /* EVENT with placeholders for its attachments */
  CHAT_SIO_BINARY_ACK = 6,    /* ACK with placeholders for its attachments */
} chat_sio_type_t;

#define CHAT_SIO_NSP_MAX 128         /* longest namespace, '/' included */
#define CHAT_SIO_ATTACHMENTS_MAX 256 /* most binary attachments in one packet */
#define CHAT_SIO_ACK_ID_MAX                                                                        \
  9007199254740991LL /* 2^53 - 1: the largest id a JavaScript peer holds exactly */

/* X(ENUM_SUFFIX, "message") */
#define CHAT_SIO_ERR_MAP(X)                                                                        \
  X(OK, "success")                                                                                 \
  X(EMPTY, "empty Socket.IO packet")                                                               \
  X(TOO_LARGE, "Socket.IO packet exceeds the size limit")                                          \
  X(TYPE, "unknown Socket.IO packet type")                                                         \
  X(ATTACHMENTS, "binary packet without a valid attachment count")                                 \
  X(NAMESPACE, "invalid namespace")                                                                \
  X(ACK_ID, "ack id out of range")                                                                 \
  X(ACK_ID_UNEXPECTED, "this packet type takes no ack id")                                         \
  X(ACK_ID_MISSING, "ACK without an ack id")                                                       \
  X(JSON, "malformed JSON data")                                                                   \
  X(EXTENDED_JSON, "extended JSON ($-prefixed keys) is not accepted")                              \
  X(TRAILING, "unexpected bytes after the JSON data")                                              \
  X(CONNECT_DATA, "CONNECT data must be absent or a JSON object")                                  \
  X(DISCONNECT_DATA, "DISCONNECT takes no data")                                                   \
  X(EVENT_DATA, "EVENT data must be a non-empty array starting with the event name")               \
  X(RESERVED_EVENT, "reserved event name")                                                         \
  X(ACK_DATA, "ACK data must be a JSON array")                                                     \
  X(CONNECT_ERROR_DATA, "CONNECT_ERROR data must be a JSON object")                                \
  X(PLACEHOLDER, "attachment placeholder with a bad, out-of-range or repeated num")                \
  X(PLACEHOLDER_MISSING, "an announced attachment has no placeholder")                             \
  X(ATTACHMENT_UNEXPECTED, "binary attachment that no packet is waiting for")

typedef enum chat_sio_err {
#define CHAT_SIO_ERR_ENUM_(name, msg) CHAT_SIO_ERR_##name,
  CHAT_SIO_ERR_MAP(CHAT_SIO_ERR_ENUM_)
#undef CHAT_SIO_ERR_ENUM_
      CHAT_SIO_ERR_COUNT_ /* not an error: the number of codes */
} chat_sio_err_t;

/* Bytes of one binary attachment, a view. */
typedef struct chat_sio_attachment {
  const uint8_t *data;
  size_t len;
} chat_sio_attachment_t;

/* A decoded packet. data holds the JSON data as BSON: an array's elements
 * under the keys "0", "1", ... (data_is_array) or an object's members.
 * A binary packet also collects the attachments that follow it (see
 * chat_sio_packet_add_attachment()). Everything is owned by the packet:
 * free with chat_sio_packet_clear(). */
typedef struct chat_sio_packet {
  chat_sio_type_t type;
  char nsp[CHAT_SIO_NSP_MAX + 1]; /* "/" for the main namespace */
  int64_t ack_id;                 /* -1 when absent */
  size_t attachments;             /* announced by a binary packet, else 0 */
  bson_t *data;                   /* NULL when the packet had no data */
  bool data_is_array;
  size_t received;                 /* attachments received so far */
  struct chat_sio_blob *received_; /* private: use chat_sio_packet_attachment() */
} chat_sio_packet_t;

/* Returns a static message for err ("unknown Socket.IO error" outside the
 * enum). Never NULL, never to be freed. */
const char *chat_sio_strerror(chat_sio_err_t err);

/* Decodes one packet from text[0..len), the data of an Engine.IO text
 * message. On success the caller owns *out and frees it with
 * chat_sio_packet_clear(); on error *out is empty (clearing it is harmless).
 * Returns CHAT_SIO_ERR_OK or:
 *   EMPTY, TOO_LARGE (len > max_len), TYPE (not '0'..'6'),
 *   ATTACHMENTS (binary type without "<n>-", or n > CHAT_SIO_ATTACHMENTS_MAX),
 *   NAMESPACE ("/..." with a character outside [A-Za-z0-9/_.~-] or longer than
 *     CHAT_SIO_NSP_MAX; it ends at ',' or at the end of the text),
 *   ACK_ID (over CHAT_SIO_ACK_ID_MAX), ACK_ID_UNEXPECTED (on CONNECT,
 *     DISCONNECT, CONNECT_ERROR), ACK_ID_MISSING (ACK, BINARY_ACK),
 *   JSON (not one well-formed JSON value, NaN included), EXTENDED_JSON (a key
 *     starting with '$', which libbson would turn into another type),
 *   TRAILING (bytes after the JSON value),
 *   CONNECT_DATA, DISCONNECT_DATA, EVENT_DATA (also an event name holding
 *     NUL), ACK_DATA, CONNECT_ERROR_DATA (data of the wrong shape),
 *   RESERVED_EVENT ("connect", "disconnect", ... which only the library may
 *     emit), PLACEHOLDER, PLACEHOLDER_MISSING (binary packets: the
 *     placeholders must number the announced attachments 0..n-1, each once). */
chat_sio_err_t chat_sio_decode(const char *text, size_t len, size_t max_len,
                               chat_sio_packet_t *out);

/* Frees everything packet owns and empties it. Accepts NULL. */
void chat_sio_packet_clear(chat_sio_packet_t *packet);

/* Returns the event name of an EVENT or BINARY_EVENT (owned by packet), or
 * NULL for the other types. */
const char *chat_sio_event_name(const chat_sio_packet_t *packet);

/* Returns true when it is an attachment placeholder {"_placeholder":true,
 * "num":N} that it points at, and sets *num. */
bool chat_sio_is_placeholder(const bson_iter_t *it, size_t *num);

/* Adds a copy of the next binary message received after a binary packet.
 * Returns CHAT_SIO_ERR_OK, or ATTACHMENT_UNEXPECTED when packet is not a
 * binary packet or already has all its attachments. */
chat_sio_err_t chat_sio_packet_add_attachment(chat_sio_packet_t *packet, const uint8_t *data,
                                              size_t len);

/* Returns true once every announced attachment was added (always true for a
 * packet that announced none): the packet is ready for the application. */
bool chat_sio_packet_complete(const chat_sio_packet_t *packet);

/* Returns attachment num, the one its placeholder {"num":num} stands for,
 * owned by packet; {NULL, 0} when num was not received. */
chat_sio_attachment_t chat_sio_packet_attachment(const chat_sio_packet_t *packet, size_t num);

/* Appends an encoded packet to out: the type digit, "<attachments>-" for a
 * binary type, the namespace and ',' unless nsp is NULL or "/", the ack id
 * unless negative, then data_json (already rendered JSON, or NULL).
 * Preconditions, asserted: a valid type and namespace, attachments 0 for
 * non-binary types, ack_id <= CHAT_SIO_ACK_ID_MAX. */
void chat_sio_encode(bson_string_t *out, chat_sio_type_t type, const char *nsp, int64_t ack_id,
                     size_t attachments, const char *data_json);

/* Appends an EVENT: 2[<nsp>,][<ack id>]["<event>"] or, with args_json (one
 * rendered JSON value), ["<event>",<args_json>]. The event name is escaped. */
void chat_sio_encode_event(bson_string_t *out, const char *nsp, int64_t ack_id, const char *event,
                           const char *args_json);

/* Appends the placeholder that stands for attachment num in the data of a
 * binary packet: {"_placeholder":true,"num":<num>}. */
void chat_sio_append_placeholder(bson_string_t *out, size_t num);

/* Encodes a BINARY_EVENT or BINARY_ACK and lays out the Engine.IO messages
 * that carry it, in sending order: frames[0] is the text message with the
 * header (the bytes are in header, which the caller owns and keeps until
 * sent), frames[1..count] the binary messages pointing at attachments.
 * frames must hold count + 1 entries; data_json must hold the placeholders
 * 0..count-1 (see chat_sio_append_placeholder()). */
void chat_sio_encode_binary(bson_string_t *header, chat_sio_type_t type, const char *nsp,
                            int64_t ack_id, const char *data_json,
                            const chat_sio_attachment_t *attachments, size_t count,
                            chat_eio_packet_t *frames);

#endif
