/* The lastSeqs of a resuming client's CONNECT auth ({token, lastSeqs:
 * {"<conversationId>": <last seq seen>, ...}}), read and checked. Pure:
 * no gateway state, so that every refusal is unit-tested alone; the
 * replay itself is socket_resume.c's. */
#ifndef GATEWAY_RESUME_POINTS_H
#define GATEWAY_RESUME_POINTS_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/ids.h"

#define RESUME_POINTS_MAX 1000 /* lastSeqs entries taken at most */

/* One lastSeqs entry. */
typedef struct resume_last_seq {
  char conversation_id[CHAT_ID_SIZE];
  int64_t seq; /* the last seq the client saw, >= 0 */
} resume_last_seq_t;

/* The CONNECT_ERROR message for a malformed lastSeqs. */
extern const char *const resume_points_malformed;

/* Reads auth.lastSeqs (auth may be NULL) into a malloc'd array *points of
 * *count entries, in the order given; the caller free()s it. No lastSeqs,
 * a null one or an empty one is no resume: *points NULL, *count 0.
 * Returns NULL, or the CONNECT_ERROR message (static) when lastSeqs is not
 * an object, has more than RESUME_POINTS_MAX entries, a key that is not an
 * id or a value that is not a number >= 0, or when memory runs out; then
 * *points is NULL. */
const char *resume_points_read(const bson_t *auth, resume_last_seq_t **points, size_t *count);

#endif
