/* The chat REST API of seed 004 (/api/chat/...) and seed 002
 * (/api/v1/chat/convo/one-to-one...), in seed 004's envelope.
 *
 * Reads go to MongoDB on a worker thread; a send goes through Kafka like a
 * socket's send_message and is answered once persistence has stored it.
 * Messages are rendered in seed 004's REST shape (snake_case), with seq
 * added; socket events keep seed 004's camelCase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "chat/read_rules.h"
#include "rest.h"
#include "rest_pending.h"
#include "mark_read.h"
#include "produce.h"
#include "send_request.h"
#include "work_queue.h"

#define SEND_TIMEOUT_MS 10000     /* persistence must store a REST send within this */
#define PAGE_LIMIT_MAX 100        /* items per page at most */
#define MEMBERSHIPS_MAX 10000     /* conversations listed per user at most */
#define PARTICIPANTS_SHOWN 50     /* participant details per conversation */
#define SEARCH_TERM_MAX_BYTES 200 /* search: the longest q */

typedef struct chat_job {
  gateway_t *gw;
  uint64_t request_id;
  char user_id[CHAT_JWT_SUB_MAX];
  char conversation_id[CHAT_ID_SIZE];
  char other_id[CHAT_ID_SIZE];
  int64_t page, limit, before, after, from;
  char term[SEARCH_TERM_MAX_BYTES + 1]; /* search: the text looked for */
  /* the answer */
  int status;
  chat_err_t err;
  char message[160];
  bson_string_t *data;
} chat_job_t;

/* ---- small helpers over MongoDB ---- */

static void fail(chat_job_t *job, int status, chat_err_t err, const char *message) {
  job->status = status;
  job->err = err;
  snprintf(job->message, sizeof job->message, "%s", message);
}

static void fail_store(chat_job_t *job, const bson_error_t *error) {
  CHAT_LOG(CHAT_LOG_WARN, "REST read: %s", error->message);
  fail(job, 503, CHAT_ERR_UNAVAILABLE, "cannot reach the message store now, try again");
}

static const char *doc_string(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
    return bson_iter_utf8(&it, NULL);
  return NULL;
}

/* Appends doc[key] as JSON (null when absent). */
static void append_field(bson_string_t *out, const bson_t *doc, const char *key) {
  bson_iter_t it;
  bson_t single = BSON_INITIALIZER;
  if (!bson_iter_init_find(&it, doc, key) || !bson_append_iter(&single, "v", 1, &it)) {
    bson_string_append(out, "null");
    bson_destroy(&single);
    return;
  }
  bson_string_t *wrapped = bson_string_new(NULL);
  if (chat_json_append(wrapped, &single, false) == CHAT_OK && wrapped->len > 6)
    bson_string_append_printf(out, "%.*s", (int)(wrapped->len - 6), wrapped->str + 5);
  else
    bson_string_append(out, "null");
  bson_string_free(wrapped, true);
  bson_destroy(&single);
}

/* Usernames of ids, read in one query: a NULL-terminated list of pairs. */
typedef struct names {
  char (*ids)[CHAT_ID_SIZE];
  char **usernames;
  bool *online; /* after names_load_presence(); NULL before */
  size_t count, cap;
} names_t;

static void names_want(names_t *names, const char *id) {
  if (!id || !chat_is_id(id))
    return;
  for (size_t i = 0; i < names->count; i++) {
    if (strcmp(names->ids[i], id) == 0)
      return;
  }
  if (names->count == names->cap) {
    size_t cap = names->cap ? names->cap * 2 : 16;
    void *ids = realloc(names->ids, cap * sizeof *names->ids);
    if (!ids)
      return;
    names->ids = ids;
    void *usernames = realloc(names->usernames, cap * sizeof *names->usernames);
    if (!usernames)
      return;
    names->usernames = usernames;
    names->cap = cap;
  }
  memcpy(names->ids[names->count], id, CHAT_ID_SIZE);
  names->usernames[names->count++] = NULL;
}

/* Appends {"_id": {"$in": [the ids of names]}} to filter. */
static void append_ids_in(bson_t *filter, const names_t *names) {
  bson_t in, list;
  BSON_APPEND_DOCUMENT_BEGIN(filter, "_id", &in);
  BSON_APPEND_ARRAY_BEGIN(&in, "$in", &list);
  for (size_t i = 0; i < names->count; i++) {
    char key[16];
    const char *key_str;
    bson_uint32_to_string((uint32_t)i, &key_str, key, sizeof key);
    bson_append_utf8(&list, key_str, -1, names->ids[i], -1);
  }
  bson_append_array_end(&in, &list);
  bson_append_document_end(filter, &in);
}

