#include "reply_window.h"

#include <string.h>

bool reply_window_track(awaiting_t awaiting[2], const char *sender, const char *message_id,
                        int64_t at_ms, replied_first_t *replied) {
  bool changed = false, sender_waits = false;
  memset(replied, 0, sizeof *replied);
  for (size_t i = 0; i < 2; i++) {
    awaiting_t *a = &awaiting[i];
    if (!a->user[0])
      continue;
    if (strcmp(a->user, sender) == 0) {
      sender_waits = true;
      continue;
    }
    /* The other's message waited for this one: the window closes. */
    if (at_ms - a->at <= REPLY_WINDOW_MS) {
      memcpy(replied->original_sender, a->user, CHAT_ID_SIZE);
      memcpy(replied->original_message, a->message_id, CHAT_ID_SIZE);
      replied->original_at = a->at;
    }
    memset(a, 0, sizeof *a);
    changed = true;
  }
  if (!sender_waits) {
    awaiting_t *a = !awaiting[0].user[0] ? &awaiting[0] : &awaiting[1];
    if (!a->user[0]) {
      memcpy(a->user, sender, CHAT_ID_SIZE);
      memcpy(a->message_id, message_id, CHAT_ID_SIZE);
      a->at = at_ms;
      changed = true;
    }
  }
  return changed;
}
