/* A message's reactions as stored: the array "reactions" of the message's
 * document in the messages collection, one entry {emoji, userId, at} per
 * person and emoji, in the order they were added. One of each emoji per
 * user per message, and at most CHAT_REACTIONS_DISTINCT_MAX distinct
 * emoji per message (chat/limits.h). Pure: persistence reads the
 * document, applies a react or unreact here and writes the array back;
 * the gateway summarizes it for history. */
#ifndef CHAT_REACTIONS_H
#define CHAT_REACTIONS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

/* What one react or unreact does to a message's set. */
typedef struct chat_reaction_change {
  bool changed;  /* the set differs: store the new array, tell the room */
  bool replay;   /* this very react was applied before (its entry's at is at_ms) */
  bool too_many; /* a react of a new emoji on a message that has the most distinct emoji */
  int64_t count; /* people who react with emoji once the change is made */
} chat_reaction_change_t;

/* Applies user_id's react (add) or unreact of emoji (emoji_len bytes), at
 * at_ms, to stored (the "reactions" array as a document, or NULL: none).
 * When change->changed, *out is the new array (initialized here; the
 * caller bson_destroy()s it); otherwise *out is not touched. Entries that
 * are not {emoji, userId} strings are dropped from a changed array. */
void chat_reactions_apply(const bson_t *stored, const char *user_id, const char *emoji,
                          uint32_t emoji_len, bool add, int64_t at_ms, bson_t *out,
                          chat_reaction_change_t *change);

/* Appends the REST summary of a stored "reactions" array (NULL: none) as
 * JSON, [{"emoji","count","reacted"}], one item per distinct emoji in the
 * order each first appeared; reacted: viewer_id is among its people. */
void chat_reactions_summary_json(bson_string_t *out, const bson_t *stored, const char *viewer_id);

#endif
