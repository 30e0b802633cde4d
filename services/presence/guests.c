/* Who is in each guest room, across gateways: the guests
 * collection (one document per logged-in guest socket), kept from
 * guest.joined / guest.left and ended with the gateway that held them.
 * After every change the room gets its `users` list through
 * chat.broadcast (target guest:<room>). */
#include "guests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/broadcast.h"
#include "chat/json.h"
#include "chat/log.h"
#include "presence_logic.h"

#define GUESTS_PER_ROOM_MAX 1000 /* users listed per room */

static chat_err_t broadcast(chat_runtime_t *rt, const char *event, const char *room,
                            const bson_string_t *value) {
  char target[160];
  chat_target(target, sizeof target, CHAT_TARGET_GUEST, room);
  const chat_broadcast_route_t route = {.event = event, .target = target};
  return chat_broadcast_send(chat_runtime_producer(rt), chat_runtime_config(rt), &route, value->str,
                             value->len, 0);
}

/* Sends the room its users, [{"id","name","room"}], by when they came. */
static chat_err_t send_users(chat_runtime_t *rt, mongoc_client_t *client, const char *room) {
  mongoc_collection_t *guests = chat_mongo_collection(chat_runtime_mongo(rt), client, "guests");
  bson_t *filter = BCON_NEW("room", BCON_UTF8(room));
  bson_t *opts = BCON_NEW("sort", "{", "joinedAt", BCON_INT32(1), "}", "limit",
                          BCON_INT64(GUESTS_PER_ROOM_MAX));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(guests, filter, opts, NULL);
  bson_string_t *value = bson_string_new("[");
  const bson_t *doc;
  bson_iter_t it;
  bson_error_t error;
  bool first = true;
  while (mongoc_cursor_next(cursor, &doc)) {
    const char *id = bson_iter_init_find(&it, doc, "connectionId") && BSON_ITER_HOLDS_UTF8(&it)
                         ? bson_iter_utf8(&it, NULL)
                         : NULL;
    const char *name = NULL;
    if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it))
      name = bson_iter_utf8(&it, NULL);
    if (!id || !name)
      continue;
    bson_string_append(value, first ? "{\"id\":" : ",{\"id\":");
    chat_json_append_string(value, id, strlen(id));
    bson_string_append(value, ",\"name\":");
    chat_json_append_string(value, name, strlen(name));
    bson_string_append(value, ",\"room\":");
    chat_json_append_string(value, room, strlen(room));
    bson_string_append_c(value, '}');
    first = false;
  }
  bson_string_append_c(value, ']');
  chat_err_t err = mongoc_cursor_error(cursor, &error) ? chat_mongo_error(&error) : CHAT_OK;
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(guests);
  if (err == CHAT_OK)
    err = broadcast(rt, "users", room, value);
  bson_string_free(value, true);
  return err;
}

