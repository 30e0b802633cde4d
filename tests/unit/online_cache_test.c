/* Who is online, as presence last settled it: what the push for offline
 * members reads before it asks the store. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "online_cache.h"

#define ALICE "65f1a0c2e4b0a1b2c3d4e5f6"
#define BOB "65f1a0c2e4b0a1b2c3d4e5f7"

static void fresh(void) { online_cache_clear(); }

TestSuite(online_cache, .init = fresh);

Test(online_cache, knows_nothing_it_was_not_told) {
  bool online = true;
  cr_assert_not(online_cache_get(ALICE, 1000, &online));
}

Test(online_cache, answers_what_was_settled_and_the_latest_wins) {
  bool online = false;
  online_cache_put(ALICE, true, 1000);
  cr_assert(online_cache_get(ALICE, 1500, &online));
  cr_assert(online);
  online_cache_put(ALICE, false, 2000);
  cr_assert(online_cache_get(ALICE, 2000, &online));
  cr_assert_not(online);
  cr_assert_not(online_cache_get(BOB, 2000, &online), "another user is not answered by alice's entry");
}

Test(online_cache, an_entry_older_than_the_ttl_is_asked_again) {
  bool online = false;
  online_cache_put(ALICE, true, 1000);
  cr_assert(online_cache_get(ALICE, 1000 + ONLINE_CACHE_TTL_MS, &online));
  cr_assert_not(online_cache_get(ALICE, 1001 + ONLINE_CACHE_TTL_MS, &online));
  cr_assert_not(online_cache_get(ALICE, 999, &online), "a clock gone backwards is not trusted");
}

Test(online_cache, refuses_what_is_not_a_user_id) {
  bool online = false;
  online_cache_put("not-an-id", true, 1000);
  cr_assert_not(online_cache_get("not-an-id", 1000, &online));
  online_cache_put("", true, 1000);
  cr_assert_not(online_cache_get("", 1000, &online));
}

Test(online_cache, a_colliding_user_replaces_the_slot_without_answering_for_the_other) {
  /* Fill many users: whichever share a slot with alice only cost a lookup. */
  online_cache_put(ALICE, true, 1000);
  char id[25];
  for (int i = 0; i < 3 * ONLINE_CACHE_SLOTS; i++) {
    snprintf(id, sizeof id, "%024x", i);
    online_cache_put(id, false, 1000);
  }
  bool online = false;
  if (online_cache_get(ALICE, 1000, &online))
    cr_assert(online, "if alice's entry survived, it says what was put");
  snprintf(id, sizeof id, "%024x", 3 * ONLINE_CACHE_SLOTS - 1);
  cr_assert(online_cache_get(id, 1000, &online), "the last one put in its slot is answered");
  cr_assert_not(online);
}
