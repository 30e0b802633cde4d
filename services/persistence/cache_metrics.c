#include "cache_metrics.h"

#include <pthread.h>

#include "chat/metrics.h"
#include "conversation_state.h"

enum { CACHE_CONVERSATIONS, CACHE_USERS, CACHE_COUNT };

typedef struct cache_series {
  chat_series_t *hits, *misses, *evictions, *entries, *capacity;
  state_cache_stats_t reported; /* what the counters were moved to so far */
} cache_series_t;

static cache_series_t caches[CACHE_COUNT];
static pthread_once_t caches_once = PTHREAD_ONCE_INIT;

static void caches_register(void) {
  static const char *const labels[] = {"cache", NULL};
  static const char *const names[CACHE_COUNT] = {"conversations", "users"};
  chat_metrics_t *reg = chat_metrics_default();
  chat_metric_t *hits = chat_metrics_counter(
      reg, "chat_state_cache_hits_total",
      "Lookups the partition owner's cache answered (conversations: state; users: names)",
      labels, CACHE_COUNT);
  chat_metric_t *misses = chat_metrics_counter(
      reg, "chat_state_cache_misses_total",
      "Lookups that read MongoDB because the cache did not hold the entry", labels, CACHE_COUNT);
  chat_metric_t *evictions = chat_metrics_counter(
      reg, "chat_state_cache_evictions_total",
      "Entries dropped to make room (least recently used first)", labels, CACHE_COUNT);
  chat_metric_t *entries = chat_metrics_gauge(reg, "chat_state_cache_entries",
                                              "Entries the cache holds now", labels, CACHE_COUNT);
  chat_metric_t *capacity = chat_metrics_gauge(
      reg, "chat_state_cache_capacity",
      "Entries the cache may hold (CHAT_CACHED_CONVERSATIONS, CHAT_CACHED_USERS)", labels,
      CACHE_COUNT);
  for (int i = 0; i < CACHE_COUNT; i++) {
    caches[i].hits = CHAT_SERIES(hits, names[i]);
    caches[i].misses = CHAT_SERIES(misses, names[i]);
    caches[i].evictions = CHAT_SERIES(evictions, names[i]);
    caches[i].entries = CHAT_SERIES(entries, names[i]);
    caches[i].capacity = CHAT_SERIES(capacity, names[i]);
  }
}

/* The cache's counters only grow (a clear keeps them), so each report adds
 * what grew since the last one. */
static void report(cache_series_t *series, state_cache_stats_t now) {
  chat_counter_add(series->hits, now.hits - series->reported.hits);
  chat_counter_add(series->misses, now.misses - series->reported.misses);
  chat_counter_add(series->evictions, now.evictions - series->reported.evictions);
  chat_gauge_set(series->entries, (double)now.size);
  chat_gauge_set(series->capacity, (double)now.capacity);
  series->reported = now;
}

void persistence_cache_metrics(chat_runtime_t *rt) {
  (void)rt;
  pthread_once(&caches_once, caches_register);
  report(&caches[CACHE_CONVERSATIONS], conversation_state_stats());
  report(&caches[CACHE_USERS], conversation_state_user_stats());
}
