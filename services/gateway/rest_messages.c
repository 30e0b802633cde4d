/* The messages resource: a send (through Kafka, answered once
 * persistence has stored it), a page of a conversation's messages, and
 * search. */
#include "rest_messages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "rest_jobs.h"
#include "rest_reads.h"
#include "rest_request.h"
#include "produce.h"
#include "rest_command.h"
#include "send_request.h"

/* ---- POST /api/chat/send ---- */

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
  rest_command_t *call = rest_command_new(request->id, NULL, 201, "Message sent");
  chat_envelope_t env;
  err = call ? send_request_command(&req, claims.sub, chat_runtime_source(gw->rt), NULL,
                                    rest_command_correlation_id(call), &env)
             : CHAT_ERR_NOMEM;
  if (err == CHAT_OK)
    err = gateway_produce(gw, CHAT_TOPIC_COMMANDS, &env, req.conversation_id, 0);
  bson_destroy(&body);
  rest_command_wait(gw, request->id, call, err);
}

/* ---- GET /api/chat/conversations/:id/messages ---- */

static void list_messages(void *arg) {
  rest_read_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  if (rest_check_member(job, client))
    rest_read_messages(job, client, true);
  chat_mongo_release(mongo, client);
}


void rest_list_messages(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params) {
  rest_read_start(gw, request, params, rest_read_messages_args, list_messages);
}

/* ---- GET /api/chat/conversations/:id/search?q= ---- */

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
  rest_read_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  if (!rest_check_member(job, client)) {
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
  rest_names_t names = {0};
  bson_t **docs = calloc((size_t)job->limit, sizeof *docs);
  size_t n = 0;
  rest_read_view_t view;
  int64_t total = mongoc_collection_count_documents(messages, filter, NULL, NULL, NULL, &error);
  if (total >= 0 && docs) {
    bson_t *opts =
        BCON_NEW("sort", "{", "seq", BCON_INT32(-1), "}", "skip",
                 BCON_INT64((job->page - 1) * job->limit), "limit", BCON_INT64(job->limit));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, filter, opts, NULL);
    const bson_t *doc;
    while (n < (size_t)job->limit && mongoc_cursor_next(cursor, &doc)) {
      docs[n++] = bson_copy(doc);
      rest_names_want(&names, rest_doc_string(doc, "senderId"));
      rest_names_want(&names, rest_doc_string(doc, "receiverId"));
    }
    if (mongoc_cursor_error(cursor, &error))
      total = -1;
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
  }
  if (total < 0 || !docs || !rest_names_load(&names, users, &error) ||
      !rest_read_view_load(job, client, &view, &error)) {
    rest_job_fail_store(&job->base, &error);
  } else {
    job->base.data = bson_string_new("{\"conversationId\":");
    chat_json_append_string(job->base.data, job->conversation_id, CHAT_ID_LEN);
    bson_string_append(job->base.data, ",\"query\":");
    chat_json_append_string(job->base.data, job->term, strlen(job->term));
    bson_string_append(job->base.data, ",\"messages\":[");
    for (size_t i = 0; i < n; i++) {
      if (i)
        bson_string_append_c(job->base.data, ',');
      rest_append_message(job->base.data, docs[i], &names, &view, job->user_id);
    }
    bson_string_append_printf(job->base.data, "],\"total\":%lld,\"page\":%lld,\"totalPages\":%lld",
                              (long long)total, (long long)job->page,
                              (long long)((total + job->limit - 1) / job->limit));
    bson_string_append_c(job->base.data, '}');
    job->base.status = 200;
  }
  for (size_t i = 0; i < n; i++)
    bson_destroy(docs[i]);
  free(docs);
  rest_names_free(&names);
  bson_destroy(filter);
  bson_string_free(pattern, true);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(messages);
  chat_mongo_release(mongo, client);
}

static bool read_search_args(gateway_t *gw, const chat_http_request_t *request,
                             const rest_params_t *params, rest_read_job_t *job) {
  if (!rest_read_messages_args(gw, request, params, job))
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
  rest_read_start(gw, request, params, read_search_args, search_messages);
}

