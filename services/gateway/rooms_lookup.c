/* Which conversations a newly connected socket belongs to, asked of
 * MongoDB for many sockets at once. One query per socket cost a collection
 * scan each on FerretDB and, at connect storms, filled the work queue so
 * that sockets were left without their rooms. Here the sockets wait in a
 * list on the loop thread, and one job at a time asks for the users of up
 * to ROOMS_LOOKUP_BATCH of them; nothing is ever refused, and the list
 * holds each socket once, so it is bounded by the connections. The job
 * asks one equality {userId} per user, not one $in for the batch: FerretDB
 * 1.24 never pushes a $in down, so that read every member of the database
 * per batch, while an equality on userId is an index lookup on PostgreSQL
 * (deploy/ferretdb/gin-indexes.sql) and on MongoDB (user_conversations).
 * A query that fails (the store unreachable) ends the job there: the
 * sockets not looked up yet go back to the head of the list, still
 * waiting for their rooms (their events still held), and the next job
 * starts ROOMS_LOOKUP_RETRY_MS later. They were made ready with no rooms,
 * connected but deaf to their conversations and answered as strangers
 * (tests/clients/rooms_lookup.test.mjs). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rooms_lookup.h"

#include "chat/ids.h"
#include "chat/log.h"
#include "socket_state.h"
#include "socket_resume.h"
#include "work_queue.h"

#define ROOMS_LOOKUP_BATCH 500      /* sockets per lookup job */
#define ROOMS_PER_LOOKUP_MAX 500000 /* memberships read per job at most */
#define ROOMS_PER_USER_MAX 10000    /* conversations joined per socket at most */
#define ROOMS_LOOKUP_RETRY_MS 1000  /* wait before looking up again after a failed query */

/* The sockets waiting for their conversations, and whether a job asks
 * for some now. */
struct rooms_lookup {
  gateway_t *gw;
  rooms_lookup_ready_fn on_ready;
  gateway_socket_t **waiting; /* references held */
  size_t waiting_count, waiting_cap;
  bool running;
  bool retry_due; /* a query failed: the next job waits for the retry timer */
};

typedef struct membership {
  size_t socket; /* index in the job's sockets, sorted by user id */
  char conversation_id[CHAT_ID_SIZE];
} membership_t;

typedef struct lookup_job {
  rooms_lookup_t *lookup;
  gateway_socket_t **sockets; /* references held; sorted by user id on the worker */
  size_t socket_count;
  membership_t *found;
  size_t found_count;
  uint32_t *per_user; /* memberships found, by the index of the user's first socket */
  size_t failed_from; /* sockets from this index on were not looked up (a query failed) */
} lookup_job_t;

static int by_user_id(const void *a, const void *b) {
  return strcmp((*(gateway_socket_t *const *)a)->user_id, (*(gateway_socket_t *const *)b)->user_id);
}

static bool add_found(lookup_job_t *job, size_t socket, const char *conversation_id) {
  if (job->found_count % 256 == 0) {
    membership_t *grown = realloc(job->found, (job->found_count + 256) * sizeof *grown);
    if (!grown)
      return false;
    job->found = grown;
  }
  membership_t *m = &job->found[job->found_count++];
  m->socket = socket;
  snprintf(m->conversation_id, sizeof m->conversation_id, "%s", conversation_id);
  return true;
}

/* On a worker: the sockets' user ids never change after connect, so they
 * can be read here while the loop thread holds the sockets. */
