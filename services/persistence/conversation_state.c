#include "conversation_state.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "chat/log.h"
#include "chat/stored_seq.h"
#include "summary_writer.h"

#define PREFETCH_THREADS 4 /* pooled clients a prefetch reads with at once */

static state_cache_t *conversations, *users;
static uint64_t assignment_seen; /* chat_runtime_assignment_changes() when last looked */

static void drop_prefetched(void);

static void free_state(void *value) {
  conversation_state_t *state = value;
  if (state)
    free(state->members);
  free(state);
}

/* Makes the caches on first use, and empties them when the partitions
 * moved since the last look: another owner may have written since. */
static bool ready(chat_runtime_t *rt) {
  const chat_config_t *cfg = chat_runtime_config(rt);
  if (!conversations)
    conversations = state_cache_create((size_t)cfg->cached_conversations, free_state);
  if (!users)
    users = state_cache_create((size_t)cfg->cached_users, free);
  if (!conversations || !users)
    return false;
  uint64_t changes = chat_runtime_assignment_changes(rt);
  if (changes != assignment_seen) {
    assignment_seen = changes;
    state_cache_clear(conversations);
    drop_prefetched();
    CHAT_LOG(CHAT_LOG_DEBUG, "partitions moved: conversation states dropped");
  }
  return true;
}

static conversation_state_t *copy_state(const conversation_state_t *state) {
  conversation_state_t *copy = malloc(sizeof *copy);
  if (!copy)
    return NULL;
  *copy = *state;
  copy->members = NULL;
  if (state->member_count) {
    copy->members = malloc(state->member_count * sizeof *copy->members);
    if (!copy->members) {
      free(copy);
      return NULL;
    }
    memcpy(copy->members, state->members, state->member_count * sizeof *copy->members);
  }
  return copy;
}

