/* The partition owner's bounded cache (services/persistence/state_cache.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state_cache.h"

static int freed;
static void count_free(void *value) {
  freed++;
  free(value);
}

static void id_of(int n, char out[25]) { snprintf(out, 25, "%024x", n); }

static int *boxed(int v) {
  int *p = malloc(sizeof *p);
  *p = v;
  return p;
}

Test(state_cache, keeps_replaces_and_forgets) {
  freed = 0;
  state_cache_t *cache = state_cache_create(4, count_free);
  char id[25];
  id_of(1, id);
  cr_assert_null(state_cache_get(cache, id));
  cr_assert(state_cache_put(cache, id, boxed(10)));
  cr_assert_eq(*(int *)state_cache_get(cache, id), 10);
  cr_assert(state_cache_put(cache, id, boxed(11))); /* the old value is freed */
  cr_assert_eq(freed, 1);
  cr_assert_eq(*(int *)state_cache_get(cache, id), 11);
  state_cache_forget(cache, id);
  cr_assert_eq(freed, 2);
  cr_assert_null(state_cache_get(cache, id));
  state_cache_stats_t stats = state_cache_stats(cache);
  cr_assert_eq(stats.hits, 2);
  cr_assert_eq(stats.misses, 2);
  cr_assert_eq(stats.size, 0);
  state_cache_destroy(cache);
}

Test(state_cache, evicts_the_least_recently_used) {
  freed = 0;
  state_cache_t *cache = state_cache_create(3, count_free);
  char id[25];
  for (int i = 1; i <= 3; i++) {
    id_of(i, id);
    state_cache_put(cache, id, boxed(i));
  }
  id_of(1, id);
  cr_assert_not_null(state_cache_get(cache, id)); /* 1 is now the newest: 2 is the oldest */
  id_of(4, id);
  state_cache_put(cache, id, boxed(4));
  cr_assert_eq(freed, 1);
  id_of(2, id);
  cr_assert_null(state_cache_get(cache, id), "the least recently used must go first");
  for (int i = 1; i <= 4; i++) {
    if (i == 2)
      continue;
    id_of(i, id);
    cr_assert_eq(*(int *)state_cache_get(cache, id), i);
  }
  cr_assert_eq(state_cache_stats(cache).evictions, 1);
  cr_assert_eq(state_cache_stats(cache).size, 3);
  state_cache_clear(cache);
  cr_assert_eq(freed, 4);
  cr_assert_null(state_cache_get(cache, id));
  state_cache_destroy(cache);
}

Test(state_cache, many_entries_through_a_small_cache) {
  freed = 0;
  state_cache_t *cache = state_cache_create(100, count_free);
  char id[25];
  for (int i = 0; i < 10000; i++) {
    id_of(i, id);
    cr_assert(state_cache_put(cache, id, boxed(i)));
    cr_assert_eq(*(int *)state_cache_get(cache, id), i);
  }
  cr_assert_eq(state_cache_stats(cache).size, 100);
  for (int i = 9900; i < 10000; i++) {
    id_of(i, id);
    cr_assert_eq(*(int *)state_cache_get(cache, id), i, "the last 100 stay");
  }
  state_cache_destroy(cache);
  cr_assert_eq(freed, 10000);
}

/* holds(): whether an id is kept, without counting a hit or a miss and
 * without making it recent (a prefetch asks before it reads). */
Test(state_cache, holds_neither_counts_nor_reorders) {
  freed = 0;
  state_cache_t *cache = state_cache_create(2, count_free);
  char id[25];
  for (int i = 1; i <= 2; i++) {
    id_of(i, id);
    state_cache_put(cache, id, boxed(i));
  }
  id_of(1, id);
  cr_assert(state_cache_holds(cache, id));
  id_of(9, id);
  cr_assert_not(state_cache_holds(cache, id));
  state_cache_stats_t stats = state_cache_stats(cache);
  cr_assert_eq(stats.hits + stats.misses, 0, "holds counted a lookup");
  id_of(3, id);
  state_cache_put(cache, id, boxed(3)); /* 1 is still the oldest: it goes */
  id_of(1, id);
  cr_assert_not(state_cache_holds(cache, id), "holds made 1 recent");
  id_of(2, id);
  cr_assert(state_cache_holds(cache, id));
  state_cache_destroy(cache);
}
