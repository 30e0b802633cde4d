#include "state_cache.h"

#include <stdlib.h>
#include <string.h>

#include "chat/ids.h"

typedef struct entry {
  char id[CHAT_ID_SIZE];
  void *value;
  struct entry *chain;       /* next in the same bucket */
  struct entry *newer, *older; /* recency list */
} entry_t;

struct state_cache {
  entry_t **buckets;
  size_t bucket_count; /* a power of two, at least twice the capacity */
  size_t size, capacity;
  entry_t *newest, *oldest;
  void (*free_value)(void *value);
  state_cache_stats_t stats;
};

/* FNV-1a: ids are hex digits, already well spread. */
static size_t hash_id(const char *id) {
  uint64_t h = 1469598103934665603ULL;
  for (const unsigned char *c = (const unsigned char *)id; *c; c++)
    h = (h ^ *c) * 1099511628211ULL;
  return (size_t)h;
}

state_cache_t *state_cache_create(size_t capacity, void (*free_value)(void *value)) {
  state_cache_t *cache = calloc(1, sizeof *cache);
  if (!cache)
    return NULL;
  cache->capacity = capacity ? capacity : 1;
  cache->bucket_count = 16;
  while (cache->bucket_count < 2 * cache->capacity)
    cache->bucket_count *= 2;
  cache->buckets = calloc(cache->bucket_count, sizeof *cache->buckets);
  if (!cache->buckets) {
    free(cache);
    return NULL;
  }
  cache->free_value = free_value;
  return cache;
}

static entry_t **find_link(state_cache_t *cache, const char *id) {
  entry_t **link = &cache->buckets[hash_id(id) & (cache->bucket_count - 1)];
  while (*link && strcmp((*link)->id, id) != 0)
    link = &(*link)->chain;
  return link;
}

static void unlink_recency(state_cache_t *cache, entry_t *e) {
  if (e->newer)
    e->newer->older = e->older;
  else
    cache->newest = e->older;
  if (e->older)
    e->older->newer = e->newer;
  else
    cache->oldest = e->newer;
  e->newer = e->older = NULL;
}

static void push_newest(state_cache_t *cache, entry_t *e) {
  e->older = cache->newest;
  e->newer = NULL;
  if (cache->newest)
    cache->newest->newer = e;
  cache->newest = e;
  if (!cache->oldest)
    cache->oldest = e;
}

static void free_entry(state_cache_t *cache, entry_t *e) {
  if (cache->free_value)
    cache->free_value(e->value);
  free(e);
}

/* Removes the entry *link points to. */
static void remove_at(state_cache_t *cache, entry_t **link) {
  entry_t *e = *link;
  *link = e->chain;
  unlink_recency(cache, e);
  cache->size--;
  free_entry(cache, e);
}

void *state_cache_get(state_cache_t *cache, const char *id) {
  entry_t *e = *find_link(cache, id);
  if (!e) {
    cache->stats.misses++;
    return NULL;
  }
  cache->stats.hits++;
  unlink_recency(cache, e);
  push_newest(cache, e);
  return e->value;
}

bool state_cache_holds(const state_cache_t *cache, const char *id) {
  return *find_link((state_cache_t *)cache, id) != NULL;
}

bool state_cache_put(state_cache_t *cache, const char *id, void *value) {
  if (strlen(id) >= CHAT_ID_SIZE) {
    if (cache->free_value)
      cache->free_value(value);
    return false;
  }
  entry_t **link = find_link(cache, id);
  if (*link) {
    entry_t *e = *link;
    if (cache->free_value && e->value != value)
      cache->free_value(e->value);
    e->value = value;
    unlink_recency(cache, e);
    push_newest(cache, e);
    return true;
  }
  entry_t *e = calloc(1, sizeof *e);
  if (!e) {
    if (cache->free_value)
      cache->free_value(value);
    return false;
  }
  memcpy(e->id, id, strlen(id) + 1);
  e->value = value;
  if (cache->size == cache->capacity && cache->oldest) {
    /* The oldest goes; its bucket link is looked up by its id. */
    entry_t **oldest = find_link(cache, cache->oldest->id);
    if (*oldest)
      remove_at(cache, oldest);
    cache->stats.evictions++;
    link = find_link(cache, id); /* the chain may have changed */
  }
  *link = e;
  push_newest(cache, e);
  cache->size++;
  return true;
}

void state_cache_forget(state_cache_t *cache, const char *id) {
  entry_t **link = find_link(cache, id);
  if (*link)
    remove_at(cache, link);
}

void state_cache_clear(state_cache_t *cache) {
  for (entry_t *e = cache->newest, *older; e; e = older) {
    older = e->older;
    free_entry(cache, e);
  }
  memset(cache->buckets, 0, cache->bucket_count * sizeof *cache->buckets);
  cache->newest = cache->oldest = NULL;
  cache->size = 0;
}

void state_cache_destroy(state_cache_t *cache) {
  if (!cache)
    return;
  state_cache_clear(cache);
  free(cache->buckets);
  free(cache);
}

state_cache_stats_t state_cache_stats(const state_cache_t *cache) {
  state_cache_stats_t stats = cache->stats;
  stats.size = cache->size;
  stats.capacity = cache->capacity;
  return stats;
}
