#include "handle_user_register.h"

#include <stdio.h>
#include <string.h>

#include "chat/broadcast.h"
#include "chat/json.h"
#include "chat/log.h"
#include "chat/runtime.h"
#include "persistence_publish.h"

/* True when the user named username exists with id user_id: a replay of a
 * registration that went through, not a clash. */
static bool same_user_exists(mongoc_collection_t *users, const char *username,
                             const char *user_id) {
  bson_t *filter = BCON_NEW("username", BCON_UTF8(username));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(users, filter, NULL, NULL);
  const bson_t *doc;
  bson_iter_t it;
  bool same = mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "_id") &&
              BSON_ITER_HOLDS_UTF8(&it) && strcmp(bson_iter_utf8(&it, NULL), user_id) == 0;
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  return same;
}

chat_err_t persistence_handle_user_register(void *ctx, const chat_envelope_t *event,
                                            const chat_record_t *record) {
  chat_runtime_t *rt = ctx;
  const char *user_id = chat_envelope_string(event, "userId", NULL);
  const char *username = chat_envelope_string(event, "username", NULL);
  const char *hash = chat_envelope_string(event, "passwordHash", NULL);
  if (!user_id || !username || !hash) {
    CHAT_LOG(CHAT_LOG_WARN, "user.register at %s[%d]@%lld lacks userId, username or passwordHash",
             record->topic, record->partition, (long long)record->offset);
    return chat_broadcast_reply_error(chat_runtime_producer(rt), chat_runtime_config(rt), event,
                                      CHAT_ERR_SCHEMA,
                                      "userId, username and passwordHash are required");
  }
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_t *doc = BCON_NEW("_id", BCON_UTF8(user_id), "username", BCON_UTF8(username), "passwordHash",
                         BCON_UTF8(hash), "createdAt", BCON_DATE_TIME(event->ts));
  bson_error_t error;
  chat_err_t err = CHAT_OK;
  const char *answer = NULL;
  bool taken = false;
  bson_string_t *ok_answer = NULL;
  if (mongoc_collection_insert_one(users, doc, NULL, NULL, &error) ||
      (chat_mongo_error(&error) == CHAT_ERR_DUPLICATE &&
       same_user_exists(users, username, user_id))) {
    /* The names come from a Kafka record: escape them like any input. */
    ok_answer = bson_string_new("{\"ok\":true,\"data\":{\"userId\":");
    chat_json_append_string(ok_answer, user_id, strlen(user_id));
    bson_string_append(ok_answer, ",\"username\":");
    chat_json_append_string(ok_answer, username, strlen(username));
    bson_string_append(ok_answer, "}}");
    answer = ok_answer->str;
  } else if (chat_mongo_error(&error) == CHAT_ERR_DUPLICATE) {
    taken = true;
  } else {
    CHAT_LOG(CHAT_LOG_WARN, "user.register: %s", error.message);
    err = chat_mongo_error(&error); /* the batch is retried */
  }
  bson_destroy(doc);
  mongoc_collection_destroy(users);
  chat_mongo_release(mongo, client);
  if (answer)
    err = persistence_reply(rt, event, answer);
  else if (taken)
    err = chat_broadcast_reply_error(chat_runtime_producer(rt), chat_runtime_config(rt), event,
                                     CHAT_ERR_DUPLICATE, "username is taken");
  if (ok_answer)
    bson_string_free(ok_answer, true);
  return err;
}