static bool names_load(names_t *names, mongoc_collection_t *users, bson_error_t *error) {
  if (names->count == 0)
    return true;
  bson_t filter = BSON_INITIALIZER;
  append_ids_in(&filter, names);
  bson_t *opts = BCON_NEW("projection", "{", "username", BCON_INT32(1), "}");
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(users, &filter, opts, NULL);
  const bson_t *doc;
  while (mongoc_cursor_next(cursor, &doc)) {
    const char *id = doc_string(doc, "_id"), *username = doc_string(doc, "username");
    for (size_t i = 0; id && username && i < names->count; i++) {
      if (strcmp(names->ids[i], id) == 0 && !names->usernames[i])
        names->usernames[i] = strdup(username);
    }
  }
  bool ok = !mongoc_cursor_error(cursor, error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(&filter);
  return ok;
}

/* Reads who of names is online (the presence service's collection). */
static bool names_load_presence(names_t *names, mongoc_collection_t *presence,
                                bson_error_t *error) {
  names->online = calloc(names->count ? names->count : 1, sizeof *names->online);
  if (!names->online || names->count == 0)
    return names->online != NULL;
  bson_t filter = BSON_INITIALIZER;
  append_ids_in(&filter, names);
  BSON_APPEND_BOOL(&filter, "online", true);
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(presence, &filter, NULL, NULL);
  const bson_t *doc;
  while (mongoc_cursor_next(cursor, &doc)) {
    const char *id = doc_string(doc, "_id");
    for (size_t i = 0; id && i < names->count; i++) {
      if (strcmp(names->ids[i], id) == 0)
        names->online[i] = true;
    }
  }
  bool ok = !mongoc_cursor_error(cursor, error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(&filter);
  return ok;
}

static void names_free(names_t *names) {
  for (size_t i = 0; i < names->count; i++)
    free(names->usernames[i]);
  free(names->ids);
  free(names->usernames);
  free(names->online);
}

/* {"id":...,"username":...}, or null for no id. */
static void append_user(bson_string_t *out, const names_t *names, const char *id) {
  if (!id) {
    bson_string_append(out, "null");
    return;
  }
  const char *username = NULL;
  int online = -1; /* unknown: presence not read */
  for (size_t i = 0; i < names->count; i++) {
    if (strcmp(names->ids[i], id) == 0) {
      username = names->usernames[i];
      if (names->online)
        online = names->online[i];
    }
  }
  bson_string_append(out, "{\"id\":");
  chat_json_append_string(out, id, strlen(id));
  bson_string_append(out, ",\"username\":");
  if (username)
    chat_json_append_string(out, username, strlen(username));
  else
    bson_string_append(out, "null");
  if (online >= 0)
    bson_string_append(out, online ? ",\"isOnline\":true" : ",\"isOnline\":false");
  bson_string_append_c(out, '}');
}

/* Who has read how far in one conversation, from the receipts service's
 * watermarks, as the viewer sees it. */
typedef struct read_view {
  int64_t viewer_seq, viewer_at; /* the viewer's watermark and when it last moved */
  int64_t others_min_seq;        /* the lowest watermark among the other members */
  int64_t other_at;              /* a 1-1's other member: when their watermark moved */
} read_view_t;

static bool load_read_view(chat_job_t *job, mongoc_client_t *client, read_view_t *view,
                           bson_error_t *error) {
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  mongoc_collection_t *states = chat_mongo_collection(mongo, client, "read_states");
  bson_t *by_id = BCON_NEW("_id", BCON_UTF8(job->conversation_id));
  bson_t *by_conversation = BCON_NEW("conversationId", BCON_UTF8(job->conversation_id));
  bson_t *seqs = bson_new(), *times = bson_new();
  const bson_t *doc;
  bson_iter_t it, people;
  memset(view, 0, sizeof *view);
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(states, by_conversation, NULL, NULL);
  while (mongoc_cursor_next(cursor, &doc)) {
    const char *user = doc_string(doc, "userId");
    if (!user || !bson_iter_init_find(&it, doc, "lastReadSeq"))
      continue;
    BSON_APPEND_INT64(seqs, user, bson_iter_as_int64(&it));
    if (bson_iter_init_find(&it, doc, "lastReadAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
      BSON_APPEND_INT64(times, user, bson_iter_date_time(&it));
  }
  bool ok = !mongoc_cursor_error(cursor, error);
  mongoc_cursor_destroy(cursor);
  if (bson_iter_init_find(&it, seqs, job->user_id))
    view->viewer_seq = bson_iter_as_int64(&it);
  if (bson_iter_init_find(&it, times, job->user_id))
    view->viewer_at = bson_iter_as_int64(&it);
  cursor = ok ? mongoc_collection_find_with_opts(conversations, by_id, NULL, NULL) : NULL;
  if (cursor && mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "participants") &&
      BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &people)) {
    bool any = false;
    int others = 0;
    while (bson_iter_next(&people)) {
      if (!BSON_ITER_HOLDS_UTF8(&people) ||
          strcmp(bson_iter_utf8(&people, NULL), job->user_id) == 0)
        continue;
      const char *other = bson_iter_utf8(&people, NULL);
      int64_t seq = bson_iter_init_find(&it, seqs, other) ? bson_iter_as_int64(&it) : 0;
      view->others_min_seq = any && view->others_min_seq < seq ? view->others_min_seq : seq;
      any = true;
      others++;
      if (bson_iter_init_find(&it, times, other))
        view->other_at = bson_iter_as_int64(&it);
    }
    if (others != 1)
      view->other_at = 0; /* a group: no one time says when "they" read it */
  }
  if (cursor) {
    ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
  }
  bson_destroy(times);
  bson_destroy(seqs);
  bson_destroy(by_conversation);
  bson_destroy(by_id);
  mongoc_collection_destroy(states);
  mongoc_collection_destroy(conversations);
  return ok;
}

/* A stored message in seed 004's REST shape; is_read and read_at for the
 * viewer, from the watermarks (read_at: when the reader's watermark last
 * moved, which is when they read it or later). */
static void append_message(bson_string_t *out, const bson_t *doc, const names_t *names,
                           const read_view_t *view, const char *viewer) {
  const char *sender = doc_string(doc, "senderId"), *receiver = doc_string(doc, "receiverId");
  bson_string_append(out, "{\"id\":");
  append_field(out, doc, "_id");
  bson_string_append(out, ",\"sender_id\":");
  append_field(out, doc, "senderId");
  bson_string_append(out, ",\"receiver_id\":");
  append_field(out, doc, "receiverId");
  bson_string_append(out, ",\"conversation_id\":");
  append_field(out, doc, "conversationId");
  bson_string_append(out, ",\"content\":");
  append_field(out, doc, "content");
  bson_string_append(out, ",\"attachment_url\":");
  append_field(out, doc, "attachmentUrl");
  bson_iter_t it;
  int64_t seq = bson_iter_init_find(&it, doc, "seq") ? bson_iter_as_int64(&it) : 0;
  bool mine = sender && strcmp(sender, viewer) == 0;
  bool read = receipts_is_read(seq, mine, view->viewer_seq, view->others_min_seq);
  int64_t read_at = !read ? 0 : mine ? view->other_at : view->viewer_at;
  bson_string_append_printf(out, ",\"is_read\":%s,\"read_at\":", read ? "true" : "false");
  if (read_at)
    chat_json_append_time(out, read_at);
  else
    bson_string_append(out, "null");
  bson_string_append(out, ",\"createdAt\":");
  append_field(out, doc, "createdAt");
  bson_string_append(out, ",\"sender\":");
  append_user(out, names, sender);
  bson_string_append(out, ",\"receiver\":");
  append_user(out, names, receiver);
  bson_string_append(out, ",\"seq\":");
  append_field(out, doc, "seq");
  bson_string_append_c(out, '}');
}

/* True when user_id is a member of conversation_id and it is not deleted;
 * else fills the job's answer (403, 404 or 503). */
static bool check_member(chat_job_t *job, mongoc_client_t *client) {
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_collection_t *members = chat_mongo_collection(mongo, client, "members");
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  bson_error_t error;
  bson_t *filter = BCON_NEW("conversationId", BCON_UTF8(job->conversation_id), "userId",
                            BCON_UTF8(job->user_id));
  int64_t is_member = mongoc_collection_count_documents(members, filter, NULL, NULL, NULL, &error);
  bson_destroy(filter);
  bool ok = false;
  if (is_member < 0) {
    fail_store(job, &error);
  } else if (is_member == 0) {
    fail(job, 403, CHAT_ERR_FORBIDDEN, "not a member of this conversation");
  } else {
    filter = BCON_NEW("_id", BCON_UTF8(job->conversation_id), "deletedAt", BCON_NULL);
    int64_t live =
        mongoc_collection_count_documents(conversations, filter, NULL, NULL, NULL, &error);
    bson_destroy(filter);
    if (live < 0)
      fail_store(job, &error);
    else if (live == 0)
      fail(job, 404, CHAT_ERR_NOT_FOUND, "no such conversation");
    else
      ok = true;
  }
  mongoc_collection_destroy(conversations);
  mongoc_collection_destroy(members);
  return ok;
}

/* Reads a page of the conversation's messages (not deleted) into
 * job->data: by page (newest page first) or by a seq cursor (before /
 * after, exclusive), always oldest first within the answer. */
static void read_messages(chat_job_t *job, mongoc_client_t *client, bool with_page_totals) {
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_error_t error;
  bson_t filter = BSON_INITIALIZER, range;
  BSON_APPEND_UTF8(&filter, "conversationId", job->conversation_id);
  BSON_APPEND_NULL(&filter, "deletedAt");
  bool newest_first = job->after <= 0;
  if (job->before > 0 || job->after > 0) {
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "seq", &range);
    if (job->before > 0)
      BSON_APPEND_INT64(&range, "$lt", job->before);
    if (job->after > 0)
      BSON_APPEND_INT64(&range, "$gt", job->after);
    bson_append_document_end(&filter, &range);
  }
  int64_t total = 0;
  if (with_page_totals) {
    bson_t all = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&all, "conversationId", job->conversation_id);
    BSON_APPEND_NULL(&all, "deletedAt");
    total = mongoc_collection_count_documents(messages, &all, NULL, NULL, NULL, &error);
    bson_destroy(&all);
    if (total < 0) {
      fail_store(job, &error);
      goto out;
    }
  }
  int64_t skip = (job->before > 0 || job->after > 0) ? 0 : (job->page - 1) * job->limit;
  bson_t *opts = BCON_NEW("sort", "{", "seq", BCON_INT32(newest_first ? -1 : 1), "}", "skip",
                          BCON_INT64(skip), "limit", BCON_INT64(job->limit + 1));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, &filter, opts, NULL);
  bson_t **docs = calloc((size_t)job->limit + 1, sizeof *docs);
  size_t n = 0;
  const bson_t *doc;
  names_t names = {0};
  while (docs && n < (size_t)job->limit + 1 && mongoc_cursor_next(cursor, &doc))
    docs[n++] = bson_copy(doc);
  bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bool has_more = n > (size_t)job->limit;
  if (has_more)
    bson_destroy(docs[--n]);
  for (size_t i = 0; i < n; i++) {
    names_want(&names, doc_string(docs[i], "senderId"));
    names_want(&names, doc_string(docs[i], "receiverId"));
  }
  read_view_t view;
  if (failed || !docs || !names_load(&names, users, &error) ||
      !load_read_view(job, client, &view, &error)) {
    fail_store(job, &error);
  } else {
    job->data = bson_string_new("{\"conversationId\":");
    chat_json_append_string(job->data, job->conversation_id, strlen(job->conversation_id));
    bson_string_append(job->data, ",\"messages\":[");
    for (size_t k = 0; k < n; k++) {
      size_t i = newest_first ? n - 1 - k : k; /* oldest first, as a chat shows them */
      if (k)
        bson_string_append_c(job->data, ',');
      append_message(job->data, docs[i], &names, &view, job->user_id);
    }
    bson_string_append_printf(job->data, "],\"hasMore\":%s", has_more ? "true" : "false");
    if (with_page_totals)
      bson_string_append_printf(job->data, ",\"total\":%lld,\"page\":%lld,\"totalPages\":%lld",
                                (long long)total, (long long)job->page,
                                (long long)((total + job->limit - 1) / job->limit));
    job->status = 200;
  }
  for (size_t i = 0; i < n; i++)
    bson_destroy(docs[i]);
  free(docs);
  names_free(&names);
