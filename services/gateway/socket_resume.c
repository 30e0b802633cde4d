/* Resume after a reconnect, to any gateway (docs/architecture.md,
 * "Resume"). The client passes the last seq it saw per conversation in
 * its CONNECT auth: {token, lastSeqs: {"<conversationId>": <seq>, ...}}.
 *
 * Order of work, so that nothing is missed and nothing comes twice: the
 * socket joins its rooms first (rooms_lookup.c); from then on live
 * messages of the resumed conversations are held here instead of being
 * sent; a worker reads what the client missed from MongoDB; back on the
 * loop the missed messages go out in seq order as new_message, then the
 * held live ones whose seq is past what was replayed, then "resumed"
 * says where each conversation stands.
 *
 * The reads wait in one queue on the loop thread and one job at a time
 * reads for up to RESUME_BATCH sockets, as the rooms lookup does: a
 * reconnect storm after a gateway's death used to queue a job per socket,
 * and past the work queue's 256 the rest were refused and never told
 * "resumed" (966 of 2,500 sockets in tests/faults/storms.mjs), while one
 * job at a time leaves the other worker to REST. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "chat/message_json.h"
#include "resume_points.h"
#include "socket_resume.h"
#include "work_queue.h"

#define RESUME_PER_CONVERSATION 200   /* replayed per conversation; the rest via REST history */
#define RESUME_HELD_MAX 10000         /* live frames held per socket during a replay */
#define RESUME_BATCH 100              /* sockets whose missed messages one job reads */
#define RESUME_NAMES_CACHED 256       /* senders' names one job keeps, not read again */

typedef struct resume_point {
  char conversation_id[CHAT_ID_SIZE];
  int64_t seq;            /* the last seq the client saw */
  int64_t replayed;       /* the last seq replayed (or seq) */
  bool member;            /* the socket is in its room: replayed */
  bool has_more;          /* more than RESUME_PER_CONVERSATION were missed */
  bool caught_up;         /* a live frame past the replay came: nothing more to drop */
  bson_string_t **frames; /* the missed messages, ["new_message",{...}], in seq order */
  int64_t *seqs;
  size_t frame_count;
} resume_point_t;

typedef struct held_frame {
  struct held_frame *next;
  char conversation_id[CHAT_ID_SIZE];
  int64_t seq; /* 0 when the record had no seq */
  char frame[];
} held_frame_t;

struct resume {
  resume_point_t *points;
  size_t count;
  bool active;   /* rooms joined: live frames are held */
  bool trailing; /* replayed: live frames the replay already sent are dropped */
  held_frame_t *held, *held_tail;
  size_t held_count;
};

/* A socket waiting for its replay, or being replayed: the job owns the
 * resume (active) even when the socket goes meanwhile. */
typedef struct resume_entry {
  gateway_socket_t *state; /* a reference held */
  resume_t *resume;
} resume_entry_t;

struct resume_queue {
  gateway_t *gw;
  resume_entry_t *waiting;
  size_t waiting_count, waiting_cap;
  bool running; /* a job reads for some now */
};

typedef struct sender_name {
  char id[CHAT_ID_SIZE];
  char *username; /* NULL when the user was not found */
} sender_name_t;

typedef struct resume_job {
  resume_queue_t *queue;
  resume_entry_t *entries;
  size_t count;
  sender_name_t names[RESUME_NAMES_CACHED]; /* on the worker only */
  size_t name_count;
} resume_job_t;

static void free_points(resume_t *resume) {
  for (size_t i = 0; i < resume->count; i++) {
    for (size_t j = 0; j < resume->points[i].frame_count; j++)
      bson_string_free(resume->points[i].frames[j], true);
    free(resume->points[i].frames);
    free(resume->points[i].seqs);
  }
  free(resume->points);
}

static void free_resume(resume_t *resume) {
  if (!resume)
    return;
  free_points(resume);
  for (held_frame_t *h = resume->held, *next; h; h = next) {
    next = h->next;
    free(h);
  }
  free(resume);
}

