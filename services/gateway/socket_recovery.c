/* Connection state recovery (socket_recovery.h). The loop thread keeps the
 * live position (the next offset of each chat.broadcast partition it has
 * delivered) and each recovering socket's held live frames; one replay
 * thread reads a session's record and the range of chat.broadcast it
 * missed, and hands the frames back to the loop. */
#include "socket_recovery.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/json.h"
#include "chat/kafka.h"
#include "chat/log.h"
#include "chat/mongo.h"
#include "chat/topics.h"
#include "recovery_token.h"
#include "work_queue.h"

#define RECOVERY_RANGE_MAX 200000 /* records a replay may read; a larger gap starts afresh */
#define RECOVERY_HELD_MAX 10000   /* live frames a recovering socket may hold */
#define REPLAY_WAIT_MS 15000      /* longest read of one replay's range */
#define REPLAY_POLL_MS 100

/* The recoverable events (proto/README.md, "Connection state recovery"):
 * those that come from persisted state. The rest (typing, user_joined,
 * user_left, presence, acks of one connection, reverts) are volatile. */
static const char *const recoverable_events[] = {
    "new_message",     "message_notification", "message_deleted",   "messages_read",
    "conversation_created", "member_added",    "member_removed",    "conversation_deleted",
    "message_edited",       "reaction_added",  "reaction_removed",
};

bool recovery_is_recoverable(const char *event) {
  for (size_t i = 0; i < sizeof recoverable_events / sizeof recoverable_events[0]; i++) {
    if (strcmp(event, recoverable_events[i]) == 0)
      return true;
  }
  return false;
}

struct recovery {
  gateway_t *gw;
  uint8_t key[RECOVERY_KEY_SIZE];
  int64_t window_s;
  bool known;                /* live is set: the broadcast consumer has started */
  recovery_position_t live;  /* loop thread */
  work_queue_t *replays;     /* one thread: replays and session record writes, in order */
  chat_consumer_t *reader;   /* the replay thread's */
};

typedef struct held {
  int32_t partition;
  int64_t offset;
  char *conversation_id; /* the scope's conversation, or NULL */
  chat_broadcast_scope_t scope;
  char *frame;
} held_t;

/* A recovering socket's state (gateway_socket_t.recovering). */
struct socket_recovery {
  bool holding;
  recovery_position_t *from; /* the client's offset */
  recovery_position_t *to;   /* the live position when its replay started */
  held_t *held;
  size_t held_count, held_cap;
  bool held_overflow;
};

/* ---- the live position ---- */

typedef struct started {
  gateway_t *gw;
  size_t count;
  int64_t offsets[];
} started_t;

static void started_on_loop(void *arg) {
  started_t *s = arg;
  recovery_t *rec = s->gw->recovery;
  if (rec && s->count <= RECOVERY_PARTITIONS_MAX) {
    rec->live.partitions = s->count;
    memcpy(rec->live.next, s->offsets, s->count * sizeof s->offsets[0]);
    rec->known = true;
  } else if (rec) {
    CHAT_LOG(CHAT_LOG_WARN, "chat.broadcast has %zu partitions, more than recovery's %d: "
             "sessions are not recoverable", s->count, RECOVERY_PARTITIONS_MAX);
  }
  free(s);
}

void recovery_started(void *ctx, const int64_t *start_offsets, size_t count) {
  gateway_t *gw = ctx;
  started_t *s = calloc(1, sizeof *s + count * sizeof start_offsets[0]);
  if (!s)
    return; /* no position: no session is recoverable */
  s->gw = gw;
  s->count = count;
  memcpy(s->offsets, start_offsets, count * sizeof start_offsets[0]);
  /* Before any of the consumer's records, which it posts after this. */
  if (chat_sio_server_post(gw->sio, started_on_loop, s) != CHAT_OK)
    free(s);
}

static size_t offset_argument(const recovery_t *rec, const recovery_position_t *position,
                              char *out, size_t cap) {
  if (cap < 3)
    return 0;
  size_t len = recovery_offset_write(rec->key, position, (int64_t)time(NULL), out + 1, cap - 2);
  if (len == 0)
    return 0;
  out[0] = '"';
  out[len + 1] = '"';
  out[len + 2] = '\0';
  return len + 2;
}

