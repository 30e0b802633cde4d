/* What the caller has read: marking a conversation read (a command to
 * the receipts service) and the unread counts. */
#include "rest_unread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "rest_jobs.h"
#include "rest_reads.h"
#include "rest_request.h"
#include "mark_read.h"
#include "rest_command.h"

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
  rest_command_t *call = rest_command_new(request->id, NULL, 200, "Messages marked as read");
  chat_err_t err = call ? gateway_mark_conversation_read(gw, claims.sub, params->values[0], NULL,
                                                         rest_command_correlation_id(call))
                        : CHAT_ERR_NOMEM;
  rest_command_wait(gw, request->id, call, err);
}

/* ---- GET /api/chat/unread-count and GET /api/chat/unread ---- */

/* Unread messages of the user's conversations: those after their
 * watermark, sent by others, not deleted. Into job->base.data: with details
 * ({"conversations":[...]}) or just the total ({"count":n}). */
static void count_unread(rest_read_job_t *job, bool details) {
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *states = chat_mongo_collection(mongo, client, "read_states");
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_error_t error;
  bson_t *mine = BCON_NEW("userId", BCON_UTF8(job->user_id));
  bson_t in_mine = BSON_INITIALIZER;
  rest_names_t names = {0};
  int64_t total = 0;
  bool failed = false;
  const bson_t *doc;
  mongoc_cursor_t *cursor;
  /* The user's conversations by their participants, as in
   * list_conversations (an equality FerretDB pushes down, not a $in over
   * the user's memberships); at most REST_MEMBERSHIPS_MAX of them. */
  BSON_APPEND_UTF8(&in_mine, "participants", job->user_id);
  BSON_APPEND_NULL(&in_mine, "deletedAt");
  /* Their watermarks. */
  bson_t *watermarks = bson_new();
  cursor = mongoc_collection_find_with_opts(states, mine, NULL, NULL);
  while (mongoc_cursor_next(cursor, &doc)) {
    const char *id = rest_doc_string(doc, "conversationId");
    bson_iter_t it;
    if (id && bson_iter_init_find(&it, doc, "lastReadSeq"))
      BSON_APPEND_INT64(watermarks, id, bson_iter_as_int64(&it));
  }
  failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  /* Each conversation with messages past the watermark. */
  typedef struct unread_entry {
    bson_t *conversation;
    int64_t count;
    char other[CHAT_ID_SIZE]; /* a 1-1's other participant, "" for a group */
  } unread_entry_t;
  size_t found_count = 0, found_cap = 16;
  unread_entry_t *found = calloc(found_cap, sizeof *found);
  bson_t *opts = BCON_NEW("sort", "{", "lastMessageAt", BCON_INT32(-1), "}", "limit",
                          BCON_INT64(REST_MEMBERSHIPS_MAX));
  cursor = failed || !found ? NULL
                            : mongoc_collection_find_with_opts(conversations, &in_mine, opts, NULL);
  while (cursor && !failed && mongoc_cursor_next(cursor, &doc)) {
    const char *id = rest_doc_string(doc, "_id");
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
    if (found_count == found_cap) {
      unread_entry_t *grown = realloc(found, 2 * found_cap * sizeof *found);
      if (!grown) {
        failed = true;
        break;
      }
      found = grown;
      found_cap *= 2;
    }
    total += count;
    unread_entry_t *entry = &found[found_count++];
    memset(entry, 0, sizeof *entry);
    entry->conversation = bson_copy(doc);
    entry->count = count;
    const char *kind = rest_doc_string(doc, "kind");
    if (kind && strcmp(kind, "direct") == 0 && bson_iter_init_find(&it, doc, "participants") &&
        BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &people)) {
      while (bson_iter_next(&people)) {
        if (BSON_ITER_HOLDS_UTF8(&people) &&
            strcmp(bson_iter_utf8(&people, NULL), job->user_id) != 0)
          snprintf(entry->other, sizeof entry->other, "%s", bson_iter_utf8(&people, NULL));
      }
    }
    rest_names_want(&names, entry->other[0] ? entry->other : NULL);
  }
  if (cursor) {
    failed = failed || mongoc_cursor_error(cursor, &error);
    mongoc_cursor_destroy(cursor);
  }
  if (!failed && details)
    failed = !rest_names_load(&names, users, &error);
  if (failed || !found) {
    rest_job_fail_store(&job->base, &error);
  } else if (!details) {
    job->base.data = bson_string_new(NULL);
    bson_string_append_printf(job->base.data, "{\"count\":%lld", (long long)total);
    bson_string_append_c(job->base.data, '}');
    job->base.status = 200;
  } else {
    job->base.data = bson_string_new("{\"conversations\":[");
    for (size_t i = 0; i < found_count; i++) {
      const bson_t *c = found[i].conversation;
      bson_string_append(job->base.data, i ? ",{\"conversationId\":" : "{\"conversationId\":");
      rest_append_field(job->base.data, c, "_id");
      bson_string_append_printf(job->base.data,
                                ",\"unreadCount\":%lld,\"kind\":", (long long)found[i].count);
      rest_append_field(job->base.data, c, "kind");
      bson_string_append(job->base.data, ",\"name\":");
      rest_append_field(job->base.data, c, "name");
      bson_string_append(job->base.data, ",\"last_message\":");
      rest_append_field(job->base.data, c, "lastMessage");
      bson_string_append(job->base.data, ",\"last_message_at\":");
      rest_append_field(job->base.data, c, "lastMessageAt");
      bson_string_append(job->base.data, ",\"otherUser\":");
      rest_append_user(job->base.data, &names, found[i].other[0] ? found[i].other : NULL);
      bson_string_append_c(job->base.data, '}');
    }
    bson_string_append_printf(job->base.data, "],\"total\":%lld", (long long)total);
    bson_string_append_c(job->base.data, '}');
    job->base.status = 200;
  }
  for (size_t i = 0; i < found_count; i++)
    bson_destroy(found[i].conversation);
  free(found);
  bson_destroy(opts);
  bson_destroy(watermarks);
  rest_names_free(&names);
  bson_destroy(&in_mine);
  bson_destroy(mine);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(messages);
  mongoc_collection_destroy(conversations);
  mongoc_collection_destroy(states);
  chat_mongo_release(mongo, client);
}

static void unread_total(void *arg) { count_unread(arg, false); }
static void unread_by_conversation(void *arg) { count_unread(arg, true); }

static bool read_nothing(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params, rest_read_job_t *job) {
  (void)gw, (void)request, (void)params, (void)job;
  return true;
}

void rest_unread_count(gateway_t *gw, const chat_http_request_t *request,
                       const rest_params_t *params) {
  rest_read_start(gw, request, params, read_nothing, unread_total);
}

void rest_unread(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params) {
  rest_read_start(gw, request, params, read_nothing, unread_by_conversation);
}