const char *gateway_resume_read(gateway_socket_t *state, const bson_t *auth) {
  resume_last_seq_t *last_seqs;
  size_t count;
  const char *bad = resume_points_read(auth, &last_seqs, &count);
  if (bad || count == 0)
    return bad;
  resume_t *resume = calloc(1, sizeof *resume);
  resume_point_t *points = resume ? calloc(count, sizeof *points) : NULL;
  if (!points) {
    free(resume);
    free(last_seqs);
    return "Server busy, try again";
  }
  for (size_t i = 0; i < count; i++) {
    memcpy(points[i].conversation_id, last_seqs[i].conversation_id, CHAT_ID_SIZE);
    points[i].seq = points[i].replayed = last_seqs[i].seq;
  }
  free(last_seqs);
  resume->points = points;
  resume->count = count;
  state->resume = resume;
  return NULL;
}

static resume_point_t *find_point(resume_t *resume, const char *conversation_id) {
  for (size_t i = 0; i < resume->count; i++) {
    if (resume->points[i].member && strcmp(resume->points[i].conversation_id, conversation_id) == 0)
      return &resume->points[i];
  }
  return NULL;
}

/* After the replay: persistence stores a message before it publishes it,
 * so the replay can read one whose live broadcast has not reached this
 * gateway yet; it comes after "resumed" and is dropped here. Once a live
 * frame past the replay has come for each replayed conversation, the
 * resume is let go. */
static bool already_replayed(gateway_socket_t *state, const char *conversation_id,
                             const char *seq) {
  resume_t *resume = state->resume;
  resume_point_t *point = find_point(resume, conversation_id);
  if (!point || point->caught_up || !seq)
    return false;
  if (strtoll(seq, NULL, 10) <= point->replayed)
    return true; /* the replay sent it */
  point->caught_up = true;
  for (size_t i = 0; i < resume->count; i++) {
    if (resume->points[i].member && !resume->points[i].caught_up)
      return false;
  }
  state->resume = NULL;
  free_resume(resume);
  return false;
}

bool gateway_resume_hold(gateway_socket_t *state, const char *conversation_id, const char *seq,
                         const char *frame) {
  resume_t *resume = state->resume;
  CHAT_ASSERT(resume); /* delivery holds frames only for a socket that resumes */
  if (resume->trailing)
    return already_replayed(state, conversation_id, seq);
  if (!resume->active || !find_point(resume, conversation_id))
    return false;
  if (resume->held_count == RESUME_HELD_MAX) {
    CHAT_LOG(CHAT_LOG_WARN,
             "socket %s: %d live messages held during its resume; later ones "
             "dropped (the client catches up from history)",
             chat_sio_socket_id(state->socket), RESUME_HELD_MAX);
    return true;
  }
  size_t len = strlen(frame);
  held_frame_t *held = malloc(sizeof *held + len + 1);
  if (!held)
    return false; /* sent now rather than lost */
  held->next = NULL;
  memcpy(held->conversation_id, conversation_id, CHAT_ID_SIZE);
  held->seq = seq ? strtoll(seq, NULL, 10) : 0;
  memcpy(held->frame, frame, len + 1);
  if (resume->held_tail)
    resume->held_tail->next = held;
  else
    resume->held = held;
  resume->held_tail = held;
  resume->held_count++;
  return true;
}

/* Worker: the username of sender_id, from the job's names or read once
 * (a copy for the caller to free, or NULL). */