out:
  bson_destroy(&filter);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(messages);
}

/* ---- jobs ---- */

static chat_job_t *new_job(gateway_t *gw, const chat_http_request_t *request,
                           const chat_jwt_claims_t *claims) {
  chat_job_t *job = calloc(1, sizeof *job);
  if (!job) {
    rest_reply_error(gw, request->id, 503, CHAT_ERR_NOMEM, "server busy, try again");
    return NULL;
  }
  job->gw = gw;
  job->request_id = request->id;
  memcpy(job->user_id, claims->sub, sizeof job->user_id);
  job->status = 500;
  job->err = CHAT_ERR_INTERNAL;
  return job;
}

static void answer_job(void *arg) {
  chat_job_t *job = arg;
  if (job->data && job->status < 300) {
    bson_string_append_c(job->data, '}');
    rest_reply_data(job->gw, job->request_id, job->status, job->data->str);
  } else {
    rest_reply_error(job->gw, job->request_id, job->status, job->err,
                     job->message[0] ? job->message : "internal error");
  }
  if (job->data)
    bson_string_free(job->data, true);
  free(job);
}

static void submit(gateway_t *gw, chat_job_t *job, void (*work)(void *)) {
  if (work_queue_submit(gw->work, work, answer_job, job) != CHAT_OK) {
    rest_reply_error(gw, job->request_id, 503, CHAT_ERR_RATE_LIMITED,
                     "too many requests at once, try again");
    free(job);
  }
}

/* Reads page and limit (seed 004's defaults: page 1, limit 20 or 50). */
static bool read_paging(gateway_t *gw, const chat_http_request_t *request, chat_job_t *job,
                        int64_t default_limit) {
  return rest_query_int(gw, request, "page", 1, 1, 1000000, &job->page) &&
         rest_query_int(gw, request, "limit", default_limit, 1, PAGE_LIMIT_MAX, &job->limit);
}

/* Reads a route's arguments into job; false after answering 400. */
typedef bool (*job_read_fn)(gateway_t *gw, const chat_http_request_t *request,
                            const rest_params_t *params, chat_job_t *job);

/* Authenticates, reads the arguments, and runs work on a worker. */
static void start(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params,
                  job_read_fn read, void (*work)(void *)) {
  chat_jwt_claims_t claims;
  if (!rest_authenticate(gw, request, &claims))
    return;
  chat_job_t *job = new_job(gw, request, &claims);
  if (!job)
    return;
  if (!read(gw, request, params, job)) {
    free(job);
    return;
  }
  submit(gw, job, work);
}

/* ---- GET /api/chat/conversations ---- */

