#include "chat/mongo.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/log.h"
#include "chat/metrics.h"

#define MONGO_SELECTION_TIMEOUT_MS 2000 /* when the URI does not set one */
#define MONGO_DUPLICATE_KEY 11000       /* server error code for a unique index clash */

/* The commands our code and libmongoc's helpers send, the operation label
 * of chat_mongo_operation_seconds; any other command counts as "other", so
 * the label stays bounded whatever a future call sends. */
static const char *const operations[] = {
    "insert",        "update", "delete",      "find",        "getMore",     "aggregate", "count",
    "findAndModify", "ping",   "createIndexes", "endSessions", "killCursors", "other"};
#define OPERATION_COUNT (sizeof operations / sizeof operations[0])

struct chat_mongo {
  mongoc_client_pool_t *pool;
  char db_name[CHAT_CONFIG_STR_MAX];
  /* Series by operation, looked up on an operation's first use (two threads
   * may both look one up: they find the same series) so that commands never
   * sent are not written. */
  chat_metric_t *latency_metric, *failures_metric;
  _Atomic(chat_series_t *) latency[OPERATION_COUNT];  /* chat_mongo_operation_seconds */
  _Atomic(chat_series_t *) failures[OPERATION_COUNT]; /* chat_mongo_operation_errors_total */
};

static chat_series_t *operation_series(chat_metric_t *metric, _Atomic(chat_series_t *) *slot,
                                       size_t op) {
  chat_series_t *series = atomic_load_explicit(slot, memory_order_acquire);
  if (!series) {
    series = CHAT_SERIES(metric, operations[op]);
    atomic_store_explicit(slot, series, memory_order_release);
  }
  return series;
}

static size_t operation_index(const char *command_name) {
  for (size_t i = 0; i + 1 < OPERATION_COUNT; i++)
    if (strcmp(operations[i], command_name) == 0)
      return i;
  return OPERATION_COUNT - 1;
}

/* libmongoc's command monitoring times every command any pooled client
 * sends, on the thread that sent it: each service's reads and writes are
 * measured here, without a wrapper at each call site. A reply with write
 * errors (a duplicate key in an ordered insert) is a command that
 * succeeded; a failure is an error reply, a network error or a timeout. */
static void on_command_succeeded(const mongoc_apm_command_succeeded_t *event) {
  chat_mongo_t *mongo = mongoc_apm_command_succeeded_get_context(event);
  size_t op = operation_index(mongoc_apm_command_succeeded_get_command_name(event));
  chat_histogram_observe(operation_series(mongo->latency_metric, &mongo->latency[op], op),
                         (double)mongoc_apm_command_succeeded_get_duration(event) / 1e6);
}

static void on_command_failed(const mongoc_apm_command_failed_t *event) {
  chat_mongo_t *mongo = mongoc_apm_command_failed_get_context(event);
  size_t op = operation_index(mongoc_apm_command_failed_get_command_name(event));
  chat_histogram_observe(operation_series(mongo->latency_metric, &mongo->latency[op], op),
                         (double)mongoc_apm_command_failed_get_duration(event) / 1e6);
  chat_counter_add(operation_series(mongo->failures_metric, &mongo->failures[op], op), 1);
}

static bool monitor_commands(chat_mongo_t *mongo) {
  static const char *const labels[] = {"operation", NULL};
  chat_metrics_t *reg = chat_metrics_default();
  mongo->latency_metric = chat_metrics_histogram(
      reg, "chat_mongo_operation_seconds",
      "Time of each MongoDB command from send to reply, failed ones included, by command",
      labels, chat_metrics_seconds_buckets, chat_metrics_seconds_bucket_count, OPERATION_COUNT);
  mongo->failures_metric = chat_metrics_counter(
      reg, "chat_mongo_operation_errors_total",
      "MongoDB commands that failed (error reply, network error, timeout), by command", labels,
      OPERATION_COUNT);
  mongoc_apm_callbacks_t *callbacks = mongoc_apm_callbacks_new();
  if (!callbacks)
    return false;
  mongoc_apm_set_command_succeeded_cb(callbacks, on_command_succeeded);
  mongoc_apm_set_command_failed_cb(callbacks, on_command_failed);
  bool ok = mongoc_client_pool_set_apm_callbacks(mongo->pool, callbacks, mongo);
  mongoc_apm_callbacks_destroy(callbacks); /* the pool keeps a copy */
  return ok;
}

