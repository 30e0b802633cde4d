/* POST /api/auth/register, POST /api/auth/login, GET /api/users.
 *
 * Registration goes through Kafka: the gateway never writes MongoDB. It
 * hashes the password with argon2id on a worker, produces user.register
 * with a correlation id, and answers the HTTP call when persistence's
 * command.result for that id comes back on chat.broadcast, or with 504
 * after REGISTER_TIMEOUT_MS. Login and the user list read MongoDB on a
 * worker. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/envelope.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/jwt.h"
#include "chat/log.h"
#include "chat/topics.h"
#include "rest_accounts.h"
#include "rest_jobs.h"
#include "rest_pending.h"
#include "rest_request.h"

#define REGISTER_TIMEOUT_MS 10000 /* persistence must confirm within this */
#define TOKEN_TTL_S (24 * 3600)   /* lifetime of the tokens handed out */
#define USERS_LIST_MAX 1000 /* GET /api/users returns at most this many */

/* A registration waiting for persistence's command.result (rest_pending.c). */
typedef struct pending_registration {
  uint64_t request_id;
  char user_id[25];
  char username[CHAT_USERNAME_MAX + 1];
} pending_registration_t;

typedef struct account_job {
  rest_job_t base; /* first: the engine's part */
  char username[CHAT_USERNAME_MAX + 1];
  char password[CHAT_PASSWORD_MAX + 1];
  char hash[crypto_pwhash_STRBYTES];
  char user_id[25];
} account_job_t;

static bool valid_username(const char *name, size_t len) {
  if (len < CHAT_USERNAME_MIN || len > CHAT_USERNAME_MAX)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  }
  return true;
}

/* Reads {"username","password"} from the body into job, or answers 400
 * with what is wrong and returns false. */
static bool read_credentials(gateway_t *gw, const chat_http_request_t *request,
                             account_job_t *job) {
  bson_t body;
  bson_iter_t it;
  char why[160];
  if (chat_json_parse((const char *)request->body, request->body_len, 64 * 1024, &body, why,
                      sizeof why) != CHAT_OK) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_JSON,
                     "the body must be a JSON object {\"username\", \"password\"}");
    return false;
  }
  const char *problem = NULL;
  uint32_t len = 0;
  const char *value = NULL;
  if (!bson_iter_init_find(&it, &body, "username") || !BSON_ITER_HOLDS_UTF8(&it))
    problem = "username is required and must be a string";
  else if (value = bson_iter_utf8(&it, &len), !valid_username(value, len))
    problem = "username must be 3 to 32 letters, digits, '_', '.' or '-'";
  else
    memcpy(job->username, value, len + 1);
  if (!problem) {
    if (!bson_iter_init_find(&it, &body, "password") || !BSON_ITER_HOLDS_UTF8(&it))
      problem = "password is required and must be a string";
    else if (value = bson_iter_utf8(&it, &len),
             len < CHAT_PASSWORD_MIN || len > CHAT_PASSWORD_MAX || memchr(value, '\0', len))
      problem = "password must be 8 to 128 bytes long";
    else
      memcpy(job->password, value, len + 1);
  }
  bson_destroy(&body);
  if (problem) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_SCHEMA, problem);
    return false;
  }
  return true;
}

/* The password never outlives the job. */
static void wipe_password(rest_job_t *job) {
  account_job_t *account = (account_job_t *)job;
  sodium_memzero(account->password, sizeof account->password);
}

static account_job_t *new_job(gateway_t *gw, const chat_http_request_t *request) {
  account_job_t *job = rest_job_new(gw, request->id, sizeof *job);
  if (job)
    job->base.cleanup = wipe_password;
  return job;
}

static void submit(account_job_t *job, void (*work)(void *), void (*done)(void *)) {
  rest_job_submit(&job->base, work, done, "too many account requests at once, try again");
}

/* The answer of register and login: the user and a fresh token. */
static bson_string_t *user_with_token(gateway_t *gw, const char *user_id, const char *username) {
  char *token = NULL;
  if (chat_jwt_sign(chat_runtime_config(gw->rt)->jwt_secret, user_id, (int64_t)time(NULL),
                    TOKEN_TTL_S, &token) != CHAT_OK)
    return NULL;
  bson_string_t *data = bson_string_new("{\"user\":{\"id\":\"");
  bson_string_append(data, user_id);
  bson_string_append(data, "\",\"username\":");
  chat_json_append_string(data, username, strlen(username));
  bson_string_append(data, "},\"token\":\"");
  bson_string_append(data, token);
  bson_string_append(data, "\"}");
  free(token);
  return data;
}

/* ---- register ---- */

