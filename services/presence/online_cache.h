/* Who has a live session, as this presence process last knew it: what the
 * push for offline members asks once per member per message. Every
 * settle of a user's presence (presence_store.h: a session opened or
 * closed, a gateway's sessions ended) writes the count it read here, so
 * with one presence process the answer is exact; with several, a user
 * whose sessions another process settles is looked up again once the
 * entry is older than ONLINE_CACHE_TTL_MS. A fixed table of
 * ONLINE_CACHE_SLOTS entries, one per slot by the user id's hash: a
 * collision only costs a lookup. Thread-safe. */
#ifndef PRESENCE_ONLINE_CACHE_H
#define PRESENCE_ONLINE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define ONLINE_CACHE_SLOTS 65536
#define ONLINE_CACHE_TTL_MS 5000

/* Whether the cache knows user_id's state as of at most ONLINE_CACHE_TTL_MS
 * before now_ms; *online then says it. */
bool online_cache_get(const char *user_id, int64_t now_ms, bool *online);

/* Records user_id's state, read from the store at now_ms. */
void online_cache_put(const char *user_id, bool online, int64_t now_ms);

/* Forgets everything (tests). */
void online_cache_clear(void);

#endif