static void list_conversations(void *arg) {
  chat_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *members = chat_mongo_collection(mongo, client, "members");
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_error_t error;
  names_t names = {0};
  bson_t **docs = NULL;
  size_t n = 0;

  /* The user's conversations, from the members collection. */
  bson_t *filter = BCON_NEW("userId", BCON_UTF8(job->user_id));
  bson_t *opts = BCON_NEW("projection", "{", "conversationId", BCON_INT32(1), "}", "limit",
                          BCON_INT64(MEMBERSHIPS_MAX));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(members, filter, opts, NULL);
  bson_t mine = BSON_INITIALIZER, in, list;
  BSON_APPEND_DOCUMENT_BEGIN(&mine, "_id", &in);
  BSON_APPEND_ARRAY_BEGIN(&in, "$in", &list);
  const bson_t *doc;
  uint32_t count = 0;
  while (mongoc_cursor_next(cursor, &doc)) {
    const char *id = doc_string(doc, "conversationId");
    char key[16];
    const char *key_str;
    if (!id)
      continue;
    bson_uint32_to_string(count++, &key_str, key, sizeof key);
    bson_append_utf8(&list, key_str, -1, id, -1);
  }
  bson_append_array_end(&in, &list);
  bson_append_document_end(&mine, &in);
  BSON_APPEND_NULL(&mine, "deletedAt");
  bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  if (failed) {
    fail_store(job, &error);
    goto out;
  }
  int64_t total = mongoc_collection_count_documents(conversations, &mine, NULL, NULL, NULL, &error);
  if (total < 0) {
    fail_store(job, &error);
    goto out;
  }
  /* Newest activity first; a conversation with no message yet by its creation. */
  opts =
      BCON_NEW("sort", "{", "lastMessageAt", BCON_INT32(-1), "createdAt", BCON_INT32(-1), "}",
               "skip", BCON_INT64((job->page - 1) * job->limit), "limit", BCON_INT64(job->limit));
  cursor = mongoc_collection_find_with_opts(conversations, &mine, opts, NULL);
  docs = calloc((size_t)job->limit, sizeof *docs);
  while (docs && n < (size_t)job->limit && mongoc_cursor_next(cursor, &doc))
    docs[n++] = bson_copy(doc);
  failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  for (size_t i = 0; i < n; i++) {
    bson_iter_t it, people;
    size_t shown = 0;
    if (bson_iter_init_find(&it, docs[i], "participants") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &people)) {
      while (shown++ < PARTICIPANTS_SHOWN && bson_iter_next(&people))
        if (BSON_ITER_HOLDS_UTF8(&people))
          names_want(&names, bson_iter_utf8(&people, NULL));
    }
  }
  mongoc_collection_t *presence = chat_mongo_collection(mongo, client, "presence");
  bool loaded = !failed && docs && names_load(&names, users, &error) &&
                names_load_presence(&names, presence, &error);
  mongoc_collection_destroy(presence);
  if (!loaded) {
    fail_store(job, &error);
    goto out;
  }
  job->data = bson_string_new("{\"conversations\":[");
  for (size_t i = 0; i < n; i++) {
    const bson_t *c = docs[i];
    bson_iter_t it, people;
    const char *participant[2] = {NULL, NULL};
    bson_string_append(job->data, i ? ",{\"id\":" : "{\"id\":");
    append_field(job->data, c, "_id");
    bson_string_append(job->data, ",\"kind\":");
    append_field(job->data, c, "kind");
    bson_string_append(job->data, ",\"name\":");
    append_field(job->data, c, "name");
    bson_string_append(job->data, ",\"ownerId\":");
    append_field(job->data, c, "ownerId");
    bson_string_append(job->data, ",\"participants\":[");
    size_t shown = 0;
    if (bson_iter_init_find(&it, c, "participants") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &people)) {
      while (shown < PARTICIPANTS_SHOWN && bson_iter_next(&people)) {
        if (!BSON_ITER_HOLDS_UTF8(&people))
          continue;
        const char *id = bson_iter_utf8(&people, NULL);
        if (shown < 2)
          participant[shown] = id;
        if (shown++)
          bson_string_append_c(job->data, ',');
        append_user(job->data, &names, id);
      }
    }
    /* Seed 004's two-participant fields, for 1-1 conversations. */
    bson_string_append(job->data, "],\"participant_1_id\":");
    for (int p = 0; p < 2; p++) {
      if (p)
        bson_string_append(job->data, ",\"participant_2_id\":");
      if (participant[p])
        chat_json_append_string(job->data, participant[p], strlen(participant[p]));
      else
        bson_string_append(job->data, "null");
    }
    bson_string_append(job->data, ",\"participant1\":");
    append_user(job->data, &names, participant[0]);
    bson_string_append(job->data, ",\"participant2\":");
    append_user(job->data, &names, participant[1]);
    bson_string_append(job->data, ",\"last_message\":");
    append_field(job->data, c, "lastMessage");
    bson_string_append(job->data, ",\"last_message_at\":");
    append_field(job->data, c, "lastMessageAt");
    bson_string_append(job->data, ",\"lastSeq\":");
    append_field(job->data, c, "lastSeq");
    bson_string_append(job->data, ",\"createdAt\":");
    append_field(job->data, c, "createdAt");
    bson_string_append_c(job->data, '}');
  }
  bson_string_append_printf(job->data, "],\"total\":%lld,\"page\":%lld,\"totalPages\":%lld",
                            (long long)total, (long long)job->page,
                            (long long)((total + job->limit - 1) / job->limit));
  job->status = 200;
out:
  for (size_t i = 0; i < n; i++)
    bson_destroy(docs[i]);
  free(docs);
  names_free(&names);
  bson_destroy(&mine);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(conversations);
  mongoc_collection_destroy(members);
  chat_mongo_release(mongo, client);
}

static bool read_conversations_args(gateway_t *gw, const chat_http_request_t *request,
                                    const rest_params_t *params, chat_job_t *job) {
  (void)params;
  return read_paging(gw, request, job, 20);
}

void rest_list_conversations(gateway_t *gw, const chat_http_request_t *request,
                             const rest_params_t *params) {
  start(gw, request, params, read_conversations_args, list_conversations);
}

/* ---- GET /api/chat/conversations/:id/messages ---- */

static void list_messages(void *arg) {
  chat_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  if (check_member(job, client))
    read_messages(job, client, true);
  chat_mongo_release(mongo, client);
}

static bool read_messages_args(gateway_t *gw, const chat_http_request_t *request,
                               const rest_params_t *params, chat_job_t *job) {
  if (!chat_is_id(params->values[0])) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID,
                     "the conversation id must be 24 hex digits");
    return false;
  }
  memcpy(job->conversation_id, params->values[0], CHAT_ID_SIZE);
  return read_paging(gw, request, job, 50) &&
         rest_query_int(gw, request, "before", 0, 1, INT64_MAX, &job->before) &&
         rest_query_int(gw, request, "after", 0, 0, INT64_MAX, &job->after);
}

void rest_list_messages(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params) {
  start(gw, request, params, read_messages_args, list_messages);
}

/* ---- seed 002: /api/v1/chat/convo/one-to-one ---- */