static void hash_password(void *arg) {
  account_job_t *job = arg;
  job->base.err = crypto_pwhash_str(job->hash, job->password, strlen(job->password),
                                    crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0
                      ? CHAT_ERR_NOMEM
                      : CHAT_OK;
  sodium_memzero(job->password, sizeof job->password);
}

/* persistence's answer to a user.register, or its absence. */
static void on_register_result(gateway_t *gw, void *ctx, const char *value, size_t value_len,
                               bool stopping) {
  pending_registration_t *pending = ctx;
  bson_t result;
  bson_iter_t it, code;
  if (stopping) {
    rest_reply_error(gw, pending->request_id, 503, CHAT_ERR_STOPPED,
                     "the gateway is shutting down; try logging in, then again");
  } else if (!value) {
    CHAT_LOG(CHAT_LOG_WARN, "registration of '%s' not confirmed within %d ms", pending->username,
             REGISTER_TIMEOUT_MS);
    rest_reply_error(gw, pending->request_id, 504, CHAT_ERR_TIMEOUT,
                     "registration not confirmed in time; try logging in, then again");
  } else if (chat_json_parse(value, value_len, 64 * 1024, &result, NULL, 0) != CHAT_OK) {
    rest_reply_error(gw, pending->request_id, 500, CHAT_ERR_INTERNAL, "registration failed");
  } else {
    bool ok =
        bson_iter_init_find(&it, &result, "ok") && BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
    bool duplicate = !ok && bson_iter_init(&it, &result) &&
                     bson_iter_find_descendant(&it, "error.code", &code) &&
                     BSON_ITER_HOLDS_UTF8(&code) &&
                     strcmp(bson_iter_utf8(&code, NULL), chat_err_code(CHAT_ERR_DUPLICATE)) == 0;
    bson_destroy(&result);
    bson_string_t *data = ok ? user_with_token(gw, pending->user_id, pending->username) : NULL;
    if (data) {
      rest_reply_data(gw, pending->request_id, 201, data->str);
      bson_string_free(data, true);
    } else if (ok) {
      rest_reply_error(gw, pending->request_id, 500, CHAT_ERR_INTERNAL, "cannot sign a token");
    } else if (duplicate) {
      char message[96];
      snprintf(message, sizeof message, "username '%s' is taken", pending->username);
      rest_reply_error(gw, pending->request_id, 409, CHAT_ERR_DUPLICATE, message);
    } else {
      rest_reply_error(gw, pending->request_id, 500, CHAT_ERR_INTERNAL, "registration failed");
    }
  }
  free(pending);
}

static void send_register_command(void *arg) {
  account_job_t *job = arg;
  gateway_t *gw = job->base.gw;
  chat_envelope_t env;
  bson_string_t *value = NULL;
  bson_oid_t oid;
  char topic[CHAT_TOPIC_NAME_MAX];
  pending_registration_t *pending = NULL;

  if (job->base.err != CHAT_OK) {
    rest_reply_error(gw, job->base.request_id, 503, job->base.err, "cannot hash the password now");
    goto out;
  }
  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, job->user_id);
  if (chat_envelope_init(&env, "user.register", chat_runtime_source(gw->rt), NULL) != CHAT_OK)
    goto fail;
  /* The envelope's own id is unique: it serves as the correlation id. */
  snprintf(env.correlation_id, sizeof env.correlation_id, "%s", env.id);
  BSON_APPEND_UTF8(&env.payload, "userId", job->user_id);
  BSON_APPEND_UTF8(&env.payload, "username", job->username);
  BSON_APPEND_UTF8(&env.payload, "passwordHash", job->hash);
  value = bson_string_new(NULL);
  chat_err_t err = chat_envelope_encode(&env, value);
  pending = calloc(1, sizeof *pending);
  if (err != CHAT_OK || !pending) {
    chat_envelope_cleanup(&env);
    goto fail;
  }
  char correlation_id[CHAT_ENVELOPE_CORRELATION_MAX];
  snprintf(correlation_id, sizeof correlation_id, "%s", env.correlation_id);
  chat_envelope_cleanup(&env);
  pending->request_id = job->base.request_id;
  memcpy(pending->user_id, job->user_id, sizeof pending->user_id);
  memcpy(pending->username, job->username, sizeof pending->username);
  chat_topic_name(chat_runtime_config(gw->rt)->topic_prefix, CHAT_TOPIC_COMMANDS, topic,
                  sizeof topic);
  err = chat_producer_produce(chat_runtime_producer(gw->rt), topic, job->username,
                              strlen(job->username), value->str, value->len, NULL, 0, 0);
  if (err != CHAT_OK) {
    rest_reply_error(gw, job->base.request_id, 503, err, "cannot reach Kafka now, try again");
    free(pending);
    goto out;
  }
  if (rest_pending_add(gw, correlation_id, REGISTER_TIMEOUT_MS, on_register_result, pending) !=
      CHAT_OK) {
    free(pending);
    goto fail;
  }
  goto out;
fail:
  rest_reply_error(gw, job->base.request_id, 500, CHAT_ERR_INTERNAL, "registration failed");
out:
  if (value)
    bson_string_free(value, true);
  rest_job_free(&job->base);
}

