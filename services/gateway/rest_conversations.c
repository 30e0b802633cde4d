/* The conversations resource: the caller's conversations, a 1-1
 * conversation's details by the other user, and a conversation's
 * members; and the messages of a 1-1 conversation by the other user. */
#include "rest_conversations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "rest_jobs.h"
#include "rest_reads.h"
#include "rest_request.h"

#define PARTICIPANTS_SHOWN 50 /* participant details per conversation */

/* ---- GET /api/chat/conversations ---- */

static void list_conversations(void *arg) {
  rest_read_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_error_t error;
  rest_names_t names = {0};
  bson_t **docs = NULL;
  size_t n = 0;

  /* The user's conversations by their participants, an equality on one
   * key: FerretDB 1.24 pushes it down (the participants GIN index of
   * deploy/ferretdb/gin-indexes.sql) and MongoDB serves it and the sort
   * from participant_last_message_at. The former {_id: {$in: [the user's
   * memberships]}} made PostgreSQL read every conversation (docs/queries.md). */
  bson_t mine = BSON_INITIALIZER;
  const bson_t *doc;
  bool failed = false;
  BSON_APPEND_UTF8(&mine, "participants", job->user_id);
  BSON_APPEND_NULL(&mine, "deletedAt");
  int64_t total = mongoc_collection_count_documents(conversations, &mine, NULL, NULL, NULL, &error);
  if (total < 0) {
    rest_job_fail_store(&job->base, &error);
    goto out;
  }
  /* Newest activity first; a conversation with no message yet by its creation. */
  bson_t *opts =
      BCON_NEW("sort", "{", "lastMessageAt", BCON_INT32(-1), "createdAt", BCON_INT32(-1), "}",
               "skip", BCON_INT64((job->page - 1) * job->limit), "limit", BCON_INT64(job->limit));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(conversations, &mine, opts, NULL);
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
          rest_names_want(&names, bson_iter_utf8(&people, NULL));
    }
  }
  mongoc_collection_t *presence = chat_mongo_collection(mongo, client, "presence");
  bool loaded = !failed && docs && rest_names_load(&names, users, &error) &&
                rest_names_load_presence(&names, presence, &error);
  mongoc_collection_destroy(presence);
  if (!loaded) {
    rest_job_fail_store(&job->base, &error);
    goto out;
  }
  job->base.data = bson_string_new("{\"conversations\":[");
  for (size_t i = 0; i < n; i++) {
    const bson_t *c = docs[i];
    bson_iter_t it, people;
    const char *participant[2] = {NULL, NULL};
    bson_string_append(job->base.data, i ? ",{\"id\":" : "{\"id\":");
    rest_append_field(job->base.data, c, "_id");
    bson_string_append(job->base.data, ",\"kind\":");
    rest_append_field(job->base.data, c, "kind");
    bson_string_append(job->base.data, ",\"name\":");
    rest_append_field(job->base.data, c, "name");
    bson_string_append(job->base.data, ",\"ownerId\":");
    rest_append_field(job->base.data, c, "ownerId");
    bson_string_append(job->base.data, ",\"participants\":[");
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
          bson_string_append_c(job->base.data, ',');
        rest_append_user(job->base.data, &names, id);
      }
    }
    /* The two-participant fields that 1-1 clients read. */
    bson_string_append(job->base.data, "],\"participant_1_id\":");
    for (int p = 0; p < 2; p++) {
      if (p)
        bson_string_append(job->base.data, ",\"participant_2_id\":");
      if (participant[p])
        chat_json_append_string(job->base.data, participant[p], strlen(participant[p]));
      else
        bson_string_append(job->base.data, "null");
    }
    bson_string_append(job->base.data, ",\"participant1\":");
    rest_append_user(job->base.data, &names, participant[0]);
    bson_string_append(job->base.data, ",\"participant2\":");
    rest_append_user(job->base.data, &names, participant[1]);
    bson_string_append(job->base.data, ",\"last_message\":");
    rest_append_field(job->base.data, c, "lastMessage");
    bson_string_append(job->base.data, ",\"last_message_at\":");
    rest_append_field(job->base.data, c, "lastMessageAt");
    bson_string_append(job->base.data, ",\"lastSeq\":");
    rest_append_field(job->base.data, c, "lastSeq");
    bson_string_append(job->base.data, ",\"createdAt\":");
    rest_append_field(job->base.data, c, "createdAt");
    bson_string_append_c(job->base.data, '}');
  }
  bson_string_append_printf(job->base.data, "],\"total\":%lld,\"page\":%lld,\"totalPages\":%lld",
                            (long long)total, (long long)job->page,
                            (long long)((total + job->limit - 1) / job->limit));
  bson_string_append_c(job->base.data, '}');
  job->base.status = 200;