bool recovery_advance(gateway_t *gw, const char *event, int32_t partition, int64_t offset,
                      char *out, size_t cap) {
  recovery_t *rec = gw->recovery;
  if (!rec || !rec->known || partition < 0 || (size_t)partition >= rec->live.partitions)
    return false;
  if (offset + 1 > rec->live.next[partition])
    rec->live.next[partition] = offset + 1;
  return recovery_is_recoverable(event) && offset_argument(rec, &rec->live, out, cap) > 0;
}

/* ---- at CONNECT ---- */

static const char *auth_string(const bson_t *auth, const char *key) {
  bson_iter_t it;
  if (!auth || !bson_iter_init_find(&it, auth, key) || !BSON_ITER_HOLDS_UTF8(&it))
    return NULL;
  return bson_iter_utf8(&it, NULL);
}

/* Why the session the client names cannot be recovered, or NULL (then
 * *from is where its replay starts). */
static const char *unrecoverable(const recovery_t *rec, const gateway_socket_t *state,
                                 const char *pid, const char *offset,
                                 recovery_session_t *session, recovery_position_t *from) {
  if (!pid)
    return "no pid";
  if (!rec->known)
    return "the live position is not known yet";
  if (!recovery_pid_read(rec->key, pid, session))
    return "a pid that is not ours";
  if (strcmp(session->user_id, state->user_id) != 0)
    return "a pid of another user";
  int64_t since_s = session->issued_s;
  if (offset) {
    if (!recovery_offset_read(rec->key, offset, from, &since_s))
      return "an offset that is not ours";
  } else {
    *from = session->start; /* no recoverable event came yet */
  }
  if ((int64_t)time(NULL) - since_s > rec->window_s)
    return "older than CHAT_RECOVERY_WINDOW_SECONDS";
  if (from->partitions != rec->live.partitions)
    return "chat.broadcast's partitions changed";
  int64_t records = 0;
  for (size_t p = 0; p < from->partitions; p++) {
    if (from->next[p] > rec->live.next[p])
      return "an offset past the live position";
    records += rec->live.next[p] - from->next[p];
  }
  if (records > RECOVERY_RANGE_MAX)
    return "more records missed than a replay reads";
  return NULL;
}

void recovery_accept(gateway_t *gw, gateway_socket_t *state, chat_sio_socket_t *socket,
                     const bson_t *auth, bool *recovered) {
  recovery_t *rec = gw->recovery;
  *recovered = false;
  if (!rec)
    return;
  const char *pid = auth_string(auth, "pid");
  recovery_session_t session;
  recovery_position_t *from = pid ? malloc(sizeof *from) : NULL;
  if (pid && !from)
    return;
  const char *why = unrecoverable(rec, state, pid, auth_string(auth, "offset"), &session, from);
  char fresh[RECOVERY_TOKEN_MAX];
  if (!why && (state->recovering = calloc(1, sizeof *state->recovering)) &&
      chat_sio_socket_set_id(socket, session.socket_id) && chat_sio_socket_set_pid(socket, pid) &&
      (state->recovery_pid = strdup(pid))) {
    state->recovering->from = from;
    *recovered = true;
    CHAT_LOG(CHAT_LOG_DEBUG, "socket %s of user %s: session recovered", session.socket_id,
             state->user_id);
    return;
  }
  free(from);
  if (state->recovering) { /* out of memory on the way: a fresh session */
    free(state->recovering);
    state->recovering = NULL;
  }
  if (pid)
    CHAT_LOG(CHAT_LOG_INFO, "socket of user %s: session not recovered (%s); a fresh one",
             state->user_id, why ? why : "out of memory");
  if (!rec->known)
    return; /* no position to start from: this session cannot be recovered */
  recovery_session_t fresh_session = {.issued_s = (int64_t)time(NULL), .start = rec->live};
  snprintf(fresh_session.user_id, sizeof fresh_session.user_id, "%s", state->user_id);
  snprintf(fresh_session.socket_id, sizeof fresh_session.socket_id, "%s",
           chat_sio_socket_id(socket));
  randombytes_buf(fresh_session.nonce, sizeof fresh_session.nonce);
  if (recovery_pid_write(rec->key, &fresh_session, fresh, sizeof fresh) > 0 &&
      chat_sio_socket_set_pid(socket, fresh)) {
    free(state->recovery_pid);
    state->recovery_pid = strdup(fresh);
  }
}