static char *sender_username(resume_job_t *job, mongoc_collection_t *users, const char *sender_id) {
  for (size_t i = 0; i < job->name_count; i++) {
    if (strcmp(job->names[i].id, sender_id) == 0)
      return job->names[i].username ? strdup(job->names[i].username) : NULL;
  }
  char *username = NULL;
  bson_iter_t it;
  bson_t *who = BCON_NEW("_id", BCON_UTF8(sender_id));
  mongoc_cursor_t *user = mongoc_collection_find_with_opts(users, who, NULL, NULL);
  const bson_t *user_doc;
  if (mongoc_cursor_next(user, &user_doc) && bson_iter_init_find(&it, user_doc, "username") &&
      BSON_ITER_HOLDS_UTF8(&it))
    username = strdup(bson_iter_utf8(&it, NULL));
  mongoc_cursor_destroy(user);
  bson_destroy(who);
  if (job->name_count < RESUME_NAMES_CACHED && strlen(sender_id) < CHAT_ID_SIZE) {
    sender_name_t *name = &job->names[job->name_count];
    snprintf(name->id, sizeof name->id, "%s", sender_id);
    name->username = username ? strdup(username) : NULL;
    if (!username || name->username)
      job->name_count++;
  }
  return username;
}

/* Worker: reads the missed messages of each point one socket may see. */
static void read_missed_of(resume_job_t *job, resume_t *resume, mongoc_collection_t *messages,
                           mongoc_collection_t *users) {
  for (size_t i = 0; i < resume->count; i++) {
    resume_point_t *point = &resume->points[i];
    if (!point->member)
      continue;
    bson_t *filter = BCON_NEW("conversationId", BCON_UTF8(point->conversation_id), "deletedAt",
                              BCON_NULL, "seq", "{", "$gt", BCON_INT64(point->seq), "}");
    bson_t *opts = BCON_NEW("sort", "{", "seq", BCON_INT32(1), "}", "limit",
                            BCON_INT64(RESUME_PER_CONVERSATION + 1));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, filter, opts, NULL);
    point->frames = calloc(RESUME_PER_CONVERSATION, sizeof *point->frames);
    point->seqs = calloc(RESUME_PER_CONVERSATION, sizeof *point->seqs);
    const bson_t *doc;
    bson_error_t error;
    while (point->frames && point->seqs && mongoc_cursor_next(cursor, &doc)) {
      if (point->frame_count == RESUME_PER_CONVERSATION) {
        point->has_more = true;
        break;
      }
      bson_iter_t it;
      const char *fields[5] = {"_id", "senderId", "receiverId", "content", "attachmentUrl"};
      const char *values[5] = {NULL};
      uint32_t content_len = 0;
      for (int f = 0; f < 5; f++) {
        if (bson_iter_init_find(&it, doc, fields[f]) && BSON_ITER_HOLDS_UTF8(&it))
          values[f] = bson_iter_utf8(&it, f == 3 ? &content_len : NULL);
      }
      int64_t created = bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it)
                            ? bson_iter_date_time(&it)
                            : 0;
      int64_t seq = bson_iter_init_find(&it, doc, "seq") ? bson_iter_as_int64(&it) : 0;
      if (!values[0] || !values[1] || !values[3])
        continue;
      char *username = sender_username(job, users, values[1]);
      chat_reply_quote_t quote;
      bool is_reply = chat_reply_quote_read(doc, "replyTo", &quote);
      const chat_message_view_t view = {.id = values[0],
                                        .sender_id = values[1],
                                        .receiver_id = values[2],
                                        .conversation_id = point->conversation_id,
                                        .content = values[3],
                                        .content_len = content_len,
                                        .attachment_url = values[4],
                                        .created_at_ms = created,
                                        .sender_username = username,
                                        .seq = seq,
                                        .reply_to = is_reply ? &quote : NULL};
      bson_string_t *frame = bson_string_new("[\"new_message\",");
      chat_new_message_json(frame, &view);
      bson_string_append_c(frame, ']');
      free(username);
      point->seqs[point->frame_count] = seq;
      point->frames[point->frame_count++] = frame;
    }
    if (mongoc_cursor_error(cursor, &error)) {
      /* What could not be read is for the client to fetch from history. */
      CHAT_LOG(CHAT_LOG_WARN, "resume of %s: %s", point->conversation_id, error.message);
      point->has_more = true;
    }
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    bson_destroy(filter);
  }
}