out:
  for (size_t i = 0; i < n; i++)
    bson_destroy(docs[i]);
  free(docs);
  rest_names_free(&names);
  bson_destroy(&mine);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(conversations);
  chat_mongo_release(mongo, client);
}

static bool read_conversations_args(gateway_t *gw, const chat_http_request_t *request,
                                    const rest_params_t *params, rest_read_job_t *job) {
  (void)params;
  return rest_read_paging(gw, request, job, 20);
}

void rest_list_conversations(gateway_t *gw, const chat_http_request_t *request,
                             const rest_params_t *params) {
  rest_read_start(gw, request, params, read_conversations_args, list_conversations);
}

/* ---- the 1-1 routes: /api/v1/chat/convo/one-to-one ---- */

/* Reads otherUserId and derives the pair's conversation id into job. */
static bool read_other_user(gateway_t *gw, const chat_http_request_t *request,
                            const rest_params_t *params, rest_read_job_t *job) {
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
  rest_read_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_error_t error;
  bson_t empty = BSON_INITIALIZER;
  rest_names_t names = {0};
  rest_names_want(&names, job->user_id);
  rest_names_want(&names, job->other_id);
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(job->conversation_id));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(conversations, filter, NULL, NULL);
  const bson_t *found = NULL;
  bool exists = mongoc_cursor_next(cursor, &found);
  mongoc_collection_t *presence = chat_mongo_collection(mongo, client, "presence");
  bool failed = mongoc_cursor_error(cursor, &error) || !rest_names_load(&names, users, &error) ||
                !rest_names_load_presence(&names, presence, &error);
  mongoc_collection_destroy(presence);
  if (failed) {
    rest_job_fail_store(&job->base, &error);
  } else if (!names.usernames[1]) {
    rest_job_fail(&job->base, 404, CHAT_ERR_NOT_FOUND, "no user with this otherUserId");
  } else {
    /* Before the first message the conversation does not exist yet; its id
     * is already known, and the first send_message to it creates it. */
    job->base.data = bson_string_new("{\"conversation\":{\"id\":");
    chat_json_append_string(job->base.data, job->conversation_id, CHAT_ID_LEN);
    bson_string_append_printf(job->base.data,
                              ",\"kind\":\"direct\",\"exists\":%s,\"participants\":[",
                              exists ? "true" : "false");
    rest_append_user(job->base.data, &names, job->user_id);
    bson_string_append_c(job->base.data, ',');
    rest_append_user(job->base.data, &names, job->other_id);
    bson_string_append(job->base.data, "],\"last_message\":");
    rest_append_field(job->base.data, exists ? found : &empty, "lastMessage");
    bson_string_append(job->base.data, ",\"last_message_at\":");
    rest_append_field(job->base.data, exists ? found : &empty, "lastMessageAt");
    bson_string_append(job->base.data, ",\"lastSeq\":");
    if (exists)
      rest_append_field(job->base.data, found, "lastSeq");
    else
      bson_string_append(job->base.data, "0");
    bson_string_append(job->base.data, ",\"createdAt\":");
    rest_append_field(job->base.data, exists ? found : &empty, "createdAt");
    bson_string_append(job->base.data, "},\"otherUser\":");
    rest_append_user(job->base.data, &names, job->other_id);
    bson_string_append_c(job->base.data, '}');
    job->base.status = 200;
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  rest_names_free(&names);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(conversations);
  chat_mongo_release(mongo, client);
}