void recovery_connected(gateway_t *gw, gateway_socket_t *state) {
  (void)gw;
  if (state->recovering)
    state->recovering->holding = true;
}

bool recovery_hold(gateway_socket_t *state, int32_t partition, int64_t offset,
                   const char *conversation_id, chat_broadcast_scope_t scope, const char *frame) {
  socket_recovery_t *r = state->recovering;
  if (!r || !r->holding)
    return false;
  if (r->held_count == r->held_cap) {
    size_t cap = r->held_cap ? 2 * r->held_cap : 16;
    held_t *grown = cap <= RECOVERY_HELD_MAX ? realloc(r->held, cap * sizeof *grown) : NULL;
    if (!grown) {
      if (!r->held_overflow)
        CHAT_LOG(CHAT_LOG_ERROR, "socket %s: more than %d live events during its recovery; the "
                 "rest go out now, before what it missed", state->connection_id,
                 RECOVERY_HELD_MAX);
      r->held_overflow = true;
      return false;
    }
    r->held = grown;
    r->held_cap = cap;
  }
  held_t *h = &r->held[r->held_count];
  *h = (held_t){.partition = partition, .offset = offset, .scope = scope,
                .conversation_id = conversation_id ? strdup(conversation_id) : NULL,
                .frame = strdup(frame)};
  if (!h->frame || (conversation_id && !h->conversation_id)) {
    free(h->frame);
    free(h->conversation_id);
    return false;
  }
  r->held_count++;
  return true;
}

static void free_socket_recovery(socket_recovery_t *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->held_count; i++) {
    free(r->held[i].frame);
    free(r->held[i].conversation_id);
  }
  free(r->held);
  free(r->from);
  free(r->to);
  free(r);
}

void recovery_socket_gone(gateway_socket_t *state) {
  free_socket_recovery(state->recovering);
  state->recovering = NULL;
  free(state->recovery_pid);
  state->recovery_pid = NULL;
}

/* ---- the replay ---- */

typedef struct string_list {
  char **items;
  size_t count, cap;
} string_list_t;

static bool list_add(string_list_t *l, const char *s, size_t len) {
  if (l->count == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    char **grown = realloc(l->items, cap * sizeof *grown);
    if (!grown)
      return false;
    l->items = grown;
    l->cap = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy)
    return false;
  memcpy(copy, s, len);
  copy[len] = '\0';
  l->items[l->count++] = copy;
  return true;
}

static bool list_has(const string_list_t *l, const char *s) {
  for (size_t i = 0; i < l->count; i++) {
    if (strcmp(l->items[i], s) == 0)
      return true;
  }
  return false;
}

static void list_remove(string_list_t *l, const char *s) {
  for (size_t i = 0; i < l->count; i++) {
    if (strcmp(l->items[i], s) == 0) {
      free(l->items[i]);
      l->items[i] = l->items[--l->count];
      return;
    }
  }
}

static void list_free(string_list_t *l) {
  for (size_t i = 0; i < l->count; i++)
    free(l->items[i]);
  free(l->items);
  *l = (string_list_t){0};
}

/* A record of the range that may be for the session, as read. */
typedef struct replayed {
  chat_broadcast_route_t route; /* strings in storage */
  char *storage;
  char *value;
  size_t value_len;
  int32_t partition;
  int64_t offset;
  int64_t timestamp_ms;
} replayed_t;

typedef struct replay {
  recovery_t *rec;
  gateway_socket_t *state; /* a reference */
  char user_id[CHAT_ID_SIZE];
  char socket_id[32];
  char *pid;
  recovery_position_t from, to;
  string_list_t rooms; /* conversation ids the socket is in now */
  /* results, for the loop */
  string_list_t open;   /* its open conversations, from the session record */
  string_list_t frames; /* what it missed, in order */
  size_t read;          /* records of the range read */
  const char *failure;  /* why the replay is not whole, or NULL */
} replay_t;

