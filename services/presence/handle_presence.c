#include "handle_presence.h"

#include <stdio.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "presence_logic.h"
#include "presence_store.h"

static int64_t doc_time(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&it))
    return bson_iter_date_time(&it);
  return 0;
}

/* Reads a session event: userId, gatewayId, connectionId and the time in
 * time_key. false (logged) when something is missing. */
static bool read_session(const chat_envelope_t *event, const chat_record_t *record,
                         const char *time_key, const char **user, const char **gateway,
                         const char **connection, int64_t *at_ms) {
  *user = chat_envelope_string(event, "userId", NULL);
  *gateway = chat_envelope_string(event, "gatewayId", NULL);
  *connection = chat_envelope_string(event, "connectionId", NULL);
  if (!*user || !*gateway || !*connection ||
      !chat_json_parse_time(chat_envelope_string(event, time_key, NULL), at_ms)) {
    CHAT_LOG(CHAT_LOG_WARN,
             "%s at %s[%d]@%lld lacks userId, gatewayId, connectionId or %s; "
             "skipped",
             event->type, record->topic, record->partition, (long long)record->offset, time_key);
    return false;
  }
  return true;
}

/* The stored life of a gateway: startedAt and expiredAt in ms (0: none). */
static chat_err_t gateway_life(mongoc_collection_t *gateways, const char *gateway_id,
                               int64_t *started_ms, int64_t *expired_ms, int64_t *heartbeat_ms) {
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(gateway_id));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(gateways, filter, NULL, NULL);
  const bson_t *doc;
  bson_error_t error;
  *started_ms = *expired_ms = 0;
  if (heartbeat_ms)
    *heartbeat_ms = 0;
  if (mongoc_cursor_next(cursor, &doc)) {
    *started_ms = doc_time(doc, "startedAt");
    *expired_ms = doc_time(doc, "expiredAt");
    if (heartbeat_ms)
      *heartbeat_ms = doc_time(doc, "lastHeartbeatAt");
  }
  chat_err_t err = mongoc_cursor_error(cursor, &error) ? chat_mongo_error(&error) : CHAT_OK;
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  return err;
}

chat_err_t presence_handle_session_opened(void *ctx, const chat_envelope_t *event,
                                          const chat_record_t *record) {
  chat_runtime_t *rt = ctx;
  const char *user, *gateway, *connection;
  int64_t opened_ms, started_ms, expired_ms;
  if (!read_session(event, record, "openedAt", &user, &gateway, &connection, &opened_ms))
    return CHAT_OK;
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *gateways = chat_mongo_collection(mongo, client, "gateways");
  mongoc_collection_t *sessions = chat_mongo_collection(mongo, client, "sessions");
  chat_err_t err = gateway_life(gateways, gateway, &started_ms, &expired_ms, NULL);
  if (err == CHAT_OK && presence_session_stale(opened_ms, started_ms, expired_ms)) {
    CHAT_LOG(CHAT_LOG_DEBUG, "session %s/%s of user %s belongs to an ended gateway life; ignored",
             gateway, connection, user);
  } else if (err == CHAT_OK) {
    char id[2 * CHAT_CONFIG_STR_MAX];
    snprintf(id, sizeof id, "%s/%s", gateway, connection);
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "gatewayId", BCON_UTF8(gateway), "connectionId",
                           BCON_UTF8(connection), "userId", BCON_UTF8(user), "openedAt",
                           BCON_DATE_TIME(opened_ms));
    bson_error_t error;
    if (!mongoc_collection_insert_one(sessions, doc, NULL, NULL, &error) &&
        chat_mongo_error(&error) != CHAT_ERR_DUPLICATE) /* a replay */
      err = chat_mongo_error(&error);
    bson_destroy(doc);
    if (err == CHAT_OK)
      err = presence_settle(rt, client, user, opened_ms);
  }
  mongoc_collection_destroy(sessions);
  mongoc_collection_destroy(gateways);
  chat_mongo_release(mongo, client);
  return err;
}

chat_err_t presence_handle_session_closed(void *ctx, const chat_envelope_t *event,
                                          const chat_record_t *record) {
  chat_runtime_t *rt = ctx;
  const char *user, *gateway, *connection;
  int64_t closed_ms;
  if (!read_session(event, record, "closedAt", &user, &gateway, &connection, &closed_ms))
    return CHAT_OK;
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *sessions = chat_mongo_collection(mongo, client, "sessions");
  char id[2 * CHAT_CONFIG_STR_MAX];
  snprintf(id, sizeof id, "%s/%s", gateway, connection);
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
  bson_error_t error;
  chat_err_t err = CHAT_OK;
  if (!mongoc_collection_delete_one(sessions, filter, NULL, NULL, &error))
    err = chat_mongo_error(&error);
  bson_destroy(filter);
  if (err == CHAT_OK)
    err = presence_settle(rt, client, user, closed_ms);
  mongoc_collection_destroy(sessions);
  chat_mongo_release(mongo, client);
  return err;
}