/* Worker: the missed messages of every socket of the job. */
static void read_missed(void *arg) {
  resume_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->queue->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  for (size_t i = 0; i < job->count; i++)
    read_missed_of(job, job->entries[i].resume, messages, users);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(messages);
  chat_mongo_release(mongo, client);
  for (size_t i = 0; i < job->name_count; i++)
    free(job->names[i].username);
}

/* Loop: the replay, then the held live frames, then "resumed"; lets go
 * of the resume and of the reference on state. */
static void replay(gateway_socket_t *state, resume_t *resume) {
  if (state->socket && state->resume == resume) {
    bson_string_t *summary = bson_string_new("[\"resumed\",{\"conversations\":[");
    bool first = true;
    for (size_t i = 0; i < resume->count; i++) {
      resume_point_t *point = &resume->points[i];
      for (size_t j = 0; j < point->frame_count; j++) {
        chat_sio_emit(state->socket, point->frames[j]->str, NULL, 0);
        if (point->seqs[j] > point->replayed)
          point->replayed = point->seqs[j];
      }
      bson_string_append_printf(summary,
                                "%s{\"conversationId\":\"%s\",\"member\":%s,\"fromSeq\":%lld,"
                                "\"replayed\":%zu,\"lastSeq\":%lld,\"hasMore\":%s}",
                                first ? "" : ",", point->conversation_id,
                                point->member ? "true" : "false", (long long)point->seq,
                                point->frame_count, (long long)point->replayed,
                                point->has_more ? "true" : "false");
      first = false;
    }
    bool waiting = false;
    for (held_frame_t *held = resume->held, *next; held; held = next) {
      next = held->next;
      resume_point_t *point = find_point(resume, held->conversation_id);
      /* A live message the replay already sent is not sent again. After a
       * capped replay (hasMore) the client fetches the gap from history. */
      if (!point || held->seq == 0 || held->seq > point->replayed) {
        chat_sio_emit(state->socket, held->frame, NULL, 0);
        if (point && held->seq > point->replayed)
          point->caught_up = true;
      }
      free(held);
    }
    resume->held = resume->held_tail = NULL;
    resume->held_count = 0;
    bson_string_append(summary, "]}]");
    chat_sio_emit(state->socket, summary->str, NULL, 0);
    bson_string_free(summary, true);
    for (size_t i = 0; i < resume->count; i++) {
      resume_point_t *point = &resume->points[i];
      for (size_t j = 0; j < point->frame_count; j++)
        bson_string_free(point->frames[j], true);
      point->frame_count = 0;
      waiting = waiting || (point->member && !point->caught_up);
    }
    resume->active = false;
    if (waiting) {
      resume->trailing = true; /* kept, small, until the live stream passes the replay */
    } else {
      state->resume = NULL;
      free_resume(resume);
    }
  } else if (state->resume != resume) {
    free_resume(resume); /* the socket went and let go of it */
  }
  gateway_socket_release(state);
}

static void resume_next(resume_queue_t *queue);

/* Loop: the job's sockets replayed, the next job started. */
static void replay_all(void *arg) {
  resume_job_t *job = arg;
  resume_queue_t *queue = job->queue;
  for (size_t i = 0; i < job->count; i++)
    replay(job->entries[i].state, job->entries[i].resume);
  free(job->entries);
  free(job);
  queue->running = false;
  resume_next(queue);
}

/* Loop: what cannot be read is announced as missed, so that the client
 * fetches it from history (hasMore) instead of waiting for "resumed". */
static void replay_unread(gateway_socket_t *state, resume_t *resume) {
  for (size_t i = 0; i < resume->count; i++)
    resume->points[i].has_more = resume->points[i].member;
  replay(state, resume);
}