static void read_session_record(replay_t *job) {
  gateway_t *gw = job->rec->gw;
  chat_mongo_t *mongo = chat_runtime_mongo(gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *sessions = chat_mongo_collection(mongo, client, "recovery_sessions");
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(job->pid));
  bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(sessions, filter, opts, NULL);
  const bson_t *doc;
  bson_iter_t it, list;
  if (mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "userId") &&
      BSON_ITER_HOLDS_UTF8(&it) && strcmp(bson_iter_utf8(&it, NULL), job->user_id) == 0 &&
      bson_iter_init_find(&it, doc, "open") && BSON_ITER_HOLDS_ARRAY(&it) &&
      bson_iter_recurse(&it, &list)) {
    while (bson_iter_next(&list)) {
      uint32_t len;
      const char *id = BSON_ITER_HOLDS_UTF8(&list) ? bson_iter_utf8(&list, &len) : NULL;
      if (id && len == CHAT_ID_LEN)
        list_add(&job->open, id, len);
    }
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor, &error)) {
    CHAT_LOG(CHAT_LOG_WARN, "recovery of socket %s: session record not read: %s; no "
             "conversation reopened", job->socket_id, error.message);
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(sessions);
  chat_mongo_release(mongo, client);
}

static bool open_reader(recovery_t *rec) {
  if (rec->reader)
    return true;
  const chat_config_t *cfg = chat_runtime_config(rec->gw->rt);
  char group[2 * CHAT_CONFIG_STR_MAX + 48], why[256];
  snprintf(group, sizeof group, "%schat.gateway.%s.recovery", cfg->topic_prefix,
           cfg->instance_id);
  const chat_topic_t topics[] = {CHAT_TOPIC_BROADCAST};
  const chat_consumer_options_t opts = {.all_partitions_from_end = true};
  if (chat_consumer_create(cfg, group, chat_runtime_source(rec->gw->rt), topics, 1, &opts,
                           &rec->reader, why, sizeof why) != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_WARN, "recovery: cannot read chat.broadcast: %s", why);
    rec->reader = NULL;
    return false;
  }
  return true;
}

static void free_replayed(replayed_t *r, size_t count) {
  for (size_t i = 0; i < count; i++) {
    free(r[i].storage);
    free(r[i].value);
  }
  free(r);
}

/* Reads the range [from, to) of chat.broadcast, keeping the recoverable
 * records to the session's user or to a room (which rooms are the
 * session's is known only once the whole range is read). */
static replayed_t *read_range(replay_t *job, size_t *count) {
  recovery_t *rec = job->rec;
  *count = 0;
  size_t cap = 0, partitions = job->from.partitions, open_partitions = 0;
  replayed_t *kept = NULL;
  bool *first_seen = calloc(partitions + 1, sizeof *first_seen);
  recovery_position_t *cursor = malloc(sizeof *cursor);
  if (!first_seen || !cursor) {
    job->failure = "out of memory";
    goto out;
  }
  *cursor = job->from;
  for (size_t p = 0; p < partitions; p++)
    open_partitions += job->from.next[p] < job->to.next[p];
  if (open_partitions == 0)
    goto out;
  int64_t starts[RECOVERY_PARTITIONS_MAX];
  if (!open_reader(rec) ||
      chat_consumer_start_offsets(rec->reader, starts, RECOVERY_PARTITIONS_MAX) != partitions ||
      chat_consumer_seek_all(rec->reader, job->from.next, partitions) != CHAT_OK) {
    job->failure = "chat.broadcast could not be read";
    goto out;
  }
  char user_target[CHAT_ID_SIZE + 8];
  chat_target(user_target, sizeof user_target, CHAT_TARGET_USER, job->user_id);
  struct timespec began, now;
  clock_gettime(CLOCK_MONOTONIC, &began);
  while (open_partitions > 0) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - began.tv_sec) * 1000 + (now.tv_nsec - began.tv_nsec) / 1000000 >
        REPLAY_WAIT_MS) {
      job->failure = "chat.broadcast was not read in time";
      break;
    }
    chat_record_t record;
    if (chat_consumer_poll(rec->reader, REPLAY_POLL_MS, &record) != CHAT_OK)
      continue;
    size_t p = (size_t)record.partition;
    if (record.partition < 0 || p >= partitions || record.offset < job->from.next[p] ||
        record.offset >= job->to.next[p] || cursor->next[p] > record.offset + 1) {
      chat_record_release(&record); /* outside the range, or seen already */
      continue;
    }
    if (!first_seen[p] && record.offset > job->from.next[p])
      job->failure = "records of the range were gone from chat.broadcast (retention)";
    first_seen[p] = true;
    cursor->next[p] = record.offset + 1;
    job->read++;
    if (cursor->next[p] >= job->to.next[p])
      open_partitions--;
    chat_broadcast_route_t route;
    char *storage = NULL;
    if (chat_broadcast_read(&record, &route, &storage) != CHAT_OK ||
        !recovery_is_recoverable(route.event) ||
        (strcmp(route.target, user_target) != 0 && !chat_target_id(route.target, CHAT_TARGET_ROOM))) {
      free(storage);
      chat_record_release(&record);
      continue;
    }
    if (*count == cap) {
      size_t grown_cap = cap ? 2 * cap : 64;
      replayed_t *grown = realloc(kept, grown_cap * sizeof *grown);
      if (!grown) {
        free(storage);
        chat_record_release(&record);
        job->failure = "out of memory";
        break;
      }
      kept = grown;
      cap = grown_cap;
    }
    replayed_t *r = &kept[*count];
    *r = (replayed_t){.route = route, .storage = storage, .value_len = record.value_len,
                      .partition = record.partition, .offset = record.offset,
                      .timestamp_ms = record.timestamp_ms};
    r->value = malloc(record.value_len + 1);
    if (!r->value) {
      free(storage);
      chat_record_release(&record);
      job->failure = "out of memory";
      break;
    }
    memcpy(r->value, record.value, record.value_len);
    r->value[record.value_len] = '\0';
    (*count)++;
    chat_record_release(&record);
  }
