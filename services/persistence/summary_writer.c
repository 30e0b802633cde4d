#include "summary_writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/log.h"
#include "chat/metrics.h"

#define RETRY_START_MS 100 /* a writer's pause after a failed write, doubling */
#define RETRY_MAX_MS 2000
#define SPACING_LEVELS 18 /* 1 ms doubled 17 times is past the 60 s the config allows */

/* A conversation with a summary waiting, being written, or written less
 * than its spacing ago (kept to space its writes; then dropped). */
typedef struct entry {
  char id[CHAT_ID_SIZE];
  conversation_summary_t waiting; /* the next to write */
  conversation_summary_t latest;  /* the newest posted, written or not */
  bool has_waiting;
  bool writing;   /* a writer holds the summary it took */
  bool posted_since_write; /* a summary came since its last write was taken */
  unsigned level; /* its spacing: interval_ms doubled this many times */
  int64_t due_ms; /* cooling: when it may be written (or dropped, with nothing waiting) */
  struct entry *bucket_next;
  struct entry *queue_next; /* in one queue, or in none while writing */
} entry_t;

/* A FIFO of entries. */
typedef struct queue {
  entry_t *head, *tail;
} queue_t;

typedef struct writer {
  chat_mongo_t *mongo;
  pthread_mutex_t lock;
  pthread_cond_t work; /* something queued, or stopping */
  pthread_cond_t done; /* a write finished: an entry may be gone */
  pthread_cond_t room; /* an entry was freed */
  pthread_cond_t stop; /* stopping: a writer's pause after a failure ends */
  entry_t **buckets;
  size_t bucket_mask;
  size_t count, capacity;
  size_t busy; /* entries with a summary waiting or being written */
  int interval_ms;     /* the spacing of level 0 */
  int interval_max_ms; /* the spacing of top_level */
  unsigned top_level;
  /* ready: may be written now. cooling[level]: written less than that
   * level's spacing ago; every entry goes in with due_ms = now + its
   * spacing, so each level's queue is in due order. */
  queue_t ready, cooling[SPACING_LEVELS];
  bool draining, stopping;
  pthread_t *threads;
  size_t thread_count;
  chat_series_t *waiting_gauge, *written, *failed, *coalesced;
} writer_t;

static writer_t *writer;

void conversation_summary_set_preview(conversation_summary_t *summary, const char *content,
                                      uint32_t len) {
  if (len > SUMMARY_PREVIEW_MAX) {
    len = SUMMARY_PREVIEW_MAX;
    while (len > 0 && ((unsigned char)content[len] & 0xC0) == 0x80)
      len--;
  }
  if (len)
    memcpy(summary->preview, content, len);
  summary->preview[len] = '\0';
  summary->preview_len = len;
}

static size_t hash_id(const char *id) {
  size_t h = 1469598103934665603ULL;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  return h;
}

