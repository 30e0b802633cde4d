#include "online_cache.h"

#include <pthread.h>
#include <string.h>

#include "chat/ids.h"

typedef struct slot {
  char user_id[CHAT_ID_SIZE]; /* "" when empty */
  bool online;
  int64_t read_ms;
} slot_t;

static slot_t slots[ONLINE_CACHE_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static slot_t *slot_of(const char *user_id) {
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)user_id; *p; p++)
    h = (h ^ *p) * 16777619u;
  return &slots[h % ONLINE_CACHE_SLOTS];
}

bool online_cache_get(const char *user_id, int64_t now_ms, bool *online) {
  if (!chat_is_id(user_id))
    return false;
  pthread_mutex_lock(&lock);
  const slot_t *s = slot_of(user_id);
  bool known = strcmp(s->user_id, user_id) == 0 && now_ms - s->read_ms <= ONLINE_CACHE_TTL_MS &&
               now_ms >= s->read_ms;
  if (known)
    *online = s->online;
  pthread_mutex_unlock(&lock);
  return known;
}

void online_cache_put(const char *user_id, bool online, int64_t now_ms) {
  if (!chat_is_id(user_id))
    return;
  pthread_mutex_lock(&lock);
  slot_t *s = slot_of(user_id);
  memcpy(s->user_id, user_id, CHAT_ID_SIZE);
  s->online = online;
  s->read_ms = now_ms;
  pthread_mutex_unlock(&lock);
}

void online_cache_clear(void) {
  pthread_mutex_lock(&lock);
  memset(slots, 0, sizeof slots);
  pthread_mutex_unlock(&lock);
}
