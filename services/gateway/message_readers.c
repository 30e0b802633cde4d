#include "message_readers.h"

#include <string.h>

size_t message_readers(int64_t seq, const char *sender_id, const char *const *members,
                       size_t member_count, const read_watermark_t *marks, size_t mark_count,
                       size_t *readers) {
  size_t count = 0;
  for (size_t m = 0; m < member_count; m++) {
    if (strcmp(members[m], sender_id) == 0)
      continue; /* the sender wrote it: not a reader */
    for (size_t k = 0; k < mark_count; k++) {
      if (strcmp(marks[k].user_id, members[m]) == 0) {
        if (marks[k].last_read_seq >= seq)
          readers[count++] = k;
        break;
      }
    }
  }
  return count;
}