void rest_direct_details(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params) {
  rest_read_start(gw, request, params, read_other_user, direct_details);
}

static void direct_messages(void *arg) {
  rest_read_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  /* The pair's conversation: the caller is a member by construction. */
  job->before = job->from;
  job->page = 1;
  rest_read_messages(job, client, false);
  chat_mongo_release(mongo, client);
}

static bool read_direct_messages_args(gateway_t *gw, const chat_http_request_t *request,
                                      const rest_params_t *params, rest_read_job_t *job) {
  return read_other_user(gw, request, params, job) &&
         rest_query_int(gw, request, "from", 0, 1, INT64_MAX, &job->from) &&
         rest_query_int(gw, request, "limit", 10, 1, REST_PAGE_LIMIT_MAX, &job->limit);
}

void rest_direct_messages(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params) {
  rest_read_start(gw, request, params, read_direct_messages_args, direct_messages);
}

/* ---- GET /api/chat/conversations/:id/members ---- */

static void list_members(void *arg) {
  rest_read_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  if (!rest_check_member(job, client)) {
    chat_mongo_release(mongo, client);
    return;
  }
  mongoc_collection_t *members = chat_mongo_collection(mongo, client, "members");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  mongoc_collection_t *presence = chat_mongo_collection(mongo, client, "presence");
  bson_t *filter = BCON_NEW("conversationId", BCON_UTF8(job->conversation_id));
  bson_t *opts = BCON_NEW("sort", "{", "joinedAt", BCON_INT32(1), "}", "limit",
                          BCON_INT64(REST_MEMBERSHIPS_MAX));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(members, filter, opts, NULL);
  bson_t *found = bson_new();
  rest_names_t names = {0};
  const bson_t *doc;
  bson_error_t error;
  uint32_t n = 0;
  while (mongoc_cursor_next(cursor, &doc)) {
    char key[16];
    const char *key_str;
    bson_uint32_to_string(n++, &key_str, key, sizeof key);
    BSON_APPEND_DOCUMENT(found, key_str, doc);
    rest_names_want(&names, rest_doc_string(doc, "userId"));
  }
  bool failed = mongoc_cursor_error(cursor, &error) || !rest_names_load(&names, users, &error) ||
                !rest_names_load_presence(&names, presence, &error);
  mongoc_cursor_destroy(cursor);
  if (failed) {
    rest_job_fail_store(&job->base, &error);
  } else {
    bson_iter_t it;
    job->base.data = bson_string_new("{\"conversationId\":");
    chat_json_append_string(job->base.data, job->conversation_id, CHAT_ID_LEN);
    bson_string_append(job->base.data, ",\"members\":[");
    bool first = true;
    bson_iter_init(&it, found);
    while (bson_iter_next(&it)) {
      bson_t member;
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&it, &len, &data);
      if (!bson_init_static(&member, data, len))
        continue;
      const char *id = rest_doc_string(&member, "userId");
      if (!id)
        continue;
      if (!first)
        bson_string_append_c(job->base.data, ',');
      first = false;
      /* {"id","username","isOnline"} then the role and when they joined. */
      bson_string_t *user = bson_string_new(NULL);
      rest_append_user(user, &names, id);
      bson_string_append_printf(job->base.data, "%.*s", (int)(user->len - 1), user->str);
      bson_string_free(user, true);
      bson_string_append(job->base.data, ",\"role\":");
      rest_append_field(job->base.data, &member, "role");
      bson_string_append(job->base.data, ",\"joinedAt\":");
      rest_append_field(job->base.data, &member, "joinedAt");
      bson_string_append_c(job->base.data, '}');
    }
    bson_string_append_printf(job->base.data, "],\"total\":%u", n);
    bson_string_append_c(job->base.data, '}');
    job->base.status = 200;
  }
  rest_names_free(&names);
  bson_destroy(found);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(presence);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(members);
  chat_mongo_release(mongo, client);
}


void rest_list_members(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params) {
  rest_read_start(gw, request, params, rest_read_conversation_id, list_members);
}