static entry_t **slot_of(writer_t *w, const char *id) {
  entry_t **slot = &w->buckets[hash_id(id) & w->bucket_mask];
  while (*slot && strcmp((*slot)->id, id) != 0)
    slot = &(*slot)->bucket_next;
  return slot;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void push(queue_t *q, entry_t *e) {
  e->queue_next = NULL;
  if (q->tail)
    q->tail->queue_next = e;
  else
    q->head = e;
  q->tail = e;
}

static entry_t *pop(queue_t *q) {
  entry_t *e = q->head;
  if (e) {
    q->head = e->queue_next;
    if (!q->head)
      q->tail = NULL;
  }
  return e;
}

static void make_ready(writer_t *w, entry_t *e) {
  push(&w->ready, e);
  pthread_cond_signal(&w->work);
}

/* The least time between two writes of a conversation at level. */
static int spacing_ms(const writer_t *w, unsigned level) {
  int64_t spacing = (int64_t)w->interval_ms << level;
  return spacing < w->interval_max_ms ? (int)spacing : w->interval_max_ms;
}

static void make_cooling(writer_t *w, entry_t *e) {
  e->due_ms = now_ms() + spacing_ms(w, e->level);
  push(&w->cooling[e->level], e);
  pthread_cond_signal(&w->work);
}

/* Newer replaces older; whether the reply window changed is kept across
 * the summaries a write stands for. */
static void merge(conversation_summary_t *into, const conversation_summary_t *from) {
  bool awaiting_changed = into->awaiting_changed || from->awaiting_changed;
  if (from->last_seq >= into->last_seq)
    *into = *from;
  into->awaiting_changed = awaiting_changed;
}

static void set_busy(writer_t *w, entry_t *e, bool busy_before) {
  bool busy_now = e->has_waiting || e->writing;
  if (busy_now && !busy_before)
    w->busy++;
  else if (!busy_now && busy_before)
    w->busy--;
  chat_gauge_set(w->waiting_gauge, (double)w->busy);
}

static void remove_entry(writer_t *w, entry_t *e) {
  entry_t **slot = slot_of(w, e->id);
  *slot = e->bucket_next;
  free(e);
  w->count--;
  pthread_cond_broadcast(&w->room);
}

static void deadline_in(struct timespec *at, int ms) {
  clock_gettime(CLOCK_MONOTONIC, at);
  at->tv_sec += ms / 1000;
  at->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (at->tv_nsec >= 1000000000L) {
    at->tv_sec++;
    at->tv_nsec -= 1000000000L;
  }
}

/* The summary's update: never backwards. */
static bool write_summary(mongoc_collection_t *conversations, const conversation_summary_t *s,
                          bson_error_t *error) {
  bson_t *filter =
      BCON_NEW("_id", BCON_UTF8(s->id), "lastSeq", "{", "$lt", BCON_INT64(s->last_seq), "}");
  bson_t update = BSON_INITIALIZER, set;
  BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
  BSON_APPEND_INT64(&set, "lastSeq", s->last_seq);
  bson_append_utf8(&set, "lastMessage", 11, s->preview, (int)s->preview_len);
  BSON_APPEND_DATE_TIME(&set, "lastMessageAt", s->last_at);
  if (s->awaiting_changed) {
    bson_t waiting, entry;
    BSON_APPEND_DOCUMENT_BEGIN(&set, "awaiting", &waiting);
    for (size_t k = 0; k < 2; k++) {
      if (!s->awaiting[k].user[0])
        continue;
      BSON_APPEND_DOCUMENT_BEGIN(&waiting, s->awaiting[k].user, &entry);
      BSON_APPEND_UTF8(&entry, "messageId", s->awaiting[k].message_id);
      BSON_APPEND_DATE_TIME(&entry, "at", s->awaiting[k].at);
      bson_append_document_end(&waiting, &entry);
    }
    bson_append_document_end(&set, &waiting);
  }
  bson_append_document_end(&update, &set);
  bool ok = mongoc_collection_update_one(conversations, filter, &update, NULL, NULL, error);
  bson_destroy(&update);
  bson_destroy(filter);
  return ok;
}

/* The next entry to write, waiting for one to be due; NULL when
 * stopping. Called with the lock held. */
static entry_t *next_entry(writer_t *w) {
  for (;;) {
    if (w->stopping)
      return NULL;
    if (w->ready.head)
      return pop(&w->ready);
    queue_t *soonest = NULL;
    for (unsigned level = 0; level <= w->top_level; level++) {
      entry_t *head = w->cooling[level].head;
      if (head && (!soonest || head->due_ms < soonest->head->due_ms))
        soonest = &w->cooling[level];
    }
    entry_t *e = soonest ? soonest->head : NULL;
    if (e && (w->draining || e->due_ms <= now_ms())) {
      pop(soonest);
      if (!e->has_waiting) {
        remove_entry(w, e); /* written a spacing ago, nothing new since */
        continue;
      }
      /* Busy through its whole spacing: the next one is twice as long.
       * (A failed write alone waits at the same spacing.) */
      if (e->posted_since_write && e->level < w->top_level)
        e->level++;
      return e;
    }
    if (e) {
      struct timespec at;
      deadline_in(&at, (int)(e->due_ms - now_ms()));
      pthread_cond_timedwait(&w->work, &w->lock, &at);
    } else {
      pthread_cond_wait(&w->work, &w->lock);
    }
  }
}

static void *writer_main(void *arg) {
  writer_t *w = arg;
  int retry_ms = 0;
  pthread_mutex_lock(&w->lock);
  for (entry_t *e; (e = next_entry(w));) {
    conversation_summary_t summary = e->waiting;
    e->has_waiting = false;
    e->posted_since_write = false;
    e->writing = true;
    pthread_mutex_unlock(&w->lock);

    mongoc_client_t *client = chat_mongo_acquire(w->mongo);
    mongoc_collection_t *conversations = chat_mongo_collection(w->mongo, client, "conversations");
    bson_error_t error;
    bool ok = write_summary(conversations, &summary, &error);
    mongoc_collection_destroy(conversations);
    chat_mongo_release(w->mongo, client);
    if (!ok)
      CHAT_LOG(CHAT_LOG_WARN, "writing the summary of conversation %s (seq %lld), tried again: %s",
               summary.id, (long long)summary.last_seq, error.message);

    pthread_mutex_lock(&w->lock);
    e->writing = false;
    chat_counter_add(ok ? w->written : w->failed, 1);
    if (!ok) {
      if (e->has_waiting)
        e->waiting.awaiting_changed |= summary.awaiting_changed;
      else
        e->waiting = summary;
      e->has_waiting = true;
    }
    set_busy(w, e, true);
    /* Written or not, the conversation's next write waits an interval:
     * what comes meanwhile is coalesced. Stopping: what is left stays
     * behind. */
    if (!w->stopping)
      make_cooling(w, e);
    pthread_cond_broadcast(&w->done);
    if (ok) {
      retry_ms = 0;
    } else if (!w->stopping) { /* the store is down or refusing: pause before the next */
      retry_ms = retry_ms ? (retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2)
                          : RETRY_START_MS;
      struct timespec at;
      deadline_in(&at, retry_ms);
      while (!w->stopping && pthread_cond_timedwait(&w->stop, &w->lock, &at) == 0) {
      }
    }
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

static void register_metrics(writer_t *w) {
  static const char *const outcome[] = {"outcome", NULL};
  chat_metrics_t *reg = chat_metrics_default();
  w->waiting_gauge = CHAT_SERIES(
      chat_metrics_gauge(reg, "chat_persistence_conversation_updates_waiting",
                         "Conversations whose summary (lastSeq, last message) is not written yet",
                         NULL, 1),
      NULL);
  chat_metric_t *writes = chat_metrics_counter(
      reg, "chat_persistence_conversation_updates_total",
      "Conversation summary updates sent to MongoDB, by outcome (a failed one is tried again)",
      outcome, 2);
  w->written = CHAT_SERIES(writes, "written");
  w->failed = CHAT_SERIES(writes, "failed");
  w->coalesced = CHAT_SERIES(
      chat_metrics_counter(reg, "chat_persistence_conversation_updates_coalesced_total",
                           "Summaries replaced by a newer one of the same conversation before "
                           "they were written",
                           NULL, 1),
      NULL);
}

static void free_writer(writer_t *w) {
  if (!w)
    return;
  for (size_t b = 0; w->buckets && b <= w->bucket_mask; b++) {
    for (entry_t *e = w->buckets[b], *next; e; e = next) {
      next = e->bucket_next;
      free(e);
    }
  }
  free(w->buckets);
  free(w->threads);
  pthread_cond_destroy(&w->work);
  pthread_cond_destroy(&w->done);
  pthread_cond_destroy(&w->room);
  pthread_cond_destroy(&w->stop);
  pthread_mutex_destroy(&w->lock);
  free(w);
}

chat_err_t summary_writer_start(chat_mongo_t *mongo, size_t writers, size_t capacity,
                                int interval_ms, int interval_max_ms) {
  if (writer || !writers || !capacity || interval_max_ms < interval_ms)
    return CHAT_ERR_INTERNAL;
  writer_t *w = calloc(1, sizeof *w);
  if (!w)
    return CHAT_ERR_NOMEM;
  pthread_mutex_init(&w->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&w->work, &attr);
  pthread_cond_init(&w->done, &attr);
  pthread_cond_init(&w->room, &attr);
  pthread_cond_init(&w->stop, &attr);
  pthread_condattr_destroy(&attr);
  size_t buckets = 16;
  while (buckets < 2 * capacity)
    buckets *= 2;
  w->mongo = mongo;
  w->capacity = capacity;
  w->interval_ms = interval_ms;
  w->interval_max_ms = interval_max_ms;
  while (interval_ms > 0 && w->top_level + 1 < SPACING_LEVELS &&
         spacing_ms(w, w->top_level) < interval_max_ms)
    w->top_level++;
  w->bucket_mask = buckets - 1;
  w->buckets = calloc(buckets, sizeof *w->buckets);
  w->threads = calloc(writers, sizeof *w->threads);
  if (!w->buckets || !w->threads) {
    free_writer(w);
    return CHAT_ERR_NOMEM;
  }
  register_metrics(w);
  for (; w->thread_count < writers; w->thread_count++) {
    if (pthread_create(&w->threads[w->thread_count], NULL, writer_main, w) != 0)
      break;
  }
  if (!w->thread_count) {
    free_writer(w);
    return CHAT_ERR_INTERNAL;
  }
  writer = w;
  return CHAT_OK;
}

void summary_writer_post(const conversation_summary_t *summary) {
  writer_t *w = writer;
  pthread_mutex_lock(&w->lock);
  entry_t **slot = slot_of(w, summary->id);
  while (!*slot && w->count >= w->capacity) {
    pthread_cond_wait(&w->room, &w->lock);
    slot = slot_of(w, summary->id);
  }
  entry_t *e = *slot;
  if (!e) {
    e = calloc(1, sizeof *e);
    if (!e) { /* no memory: the summary stays behind, as after a crash */
      pthread_mutex_unlock(&w->lock);
      CHAT_LOG(CHAT_LOG_WARN, "no memory for the summary of conversation %s", summary->id);
      return;
    }
    memcpy(e->id, summary->id, CHAT_ID_SIZE);
    *slot = e;
    w->count++;
    e->waiting = e->latest = *summary;
    e->has_waiting = true;
    set_busy(w, e, false);
    make_ready(w, e); /* not written lately: at once */
  } else {
    merge(&e->latest, summary);
    e->posted_since_write = true;
    if (e->has_waiting) {
      merge(&e->waiting, summary);
      chat_counter_add(w->coalesced, 1);
    } else {
      bool busy_before = e->writing;
      e->waiting = *summary;
      e->has_waiting = true;
      set_busy(w, e, busy_before);
      /* Being written: it goes cooling after. Cooling: written lately,
       * it waits there. */
    }
  }
  pthread_mutex_unlock(&w->lock);
}

bool summary_writer_latest(const char *id, conversation_summary_t *out) {
  writer_t *w = writer;
  if (!w)
    return false;
  pthread_mutex_lock(&w->lock);
  entry_t *e = *slot_of(w, id);
  if (e)
    *out = e->latest;
  pthread_mutex_unlock(&w->lock);
  return e != NULL;
}

bool summary_writer_drain(int timeout_ms) {
  writer_t *w = writer;
  if (!w)
    return true;
  struct timespec at;
  deadline_in(&at, timeout_ms);
  pthread_mutex_lock(&w->lock);
  w->draining = true; /* what cools is due now */
  pthread_cond_broadcast(&w->work);
  while (w->busy && pthread_cond_timedwait(&w->done, &w->lock, &at) == 0) {
  }
  size_t left = w->busy;
  w->draining = false;
  pthread_mutex_unlock(&w->lock);
  if (left)
    CHAT_LOG(CHAT_LOG_WARN, "%zu conversation summaries not written after %d ms", left,
             timeout_ms);
  return left == 0;
}

void summary_writer_stop(int timeout_ms) {
  writer_t *w = writer;
  if (!w)
    return;
  summary_writer_drain(timeout_ms);
  pthread_mutex_lock(&w->lock);
  w->stopping = true; /* what is left stays behind */
  pthread_cond_broadcast(&w->work);
  pthread_cond_broadcast(&w->stop);
  pthread_mutex_unlock(&w->lock);
  for (size_t t = 0; t < w->thread_count; t++)
    pthread_join(w->threads[t], NULL);
  writer = NULL;
  free_writer(w);
}