static void resume_next(resume_queue_t *queue) {
  gateway_t *gw = queue->gw;
  if (queue->running)
    return;
  /* Sockets gone while they waited have nothing to be read for. */
  size_t kept = 0;
  for (size_t i = 0; i < queue->waiting_count; i++) {
    resume_entry_t *entry = &queue->waiting[i];
    if (entry->state->socket) {
      queue->waiting[kept++] = *entry;
    } else {
      free_resume(entry->resume); /* its socket let go of it */
      gateway_socket_release(entry->state);
    }
  }
  queue->waiting_count = kept;
  if (queue->running || queue->waiting_count == 0 || !gw->work || chat_runtime_stopping(gw->rt))
    return;
  size_t count = queue->waiting_count < RESUME_BATCH ? queue->waiting_count : RESUME_BATCH;
  resume_job_t *job = calloc(1, sizeof *job);
  resume_entry_t *entries = job ? malloc(count * sizeof *entries) : NULL;
  if (!entries) {
    free(job);
    CHAT_LOG(CHAT_LOG_ERROR, "out of memory reading %zu sockets' missed messages", count);
    return; /* tried again at the next resume */
  }
  memcpy(entries, queue->waiting, count * sizeof *entries);
  queue->waiting_count -= count;
  memmove(queue->waiting, queue->waiting + count, queue->waiting_count * sizeof *queue->waiting);
  *job = (resume_job_t){.queue = queue, .entries = entries, .count = count};
  queue->running = true;
  /* One job in flight at a time: the queue's limit is for clients' work. */
  if (work_queue_submit_always(gw->work, read_missed, replay_all, job) != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_ERROR, "out of memory: %zu sockets resume from history", count);
    for (size_t i = 0; i < count; i++)
      replay_unread(entries[i].state, entries[i].resume);
    free(entries);
    free(job);
    queue->running = false;
  }
}

resume_queue_t *gateway_resume_queue_create(gateway_t *gw) {
  resume_queue_t *queue = calloc(1, sizeof *queue);
  if (queue)
    queue->gw = gw;
  return queue;
}

void gateway_resume_queue_destroy(resume_queue_t **queue_ptr) {
  resume_queue_t *queue = *queue_ptr;
  if (!queue)
    return;
  *queue_ptr = NULL;
  for (size_t i = 0; i < queue->waiting_count; i++) {
    resume_entry_t *entry = &queue->waiting[i];
    if (entry->state->resume == entry->resume)
      entry->state->resume = NULL;
    free_resume(entry->resume);
    gateway_socket_release(entry->state);
  }
  free(queue->waiting);
  free(queue);
}


void gateway_resume_start(gateway_t *gw, gateway_socket_t *state) {
  resume_t *resume = state->resume;
  CHAT_ASSERT(resume && !resume->active); /* asked for once, after the rooms lookup */
  if (resume->trailing)
    return; /* replayed already */
  for (size_t i = 0; i < resume->count; i++)
    resume->points[i].member =
        gateway_socket_in_conversation(state, resume->points[i].conversation_id);
  resume_queue_t *queue = gw->resumes;
  resume->active = true; /* live frames are held from now on */
  if (queue->waiting_count == queue->waiting_cap) {
    size_t cap = queue->waiting_cap ? queue->waiting_cap * 2 : 64;
    resume_entry_t *grown = realloc(queue->waiting, cap * sizeof *grown);
    if (!grown) {
      CHAT_LOG(CHAT_LOG_ERROR, "out of memory: socket %s resumes from history",
               chat_sio_socket_id(state->socket));
      replay_unread(gateway_socket_hold(state), resume);
      return;
    }
    queue->waiting = grown;
    queue->waiting_cap = cap;
  }
  queue->waiting[queue->waiting_count++] = (resume_entry_t){gateway_socket_hold(state), resume};
  resume_next(queue);
}

void gateway_resume_free(gateway_socket_t *state) {
  resume_t *resume = state->resume;
  state->resume = NULL;
  if (resume && resume->active)
    return; /* a worker reads into it: replay() frees it */
  free_resume(resume);
}
