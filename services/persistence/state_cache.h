/* A bounded map from an id (24 hex digits) to a value it owns, the least
 * recently used entry evicted when full: the partition owner's copy of the
 * state it writes (conversation_state.c). Not thread-safe: one consumer
 * thread uses it. No I/O here. */
#ifndef PERSISTENCE_STATE_CACHE_H
#define PERSISTENCE_STATE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct state_cache state_cache_t;

/* A cache of at most capacity entries (at least 1) whose values are freed
 * with free_value (may be NULL). Returns NULL when out of memory. */
state_cache_t *state_cache_create(size_t capacity, void (*free_value)(void *value));

/* Frees every value and the cache; accepts NULL. */
void state_cache_destroy(state_cache_t *cache);

/* The value kept for id, which becomes the most recently used, or NULL
 * (counted as a hit or a miss). */
void *state_cache_get(state_cache_t *cache, const char *id);

/* Whether a value is kept for id; neither counted nor made recent. */
bool state_cache_holds(const state_cache_t *cache, const char *id);

/* Keeps value for id, replacing (and freeing) what was kept; evicts the
 * least recently used entry when full. The cache owns value from now on,
 * even when false is returned (out of memory: value is freed). */
bool state_cache_put(state_cache_t *cache, const char *id, void *value);

/* Drops what is kept for id, if anything. */
void state_cache_forget(state_cache_t *cache, const char *id);

/* Drops everything (the partitions moved). */
void state_cache_clear(state_cache_t *cache);

typedef struct state_cache_stats {
  uint64_t hits, misses, evictions;
  size_t size, capacity;
} state_cache_stats_t;

state_cache_stats_t state_cache_stats(const state_cache_t *cache);

#endif
