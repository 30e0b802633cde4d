#include "presence_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/broadcast.h"
#include "chat/envelope.h"
#include "chat/ids.h"
#include "chat/json.h"
#include "chat/log.h"
#include "chat/topics.h"
#include "guests.h"
#include "online_cache.h"
#include "presence_logic.h"

#define ROOMS_HEADER_MAX 10000 /* conversations named in one presence broadcast */

/* "room:<a>,room:<b>,..." for user_id's conversations; NULL when none or
 * on error (*err says which). */
static char *rooms_of(chat_runtime_t *rt, mongoc_client_t *client, const char *user_id,
                      chat_err_t *err) {
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_collection_t *members = chat_mongo_collection(mongo, client, "members");
  bson_t *filter = BCON_NEW("userId", BCON_UTF8(user_id));
  bson_t *opts = BCON_NEW("projection", "{", "conversationId", BCON_INT32(1), "}", "limit",
                          BCON_INT64(ROOMS_HEADER_MAX));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(members, filter, opts, NULL);
  bson_string_t *rooms = bson_string_new(NULL);
  const bson_t *doc;
  bson_iter_t it;
  bson_error_t error;
  while (mongoc_cursor_next(cursor, &doc)) {
    if (bson_iter_init_find(&it, doc, "conversationId") && BSON_ITER_HOLDS_UTF8(&it) &&
        chat_is_id(bson_iter_utf8(&it, NULL)))
      bson_string_append_printf(rooms, "%sroom:%s", rooms->len ? "," : "",
                                bson_iter_utf8(&it, NULL));
  }
  *err = CHAT_OK;
  if (mongoc_cursor_error(cursor, &error)) {
    CHAT_LOG(CHAT_LOG_WARN, "rooms of user %s: %s", user_id, error.message);
    *err = chat_mongo_error(&error);
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(members);
  if (*err != CHAT_OK || rooms->len == 0) {
    bson_string_free(rooms, true);
    return NULL;
  }
  return bson_string_free(rooms, false);
}

static chat_err_t publish(chat_runtime_t *rt, mongoc_client_t *client, const char *user_id,
                          bool online, int64_t when_ms) {
  chat_err_t err;
  char *rooms = rooms_of(rt, client, user_id, &err);
  if (err != CHAT_OK)
    return err;
  if (rooms) {
    bson_string_t *value = bson_string_new("{\"userId\":");
    chat_json_append_string(value, user_id, strlen(user_id));
    if (!online) {
      bson_string_append(value, ",\"lastSeen\":");
      chat_json_append_time(value, when_ms);
    }
    bson_string_append_c(value, '}');
    char target[160];
    chat_target(target, sizeof target, CHAT_TARGET_CONTACTS, user_id);
    const chat_broadcast_route_t route = {
        .event = online ? "user_online" : "user_offline", .target = target, .rooms = rooms};
    err = chat_broadcast_send(chat_runtime_producer(rt), chat_runtime_config(rt), &route,
                              value->str, value->len, 0);
    bson_string_free(value, true);
    bson_free(rooms);
    if (err != CHAT_OK)
      return err;
  }
  chat_envelope_t env;
  err = chat_envelope_init(&env, "presence.changed", chat_runtime_source(rt), NULL);
  if (err != CHAT_OK)
    return err;
  char when[CHAT_JSON_TIME_SIZE];
  chat_json_format_time(when_ms, when);
  BSON_APPEND_UTF8(&env.payload, "userId", user_id);
  BSON_APPEND_BOOL(&env.payload, "online", online);
  if (!online)
    BSON_APPEND_UTF8(&env.payload, "lastSeen", when);
  BSON_APPEND_UTF8(&env.payload, "changedAt", when);
  bson_string_t *value = bson_string_new(NULL);
  err = chat_envelope_encode(&env, value);
  chat_envelope_cleanup(&env);
  if (err == CHAT_OK) {
    char topic[CHAT_TOPIC_NAME_MAX];
    chat_topic_name(chat_runtime_config(rt)->topic_prefix, CHAT_TOPIC_EVENTS, topic, sizeof topic);
    err = chat_producer_produce(chat_runtime_producer(rt), topic, user_id, strlen(user_id),
                                value->str, value->len, NULL, 0, 0);
  }
  bson_string_free(value, true);
  CHAT_LOG(CHAT_LOG_DEBUG, "user %s is %s", user_id, online ? "online" : "offline");
  return err;
}

/* True when the update changed or created a document. */
static bool changed(const bson_t *reply) {
  bson_iter_t it;
  return (bson_iter_init_find(&it, reply, "modifiedCount") && bson_iter_as_int64(&it) > 0) ||
         (bson_iter_init_find(&it, reply, "upsertedCount") && bson_iter_as_int64(&it) > 0) ||
         bson_iter_init_find(&it, reply, "upsertedId");
}

int64_t presence_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

chat_err_t presence_settle(chat_runtime_t *rt, mongoc_client_t *client, const char *user_id,
                           int64_t when_ms) {
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_collection_t *sessions = chat_mongo_collection(mongo, client, "sessions");
  mongoc_collection_t *presence = chat_mongo_collection(mongo, client, "presence");
  bson_error_t error;
  chat_err_t err = CHAT_OK;
  bson_t *by_user = BCON_NEW("userId", BCON_UTF8(user_id));
  bson_t *by_id = BCON_NEW("_id", BCON_UTF8(user_id));
  int64_t live = mongoc_collection_count_documents(sessions, by_user, NULL, NULL, NULL, &error);
  bool was_online = false;
  if (live >= 0) {
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(presence, by_id, NULL, NULL);
    const bson_t *doc;
    bson_iter_t it;
    if (mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "online"))
      was_online = bson_iter_as_bool(&it);
    if (mongoc_cursor_error(cursor, &error))
      live = -1;
    mongoc_cursor_destroy(cursor);
  }
  if (live < 0) {
    CHAT_LOG(CHAT_LOG_WARN, "presence of user %s: %s", user_id, error.message);
    err = chat_mongo_error(&error);
    goto out;
  }
  online_cache_put(user_id, live > 0, presence_wall_ms());
  presence_change_t change = presence_decide(was_online, live);
  if (change == PRESENCE_UNCHANGED)
    goto out;
  bool online = change == PRESENCE_NOW_ONLINE;
  /* Conditional on the state read: a concurrent settle of the same user
   * changes it once, and only that one publishes. */
  bson_t *filter =
      online ? BCON_NEW("_id", BCON_UTF8(user_id), "online", "{", "$ne", BCON_BOOL(true), "}")
             : BCON_NEW("_id", BCON_UTF8(user_id), "online", BCON_BOOL(true));
  bson_t *update =
      online ? BCON_NEW("$set", "{", "online", BCON_BOOL(true), "changedAt",
                        BCON_DATE_TIME(when_ms), "}")
             : BCON_NEW("$set", "{", "online", BCON_BOOL(false), "lastSeen",
                        BCON_DATE_TIME(when_ms), "changedAt", BCON_DATE_TIME(when_ms), "}");
  bson_t *opts = BCON_NEW("upsert", BCON_BOOL(online));
  bson_t reply;
  bool ok = mongoc_collection_update_one(presence, filter, update, opts, &reply, &error);
  if (ok && changed(&reply)) {
    err = publish(rt, client, user_id, online, when_ms);
  } else if (!ok && chat_mongo_error(&error) != CHAT_ERR_DUPLICATE) {
    /* DUPLICATE: the upsert met a document already online: no change. */
    CHAT_LOG(CHAT_LOG_WARN, "presence of user %s: %s", user_id, error.message);
    err = chat_mongo_error(&error);
  }
  bson_destroy(&reply);
  bson_destroy(opts);
  bson_destroy(update);
  bson_destroy(filter);
out:
  bson_destroy(by_id);
  bson_destroy(by_user);
  mongoc_collection_destroy(presence);
  mongoc_collection_destroy(sessions);
  return err;
}