/* Reads otherUserId and derives the pair's conversation id into job. */
static bool read_other_user(gateway_t *gw, const chat_http_request_t *request,
                            const rest_params_t *params, chat_job_t *job) {
  (void)params;
  char other[64];
  chat_query_result_t found;
  if (!rest_query_text(gw, request, "otherUserId", other, sizeof other, &found))
    return false;
  if (found != CHAT_QUERY_FOUND || !chat_is_id(other)) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID,
                     "otherUserId is required and must be 24 hex digits");
    return false;
  }
  if (!chat_direct_conversation_id(job->user_id, other, job->conversation_id)) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID,
                     "otherUserId must be another user than yourself");
    return false;
  }
  memcpy(job->other_id, other, CHAT_ID_SIZE);
  return true;
}

static void direct_details(void *arg) {
  chat_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_error_t error;
  bson_t empty = BSON_INITIALIZER;
  names_t names = {0};
  names_want(&names, job->user_id);
  names_want(&names, job->other_id);
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(job->conversation_id));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(conversations, filter, NULL, NULL);
  const bson_t *found = NULL;
  bool exists = mongoc_cursor_next(cursor, &found);
  mongoc_collection_t *presence = chat_mongo_collection(mongo, client, "presence");
  bool failed = mongoc_cursor_error(cursor, &error) || !names_load(&names, users, &error) ||
                !names_load_presence(&names, presence, &error);
  mongoc_collection_destroy(presence);
  if (failed) {
    fail_store(job, &error);
  } else if (!names.usernames[1]) {
    fail(job, 404, CHAT_ERR_NOT_FOUND, "no user with this otherUserId");
  } else {
    /* Before the first message the conversation does not exist yet; its id
     * is already known, and the first send_message to it creates it. */
    job->data = bson_string_new("{\"conversation\":{\"id\":");
    chat_json_append_string(job->data, job->conversation_id, CHAT_ID_LEN);
    bson_string_append_printf(job->data, ",\"kind\":\"direct\",\"exists\":%s,\"participants\":[",
                              exists ? "true" : "false");
    append_user(job->data, &names, job->user_id);
    bson_string_append_c(job->data, ',');
    append_user(job->data, &names, job->other_id);
    bson_string_append(job->data, "],\"last_message\":");
    append_field(job->data, exists ? found : &empty, "lastMessage");
    bson_string_append(job->data, ",\"last_message_at\":");
    append_field(job->data, exists ? found : &empty, "lastMessageAt");
    bson_string_append(job->data, ",\"lastSeq\":");
    if (exists)
      append_field(job->data, found, "lastSeq");
    else
      bson_string_append(job->data, "0");
    bson_string_append(job->data, ",\"createdAt\":");
    append_field(job->data, exists ? found : &empty, "createdAt");
    bson_string_append(job->data, "},\"otherUser\":");
    append_user(job->data, &names, job->other_id);
    job->status = 200;
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  names_free(&names);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(conversations);
  chat_mongo_release(mongo, client);
}

void rest_direct_details(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params) {
  start(gw, request, params, read_other_user, direct_details);
}

static void direct_messages(void *arg) {
  chat_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  /* The pair's conversation: the caller is a member by construction. */
  job->before = job->from;
  job->page = 1;
  read_messages(job, client, false);
  chat_mongo_release(mongo, client);
}

static bool read_direct_messages_args(gateway_t *gw, const chat_http_request_t *request,
                                      const rest_params_t *params, chat_job_t *job) {
  return read_other_user(gw, request, params, job) &&
         rest_query_int(gw, request, "from", 0, 1, INT64_MAX, &job->from) &&
         rest_query_int(gw, request, "limit", 10, 1, PAGE_LIMIT_MAX, &job->limit);
}

void rest_direct_messages(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params) {
  start(gw, request, params, read_direct_messages_args, direct_messages);
}

/* ---- GET /api/users/:id/presence ---- */

static void user_presence(void *arg) {
  chat_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  mongoc_collection_t *presence = chat_mongo_collection(mongo, client, "presence");
  bson_error_t error;
  names_t names = {0};
  names_want(&names, job->other_id);
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(job->other_id));
  mongoc_cursor_t *cursor = NULL;
  const bson_t *doc = NULL;
  if (!names_load(&names, users, &error)) {
    fail_store(job, &error);
  } else if (!names.usernames[0]) {
    fail(job, 404, CHAT_ERR_NOT_FOUND, "no such user");
  } else {
    cursor = mongoc_collection_find_with_opts(presence, filter, NULL, NULL);
    bool seen = mongoc_cursor_next(cursor, &doc);
    if (mongoc_cursor_error(cursor, &error)) {
      fail_store(job, &error);
    } else {
      bson_iter_t it;
      bool online = seen && bson_iter_init_find(&it, doc, "online") && bson_iter_as_bool(&it);
      job->data = bson_string_new("{\"userId\":");
      chat_json_append_string(job->data, job->other_id, strlen(job->other_id));
      bson_string_append_printf(job->data,
                                ",\"online\":%s,\"lastSeen\":", online ? "true" : "false");
      if (seen)
        append_field(job->data, doc, "lastSeen");
      else
        bson_string_append(job->data, "null");
      job->status = 200;
    }
  }
  if (cursor)
    mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  names_free(&names);
  mongoc_collection_destroy(presence);
  mongoc_collection_destroy(users);
  chat_mongo_release(mongo, client);
}

static bool read_user_id(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params, chat_job_t *job) {
  if (!chat_is_id(params->values[0])) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID, "the user id must be 24 hex digits");
    return false;
  }
  memcpy(job->other_id, params->values[0], CHAT_ID_SIZE);
  return true;
}

void rest_user_presence(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params) {
  start(gw, request, params, read_user_id, user_presence);
}

/* ---- POST /api/chat/send ---- */

/* A REST call waiting for a command's result. */
typedef struct command_call {
  uint64_t request_id;
  int ok_status;          /* 201 for a send, 200 otherwise */
  const char *ok_message; /* seed 004's "message" beside data, or NULL */
} command_call_t;

static int status_of(const char *code) {
  static const struct {
    const char *code;
    int status;
  } map[] = {{"FORBIDDEN", 403}, {"NOT_FOUND", 404},        {"BAD_PAYLOAD", 400},
             {"TOO_LARGE", 413}, {"INVALID_ARGUMENT", 400}, {"RATE_LIMITED", 429}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
    if (strcmp(map[i].code, code) == 0)
      return map[i].status;
  }
  return 500;
}