/* One document by filter, or none: CHAT_OK with *found. */
static chat_err_t find_one(chat_runtime_t *rt, mongoc_client_t *client, const char *collection,
                           const bson_t *filter, const bson_t *projection, bson_t *out,
                           bool *found) {
  mongoc_collection_t *coll = chat_mongo_collection(chat_runtime_mongo(rt), client, collection);
  bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
  if (projection)
    BSON_APPEND_DOCUMENT(opts, "projection", projection);
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
  const bson_t *doc;
  bson_error_t error;
  chat_err_t err = CHAT_OK;
  *found = mongoc_cursor_next(cursor, &doc);
  if (*found && out)
    bson_copy_to(doc, out);
  if (!*found && mongoc_cursor_error(cursor, &error)) {
    CHAT_LOG(CHAT_LOG_WARN, "reading %s: %s", collection, error.message);
    err = chat_mongo_error(&error);
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  mongoc_collection_destroy(coll);
  return err;
}

/* The highest stored seq, from a lastSeq that may be behind it (header). */
static chat_err_t highest_stored_seq(chat_runtime_t *rt, mongoc_client_t *client, const char *id,
                                     int64_t last_seq, int64_t *out) {
  mongoc_collection_t *messages = chat_mongo_collection(chat_runtime_mongo(rt), client, "messages");
  chat_err_t err = chat_highest_stored_seq(messages, id, last_seq, out);
  mongoc_collection_destroy(messages);
  if (err == CHAT_OK && *out > last_seq)
    CHAT_LOG(CHAT_LOG_INFO,
             "conversation %s: lastSeq %lld was behind its messages; continuing after seq %lld",
             id, (long long)last_seq, (long long)*out);
  return err;
}

static void read_awaiting(const bson_t *doc, conversation_state_t *state) {
  bson_iter_t it, waiting, entry;
  if (!bson_iter_init_find(&it, doc, "awaiting") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
      !bson_iter_recurse(&it, &waiting))
    return;
  for (size_t n = 0; n < 2 && bson_iter_next(&waiting);) {
    awaiting_t *a = &state->awaiting[n];
    if (!BSON_ITER_HOLDS_DOCUMENT(&waiting) || !chat_is_id(bson_iter_key(&waiting)) ||
        !bson_iter_recurse(&waiting, &entry))
      continue;
    memcpy(a->user, bson_iter_key(&waiting), CHAT_ID_SIZE);
    while (bson_iter_next(&entry)) {
      if (strcmp(bson_iter_key(&entry), "messageId") == 0 && BSON_ITER_HOLDS_UTF8(&entry) &&
          chat_is_id(bson_iter_utf8(&entry, NULL)))
        memcpy(a->message_id, bson_iter_utf8(&entry, NULL), CHAT_ID_SIZE);
      else if (strcmp(bson_iter_key(&entry), "at") == 0 && BSON_ITER_HOLDS_DATE_TIME(&entry))
        a->at = bson_iter_date_time(&entry);
    }
    n++;
  }
}

/* A summary behind its messages (its owner died before writing it) has
 * the reply window of lastSeq: the messages after it, read one by one by
 * {conversationId, seq}, move it on as their run did. Past
 * REPLAY_REPLY_WINDOW_MAX of them the window is left as stored (logged):
 * at worst one replied.in.24hr.first is given again or missed. */
#define REPLAY_REPLY_WINDOW_MAX 10000

static chat_err_t replay_reply_window(chat_runtime_t *rt, mongoc_client_t *client, const char *id,
                                      int64_t last_seq, conversation_state_t *state) {
  if (state->last_seq - last_seq > REPLAY_REPLY_WINDOW_MAX) {
    CHAT_LOG(CHAT_LOG_WARN,
             "conversation %s: %lld messages after its summary; reply window left as stored", id,
             (long long)(state->last_seq - last_seq));
    return CHAT_OK;
  }
  bson_t *projection = BCON_NEW("senderId", BCON_INT32(1), "createdAt", BCON_INT32(1));
  chat_err_t err = CHAT_OK;
  for (int64_t seq = last_seq + 1; seq <= state->last_seq && err == CHAT_OK; seq++) {
    bson_t *filter = BCON_NEW("conversationId", BCON_UTF8(id), "seq", BCON_INT64(seq));
    bson_t doc = BSON_INITIALIZER;
    bool found = false;
    err = find_one(rt, client, "messages", filter, projection, &doc, &found);
    bson_iter_t it;
    const char *message_id = NULL, *sender = NULL;
    int64_t at = 0;
    if (bson_iter_init_find(&it, &doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
      message_id = bson_iter_utf8(&it, NULL);
    if (bson_iter_init_find(&it, &doc, "senderId") && BSON_ITER_HOLDS_UTF8(&it))
      sender = bson_iter_utf8(&it, NULL);
    if (bson_iter_init_find(&it, &doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
      at = bson_iter_date_time(&it);
    replied_first_t replied;
    if (found && message_id && sender && chat_is_id(message_id) && chat_is_id(sender))
      reply_window_track(state->awaiting, sender, message_id, at, &replied);
    bson_destroy(&doc);
    bson_destroy(filter);
  }
  bson_destroy(projection);
  return err;
}

static bool read_members(const bson_t *doc, conversation_state_t *state) {
  bson_iter_t it, list;
  if (!bson_iter_init_find(&it, doc, "participants") || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &list))
    return true;
  size_t cap = 0;
  while (bson_iter_next(&list)) {
    if (!BSON_ITER_HOLDS_UTF8(&list) || !chat_is_id(bson_iter_utf8(&list, NULL)))
      continue;
    if (state->member_count == cap) {
      cap = cap ? 2 * cap : 4;
      char(*grown)[CHAT_ID_SIZE] = realloc(state->members, cap * sizeof *grown);
      if (!grown)
        return false;
      state->members = grown;
    }
    memcpy(state->members[state->member_count++], bson_iter_utf8(&list, NULL), CHAT_ID_SIZE);
  }
  return true;
}

static chat_err_t load(chat_runtime_t *rt, mongoc_client_t *client, const char *id,
                       conversation_state_t **out) {
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
  bson_t *projection = BCON_NEW("kind", BCON_INT32(1), "participants", BCON_INT32(1), "lastSeq",
                                BCON_INT32(1), "deletedAt", BCON_INT32(1), "awaiting",
                                BCON_INT32(1));
  bson_t doc = BSON_INITIALIZER;
  bool found = false;
  chat_err_t err = find_one(rt, client, "conversations", filter, projection, &doc, &found);
  bson_destroy(projection);
  bson_destroy(filter);
  *out = NULL;
  if (err != CHAT_OK || !found) {
    bson_destroy(&doc);
    return err;
  }
  conversation_state_t *state = calloc(1, sizeof *state);
  if (!state || !read_members(&doc, state)) {
    free_state(state);
    bson_destroy(&doc);
    return CHAT_ERR_NOMEM;
  }
  bson_iter_t it;
  state->direct = bson_iter_init_find(&it, &doc, "kind") && BSON_ITER_HOLDS_UTF8(&it) &&
                  strcmp(bson_iter_utf8(&it, NULL), "direct") == 0;
  state->deleted = bson_iter_init_find(&it, &doc, "deletedAt") && !BSON_ITER_HOLDS_NULL(&it);
  int64_t last_seq =
      bson_iter_init_find(&it, &doc, "lastSeq") ? bson_iter_as_int64(&it) : 0;
  read_awaiting(&doc, state);
  bson_destroy(&doc);
  /* A summary this process posted may not be written yet
   * (summary_writer.h): it is newer than the stored one. */
  conversation_summary_t posted;
  if (summary_writer_latest(id, &posted) && posted.last_seq > last_seq) {
    last_seq = posted.last_seq;
    memcpy(state->awaiting, posted.awaiting, sizeof state->awaiting);
  }
  err = highest_stored_seq(rt, client, id, last_seq, &state->last_seq);
  if (err == CHAT_OK && state->direct && state->last_seq > last_seq)
    err = replay_reply_window(rt, client, id, last_seq, state);
  if (err != CHAT_OK) {
    free_state(state);
    return err;
  }
  *out = state;
  return CHAT_OK;
}

/* A user's name from the store: CHAT_OK with *name (the caller's to free)
 * or NULL when there is no such user. */
static chat_err_t read_user_name(chat_runtime_t *rt, mongoc_client_t *client, const char *user_id,
                                 char **name) {
  *name = NULL;
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(user_id));
  bson_t *projection = BCON_NEW("username", BCON_INT32(1));
  bson_t doc = BSON_INITIALIZER;
  bool found = false;
  chat_err_t err = find_one(rt, client, "users", filter, projection, &doc, &found);
  bson_iter_t it;
  if (err == CHAT_OK && found && bson_iter_init_find(&it, &doc, "username") &&
      BSON_ITER_HOLDS_UTF8(&it) && !(*name = strdup(bson_iter_utf8(&it, NULL))))
    err = CHAT_ERR_NOMEM;
  bson_destroy(&doc);
  bson_destroy(projection);
  bson_destroy(filter);
  return err;
}

/* One read of a prefetch: a conversation's state or a user's name. */
typedef struct prefetch_read {
  char id[CHAT_ID_SIZE];
  bool user;
  bool done;                   /* read: state or name is the store's answer (NULL: none) */
  conversation_state_t *state; /* until a get takes it */
  char *name;
} prefetch_read_t;

typedef struct prefetch {
  chat_runtime_t *rt;
  prefetch_read_t *reads;
  size_t count;
  atomic_size_t next; /* the next read a thread takes */
} prefetch_t;

/* What the last prefetch read that no get has taken yet, until the next
 * prefetch; the caches' counters see each as the miss it is when a get
 * takes it. */
static prefetch_read_t *prefetched;
static size_t prefetched_count;

static void drop_prefetched(void) {
  for (size_t i = 0; i < prefetched_count; i++) {
    free_state(prefetched[i].state);
    free(prefetched[i].name);
  }
  free(prefetched);
  prefetched = NULL;
  prefetched_count = 0;
}

/* The prefetched read of id, or NULL; the caller takes its state or name. */
static prefetch_read_t *prefetched_read(const char *id, bool user) {
  for (size_t i = 0; i < prefetched_count; i++) {
    prefetch_read_t *r = &prefetched[i];
    if (r->done && r->user == user && strcmp(r->id, id) == 0)
      return r;
  }
  return NULL;
}

/* Takes what the last prefetch read of id, if it read it: true, with
 * *state or *name set to the store's answer (NULL: none). */
static bool take_prefetched(const char *id, bool user, conversation_state_t **state,
                            char **name) {
  prefetch_read_t *r = prefetched_read(id, user);
  if (!r)
    return false;
  if (state)
    *state = r->state;
  else
    free_state(r->state);
  if (name)
    *name = r->name;
  else
    free(r->name);
  r->state = NULL;
  r->name = NULL;
  r->done = false;
  return true;
}

static void forget_prefetched(const char *id) { take_prefetched(id, false, NULL, NULL); }

static void *prefetch_thread(void *arg) {
  prefetch_t *p = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(p->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  if (!client)
    return NULL; /* the others take the reads */
  for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->count;) {
    prefetch_read_t *r = &p->reads[i];
    /* An error leaves the read undone: the get reads again and reports it. */
    r->done = (r->user ? read_user_name(p->rt, client, r->id, &r->name)
                       : load(p->rt, client, r->id, &r->state)) == CHAT_OK;
  }
  chat_mongo_release(mongo, client);
  return NULL;
}

void conversation_state_prefetch(chat_runtime_t *rt, const char *const *conversation_ids,
                                 size_t conversation_count, const char *const *user_ids,
                                 size_t user_count) {
  drop_prefetched();
  if (!ready(rt))
    return;
  prefetch_t p = {.rt = rt, .reads = calloc(conversation_count + user_count, sizeof *p.reads)};
  if (!p.reads)
    return;
  for (size_t i = 0; i < conversation_count + user_count; i++) {
    bool user = i >= conversation_count;
    const char *id = user ? user_ids[i - conversation_count] : conversation_ids[i];
    if (strlen(id) >= CHAT_ID_SIZE || state_cache_holds(user ? users : conversations, id))
      continue;
    prefetch_read_t *r = &p.reads[p.count++];
    memcpy(r->id, id, strlen(id) + 1);
    r->user = user;
  }
  atomic_init(&p.next, 0);
  pthread_t threads[PREFETCH_THREADS];
  size_t started = 0;
  if (p.count > 1) /* one read gains nothing from a thread */
    while (started < PREFETCH_THREADS && started < p.count &&
           pthread_create(&threads[started], NULL, prefetch_thread, &p) == 0)
      started++;
  for (size_t i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  prefetched = p.reads;
  prefetched_count = p.count;
}

chat_err_t conversation_state_get(chat_runtime_t *rt, mongoc_client_t *client, const char *id,
                                  const conversation_state_t **out) {
  *out = NULL;
  if (!ready(rt))
    return CHAT_ERR_NOMEM;
  const conversation_state_t *kept = state_cache_get(conversations, id);
  if (kept) {
    *out = kept;
    return CHAT_OK;
  }
  conversation_state_t *loaded = NULL;
  chat_err_t err = CHAT_OK;
  if (!take_prefetched(id, false, &loaded, NULL))
    err = load(rt, client, id, &loaded);
  if (err != CHAT_OK || !loaded)
    return err; /* a conversation that does not exist is not kept: it may be created */
  if (!state_cache_put(conversations, id, loaded))
    return CHAT_ERR_NOMEM;
  *out = loaded; /* owned by the cache now */
  return CHAT_OK;
}

void conversation_state_keep(const char *id, const conversation_state_t *state) {
  forget_prefetched(id);
  if (!conversations)
    return; /* nothing was ever read: the next get reads the store */
  conversation_state_t *copy = copy_state(state);
  if (!copy || !state_cache_put(conversations, id, copy))
    state_cache_forget(conversations, id); /* out of memory: read again next time */
}

void conversation_state_forget(const char *id) {
  forget_prefetched(id);
  if (conversations)
    state_cache_forget(conversations, id);
}

chat_err_t conversation_state_user_name(chat_runtime_t *rt, mongoc_client_t *client,
                                        const char *user_id, const char **name) {
  *name = NULL;
  if (!ready(rt))
    return CHAT_ERR_NOMEM;
  const char *kept = state_cache_get(users, user_id);
  if (kept) {
    *name = kept;
    return CHAT_OK;
  }
  /* Names never change, so a name once read is good for as long as it
   * is kept; a user not found is not kept (they may register). */
  char *copy = NULL;
  chat_err_t err = CHAT_OK;
  if (!take_prefetched(user_id, true, NULL, &copy))
    err = read_user_name(rt, client, user_id, &copy);
  if (err == CHAT_OK && copy) {
    if (!state_cache_put(users, user_id, copy))
      return CHAT_ERR_NOMEM;
    *name = copy;
  }
  return err;
}

static const state_cache_stats_t no_stats;

state_cache_stats_t conversation_state_stats(void) {
  return conversations ? state_cache_stats(conversations) : no_stats;
}

state_cache_stats_t conversation_state_user_stats(void) {
  return users ? state_cache_stats(users) : no_stats;
}