static void find_memberships(void *arg) {
  lookup_job_t *job = arg;
  qsort(job->sockets, job->socket_count, sizeof *job->sockets, by_user_id);
  chat_mongo_t *mongo = chat_runtime_mongo(job->lookup->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *members = chat_mongo_collection(mongo, client, "members");
  bson_t *opts = BCON_NEW("projection", "{", "conversationId", BCON_INT32(1), "}", "limit",
                          BCON_INT64(ROOMS_PER_USER_MAX));
  bool full = false;
  for (size_t first = 0; first < job->socket_count && !full; first++) {
    const char *user_id = job->sockets[first]->user_id;
    if (first > 0 && strcmp(user_id, job->sockets[first - 1]->user_id) == 0)
      continue; /* a user's devices: asked once, at the first index of their run */
    bson_t *filter = BCON_NEW("userId", BCON_UTF8(user_id));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(members, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t error;
    while (mongoc_cursor_next(cursor, &doc)) {
      bson_iter_t conversation;
      if (!bson_iter_init_find(&conversation, doc, "conversationId") ||
          !BSON_ITER_HOLDS_UTF8(&conversation) || !chat_is_id(bson_iter_utf8(&conversation, NULL)))
        continue;
      if (job->per_user[first] >= ROOMS_PER_USER_MAX)
        break;
      job->per_user[first]++;
      if (job->found_count >= ROOMS_PER_LOOKUP_MAX ||
          !add_found(job, first, bson_iter_utf8(&conversation, NULL))) {
        CHAT_LOG(CHAT_LOG_WARN,
                 "rooms lookup: more than %d memberships for %zu sockets; the rest "
                 "are not joined",
                 ROOMS_PER_LOOKUP_MAX, job->socket_count);
        full = true;
        break;
      }
    }
    bool failed = mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(filter);
    if (failed) {
      CHAT_LOG(CHAT_LOG_WARN,
               "rooms lookup failed at user %s: %s; %zu sockets looked up again in %d ms",
               user_id, error.message, job->socket_count - first, ROOMS_LOOKUP_RETRY_MS);
      job->failed_from = first;
      break;
    }
  }
  bson_destroy(opts);
  mongoc_collection_destroy(members);
  chat_mongo_release(mongo, client);
}

static void lookup_next(rooms_lookup_t *lookup);

static void retry_due(void *arg) {
  rooms_lookup_t *lookup = arg;
  lookup->retry_due = false;
  lookup_next(lookup);
}

/* On the loop: the sockets of a failed job's rest back at the head of the
 * list (references kept), the gone ones let go. */
static void requeue(rooms_lookup_t *lookup, gateway_socket_t **sockets, size_t count) {
  size_t kept = 0;
  for (size_t i = 0; i < count; i++) {
    if (sockets[i]->socket)
      sockets[kept++] = sockets[i];
    else
      gateway_socket_release(sockets[i]);
  }
  if (lookup->waiting_count + kept > lookup->waiting_cap) {
    size_t cap = lookup->waiting_count + kept + 64;
    gateway_socket_t **grown = realloc(lookup->waiting, cap * sizeof *grown);
    if (!grown) {
      CHAT_LOG(CHAT_LOG_ERROR, "out of memory: %zu sockets join no conversation", kept);
      for (size_t i = 0; i < kept; i++) {
        lookup->on_ready(lookup->gw, sockets[i]);
        gateway_socket_release(sockets[i]);
      }
      return;
    }
    lookup->waiting = grown;
    lookup->waiting_cap = cap;
  }
  memmove(lookup->waiting + kept, lookup->waiting, lookup->waiting_count * sizeof *lookup->waiting);
  memcpy(lookup->waiting, sockets, kept * sizeof *sockets);
  lookup->waiting_count += kept;
}

/* On the loop: each socket still connected joins its conversations (every
 * socket of its user in the batch: they share the first index's run), then
 * replays what it missed, if it asked to resume. */
static void join_memberships(void *arg) {
  lookup_job_t *job = arg;
  rooms_lookup_t *lookup = job->lookup;
  gateway_t *gw = lookup->gw;
  for (size_t i = 0; i < job->found_count; i++) {
    if (job->found[i].socket >= job->failed_from)
      continue; /* the failed query's user: looked up again */
    const char *user_id = job->sockets[job->found[i].socket]->user_id;
    for (size_t s = job->found[i].socket;
         s < job->socket_count && strcmp(job->sockets[s]->user_id, user_id) == 0; s++) {
      if (job->sockets[s]->socket)
        gateway_socket_join_conversation(gw->rooms, job->sockets[s], job->found[i].conversation_id);
    }
  }
  for (size_t s = 0; s < job->failed_from; s++) {
    gateway_socket_t *state = job->sockets[s];
    if (state->socket && state->resume)
      gateway_resume_start(gw, state); /* rooms first: nothing live slips between */
    if (state->socket)
      lookup->on_ready(gw, state);
    gateway_socket_release(state);
  }
  bool failed = job->failed_from < job->socket_count;
  if (failed)
    requeue(lookup, job->sockets + job->failed_from, job->socket_count - job->failed_from);
  free(job->found);
  free(job->per_user);
  free(job->sockets);
  free(job);
  lookup->running = false;
  if (failed && chat_sio_server_call_later(gw->sio, ROOMS_LOOKUP_RETRY_MS, retry_due, lookup) ==
                    CHAT_OK)
    lookup->retry_due = true;
  else
    lookup_next(lookup);
}

static void lookup_next(rooms_lookup_t *lookup) {
  gateway_t *gw = lookup->gw;
  if (lookup->running || lookup->retry_due || lookup->waiting_count == 0 || !gw->work ||
      chat_runtime_stopping(gw->rt))
    return;
  lookup_job_t *job = calloc(1, sizeof *job);
  size_t count =
      lookup->waiting_count < ROOMS_LOOKUP_BATCH ? lookup->waiting_count : ROOMS_LOOKUP_BATCH;
  gateway_socket_t **sockets = job ? malloc(count * sizeof *sockets) : NULL;
  uint32_t *per_user = sockets ? calloc(count, sizeof *per_user) : NULL;
  if (!per_user) {
    free(sockets);
    free(job);
    CHAT_LOG(CHAT_LOG_ERROR, "out of memory looking %zu sockets' rooms up", count);
    return; /* tried again at the next connect */
  }
  memcpy(sockets, lookup->waiting, count * sizeof *sockets);
  lookup->waiting_count -= count;
  memmove(lookup->waiting, lookup->waiting + count,
          lookup->waiting_count * sizeof *lookup->waiting);
  job->lookup = lookup;
  job->sockets = sockets;
  job->socket_count = count;
  job->failed_from = count;
  job->per_user = per_user;
  lookup->running = true;
  /* One job in flight at a time: the queue's limit is for clients' work. */
  if (work_queue_submit_always(gw->work, find_memberships, join_memberships, job) != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_ERROR, "out of memory: %zu sockets join no conversation", count);
    for (size_t i = 0; i < count; i++) {
      if (sockets[i]->socket)
        lookup->on_ready(gw, sockets[i]);
      gateway_socket_release(sockets[i]);
    }
    free(per_user);
    free(sockets);
    free(job);
    lookup->running = false;
  }
}

rooms_lookup_t *rooms_lookup_create(gateway_t *gw, rooms_lookup_ready_fn on_ready) {
  rooms_lookup_t *lookup = calloc(1, sizeof *lookup);
  if (lookup) {
    lookup->gw = gw;
    lookup->on_ready = on_ready;
  }
  return lookup;
}

void rooms_lookup_add(rooms_lookup_t *lookup, gateway_socket_t *state) {
  if (lookup->waiting_count == lookup->waiting_cap) {
    size_t cap = lookup->waiting_cap ? lookup->waiting_cap * 2 : 64;
    gateway_socket_t **grown = realloc(lookup->waiting, cap * sizeof *grown);
    if (!grown) {
      CHAT_LOG(CHAT_LOG_ERROR, "out of memory: socket of user %s joins no conversation",
               state->user_id);
      lookup->on_ready(lookup->gw, state);
      return;
    }
    lookup->waiting = grown;
    lookup->waiting_cap = cap;
  }
  lookup->waiting[lookup->waiting_count++] = gateway_socket_hold(state);
  lookup_next(lookup);
}

void rooms_lookup_destroy(rooms_lookup_t **lookup_ptr) {
  rooms_lookup_t *lookup = *lookup_ptr;
  if (!lookup)
    return;
  *lookup_ptr = NULL;
  for (size_t i = 0; i < lookup->waiting_count; i++)
    gateway_socket_release(lookup->waiting[i]);
  free(lookup->waiting);
  free(lookup);
}