static void on_command_result(gateway_t *gw, void *ctx, const char *value, size_t value_len,
                              bool stopping) {
  command_call_t *call = ctx;
  bson_t result;
  bson_iter_t it, data, code, message;
  if (stopping) {
    rest_reply_error(gw, call->request_id, 503, CHAT_ERR_STOPPED,
                     "the gateway is shutting down; the change may have been made");
  } else if (!value) {
    rest_reply_error(gw, call->request_id, 504, CHAT_ERR_TIMEOUT,
                     "accepted but not confirmed in time; it is safe to send it again");
  } else if (chat_json_parse(value, value_len, 1 << 20, &result, NULL, 0) != CHAT_OK) {
    rest_reply_error(gw, call->request_id, 500, CHAT_ERR_INTERNAL, "unreadable result");
  } else {
    if (bson_iter_init_find(&it, &result, "ok") && BSON_ITER_HOLDS_BOOL(&it) &&
        bson_iter_bool(&it) && bson_iter_init_find(&data, &result, "data") &&
        BSON_ITER_HOLDS_DOCUMENT(&data)) {
      bson_t doc;
      const uint8_t *buf;
      uint32_t len;
      bson_iter_document(&data, &len, &buf);
      bson_string_t *out = bson_string_new("{\"success\":true,");
      if (call->ok_message)
        bson_string_append_printf(out, "\"message\":\"%s\",", call->ok_message);
      bson_string_append(out, "\"data\":");
      if (bson_init_static(&doc, buf, len) && chat_json_append(out, &doc, false) == CHAT_OK) {
        bson_string_append_c(out, '}');
        chat_sio_http_respond(gw->sio, call->request_id, call->ok_status, out->str);
      } else {
        rest_reply_error(gw, call->request_id, 500, CHAT_ERR_INTERNAL, "unreadable result");
      }
      bson_string_free(out, true);
    } else if (bson_iter_init(&it, &result) &&
               bson_iter_find_descendant(&it, "error.code", &code) && BSON_ITER_HOLDS_UTF8(&code) &&
               bson_iter_init(&it, &result) &&
               bson_iter_find_descendant(&it, "error.message", &message) &&
               BSON_ITER_HOLDS_UTF8(&message)) {
      const char *code_str = bson_iter_utf8(&code, NULL);
      bson_string_t *out = bson_string_new("{\"success\":false,\"error\":{\"code\":");
      chat_json_append_string(out, code_str, strlen(code_str));
      bson_string_append(out, ",\"message\":");
      const char *message_str = bson_iter_utf8(&message, NULL);
      chat_json_append_string(out, message_str, strlen(message_str));
      bson_string_append(out, "}}");
      chat_sio_http_respond(gw->sio, call->request_id, status_of(code_str), out->str);
      bson_string_free(out, true);
    } else {
      rest_reply_error(gw, call->request_id, 500, CHAT_ERR_INTERNAL, "unreadable result");
    }
    bson_destroy(&result);
  }
  free(call);
}

void rest_send_message(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params) {
  (void)params;
  chat_jwt_claims_t claims;
  if (!rest_authenticate(gw, request, &claims))
    return;
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  bson_t body;
  if (chat_json_parse((const char *)request->body, request->body_len,
                      (size_t)cfg->max_payload_bytes, &body, NULL, 0) != CHAT_OK) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_JSON,
                     "the body must be a JSON object {receiverId | conversationId, content}");
    return;
  }
  send_request_t req;
  chat_err_t err;
  const char *problem = send_request_read(&body, claims.sub, cfg->max_content_bytes, &req, &err);
  if (problem) {
    rest_reply_error(gw, request->id, err == CHAT_ERR_TOO_LARGE ? 413 : 400, err, problem);
    bson_destroy(&body);
    return;
  }
  /* Membership is checked by persistence, which answers FORBIDDEN. */
  bson_oid_t oid;
  char correlation_id[25];
  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, correlation_id);
  command_call_t *call = calloc(1, sizeof *call);
  chat_envelope_t env;
  err = call ? send_request_command(&req, claims.sub, chat_runtime_source(gw->rt), NULL,
                                    correlation_id, &env)
             : CHAT_ERR_NOMEM;
  if (err == CHAT_OK)
    err = gateway_produce(gw, CHAT_TOPIC_COMMANDS, &env, req.conversation_id, 0);
  bson_destroy(&body);
  if (err == CHAT_OK) {
    *call = (command_call_t){request->id, 201, "Message sent"};
    err = rest_pending_add(gw, correlation_id, SEND_TIMEOUT_MS, on_command_result, call);
  }
  if (err != CHAT_OK) {
    free(call);
    rest_reply_error(gw, request->id, 503, CHAT_ERR_UNAVAILABLE,
                     "cannot reach Kafka now, try again");
  }
}

chat_err_t rest_command_init(gateway_t *gw, const char *type, chat_envelope_t *env) {
  bson_oid_t oid;
  char correlation_id[25];
  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, correlation_id);
  return chat_envelope_init(env, type, chat_runtime_source(gw->rt), correlation_id);
}

void rest_command_run(gateway_t *gw, uint64_t request_id, chat_topic_t topic, chat_envelope_t *env,
                      const char *key, int ok_status, const char *ok_message) {
  char correlation_id[CHAT_ENVELOPE_CORRELATION_MAX];
  memcpy(correlation_id, env->correlation_id, sizeof correlation_id);
  command_call_t *call = calloc(1, sizeof *call);
  chat_err_t err = call ? gateway_produce(gw, topic, env, key, 0) : CHAT_ERR_NOMEM;
  if (!call)
    chat_envelope_cleanup(env);
  if (err == CHAT_OK) {
    *call = (command_call_t){request_id, ok_status, ok_message};
    err = rest_pending_add(gw, correlation_id, SEND_TIMEOUT_MS, on_command_result, call);
  }
  if (err != CHAT_OK) {
    free(call);
    rest_reply_error(gw, request_id, 503, CHAT_ERR_UNAVAILABLE,
                     "cannot reach Kafka now, try again");
  }
}

/* ---- PUT /api/chat/conversations/:id/read ---- */

void rest_mark_read(gateway_t *gw, const chat_http_request_t *request,
                    const rest_params_t *params) {
  chat_jwt_claims_t claims;
  if (!rest_authenticate(gw, request, &claims))
    return;
  if (!chat_is_id(params->values[0])) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID,
                     "the conversation id must be 24 hex digits");
    return;
  }
  bson_oid_t oid;
  char correlation_id[25];
  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, correlation_id);
  command_call_t *call = calloc(1, sizeof *call);
  chat_err_t err =
      call ? gateway_mark_conversation_read(gw, claims.sub, params->values[0], NULL, correlation_id)
           : CHAT_ERR_NOMEM;
  if (err == CHAT_OK) {
    *call = (command_call_t){request->id, 200, "Messages marked as read"};
    err = rest_pending_add(gw, correlation_id, SEND_TIMEOUT_MS, on_command_result, call);
  }
  if (err != CHAT_OK) {
    free(call);
    rest_reply_error(gw, request->id, 503, CHAT_ERR_UNAVAILABLE,
                     "cannot reach Kafka now, try again");
  }
}

/* ---- GET /api/chat/unread-count and GET /api/chat/unread ---- */

/* Unread messages of the user's conversations: those after their
 * watermark, sent by others, not deleted. Into job->data: with details
 * ({"conversations":[...]}) or just the total ({"count":n}). */
