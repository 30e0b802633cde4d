/* MongoDB client pool for one database, plus idempotent index creation.
 * Works against MongoDB 6+ and FerretDB 1.24 alike: only plain commands,
 * no transactions, change streams or $lookup. */
#ifndef CHAT_MONGO_H
#define CHAT_MONGO_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "chat/config.h"
#include "chat/err.h"

typedef struct chat_mongo chat_mongo_t;

/* An index a service owns; a plain value. keys_json is the key document in
 * JSON, e.g. "{\"senderId\":1,\"clientMsgId\":1}". */
typedef struct chat_mongo_index {
  const char *collection;
  const char *name;
  const char *keys_json;
  bool unique;
} chat_mongo_index_t;

/* Creates a pool for cfg->mongo_uri and cfg->mongo_db. Connecting is lazy:
 * this succeeds while the server is down. A URI without
 * serverSelectionTimeoutMS gets 2000 ms, so a dead server is noticed
 * quickly. Returns CHAT_OK or CHAT_ERR_CONFIG (errbuf says why). Free with
 * chat_mongo_destroy(). */
chat_err_t chat_mongo_create(const chat_config_t *cfg, const char *app_name, chat_mongo_t **out,
                             char *errbuf, size_t errbuf_len);

/* Takes a client from the pool (blocks while all are in use); give it back
 * with chat_mongo_release(). Clients are not shared between threads. */
mongoc_client_t *chat_mongo_acquire(chat_mongo_t *mongo);
/* The same without waiting: NULL when every client is in use (a caller
 * that already holds one must not wait for another: with a small
 * maxPoolSize it would wait for itself). */
mongoc_client_t *chat_mongo_try_acquire(chat_mongo_t *mongo);
void chat_mongo_release(chat_mongo_t *mongo, mongoc_client_t *client);

/* Returns a new handle on collection name of our database; the caller
 * destroys it with mongoc_collection_destroy() before releasing client. */
mongoc_collection_t *chat_mongo_collection(chat_mongo_t *mongo, mongoc_client_t *client,
                                           const char *name);

/* The database name; static for the life of mongo. */
const char *chat_mongo_db_name(const chat_mongo_t *mongo);

/* Runs {ping: 1}. Returns CHAT_OK or CHAT_ERR_UNAVAILABLE (errbuf says why). */
chat_err_t chat_mongo_ping(chat_mongo_t *mongo, char *errbuf, size_t errbuf_len);

/* Creates each index unless an identical one exists. Returns CHAT_OK,
 * CHAT_ERR_UNAVAILABLE when the server cannot be reached, or CHAT_ERR_MONGO
 * when the server refuses (e.g. an index of that name with other keys). */
chat_err_t chat_mongo_ensure_indexes(chat_mongo_t *mongo, const chat_mongo_index_t *indexes,
                                     size_t count, char *errbuf, size_t errbuf_len);

/* Maps a libmongoc error to ours: duplicate key -> CHAT_ERR_DUPLICATE,
 * server selection and socket errors -> CHAT_ERR_UNAVAILABLE, else
 * CHAT_ERR_MONGO, after logging the server's message as a warning. */
chat_err_t chat_mongo_error(const bson_error_t *error);

/* Frees the pool; sets *mongo to NULL. Accepts NULL and a NULL *mongo. */
void chat_mongo_destroy(chat_mongo_t **mongo);

#endif
