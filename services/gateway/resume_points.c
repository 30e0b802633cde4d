#include "resume_points.h"

#include <stdlib.h>
#include <string.h>

const char *const resume_points_malformed = "lastSeqs must map conversation ids to the last seq "
                                            "seen (at most 1000 of them)";

const char *resume_points_read(const bson_t *auth, resume_last_seq_t **points, size_t *count) {
  bson_iter_t it, entries;
  *points = NULL;
  *count = 0;
  if (!auth || !bson_iter_init_find(&it, auth, "lastSeqs") || BSON_ITER_HOLDS_NULL(&it))
    return NULL;
  if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &entries))
    return resume_points_malformed;
  resume_last_seq_t *taken = NULL;
  size_t n = 0;
  while (bson_iter_next(&entries)) {
    const char *id = bson_iter_key(&entries);
    /* A double (17.0, or even 17.5) is taken as its integer part. */
    if (n == RESUME_POINTS_MAX || !chat_is_id(id) ||
        !(BSON_ITER_HOLDS_INT32(&entries) || BSON_ITER_HOLDS_INT64(&entries) ||
          BSON_ITER_HOLDS_DOUBLE(&entries)) ||
        bson_iter_as_int64(&entries) < 0) {
      free(taken);
      return resume_points_malformed;
    }
    resume_last_seq_t *grown = realloc(taken, (n + 1) * sizeof *grown);
    if (!grown) {
      free(taken);
      return "Server busy, try again";
    }
    taken = grown;
    memcpy(taken[n].conversation_id, id, CHAT_ID_SIZE);
    taken[n].seq = bson_iter_as_int64(&entries);
    n++;
  }
  *points = taken;
  *count = n;
  return NULL;
}