out:
  free(first_seen);
  free(cursor);
  return kept;
}

static bool is_open(const replay_t *job, const char *conversation_id) {
  return list_has(&job->open, conversation_id);
}

/* The socket id a route's exclude header names ("conn:<gateway>/<id>"). */
static const char *excluded_socket(const chat_broadcast_route_t *route) {
  const char *conn = route->exclude ? chat_target_id(route->exclude, CHAT_TARGET_CONN) : NULL;
  const char *slash = conn ? strrchr(conn, '/') : NULL;
  return slash ? slash + 1 : NULL;
}

/* The order to replay the kept records in: each partition's in offset
 * order (a conversation's, a user's: their order), and across partitions
 * by the time the records were produced, as they happened (Kafka keeps no
 * order across partitions; the live path delivers them about so). A k-way
 * merge: the partition whose next record is oldest goes first. */
static size_t *merge_by_time(const replayed_t *kept, size_t count, size_t partitions) {
  size_t *order = malloc((count + 1) * sizeof *order);
  size_t *next = calloc(count + 1, sizeof *next); /* per record: its partition's next record */
  size_t *head = calloc(partitions + 1, sizeof *head); /* per partition: its first not merged */
  if (!order || !next || !head) {
    free(order);
    order = NULL;
    goto out;
  }
  /* kept is in arrival order, which is offset order within a partition:
   * head[p] walks it for partition p. */
  for (size_t p = 0; p < partitions; p++)
    head[p] = count;
  for (size_t i = count; i-- > 0;) {
    size_t p = (size_t)kept[i].partition;
    next[i] = head[p];
    head[p] = i;
  }
  for (size_t n = 0; n < count; n++) {
    size_t best = partitions;
    for (size_t p = 0; p < partitions; p++) {
      if (head[p] < count &&
          (best == partitions || kept[head[p]].timestamp_ms < kept[head[best]].timestamp_ms))
        best = p;
    }
    order[n] = head[best];
    head[best] = next[head[best]];
  }
out:
  free(next);
  free(head);
  return order;
}

/* Which of the range's records were the session's, as the live path
 * would have delivered them: the rooms it was in when the range began
 * (its rooms now, less those it joined in the range, plus those it left),
 * moved by the join and leave headers to its user on the way. */
