/* Socket.IO v5 packets (socketio/socket.io-protocol README), carried in
 * Engine.IO message packets:
 *   <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
 * e.g. 2["chat",{"a":1}]  or  52-/admin,7["upload",{"_placeholder":true,"num":0},...]
 * No I/O here. */
#ifndef CHAT_SIO_PACKET_H
#define CHAT_SIO_PACKET_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum chat_sio_type {
  CHAT_SIO_CONNECT = 0,
  CHAT_SIO_DISCONNECT = 1,
  CHAT_SIO_EVENT = 2,
  CHAT_SIO_ACK = 3,
  CHAT_SIO_CONNECT_ERROR = 4,
  CHAT_SIO_BINARY_EVENT = 5,
  CHAT_SIO_BINARY_ACK = 6,
} chat_sio_type_t;

#define CHAT_SIO_NSP_MAX 128           /* longest namespace, with its NUL */
#define CHAT_SIO_MAX_ATTACHMENTS 64    /* binary attachments per packet */
#define CHAT_SIO_MAX_ACK_ID 2147483647 /* acks ids are non-negative int32 */

/* A decoded packet. data is a copy of the JSON data as a document
 * {"d": <data>} (libbson parses only objects at the top level), with no
 * "d" when the packet had no data. Free with chat_sio_packet_cleanup(). */
typedef struct chat_sio_packet {
  chat_sio_type_t type;
  char nsp[CHAT_SIO_NSP_MAX]; /* "/" when absent */
  int64_t ack_id;             /* -1 when absent */
  int attachments;            /* binary types only */
  bson_t data;
} chat_sio_packet_t;

/* Decodes one Socket.IO packet from the text of an Engine.IO message.
 * Returns true, or false with why (a static string) for: an unknown type,
 * a bad attachment count, a bad namespace, an ack id out of range, JSON that
 * does not parse, or data of the wrong shape for the type (EVENT: a non-empty
 * array starting with a string; ACK: an array; CONNECT: nothing or an object;
 * CONNECT_ERROR: an object). */
bool chat_sio_decode(const char *text, size_t len, size_t max_len, chat_sio_packet_t *packet,
                     const char **why);

/* Moves a decoded packet into *to (not yet initialised): to takes over the
 * data's storage and from is left empty, safe to clean up. A bson_t must
 * never be copied with '=': an allocated one points into its own struct. */
void chat_sio_packet_move(chat_sio_packet_t *to, chat_sio_packet_t *from);

/* Frees what decode allocated; accepts a packet decode never filled. */
void chat_sio_packet_cleanup(chat_sio_packet_t *packet);

/* Returns the event name of an EVENT/BINARY_EVENT (borrowed from packet)
 * and sets args to iterate the arguments after it. */
const char *chat_sio_event_name(const chat_sio_packet_t *packet, bson_iter_t *args);

/* Appends a packet header: type, attachment count (binary types), the
 * namespace unless "/", the ack id unless negative. The caller appends the
 * JSON data after it. */
void chat_sio_append_header(bson_string_t *out, chat_sio_type_t type, int attachments,
                            const char *nsp, int64_t ack_id);

#endif
