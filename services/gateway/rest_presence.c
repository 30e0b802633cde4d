/* GET /api/users/:id/presence: whether a user is online and when they
 * were last seen, from the presence service's collection. */
#include "rest_presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "rest_jobs.h"
#include "rest_reads.h"
#include "rest_request.h"

/* ---- GET /api/users/:id/presence ---- */

static void user_presence(void *arg) {
  rest_read_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  mongoc_collection_t *presence = chat_mongo_collection(mongo, client, "presence");
  bson_error_t error;
  rest_names_t names = {0};
  rest_names_want(&names, job->other_id);
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(job->other_id));
  mongoc_cursor_t *cursor = NULL;
  const bson_t *doc = NULL;
  if (!rest_names_load(&names, users, &error)) {
    rest_job_fail_store(&job->base, &error);
  } else if (!names.usernames[0]) {
    rest_job_fail(&job->base, 404, CHAT_ERR_NOT_FOUND, "no such user");
  } else {
    cursor = mongoc_collection_find_with_opts(presence, filter, NULL, NULL);
    bool seen = mongoc_cursor_next(cursor, &doc);
    if (mongoc_cursor_error(cursor, &error)) {
      rest_job_fail_store(&job->base, &error);
    } else {
      bson_iter_t it;
      bool online = seen && bson_iter_init_find(&it, doc, "online") && bson_iter_as_bool(&it);
      job->base.data = bson_string_new("{\"userId\":");
      chat_json_append_string(job->base.data, job->other_id, strlen(job->other_id));
      bson_string_append_printf(job->base.data,
                                ",\"online\":%s,\"lastSeen\":", online ? "true" : "false");
      if (seen)
        rest_append_field(job->base.data, doc, "lastSeen");
      else
        bson_string_append(job->base.data, "null");
      bson_string_append_c(job->base.data, '}');
      job->base.status = 200;
    }
  }
  if (cursor)
    mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  rest_names_free(&names);
  mongoc_collection_destroy(presence);
  mongoc_collection_destroy(users);
  chat_mongo_release(mongo, client);
}

static bool read_user_id(gateway_t *gw, const chat_http_request_t *request,
                         const rest_params_t *params, rest_read_job_t *job) {
  if (!chat_is_id(params->values[0])) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID, "the user id must be 24 hex digits");
    return false;
  }
  memcpy(job->other_id, params->values[0], CHAT_ID_SIZE);
  return true;
}

void rest_user_presence(gateway_t *gw, const chat_http_request_t *request,
                        const rest_params_t *params) {
  rest_read_start(gw, request, params, read_user_id, user_presence);
}