static void count_unread(chat_job_t *job, bool details) {
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *states = chat_mongo_collection(mongo, client, "read_states");
  mongoc_collection_t *members = chat_mongo_collection(mongo, client, "members");
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_error_t error;
  bson_t *mine = BCON_NEW("userId", BCON_UTF8(job->user_id));
  bson_t in_mine = BSON_INITIALIZER, in, list;
  names_t names = {0};
  int64_t total = 0;
  bool failed = false;
  const bson_t *doc;
  /* The user's conversations. */
  BSON_APPEND_DOCUMENT_BEGIN(&in_mine, "_id", &in);
  BSON_APPEND_ARRAY_BEGIN(&in, "$in", &list);
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(members, mine, NULL, NULL);
  uint32_t n = 0;
  while (n < MEMBERSHIPS_MAX && mongoc_cursor_next(cursor, &doc)) {
    const char *id = doc_string(doc, "conversationId");
    char key[16];
    const char *key_str;
    if (!id)
      continue;
    bson_uint32_to_string(n++, &key_str, key, sizeof key);
    bson_append_utf8(&list, key_str, -1, id, -1);
  }
  failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  bson_append_array_end(&in, &list);
  bson_append_document_end(&in_mine, &in);
  BSON_APPEND_NULL(&in_mine, "deletedAt");
  /* Their watermarks. */
  bson_t *watermarks = bson_new();
  if (!failed) {
    cursor = mongoc_collection_find_with_opts(states, mine, NULL, NULL);
    while (mongoc_cursor_next(cursor, &doc)) {
      const char *id = doc_string(doc, "conversationId");
      bson_iter_t it;
      if (id && bson_iter_init_find(&it, doc, "lastReadSeq"))
        BSON_APPEND_INT64(watermarks, id, bson_iter_as_int64(&it));
    }
    failed = mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
  }
  /* Each conversation with messages past the watermark. */
  typedef struct unread_entry {
    bson_t *conversation;
    int64_t count;
    char other[CHAT_ID_SIZE]; /* a 1-1's other participant, "" for a group */
  } unread_entry_t;
  unread_entry_t *found = calloc(n ? n : 1, sizeof *found);
  size_t found_count = 0;
  bson_t *opts = BCON_NEW("sort", "{", "lastMessageAt", BCON_INT32(-1), "}");
  cursor = failed || !found ? NULL
                            : mongoc_collection_find_with_opts(conversations, &in_mine, opts, NULL);
  while (cursor && !failed && found_count < n && mongoc_cursor_next(cursor, &doc)) {
    const char *id = doc_string(doc, "_id");
    bson_iter_t it, people;
    int64_t last_seq = bson_iter_init_find(&it, doc, "lastSeq") ? bson_iter_as_int64(&it) : 0;
    int64_t read_seq = id && bson_iter_init_find(&it, watermarks, id) ? bson_iter_as_int64(&it) : 0;
    if (!id || last_seq <= read_seq)
      continue;
    bson_t *unread =
        BCON_NEW("conversationId", BCON_UTF8(id), "seq", "{", "$gt", BCON_INT64(read_seq), "}",
                 "senderId", "{", "$ne", BCON_UTF8(job->user_id), "}", "deletedAt", BCON_NULL);
    int64_t count = mongoc_collection_count_documents(messages, unread, NULL, NULL, NULL, &error);
    bson_destroy(unread);
    failed = count < 0;
    if (count <= 0)
      continue;
    total += count;
    unread_entry_t *entry = &found[found_count++];
    entry->conversation = bson_copy(doc);
    entry->count = count;
    const char *kind = doc_string(doc, "kind");
    if (kind && strcmp(kind, "direct") == 0 && bson_iter_init_find(&it, doc, "participants") &&
        BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &people)) {
      while (bson_iter_next(&people)) {
        if (BSON_ITER_HOLDS_UTF8(&people) &&
            strcmp(bson_iter_utf8(&people, NULL), job->user_id) != 0)
          snprintf(entry->other, sizeof entry->other, "%s", bson_iter_utf8(&people, NULL));
      }
    }
    names_want(&names, entry->other[0] ? entry->other : NULL);
  }
  if (cursor) {
    failed = failed || mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
  }
  if (!failed && details)
    failed = !names_load(&names, users, &error);
  if (failed || !found) {
    fail_store(job, &error);
  } else if (!details) {
    job->data = bson_string_new(NULL);
    bson_string_append_printf(job->data, "{\"count\":%lld", (long long)total);
    job->status = 200;
  } else {
    job->data = bson_string_new("{\"conversations\":[");
    for (size_t i = 0; i < found_count; i++) {
      const bson_t *c = found[i].conversation;
      bson_string_append(job->data, i ? ",{\"conversationId\":" : "{\"conversationId\":");
      append_field(job->data, c, "_id");
      bson_string_append_printf(job->data,
                                ",\"unreadCount\":%lld,\"kind\":", (long long)found[i].count);
      append_field(job->data, c, "kind");
      bson_string_append(job->data, ",\"name\":");
      append_field(job->data, c, "name");
      bson_string_append(job->data, ",\"last_message\":");
      append_field(job->data, c, "lastMessage");
      bson_string_append(job->data, ",\"last_message_at\":");
      append_field(job->data, c, "lastMessageAt");
      bson_string_append(job->data, ",\"otherUser\":");
      append_user(job->data, &names, found[i].other[0] ? found[i].other : NULL);
      bson_string_append_c(job->data, '}');
    }
    bson_string_append_printf(job->data, "],\"total\":%lld", (long long)total);
    job->status = 200;
  }
  for (size_t i = 0; i < found_count; i++)
    bson_destroy(found[i].conversation);
  free(found);
  bson_destroy(opts);
  bson_destroy(watermarks);
  names_free(&names);
  bson_destroy(&in_mine);
  bson_destroy(mine);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(messages);
  mongoc_collection_destroy(conversations);
  mongoc_collection_destroy(members);
  mongoc_collection_destroy(states);
  chat_mongo_release(mongo, client);
}

static void unread_total(void *arg) { count_unread(arg, false); }
static void unread_by_conversation(void *arg) { count_unread(arg, true); }

static bool read_nothing(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params, chat_job_t *job) {
  (void)gw, (void)request, (void)params, (void)job;
  return true;
}

void rest_unread_count(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params) {
  start(gw, request, params, read_nothing, unread_total);
}

void rest_unread(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params) {
  start(gw, request, params, read_nothing, unread_by_conversation);
}

/* ---- GET /api/chat/conversations/:id/search?q= (seed 004) ---- */

/* Escapes every ASCII punctuation character of term with a backslash, so
 * that it matches as plain text in MongoDB's and FerretDB's regex
 * dialects alike (both take \ + punctuation as that character). */