static pthread_once_t mongoc_once = PTHREAD_ONCE_INIT;

/* libmongoc logs plain text to stderr by default; ours are JSON lines. */
static void on_mongoc_log(mongoc_log_level_t level, const char *domain, const char *message,
                          void *ctx) {
  (void)ctx;
  /* FerretDB has no endSessions; the driver says so once per pool at
   * shutdown and carries on: nothing an operator can act on. */
  if (strstr(message, "\"endSessions\""))
    level = MONGOC_LOG_LEVEL_DEBUG;
  if (level <= MONGOC_LOG_LEVEL_WARNING)
    CHAT_LOG(level <= MONGOC_LOG_LEVEL_CRITICAL ? CHAT_LOG_ERROR : CHAT_LOG_WARN,
             "libmongoc %s: %s", domain, message);
  else if (level <= MONGOC_LOG_LEVEL_INFO)
    CHAT_LOG(CHAT_LOG_INFO, "libmongoc %s: %s", domain, message);
  /* its debug and trace levels are left out: far too chatty */
}

static void mongoc_init_once(void) {
  mongoc_log_set_handler(on_mongoc_log, NULL);
  mongoc_init();
  atexit(mongoc_cleanup);
}

chat_err_t chat_mongo_create(const chat_config_t *cfg, const char *app_name, chat_mongo_t **out,
                             char *errbuf, size_t errbuf_len) {
  bson_error_t error;
  chat_mongo_t *mongo = NULL;
  mongoc_uri_t *uri = NULL;
  chat_err_t err = CHAT_ERR_CONFIG;

  pthread_once(&mongoc_once, mongoc_init_once);
  uri = mongoc_uri_new_with_error(cfg->mongo_uri, &error);
  if (!uri) {
    snprintf(errbuf, errbuf_len, "CHAT_MONGO_URI: %s", error.message);
    goto out;
  }
  if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                   MONGO_SELECTION_TIMEOUT_MS);
  if (!mongoc_uri_has_option(uri, MONGOC_URI_APPNAME))
    mongoc_uri_set_appname(uri, app_name);
  mongo = calloc(1, sizeof *mongo);
  if (!mongo) {
    err = CHAT_ERR_NOMEM;
    goto out;
  }
  mongo->pool = mongoc_client_pool_new(uri);
  if (!mongo->pool) {
    snprintf(errbuf, errbuf_len, "CHAT_MONGO_URI: libmongoc refused the URI");
    goto out;
  }
  mongoc_client_pool_set_error_api(mongo->pool, MONGOC_ERROR_API_VERSION_2);
  if (!monitor_commands(mongo)) {
    snprintf(errbuf, errbuf_len, "libmongoc refused the command monitoring callbacks");
    goto out;
  }
  snprintf(mongo->db_name, sizeof mongo->db_name, "%s", cfg->mongo_db);
  *out = mongo;
  mongo = NULL; /* handed to the caller */
  err = CHAT_OK;
out:
  if (mongo) {
    mongoc_client_pool_destroy(mongo->pool);
    free(mongo);
  }
  mongoc_uri_destroy(uri);
  return err;
}

mongoc_client_t *chat_mongo_acquire(chat_mongo_t *mongo) {
  return mongoc_client_pool_pop(mongo->pool);
}

mongoc_client_t *chat_mongo_try_acquire(chat_mongo_t *mongo) {
  return mongoc_client_pool_try_pop(mongo->pool);
}