static void select_frames(replay_t *job, const replayed_t *kept, size_t count) {
  size_t *order = merge_by_time(kept, count, job->from.partitions);
  recovery_position_t *cursor = malloc(sizeof *cursor);
  if (!order || !cursor) {
    free(order);
    free(cursor);
    if (count)
      job->failure = "out of memory";
    return;
  }
  *cursor = job->from;
  char user_target[CHAT_ID_SIZE + 8];
  chat_target(user_target, sizeof user_target, CHAT_TARGET_USER, job->user_id);
  string_list_t rooms = {0}, changed = {0};
  for (size_t i = 0; i < job->rooms.count; i++)
    list_add(&rooms, job->rooms.items[i], strlen(job->rooms.items[i]));
  /* A room whose first change in the range is a join was not the
   * session's when it began; one whose first change is a leave was. */
  for (size_t n = 0; n < count; n++) {
    const chat_broadcast_route_t *r = &kept[order[n]].route;
    if (strcmp(r->target, user_target) != 0)
      continue;
    const char *id = r->join ? r->join : r->leave;
    if (!id || list_has(&changed, id))
      continue;
    list_add(&changed, id, strlen(id));
    if (r->join)
      list_remove(&rooms, id);
    else if (!list_has(&rooms, id))
      list_add(&rooms, id, strlen(id));
  }
  for (size_t n = 0; n < count; n++) {
    size_t i = order[n];
    const chat_broadcast_route_t *r = &kept[i].route;
    /* The offset after it: everything before it in this order is dealt
     * with, and each partition's records come in offset order. */
    cursor->next[kept[i].partition] = kept[i].offset + 1;
    bool to_user = strcmp(r->target, user_target) == 0;
    if (to_user && r->join && !list_has(&rooms, r->join))
      list_add(&rooms, r->join, strlen(r->join));
    const char *room = chat_target_id(r->target, CHAT_TARGET_ROOM);
    chat_broadcast_scope_t scope;
    const char *excluded = excluded_socket(r);
    bool deliver = (to_user || (room && list_has(&rooms, room))) &&
                   chat_broadcast_scope_parse(r->scope, &scope) &&
                   (!room || chat_broadcast_scope_admits(scope, is_open(job, room))) &&
                   !(r->exclude_user && strcmp(r->exclude_user, job->user_id) == 0) &&
                   !(excluded && strcmp(excluded, job->socket_id) == 0);
    char offset_arg[RECOVERY_TOKEN_MAX + 2];
    if (deliver && offset_argument(job->rec, cursor, offset_arg, sizeof offset_arg)) {
      bson_string_t *frame =
          chat_broadcast_frame(r->event, kept[i].value, kept[i].value_len, offset_arg);
      if (!list_add(&job->frames, frame->str, frame->len))
        job->failure = "out of memory";
      bson_string_free(frame, true);
    }
    if (to_user && r->leave)
      list_remove(&rooms, r->leave);
  }
  list_free(&rooms);
  list_free(&changed);
  free(order);
  free(cursor);
}

static void replay_work(void *arg) {
  replay_t *job = arg;
  read_session_record(job);
  size_t count = 0;
  replayed_t *kept = read_range(job, &count);
  select_frames(job, kept, count);
  free_replayed(kept, count);
}

static void replay_done(void *arg) {
  replay_t *job = arg;
  gateway_socket_t *state = job->state;
  socket_recovery_t *r = state->recovering;
  if (state->socket && r) {
    for (size_t i = 0; i < job->open.count; i++) {
      if (gateway_socket_in_conversation(state, job->open.items[i]))
        gateway_socket_open(state, job->open.items[i]);
    }
    for (size_t i = 0; i < job->frames.count && state->socket; i++)
      chat_sio_emit(state->socket, job->frames.items[i], NULL, 0);
    size_t sent_live = 0;
    for (size_t i = 0; i < r->held_count && state->socket; i++) {
      const held_t *h = &r->held[i];
      if (h->partition >= 0 && (size_t)h->partition < r->to->partitions &&
          h->offset < r->to->next[h->partition])
        continue; /* in the range: the replay had it */
      if (h->conversation_id &&
          !chat_broadcast_scope_admits(h->scope, gateway_socket_is_open(state, h->conversation_id)))
        continue;
      chat_sio_emit(state->socket, h->frame, NULL, 0);
      sent_live++;
    }
    if (job->failure)
      CHAT_LOG(CHAT_LOG_WARN, "recovery of socket %s (user %s): %s; %zu missed events sent",
               job->socket_id, job->user_id, job->failure, job->frames.count);
    CHAT_LOG(CHAT_LOG_DEBUG, "socket %s recovered: %zu records read, %zu missed events, %zu "
             "live ones held, %zu conversations reopened", job->socket_id, job->read,
             job->frames.count, sent_live, job->open.count);
    free_socket_recovery(r);
    state->recovering = NULL;
  }
  list_free(&job->rooms);
  list_free(&job->open);
  list_free(&job->frames);
  free(job->pid);
  gateway_socket_release(state);
  free(job);
}