chat_err_t presence_handle_heartbeat(void *ctx, const chat_envelope_t *event,
                                     const chat_record_t *record) {
  chat_runtime_t *rt = ctx;
  const char *gateway = chat_envelope_string(event, "gatewayId", NULL);
  int64_t started_ms, stored_started_ms, expired_ms;
  if (!gateway ||
      !chat_json_parse_time(chat_envelope_string(event, "startedAt", NULL), &started_ms)) {
    CHAT_LOG(CHAT_LOG_WARN,
             "gateway.heartbeat at %s[%d]@%lld lacks gatewayId or startedAt; "
             "skipped",
             record->topic, record->partition, (long long)record->offset);
    return CHAT_OK;
  }
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *gateways = chat_mongo_collection(mongo, client, "gateways");
  chat_err_t err = gateway_life(gateways, gateway, &stored_started_ms, &expired_ms, NULL);
  if (err == CHAT_OK && presence_gateway_restarted(stored_started_ms, started_ms)) {
    CHAT_LOG(CHAT_LOG_INFO, "gateway %s restarted: its earlier sessions are over", gateway);
    err = presence_end_gateway_sessions(rt, client, gateway, started_ms, started_ms);
  }
  if (err == CHAT_OK && started_ms >= stored_started_ms) {
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(gateway));
    /* heartbeatPartition: whose reading of the stream may judge it dead. */
    bson_t *update = BCON_NEW("$set", "{", "startedAt", BCON_DATE_TIME(started_ms),
                              "lastHeartbeatAt", BCON_DATE_TIME(event->ts), "heartbeatPartition",
                              BCON_INT32(record->partition), "}");
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    bson_error_t error;
    if (!mongoc_collection_update_one(gateways, filter, update, opts, NULL, &error))
      err = chat_mongo_error(&error);
    bson_destroy(opts);
    bson_destroy(update);
    bson_destroy(filter);
  }
  mongoc_collection_destroy(gateways);
  chat_mongo_release(mongo, client);
  return err;
}

/* The partition a gateway's heartbeats were last read from; -1 for a
 * document written before presence kept it (then every partition this
 * process owns must be read that far). */
static int32_t heartbeat_partition(const bson_t *doc) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, "heartbeatPartition") && BSON_ITER_HOLDS_INT32(&it))
    return bson_iter_int32(&it);
  return -1;
}

void presence_expire_gateways(chat_runtime_t *rt) {
  int64_t now = presence_wall_ms();
  int64_t expiry = chat_runtime_config(rt)->presence_expiry_ms;
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *gateways = chat_mongo_collection(mongo, client, "gateways");
  /* Silent by the wall clock, not yet expired since their last heartbeat:
   * the candidates. Each is judged by what this process has read of its
   * heartbeats' partition, and only by the process that owns it. */
  bson_t *filter = BCON_NEW("lastHeartbeatAt", "{", "$lt", BCON_DATE_TIME(now - expiry), "}");
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(gateways, filter, NULL, NULL);
  const bson_t *doc;
  bson_error_t error;
  char dead[64][CHAT_CONFIG_STR_MAX];
  int32_t partition[64];
  int64_t dead_heartbeat[64], dead_at[64];
  size_t count = 0, candidates = 0;
  while (candidates < 64 && mongoc_cursor_next(cursor, &doc)) {
    bson_iter_t it;
    if (doc_time(doc, "expiredAt") >= doc_time(doc, "lastHeartbeatAt") ||
        !bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
      continue;
    snprintf(dead[candidates], sizeof dead[candidates], "%s", bson_iter_utf8(&it, NULL));
    partition[candidates++] = heartbeat_partition(doc);
  }
  if (mongoc_cursor_error(cursor, &error))
    CHAT_LOG(CHAT_LOG_WARN, "gateway expiry: %s", error.message);
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  /* How far the stream is read first, the heartbeat then: every heartbeat
   * read by then is stored, so one handled meanwhile is not missed. */
  for (size_t i = 0; i < candidates; i++) {
    int64_t read_until = chat_runtime_handled_until(rt, CHAT_TOPIC_PRESENCE, partition[i]);
    int64_t started, expired, heartbeat;
    if (!read_until || gateway_life(gateways, dead[i], &started, &expired, &heartbeat) != CHAT_OK ||
        expired >= heartbeat || !presence_gateway_dead(heartbeat, read_until, expiry))
      continue;
    if (count != i)
      memcpy(dead[count], dead[i], sizeof dead[count]);
    dead_heartbeat[count] = heartbeat;
    dead_at[count++] = read_until;
  }
  for (size_t i = 0; i < count; i++) {
    /* Two presence processes may do this at once: each user's change is
     * still recorded and published once (presence_settle). */
    CHAT_LOG(CHAT_LOG_WARN,
             "gateway %s silent for over %d ms in its heartbeats' partition (read up to %lld ms "
             "ago): its sessions end",
             dead[i], (int)expiry, (long long)(now - dead_at[i]));
    /* Sessions opened up to what was read end; one opened later, not read
     * yet, came from a gateway that was alive then. */
    if (presence_end_gateway_sessions(rt, client, dead[i], dead_at[i] + 1, dead_heartbeat[i]) !=
        CHAT_OK) {
      CHAT_LOG(CHAT_LOG_WARN, "gateway %s: ending its sessions failed; retried next tick", dead[i]);
      continue;
    }
    bson_t *which = BCON_NEW("_id", BCON_UTF8(dead[i]));
    bson_t *update = BCON_NEW("$set", "{", "expiredAt", BCON_DATE_TIME(dead_at[i]), "}");
    if (!mongoc_collection_update_one(gateways, which, update, NULL, NULL, &error))
      CHAT_LOG(CHAT_LOG_WARN, "gateway %s: %s", dead[i], error.message);
    bson_destroy(update);
    bson_destroy(which);
  }
  mongoc_collection_destroy(gateways);
  chat_mongo_release(mongo, client);
  chat_producer_flush(chat_runtime_producer(rt), 5000);
}