void chat_mongo_release(chat_mongo_t *mongo, mongoc_client_t *client) {
  if (client)
    mongoc_client_pool_push(mongo->pool, client);
}

mongoc_collection_t *chat_mongo_collection(chat_mongo_t *mongo, mongoc_client_t *client,
                                           const char *name) {
  return mongoc_client_get_collection(client, mongo->db_name, name);
}

const char *chat_mongo_db_name(const chat_mongo_t *mongo) { return mongo->db_name; }

chat_err_t chat_mongo_error(const bson_error_t *error) {
  if (error->code == MONGO_DUPLICATE_KEY)
    return CHAT_ERR_DUPLICATE;
  if (error->domain == MONGOC_ERROR_SERVER_SELECTION || error->domain == MONGOC_ERROR_STREAM)
    return CHAT_ERR_UNAVAILABLE;
  /* The store refused the command itself: what it said is the operator's
   * only clue (a batch that fails is retried, and its warning names only
   * CHAT_ERR_MONGO). */
  CHAT_LOG(CHAT_LOG_WARN, "mongodb refused a command: %s (domain %u, code %u)", error->message,
           error->domain, error->code);
  return CHAT_ERR_MONGO;
}

chat_err_t chat_mongo_ping(chat_mongo_t *mongo, char *errbuf, size_t errbuf_len) {
  bson_error_t error;
  bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  bool ok = mongoc_client_command_simple(client, mongo->db_name, ping, NULL, NULL, &error);
  chat_mongo_release(mongo, client);
  bson_destroy(ping);
  if (!ok) {
    snprintf(errbuf, errbuf_len, "%s", error.message);
    return CHAT_ERR_UNAVAILABLE;
  }
  return CHAT_OK;
}

chat_err_t chat_mongo_ensure_indexes(chat_mongo_t *mongo, const chat_mongo_index_t *indexes,
                                     size_t count, char *errbuf, size_t errbuf_len) {
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  chat_err_t err = CHAT_OK;
  for (size_t i = 0; i < count && err == CHAT_OK; i++) {
    bson_error_t error;
    bson_t keys, command, index_list, spec, reply;
    if (!bson_init_from_json(&keys, indexes[i].keys_json, -1, &error)) {
      snprintf(errbuf, errbuf_len, "index %s: bad keys: %s", indexes[i].name, error.message);
      err = CHAT_ERR_INVALID;
      break;
    }
    /* createIndexes is idempotent for an identical index on both MongoDB
     * and FerretDB, so there is no need to list indexes first. */
    bson_init(&command);
    BSON_APPEND_UTF8(&command, "createIndexes", indexes[i].collection);
    BSON_APPEND_ARRAY_BEGIN(&command, "indexes", &index_list);
    BSON_APPEND_DOCUMENT_BEGIN(&index_list, "0", &spec);
    BSON_APPEND_DOCUMENT(&spec, "key", &keys);
    BSON_APPEND_UTF8(&spec, "name", indexes[i].name);
    if (indexes[i].unique)
      BSON_APPEND_BOOL(&spec, "unique", true);
    bson_append_document_end(&index_list, &spec);
    bson_append_array_end(&command, &index_list);
    if (!mongoc_client_write_command_with_opts(client, mongo->db_name, &command, NULL, &reply,
                                               &error)) {
      snprintf(errbuf, errbuf_len, "index %s on %s: %s", indexes[i].name, indexes[i].collection,
               error.message);
      err = chat_mongo_error(&error);
    }
    bson_destroy(&reply);
    bson_destroy(&command);
    bson_destroy(&keys);
  }
  chat_mongo_release(mongo, client);
  return err;
}

void chat_mongo_destroy(chat_mongo_t **mongo_ptr) {
  chat_mongo_t *mongo = mongo_ptr ? *mongo_ptr : NULL;
  if (!mongo)
    return;
  mongoc_client_pool_destroy(mongo->pool);
  free(mongo);
  *mongo_ptr = NULL;
}
