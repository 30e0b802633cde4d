/* The two strings of Socket.IO's connection state recovery, as this
 * gateway writes them (docs/architecture.md, "Connection state recovery"):
 *
 * - the offset, the last argument of every recoverable event: a position
 *   in chat.broadcast, one next offset per partition, such that every
 *   record before it has been delivered to the socket, and the time it
 *   was written;
 * - the pid, the session's private id in the CONNECT answer: the user it
 *   belongs to, when it was issued, its socket id, and the position of the
 *   session's first connection (what a session that never got an event
 *   resumes from).
 *
 * Both are opaque to clients: base64url of a small binary form and a
 * keyed BLAKE2b tag, so that a client can neither forge one nor take
 * another user's, and any gateway sharing the key reads them. Pure: no
 * I/O, no clock. */
#ifndef GATEWAY_RECOVERY_TOKEN_H
#define GATEWAY_RECOVERY_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/ids.h"

#define RECOVERY_KEY_SIZE 32
#define RECOVERY_PARTITIONS_MAX 256 /* partitions of chat.broadcast a position may name */
/* Longest string either form takes, NUL included: 10 bytes per offset. */
#define RECOVERY_TOKEN_MAX (((1 + 12 + 10 + 8 + 20 + 2 + 10 * RECOVERY_PARTITIONS_MAX + 12) * 4) / 3 + 8)

/* A position in chat.broadcast: next[p] is the offset of the first record
 * of partition p not yet covered. */
typedef struct recovery_position {
  size_t partitions;
  int64_t next[RECOVERY_PARTITIONS_MAX];
} recovery_position_t;

typedef struct recovery_session {
  char user_id[CHAT_ID_SIZE];
  int64_t issued_s;         /* Unix seconds */
  uint8_t nonce[8];         /* tells two sessions of one user apart */
  char socket_id[21];       /* the Socket.IO socket id it keeps: 20 base64url characters */
  recovery_position_t start; /* where its first connection began */
} recovery_session_t;

/* The key both forms are tagged with, derived from secret (the gateways'
 * shared JWT secret) for this use alone. */
void recovery_key_derive(const char *secret, uint8_t key[RECOVERY_KEY_SIZE]);

/* Writes the offset of position at time now_s into out (cap bytes, at
 * least RECOVERY_TOKEN_MAX). Returns the length, or 0 when it did not fit. */
size_t recovery_offset_write(const uint8_t key[RECOVERY_KEY_SIZE],
                             const recovery_position_t *position, int64_t now_s, char *out,
                             size_t cap);

/* Reads an offset; false when it is malformed or its tag is not ours. */
bool recovery_offset_read(const uint8_t key[RECOVERY_KEY_SIZE], const char *offset,
                          recovery_position_t *position, int64_t *written_s);

/* Writes session's pid into out, as recovery_offset_write. */
size_t recovery_pid_write(const uint8_t key[RECOVERY_KEY_SIZE], const recovery_session_t *session,
                          char *out, size_t cap);

/* Reads a pid; false when it is malformed or its tag is not ours. */
bool recovery_pid_read(const uint8_t key[RECOVERY_KEY_SIZE], const char *pid,
                       recovery_session_t *session);

#endif