/* Reads the credentials of request and runs work, then done, on them. */
static void submit_credentials(gateway_t *gw, const chat_http_request_t *request,
                               void (*work)(void *), void (*done)(void *)) {
  account_job_t *job = new_job(gw, request);
  if (!job)
    return;
  if (!read_credentials(gw, request, job)) {
    rest_job_free(&job->base);
    return;
  }
  submit(job, work, done);
}

void rest_register(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params) {
  (void)params;
  submit_credentials(gw, request, hash_password, send_register_command);
}

/* ---- login ---- */

static void check_login(void *arg) {
  account_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_t *filter = BCON_NEW("username", BCON_UTF8(job->username));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(users, filter, NULL, NULL);
  const bson_t *doc = NULL;
  bson_error_t error;
  bson_iter_t it;
  /* Wrong name and wrong password get the same answer, by design. */
  rest_job_fail(&job->base, 401, CHAT_ERR_UNAUTHORIZED, "wrong username or password");
  if (mongoc_cursor_next(cursor, &doc)) {
    const char *hash = bson_iter_init_find(&it, doc, "passwordHash") && BSON_ITER_HOLDS_UTF8(&it)
                           ? bson_iter_utf8(&it, NULL)
                           : NULL;
    bool id_ok = bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it);
    if (hash && id_ok &&
        crypto_pwhash_str_verify(hash, job->password, strlen(job->password)) == 0) {
      snprintf(job->user_id, sizeof job->user_id, "%s", bson_iter_utf8(&it, NULL));
      job->base.data = user_with_token(job->base.gw, job->user_id, job->username);
      job->base.status = job->base.data ? 200 : 500;
      job->base.err = job->base.data ? CHAT_OK : CHAT_ERR_INTERNAL;
    }
  } else if (mongoc_cursor_error(cursor, &error)) {
    rest_job_fail(&job->base, 503, CHAT_ERR_UNAVAILABLE,
                  "cannot reach the user store now, try again");
  }
  sodium_memzero(job->password, sizeof job->password);
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  mongoc_collection_destroy(users);
  chat_mongo_release(mongo, client);
}

void rest_login(gateway_t *gw, const chat_http_request_t *request, const rest_params_t *params) {
  (void)params;
  submit_credentials(gw, request, check_login, NULL);
}

/* ---- users ---- */

static void list_users(void *arg) {
  account_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_t filter = BSON_INITIALIZER;
  /* Never the password hashes: only the fields a client may see. */
  bson_t *opts = BCON_NEW("projection", "{", "username", BCON_INT32(1), "}", "sort", "{",
                          "username", BCON_INT32(1), "}", "limit", BCON_INT64(USERS_LIST_MAX));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(users, &filter, opts, NULL);
  const bson_t *doc;
  bson_error_t error;
  bson_string_t *data = bson_string_new("{\"users\":[");
  bool first = true;
  while (mongoc_cursor_next(cursor, &doc)) {
    bson_iter_t id, name;
    if (!bson_iter_init_find(&id, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&id) ||
        !bson_iter_init_find(&name, doc, "username") || !BSON_ITER_HOLDS_UTF8(&name))
      continue;
    uint32_t len;
    const char *username = bson_iter_utf8(&name, &len);
    bson_string_append(data, first ? "{\"id\":\"" : ",{\"id\":\"");
    bson_string_append(data, bson_iter_utf8(&id, NULL));
    bson_string_append(data, "\",\"username\":");
    chat_json_append_string(data, username, len);
    bson_string_append_c(data, '}');
    first = false;
  }
  if (mongoc_cursor_error(cursor, &error)) {
    rest_job_fail(&job->base, 503, CHAT_ERR_UNAVAILABLE,
                  "cannot reach the user store now, try again");
    bson_string_free(data, true);
  } else {
    bson_string_append(data, "]}");
    job->base.status = 200;
    job->base.data = data;
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  mongoc_collection_destroy(users);
  chat_mongo_release(mongo, client);
}

void rest_list_users(gateway_t *gw, const chat_http_request_t *request,
                     const rest_params_t *params) {
  (void)params;
  chat_jwt_claims_t claims;
  if (!rest_authenticate(gw, request, &claims))
    return;
  account_job_t *job = new_job(gw, request);
  if (job)
    submit(job, list_users, NULL);
}