static chat_err_t gateway_life(mongoc_client_t *client, chat_runtime_t *rt, const char *gateway,
                               int64_t *started, int64_t *expired) {
  mongoc_collection_t *gateways = chat_mongo_collection(chat_runtime_mongo(rt), client, "gateways");
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(gateway));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(gateways, filter, NULL, NULL);
  const bson_t *doc;
  bson_iter_t it;
  bson_error_t error;
  *started = *expired = 0;
  if (mongoc_cursor_next(cursor, &doc)) {
    if (bson_iter_init_find(&it, doc, "startedAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
      *started = bson_iter_date_time(&it);
    if (bson_iter_init_find(&it, doc, "expiredAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
      *expired = bson_iter_date_time(&it);
  }
  chat_err_t err = mongoc_cursor_error(cursor, &error) ? chat_mongo_error(&error) : CHAT_OK;
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  mongoc_collection_destroy(gateways);
  return err;
}

static chat_err_t guest_changed(chat_runtime_t *rt, const chat_envelope_t *event, bool joined) {
  const char *gateway = chat_envelope_string(event, "gatewayId", NULL);
  const char *connection = chat_envelope_string(event, "connectionId", NULL);
  const char *room = chat_envelope_string(event, "room", NULL);
  const char *name = chat_envelope_string(event, "name", NULL);
  int64_t at_ms;
  if (!gateway || !connection || !room || !name ||
      !chat_json_parse_time(chat_envelope_string(event, joined ? "joinedAt" : "leftAt", NULL),
                            &at_ms)) {
    CHAT_LOG(CHAT_LOG_WARN, "%s lacks gatewayId, connectionId, room, name or its time; skipped",
             event->type);
    return CHAT_OK;
  }
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *guests = chat_mongo_collection(mongo, client, "guests");
  char id[2 * CHAT_CONFIG_STR_MAX];
  snprintf(id, sizeof id, "%s/%s", gateway, connection);
  bson_error_t error;
  chat_err_t err = CHAT_OK;
  int64_t started, expired;
  if (joined) {
    err = gateway_life(client, rt, gateway, &started, &expired);
    if (err == CHAT_OK && !presence_session_stale(at_ms, started, expired)) {
      bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "gatewayId", BCON_UTF8(gateway), "connectionId",
                             BCON_UTF8(connection), "room", BCON_UTF8(room), "name",
                             BCON_UTF8(name), "joinedAt", BCON_DATE_TIME(at_ms));
      if (!mongoc_collection_insert_one(guests, doc, NULL, NULL, &error) &&
          chat_mongo_error(&error) != CHAT_ERR_DUPLICATE)
        err = chat_mongo_error(&error);
      bson_destroy(doc);
    }
  } else {
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    if (!mongoc_collection_delete_one(guests, filter, NULL, NULL, &error))
      err = chat_mongo_error(&error);
    bson_destroy(filter);
  }
  if (err == CHAT_OK)
    err = send_users(rt, client, room);
  mongoc_collection_destroy(guests);
  chat_mongo_release(mongo, client);
  return err;
}

chat_err_t presence_handle_guest_joined(void *ctx, const chat_envelope_t *event,
                                        const chat_record_t *record) {
  (void)record;
  return guest_changed(ctx, event, true);
}

chat_err_t presence_handle_guest_left(void *ctx, const chat_envelope_t *event,
                                      const chat_record_t *record) {
  (void)record;
  return guest_changed(ctx, event, false);
}

chat_err_t presence_end_gateway_guests(chat_runtime_t *rt, mongoc_client_t *client,
                                       const char *gateway_id, int64_t before_ms) {
  mongoc_collection_t *guests = chat_mongo_collection(chat_runtime_mongo(rt), client, "guests");
  bson_t *filter = BCON_NEW("gatewayId", BCON_UTF8(gateway_id), "joinedAt", "{", "$lt",
                            BCON_DATE_TIME(before_ms), "}");
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(guests, filter, NULL, NULL);
  bson_t *gone = bson_new(); /* copies of the guests that end */
  const bson_t *doc;
  bson_error_t error;
  uint32_t n = 0;
  while (mongoc_cursor_next(cursor, &doc)) {
    char key[16];
    const char *key_str;
    bson_uint32_to_string(n++, &key_str, key, sizeof key);
    BSON_APPEND_DOCUMENT(gone, key_str, doc);
  }
  chat_err_t err = mongoc_cursor_error(cursor, &error) ? chat_mongo_error(&error) : CHAT_OK;
  mongoc_cursor_destroy(cursor);
  if (err == CHAT_OK && n && !mongoc_collection_delete_many(guests, filter, NULL, NULL, &error))
    err = chat_mongo_error(&error);
  /* Each room that lost someone: a notification per guest, then its list. */
  bson_iter_t it, field;
  char **rooms = calloc(n ? n : 1, sizeof *rooms);
  size_t room_count = 0;
  if (err == CHAT_OK && rooms && bson_iter_init(&it, gone)) {
    while (err == CHAT_OK && bson_iter_next(&it)) {
      bson_t guest;
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&it, &len, &data);
      if (!bson_init_static(&guest, data, len))
        continue;
      const char *room = NULL, *name = NULL;
      if (bson_iter_init_find(&field, &guest, "room") && BSON_ITER_HOLDS_UTF8(&field))
        room = bson_iter_utf8(&field, NULL);
      if (bson_iter_init_find(&field, &guest, "name") && BSON_ITER_HOLDS_UTF8(&field))
        name = bson_iter_utf8(&field, NULL);
      if (!room || !name)
        continue;
      bson_string_t *value = bson_string_new("{\"title\":\"Someone just left\",\"description\":");
      char description[128];
      snprintf(description, sizeof description, "%s just left the room", name);
      chat_json_append_string(value, description, strlen(description));
      bson_string_append_c(value, '}');
      err = broadcast(rt, "notification", room, value);
      bson_string_free(value, true);
      bool known = false;
      for (size_t i = 0; i < room_count && !known; i++)
        known = strcmp(rooms[i], room) == 0;
      if (!known)
        rooms[room_count++] = strdup(room);
    }
  }
  for (size_t i = 0; i < room_count; i++) {
    if (err == CHAT_OK && rooms[i])
      err = send_users(rt, client, rooms[i]);
    free(rooms[i]);
  }
  if (n)
    CHAT_LOG(CHAT_LOG_INFO, "gateway %s: %u guests gone", gateway_id, n);
  free(rooms);
  bson_destroy(gone);
  bson_destroy(filter);
  mongoc_collection_destroy(guests);
  return err;
}