chat_err_t presence_end_gateway_sessions(chat_runtime_t *rt, mongoc_client_t *client,
                                         const char *gateway_id, int64_t before_ms,
                                         int64_t when_ms) {
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_collection_t *sessions = chat_mongo_collection(mongo, client, "sessions");
  bson_t *filter = BCON_NEW("gatewayId", BCON_UTF8(gateway_id), "openedAt", "{", "$lt",
                            BCON_DATE_TIME(before_ms), "}");
  bson_t *opts = BCON_NEW("projection", "{", "userId", BCON_INT32(1), "}");
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(sessions, filter, opts, NULL);
  const bson_t *doc;
  bson_iter_t it;
  bson_error_t error;
  char **users = NULL;
  size_t count = 0;
  chat_err_t err = CHAT_OK;
  while (mongoc_cursor_next(cursor, &doc)) {
    if (!bson_iter_init_find(&it, doc, "userId") || !BSON_ITER_HOLDS_UTF8(&it))
      continue;
    const char *user = bson_iter_utf8(&it, NULL);
    bool known = false;
    for (size_t i = 0; i < count && !known; i++)
      known = strcmp(users[i], user) == 0;
    char **grown = known ? users : realloc(users, (count + 1) * sizeof *grown);
    if (!grown) {
      err = CHAT_ERR_NOMEM;
      break;
    }
    users = grown;
    if (!known)
      users[count++] = strdup(user);
  }
  if (mongoc_cursor_error(cursor, &error))
    err = chat_mongo_error(&error);
  mongoc_cursor_destroy(cursor);
  if (err == CHAT_OK && !mongoc_collection_delete_many(sessions, filter, NULL, NULL, &error))
    err = chat_mongo_error(&error);
  if (err == CHAT_OK && count)
    CHAT_LOG(CHAT_LOG_INFO, "gateway %s: %zu users' sessions ended", gateway_id, count);
  if (err == CHAT_OK)
    err = presence_end_gateway_guests(rt, client, gateway_id, before_ms);
  for (size_t i = 0; i < count; i++) {
    if (err == CHAT_OK && users[i])
      err = presence_settle(rt, client, users[i], when_ms);
    free(users[i]);
  }
  free(users);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(sessions);
  return err;
}