static void regex_escape(bson_string_t *out, const char *term) {
  for (const char *p = term; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    if ((ch >= '!' && ch <= '/') || (ch >= ':' && ch <= '@') || (ch >= '[' && ch <= '`') ||
        (ch >= '{' && ch <= '~'))
      bson_string_append_c(out, '\\');
    bson_string_append_c(out, (char)ch);
  }
}

static void search_messages(void *arg) {
  chat_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  if (!check_member(job, client)) {
    chat_mongo_release(mongo, client);
    return;
  }
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_string_t *pattern = bson_string_new(NULL);
  regex_escape(pattern, job->term);
  bson_t *filter =
      BCON_NEW("conversationId", BCON_UTF8(job->conversation_id), "deletedAt", BCON_NULL, "content",
               "{", "$regex", BCON_UTF8(pattern->str), "$options", BCON_UTF8("i"), "}");
  bson_error_t error;
  names_t names = {0};
  bson_t **docs = calloc((size_t)job->limit, sizeof *docs);
  size_t n = 0;
  read_view_t view;
  int64_t total = mongoc_collection_count_documents(messages, filter, NULL, NULL, NULL, &error);
  if (total >= 0 && docs) {
    bson_t *opts =
        BCON_NEW("sort", "{", "seq", BCON_INT32(-1), "}", "skip",
                 BCON_INT64((job->page - 1) * job->limit), "limit", BCON_INT64(job->limit));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, filter, opts, NULL);
    const bson_t *doc;
    while (n < (size_t)job->limit && mongoc_cursor_next(cursor, &doc)) {
      docs[n++] = bson_copy(doc);
      names_want(&names, doc_string(doc, "senderId"));
      names_want(&names, doc_string(doc, "receiverId"));
    }
    if (mongoc_cursor_error(cursor, &error))
      total = -1;
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
  }
  if (total < 0 || !docs || !names_load(&names, users, &error) ||
      !load_read_view(job, client, &view, &error)) {
    fail_store(job, &error);
  } else {
    job->data = bson_string_new("{\"conversationId\":");
    chat_json_append_string(job->data, job->conversation_id, CHAT_ID_LEN);
    bson_string_append(job->data, ",\"query\":");
    chat_json_append_string(job->data, job->term, strlen(job->term));
    bson_string_append(job->data, ",\"messages\":[");
    for (size_t i = 0; i < n; i++) {
      if (i)
        bson_string_append_c(job->data, ',');
      append_message(job->data, docs[i], &names, &view, job->user_id);
    }
    bson_string_append_printf(job->data, "],\"total\":%lld,\"page\":%lld,\"totalPages\":%lld",
                              (long long)total, (long long)job->page,
                              (long long)((total + job->limit - 1) / job->limit));
    job->status = 200;
  }
  for (size_t i = 0; i < n; i++)
    bson_destroy(docs[i]);
  free(docs);
  names_free(&names);
  bson_destroy(filter);
  bson_string_free(pattern, true);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(messages);
  chat_mongo_release(mongo, client);
}

static bool read_search_args(gateway_t *gw, const chat_http_request_t *request,
                             const rest_params_t *params, chat_job_t *job) {
  if (!read_messages_args(gw, request, params, job))
    return false;
  chat_query_result_t found;
  if (!rest_query_text(gw, request, "q", job->term, sizeof job->term, &found))
    return false;
  if (found != CHAT_QUERY_FOUND || !job->term[0]) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID,
                     "q is required: the text to look for, 1 to 200 bytes");
    return false;
  }
  return true;
}

void rest_search_messages(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params) {
  start(gw, request, params, read_search_args, search_messages);
}

/* ---- GET /api/chat/conversations/:id/members (seed 001) ---- */

static void list_members(void *arg) {
  chat_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  if (!check_member(job, client)) {
    chat_mongo_release(mongo, client);
    return;
  }
  mongoc_collection_t *members = chat_mongo_collection(mongo, client, "members");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  mongoc_collection_t *presence = chat_mongo_collection(mongo, client, "presence");
  bson_t *filter = BCON_NEW("conversationId", BCON_UTF8(job->conversation_id));
  bson_t *opts =
      BCON_NEW("sort", "{", "joinedAt", BCON_INT32(1), "}", "limit", BCON_INT64(MEMBERSHIPS_MAX));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(members, filter, opts, NULL);
  bson_t *found = bson_new();
  names_t names = {0};
  const bson_t *doc;
  bson_error_t error;
  uint32_t n = 0;
  while (mongoc_cursor_next(cursor, &doc)) {
    char key[16];
    const char *key_str;
    bson_uint32_to_string(n++, &key_str, key, sizeof key);
    BSON_APPEND_DOCUMENT(found, key_str, doc);
    names_want(&names, doc_string(doc, "userId"));
  }
  bool failed = mongoc_cursor_error(cursor, &error) || !names_load(&names, users, &error) ||
                !names_load_presence(&names, presence, &error);
  mongoc_cursor_destroy(cursor);
  if (failed) {
    fail_store(job, &error);
  } else {
    bson_iter_t it;
    job->data = bson_string_new("{\"conversationId\":");
    chat_json_append_string(job->data, job->conversation_id, CHAT_ID_LEN);
    bson_string_append(job->data, ",\"members\":[");
    bool first = true;
    bson_iter_init(&it, found);
    while (bson_iter_next(&it)) {
      bson_t member;
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&it, &len, &data);
      if (!bson_init_static(&member, data, len))
        continue;
      const char *id = doc_string(&member, "userId");
      if (!id)
        continue;
      if (!first)
        bson_string_append_c(job->data, ',');
      first = false;
      /* {"id","username","isOnline"} then the role and when they joined. */
      bson_string_t *user = bson_string_new(NULL);
      append_user(user, &names, id);
      bson_string_append_printf(job->data, "%.*s", (int)(user->len - 1), user->str);
      bson_string_free(user, true);
      bson_string_append(job->data, ",\"role\":");
      append_field(job->data, &member, "role");
      bson_string_append(job->data, ",\"joinedAt\":");
      append_field(job->data, &member, "joinedAt");
      bson_string_append_c(job->data, '}');
    }
    bson_string_append_printf(job->data, "],\"total\":%u", n);
    job->status = 200;
  }
  names_free(&names);
  bson_destroy(found);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(presence);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(members);
  chat_mongo_release(mongo, client);
}

static bool read_conversation_id(gateway_t *gw, const chat_http_request_t *request,
                                 const rest_params_t *params, chat_job_t *job) {
  if (!chat_is_id(params->values[0])) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID,
                     "the conversation id must be 24 hex digits");
    return false;
  }
  memcpy(job->conversation_id, params->values[0], CHAT_ID_SIZE);
  return true;
}

void rest_list_members(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params) {
  start(gw, request, params, read_conversation_id, list_members);
}
