/* A message's stored reactions (common/include/chat/reactions.h): one of
 * each emoji per user, a bounded set of distinct emoji, a replayed react
 * recognized, and the summary history serves. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "chat/limits.h"
#include "chat/reactions.h"

#define ANN "65f1a0c2e4b0a1b2c3d4e5f6"
#define BEN "65f1a0c2e4b0a1b2c3d4e5f7"
#define THUMBS "\xF0\x9F\x91\x8D"
#define HEART "\xE2\x9D\xA4\xEF\xB8\x8F"

static chat_reaction_change_t apply(bson_t *set, const char *user, const char *emoji, bool add,
                                    int64_t at) {
  chat_reaction_change_t change;
  bson_t next;
  chat_reactions_apply(set, user, emoji, (uint32_t)strlen(emoji), add, at, &next, &change);
  if (change.changed) {
    bson_destroy(set);
    bson_copy_to(&next, set);
    bson_destroy(&next);
  }
  return change;
}

static char *summary(const bson_t *set, const char *viewer) {
  bson_string_t *out = bson_string_new(NULL);
  chat_reactions_summary_json(out, set, viewer);
  return bson_string_free(out, false);
}

Test(reactions, one_of_each_emoji_per_user) {
  bson_t set = BSON_INITIALIZER;
  chat_reaction_change_t c = apply(&set, ANN, THUMBS, true, 1000);
  cr_assert(c.changed && !c.replay && c.count == 1);
  c = apply(&set, BEN, THUMBS, true, 1001);
  cr_assert(c.changed && c.count == 2);
  c = apply(&set, ANN, THUMBS, true, 1002); /* again, by a new command: nothing changes */
  cr_assert(!c.changed && !c.replay && c.count == 2);
  c = apply(&set, ANN, HEART, true, 1003);
  cr_assert(c.changed && c.count == 1);
  cr_assert_eq(bson_count_keys(&set), 3);
  char *json = summary(&set, ANN);
  cr_assert_str_eq(json, "[{\"emoji\":\"" THUMBS "\",\"count\":2,\"reacted\":true},"
                         "{\"emoji\":\"" HEART "\",\"count\":1,\"reacted\":true}]");
  bson_free(json);
  json = summary(&set, BEN);
  cr_assert_str_eq(json, "[{\"emoji\":\"" THUMBS "\",\"count\":2,\"reacted\":true},"
                         "{\"emoji\":\"" HEART "\",\"count\":1,\"reacted\":false}]");
  bson_free(json);
  bson_destroy(&set);
}

Test(reactions, a_replayed_react_is_recognized_and_changes_nothing) {
  bson_t set = BSON_INITIALIZER;
  apply(&set, ANN, THUMBS, true, 1000);
  chat_reaction_change_t c = apply(&set, ANN, THUMBS, true, 1000);
  cr_assert(!c.changed && c.replay && c.count == 1);
  cr_assert_eq(bson_count_keys(&set), 1);
  bson_destroy(&set);
}

Test(reactions, unreact_removes_only_ones_own_and_twice_is_nothing) {
  bson_t set = BSON_INITIALIZER;
  apply(&set, ANN, THUMBS, true, 1000);
  apply(&set, BEN, THUMBS, true, 1001);
  chat_reaction_change_t c = apply(&set, ANN, THUMBS, false, 1002);
  cr_assert(c.changed && c.count == 1);
  c = apply(&set, ANN, THUMBS, false, 1002);
  cr_assert(!c.changed && c.count == 1);
  c = apply(&set, ANN, HEART, false, 1003); /* never reacted with it */
  cr_assert(!c.changed && c.count == 0);
  char *json = summary(&set, ANN);
  cr_assert_str_eq(json, "[{\"emoji\":\"" THUMBS "\",\"count\":1,\"reacted\":false}]");
  bson_free(json);
  c = apply(&set, BEN, THUMBS, false, 1004);
  cr_assert(c.changed && c.count == 0);
  json = summary(&set, ANN);
  cr_assert_str_eq(json, "[]");
  bson_free(json);
  bson_destroy(&set);
}

Test(reactions, at_most_the_limit_of_distinct_emoji) {
  bson_t set = BSON_INITIALIZER;
  char emoji[8];
  for (int i = 0; i < CHAT_REACTIONS_DISTINCT_MAX; i++) {
    snprintf(emoji, sizeof emoji, "\xF0\x9F\x98%c", (char)(0x80 + i)); /* 😀 onwards */
    cr_assert(apply(&set, ANN, emoji, true, 1000 + i).changed);
  }
  snprintf(emoji, sizeof emoji, "\xF0\x9F\x98%c", (char)(0x80 + CHAT_REACTIONS_DISTINCT_MAX));
  chat_reaction_change_t c = apply(&set, BEN, emoji, true, 5000);
  cr_assert(c.too_many && !c.changed);
  /* One of the emoji already there is still fine, by someone else too. */
  c = apply(&set, BEN, "\xF0\x9F\x98\x80", true, 5001);
  cr_assert(c.changed && c.count == 2);
  /* Once one emoji is gone entirely, a new one fits. */
  snprintf(emoji, sizeof emoji, "\xF0\x9F\x98%c", (char)(0x81));
  cr_assert(apply(&set, ANN, emoji, false, 5002).changed);
  snprintf(emoji, sizeof emoji, "\xF0\x9F\x98%c", (char)(0x80 + CHAT_REACTIONS_DISTINCT_MAX));
  cr_assert(apply(&set, BEN, emoji, true, 5003).changed);
  bson_destroy(&set);
}

Test(reactions, entries_not_written_by_us_are_ignored) {
  bson_t set = BSON_INITIALIZER, odd;
  BSON_APPEND_UTF8(&set, "0", "not a document");
  BSON_APPEND_DOCUMENT_BEGIN(&set, "1", &odd);
  BSON_APPEND_INT32(&odd, "emoji", 7);
  bson_append_document_end(&set, &odd);
  char *json = summary(&set, ANN);
  cr_assert_str_eq(json, "[]");
  bson_free(json);
  chat_reaction_change_t c = apply(&set, ANN, THUMBS, true, 1);
  cr_assert(c.changed && c.count == 1);
  cr_assert_eq(bson_count_keys(&set), 1);
  json = summary(NULL, ANN);
  cr_assert_str_eq(json, "[]");
  bson_free(json);
  bson_destroy(&set);
}
