/* The reply window's replied.in.24hr.first, as pure logic: in a 1-1 conversation,
 * a user who replies to the other within 24 hours of the other's message
 * earns the event, at most once per window. The window opens with the
 * earliest message the other has not answered yet and closes with the
 * reply, in time or not, so a user who sends many messages in a row earns
 * nothing and opens one window only. The state is kept in the
 * conversation's document, not a cache. */
#ifndef PERSISTENCE_REPLY_WINDOW_H
#define PERSISTENCE_REPLY_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/ids.h"

#define REPLY_WINDOW_MS (24LL * 3600 * 1000)

/* The earliest unanswered message of a user; user "" when none. */
typedef struct awaiting {
  char user[CHAT_ID_SIZE];
  char message_id[CHAT_ID_SIZE];
  int64_t at;
} awaiting_t;

/* What a reply answered, when it earns the event; original_sender "" when not. */
typedef struct replied_first {
  char original_sender[CHAT_ID_SIZE];
  char original_message[CHAT_ID_SIZE];
  int64_t original_at;
} replied_first_t;

/* A new message of sender at at_ms in a conversation whose waiting
 * messages are awaiting[2]: fills *replied when it earns the event and
 * returns whether awaiting changed. */
bool reply_window_track(awaiting_t awaiting[2], const char *sender, const char *message_id,
                        int64_t at_ms, replied_first_t *replied);

#endif
