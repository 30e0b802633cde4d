#include "chat/reactions.h"

#include <string.h>

#include "chat/json.h"
#include "chat/limits.h"

/* One stored entry, as views into the array. */
typedef struct entry {
  const char *emoji, *user_id;
  uint32_t emoji_len;
  int64_t at_ms;
} entry_t;

/* Reads the entry at it (a document in the array); false when it is not
 * one we wrote. */
static bool read_entry(const bson_iter_t *it, entry_t *out) {
  bson_iter_t fields;
  memset(out, 0, sizeof *out);
  if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &fields))
    return false;
  while (bson_iter_next(&fields)) {
    const char *key = bson_iter_key(&fields);
    if (strcmp(key, "emoji") == 0 && BSON_ITER_HOLDS_UTF8(&fields))
      out->emoji = bson_iter_utf8(&fields, &out->emoji_len);
    else if (strcmp(key, "userId") == 0 && BSON_ITER_HOLDS_UTF8(&fields))
      out->user_id = bson_iter_utf8(&fields, NULL);
    else if (strcmp(key, "at") == 0 && BSON_ITER_HOLDS_DATE_TIME(&fields))
      out->at_ms = bson_iter_date_time(&fields);
  }
  return out->emoji && out->user_id;
}

static bool same_emoji(const entry_t *e, const char *emoji, uint32_t len) {
  return e->emoji_len == len && memcmp(e->emoji, emoji, len) == 0;
}

static void append_entry(bson_t *array, uint32_t index, const char *emoji, uint32_t emoji_len,
                         const char *user_id, int64_t at_ms) {
  char key[16];
  const char *key_str;
  bson_t doc;
  bson_uint32_to_string(index, &key_str, key, sizeof key);
  bson_append_document_begin(array, key_str, -1, &doc);
  bson_append_utf8(&doc, "emoji", 5, emoji, (int)emoji_len);
  BSON_APPEND_UTF8(&doc, "userId", user_id);
  BSON_APPEND_DATE_TIME(&doc, "at", at_ms);
  bson_append_document_end(array, &doc);
}

/* The distinct emoji of a stored array, with their counts: at most
 * CHAT_REACTIONS_DISTINCT_MAX are ever stored, so a fixed table is enough
 * (an array written by something else with more is read as full). */
#define TALLY_MAX (CHAT_REACTIONS_DISTINCT_MAX + 1)
typedef struct tally {
  entry_t emoji[TALLY_MAX];
  int64_t count[TALLY_MAX];
  bool viewer[TALLY_MAX];
  size_t distinct;
  bool overflow; /* more distinct emoji than the table holds */
} tally_t;

/* Reads stored into *t; viewer_id (or NULL) marks the emoji they react with. */
static void tally(const bson_t *stored, const char *viewer_id, tally_t *t) {
  bson_iter_t it;
  entry_t e;
  memset(t, 0, sizeof *t);
  if (!stored || !bson_iter_init(&it, stored))
    return;
  while (bson_iter_next(&it)) {
    if (!read_entry(&it, &e))
      continue;
    size_t i = 0;
    while (i < t->distinct && !same_emoji(&t->emoji[i], e.emoji, e.emoji_len))
      i++;
    if (i == t->distinct) {
      if (t->distinct == TALLY_MAX) {
        t->overflow = true;
        continue;
      }
      t->emoji[t->distinct++] = e;
    }
    t->count[i]++;
    t->viewer[i] = t->viewer[i] || (viewer_id && strcmp(e.user_id, viewer_id) == 0);
  }
}

void chat_reactions_apply(const bson_t *stored, const char *user_id, const char *emoji,
                          uint32_t emoji_len, bool add, int64_t at_ms, bson_t *out,
                          chat_reaction_change_t *change) {
  memset(change, 0, sizeof *change);
  bson_iter_t it;
  entry_t e;
  bool mine = false;
  int64_t mine_at = 0;
  tally_t t;
  tally(stored, NULL, &t);
  bool emoji_present = false;
  for (size_t i = 0; i < t.distinct; i++) {
    if (same_emoji(&t.emoji[i], emoji, emoji_len))
      emoji_present = true, change->count = t.count[i];
  }
  if (stored && bson_iter_init(&it, stored)) {
    while (bson_iter_next(&it)) {
      if (read_entry(&it, &e) && same_emoji(&e, emoji, emoji_len) &&
          strcmp(e.user_id, user_id) == 0)
        mine = true, mine_at = e.at_ms;
    }
  }
  int64_t distinct = t.overflow ? TALLY_MAX : (int64_t)t.distinct;
  if (add && mine) {
    change->replay = mine_at == at_ms; /* the same command again: nothing to store */
    return;
  }
  if (!add && !mine)
    return;
  if (add && !emoji_present && distinct >= CHAT_REACTIONS_DISTINCT_MAX) {
    change->too_many = true;
    return;
  }
  /* Rewrite the array: every entry but the one removed, and the one
   * added last. */
  bson_init(out);
  uint32_t written = 0;
  if (stored && bson_iter_init(&it, stored)) {
    while (bson_iter_next(&it)) {
      if (!read_entry(&it, &e) ||
          (!add && same_emoji(&e, emoji, emoji_len) && strcmp(e.user_id, user_id) == 0))
        continue;
      append_entry(out, written++, e.emoji, e.emoji_len, e.user_id, e.at_ms);
    }
  }
  if (add)
    append_entry(out, written, emoji, emoji_len, user_id, at_ms);
  change->changed = true;
  change->count += add ? 1 : -1;
}

void chat_reactions_summary_json(bson_string_t *out, const bson_t *stored, const char *viewer_id) {
  tally_t t;
  tally(stored, viewer_id, &t);
  bson_string_append_c(out, '[');
  for (size_t i = 0; i < t.distinct; i++) {
    bson_string_append(out, i ? ",{\"emoji\":" : "{\"emoji\":");
    chat_json_append_string(out, t.emoji[i].emoji, t.emoji[i].emoji_len);
    bson_string_append_printf(out, ",\"count\":%lld,\"reacted\":%s}", (long long)t.count[i],
                              t.viewer[i] ? "true" : "false");
  }
  bson_string_append_c(out, ']');
}