void recovery_rooms_ready(gateway_t *gw, gateway_socket_t *state) {
  recovery_t *rec = gw->recovery;
  socket_recovery_t *r = state->recovering;
  if (!rec || !r || !state->socket)
    return;
  replay_t *job = calloc(1, sizeof *job);
  r->to = malloc(sizeof *r->to);
  if (!job || !r->to || !(job->pid = strdup(state->recovery_pid))) {
    CHAT_LOG(CHAT_LOG_ERROR, "socket %s: out of memory for its recovery; live events follow",
             state->connection_id);
    free(job);
    free_socket_recovery(r);
    state->recovering = NULL;
    return;
  }
  *r->to = rec->live;
  job->rec = rec;
  job->state = gateway_socket_hold(state);
  job->from = *r->from;
  job->to = *r->to;
  snprintf(job->user_id, sizeof job->user_id, "%s", state->user_id);
  snprintf(job->socket_id, sizeof job->socket_id, "%s", chat_sio_socket_id(state->socket));
  for (size_t i = 0; i < state->room_count; i++) {
    const char *id = chat_target_id(state->rooms[i], CHAT_TARGET_ROOM);
    if (id)
      list_add(&job->rooms, id, strlen(id));
  }
  if (work_queue_submit_always(rec->replays, replay_work, replay_done, job) != CHAT_OK) {
    job->failure = "out of memory";
    replay_done(job);
  }
}

/* ---- the session record ---- */

typedef struct session_write {
  gateway_t *gw;
  bson_t *doc;
  char *pid;
} session_write_t;

static void session_write_work(void *arg) {
  session_write_t *w = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(w->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *sessions = chat_mongo_collection(mongo, client, "recovery_sessions");
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(w->pid));
  bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
  bson_error_t error;
  if (!mongoc_collection_replace_one(sessions, filter, w->doc, opts, NULL, &error))
    CHAT_LOG(CHAT_LOG_WARN, "recovery session record not written: %s", error.message);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(sessions);
  chat_mongo_release(mongo, client);
}

static void session_write_done(void *arg) {
  session_write_t *w = arg;
  bson_destroy(w->doc);
  free(w->pid);
  free(w);
}

void recovery_note_open(gateway_t *gw, gateway_socket_t *state) {
  recovery_t *rec = gw->recovery;
  if (!rec || !state->recovery_pid)
    return;
  session_write_t *w = calloc(1, sizeof *w);
  if (!w || !(w->pid = strdup(state->recovery_pid))) {
    free(w);
    return;
  }
  w->gw = gw;
  w->doc = bson_new();
  bson_t list;
  BSON_APPEND_UTF8(w->doc, "userId", state->user_id);
  BSON_APPEND_ARRAY_BEGIN(w->doc, "open", &list);
  for (size_t i = 0; i < state->open_count; i++) {
    char key[16];
    const char *key_str;
    bson_uint32_to_string((uint32_t)i, &key_str, key, sizeof key);
    bson_append_utf8(&list, key_str, -1, state->open[i], -1);
  }
  bson_append_array_end(w->doc, &list);
  BSON_APPEND_DATE_TIME(w->doc, "updatedAt", (int64_t)time(NULL) * 1000);
  /* On the replay thread: after the writes before it, and before a replay
   * of the same session that a reconnect asks later. */
  if (work_queue_submit_always(rec->replays, session_write_work, session_write_done, w) != CHAT_OK)
    session_write_done(w);
}

/* ---- life ---- */

chat_err_t recovery_create(gateway_t *gw, recovery_t **out) {
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  *out = NULL;
  if (cfg->recovery_window_seconds == 0)
    return CHAT_OK;
  recovery_t *rec = calloc(1, sizeof *rec);
  if (!rec)
    return CHAT_ERR_NOMEM;
  rec->gw = gw;
  rec->window_s = cfg->recovery_window_seconds;
  recovery_key_derive(cfg->jwt_secret, rec->key);
  if (work_queue_create(gw->sio, 1, 1, &rec->replays) != CHAT_OK) {
    free(rec);
    return CHAT_ERR_NOMEM;
  }
  *out = rec;
  return CHAT_OK;
}

void recovery_destroy(recovery_t **recovery) {
  recovery_t *rec = *recovery;
  if (!rec)
    return;
  work_queue_destroy(&rec->replays);
  if (rec->reader)
    chat_consumer_close(&rec->reader);
  sodium_memzero(rec->key, sizeof rec->key);
  free(rec);
  *recovery = NULL;
}
