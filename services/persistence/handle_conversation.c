/* Group chats: conversation.create, member.add, member.remove,
 * conversation.leave, conversation.delete. Each comes from a REST call
 * that waits for its command.result; all of one conversation's commands
 * share a partition (key: conversationId), so one process at a time
 * changes its participants. Sockets follow live: the records to user:<id>
 * carry a join or leave header, so every gateway moves those users'
 * sockets in or out of the room before it delivers them. */
#include "handle_conversation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/broadcast.h"
#include "chat/ids.h"
#include "chat/json.h"
#include "chat/log.h"
#include "chat/topics.h"
#include "conversation_state.h"
#include "persistence_publish.h"

#define MEMBERS_MAX 1000 /* participants of one group at most */

typedef struct group {
  bool exists, deleted, direct;
  char owner[CHAT_ID_SIZE];
  char name[256];
  char (*participants)[CHAT_ID_SIZE];
  size_t count;
  int64_t created_at;
} group_t;

typedef struct command {
  chat_runtime_t *rt;
  const chat_envelope_t *event;
  mongoc_client_t *client;
  const char *conversation_id;
  group_t group;
} command_t;

static const char *payload_id(const chat_envelope_t *event, const char *key) {
  const char *value = chat_envelope_string(event, key, NULL);
  return value && chat_is_id(value) ? value : NULL;
}

/* Reads the ids of payload[key] (an array) into *ids; false when it is not
 * an array of ids of at most max. */
static bool payload_ids(const chat_envelope_t *event, const char *key, size_t max,
                        char (**ids)[CHAT_ID_SIZE], size_t *count) {
  bson_iter_t it, list;
  *ids = NULL;
  *count = 0;
  if (!bson_iter_init_find(&it, &event->payload, key) || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &list))
    return false;
  *ids = calloc(max + 1, sizeof **ids);
  while (*ids && bson_iter_next(&list)) {
    if (!BSON_ITER_HOLDS_UTF8(&list) || !chat_is_id(bson_iter_utf8(&list, NULL)) || *count == max) {
      free(*ids);
      *ids = NULL;
      return false;
    }
    const char *id = bson_iter_utf8(&list, NULL);
    bool dup = false;
    for (size_t i = 0; i < *count && !dup; i++)
      dup = strcmp((*ids)[i], id) == 0;
    if (!dup)
      memcpy((*ids)[(*count)++], id, CHAT_ID_SIZE);
  }
  return *ids != NULL;
}

static bool is_participant(const group_t *g, const char *user) {
  for (size_t i = 0; i < g->count; i++) {
    if (strcmp(g->participants[i], user) == 0)
      return true;
  }
  return false;
}

static chat_err_t load_group(command_t *c) {
  group_t *g = &c->group;
  mongoc_collection_t *conversations =
      chat_mongo_collection(chat_runtime_mongo(c->rt), c->client, "conversations");
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(c->conversation_id));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(conversations, filter, NULL, NULL);
  const bson_t *doc;
  bson_error_t error;
  bson_iter_t it, list;
  memset(g, 0, sizeof *g);
  if (mongoc_cursor_next(cursor, &doc)) {
    g->exists = true;
    g->deleted = bson_iter_init_find(&it, doc, "deletedAt") && !BSON_ITER_HOLDS_NULL(&it);
    g->direct = bson_iter_init_find(&it, doc, "kind") && BSON_ITER_HOLDS_UTF8(&it) &&
                strcmp(bson_iter_utf8(&it, NULL), "direct") == 0;
    if (bson_iter_init_find(&it, doc, "ownerId") && BSON_ITER_HOLDS_UTF8(&it))
      snprintf(g->owner, sizeof g->owner, "%s", bson_iter_utf8(&it, NULL));
    if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it))
      snprintf(g->name, sizeof g->name, "%s", bson_iter_utf8(&it, NULL));
    if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
      g->created_at = bson_iter_date_time(&it);
    g->participants = calloc(MEMBERS_MAX + 1, sizeof *g->participants);
    if (g->participants && bson_iter_init_find(&it, doc, "participants") &&
        BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &list)) {
      while (bson_iter_next(&list) && g->count < MEMBERS_MAX) {
        if (BSON_ITER_HOLDS_UTF8(&list))
          snprintf(g->participants[g->count++], CHAT_ID_SIZE, "%s", bson_iter_utf8(&list, NULL));
      }
    }
  }
  chat_err_t err = mongoc_cursor_error(cursor, &error) ? chat_mongo_error(&error) : CHAT_OK;
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  mongoc_collection_destroy(conversations);
  return err;
}

static chat_err_t reply_error(command_t *c, chat_err_t code, const char *message) {
  CHAT_LOG(CHAT_LOG_INFO, "%s on %s refused: %s", c->event->type, c->conversation_id, message);
  return chat_broadcast_reply_error(chat_runtime_producer(c->rt), chat_runtime_config(c->rt),
                                    c->event, code, message);
}

/* The refusal common to every change of a group asked by caller, or NULL
 * to go on. One who is not a member hears the same whether the
 * conversation exists or not, is a group or a 1-1, is deleted or not: a
 * 1-1's id is derived from its two users, so any other answer would tell
 * anyone whether two users have talked. It is what the read routes answer
 * (rest_check_member in the gateway's rest_reads.c). */
static const char *group_refusal(const group_t *g, const char *caller, chat_err_t *code) {
  *code = CHAT_ERR_FORBIDDEN;
  if (!g->exists || !is_participant(g, caller))
    return "not a member of this conversation";
  *code = CHAT_ERR_NOT_FOUND;
  if (g->deleted)
    return "no such conversation";
  *code = CHAT_ERR_INVALID;
  if (g->direct)
    return "the members of a 1-1 conversation cannot change";
  return NULL;
}

/* Sets *missing to the first of ids with no account ("" when all exist). */
static chat_err_t find_missing_user(command_t *c, char (*ids)[CHAT_ID_SIZE], size_t count,
                                    char missing[CHAT_ID_SIZE]) {
  mongoc_collection_t *users = chat_mongo_collection(chat_runtime_mongo(c->rt), c->client, "users");
  chat_err_t err = CHAT_OK;
  missing[0] = '\0';
  for (size_t i = 0; i < count && !missing[0] && err == CHAT_OK; i++) {
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(ids[i]));
    bson_error_t error;
    int64_t n = mongoc_collection_count_documents(users, filter, NULL, NULL, NULL, &error);
    bson_destroy(filter);
    if (n < 0)
      err = chat_mongo_error(&error);
    else if (n == 0)
      memcpy(missing, ids[i], CHAT_ID_SIZE);
  }
  mongoc_collection_destroy(users);
  return err;
}

static chat_err_t add_member_docs(command_t *c, char (*ids)[CHAT_ID_SIZE], size_t count,
                                  const char *owner) {
  mongoc_collection_t *members =
      chat_mongo_collection(chat_runtime_mongo(c->rt), c->client, "members");
  chat_err_t err = CHAT_OK;
  for (size_t i = 0; i < count && err == CHAT_OK; i++) {
    bson_t *doc =
        BCON_NEW("conversationId", BCON_UTF8(c->conversation_id), "userId", BCON_UTF8(ids[i]),
                 "role", BCON_UTF8(owner && strcmp(owner, ids[i]) == 0 ? "owner" : "member"),
                 "joinedAt", BCON_DATE_TIME(c->event->ts));
    bson_error_t error;
    if (!mongoc_collection_insert_one(members, doc, NULL, NULL, &error) &&
        chat_mongo_error(&error) != CHAT_ERR_DUPLICATE) /* a replay */
      err = chat_mongo_error(&error);
    bson_destroy(doc);
  }
  mongoc_collection_destroy(members);
  return err;
}

/* Sets the conversation's participants (and owner, when given). */
static chat_err_t save_participants(command_t *c, const char *owner) {
  mongoc_collection_t *conversations =
      chat_mongo_collection(chat_runtime_mongo(c->rt), c->client, "conversations");
  bson_t update = BSON_INITIALIZER, set, list;
  BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
  BSON_APPEND_ARRAY_BEGIN(&set, "participants", &list);
  for (size_t i = 0; i < c->group.count; i++) {
    char key[16];
    const char *key_str;
    bson_uint32_to_string((uint32_t)i, &key_str, key, sizeof key);
    bson_append_utf8(&list, key_str, -1, c->group.participants[i], -1);
  }
  bson_append_array_end(&set, &list);
  if (owner)
    BSON_APPEND_UTF8(&set, "ownerId", owner);
  bson_append_document_end(&update, &set);
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(c->conversation_id));
  bson_error_t error;
  chat_err_t err = mongoc_collection_update_one(conversations, filter, &update, NULL, NULL, &error)
                       ? CHAT_OK
                       : chat_mongo_error(&error);
  bson_destroy(filter);
  bson_destroy(&update);
  mongoc_collection_destroy(conversations);
  return err;
}

static chat_err_t broadcast(command_t *c, const chat_broadcast_route_t *route,
                            const bson_string_t *value) {
  return chat_broadcast_send_keyed(chat_runtime_producer(c->rt), chat_runtime_config(c->rt), route,
                                   c->conversation_id, value->str, value->len, 0);
}

/* The group as clients see it: conversation_created's payload and the
 * REST answer's data. */
static bson_string_t *group_json(const command_t *c) {
  bson_string_t *out = bson_string_new("{\"conversationId\":");
  chat_json_append_string(out, c->conversation_id, CHAT_ID_LEN);
  bson_string_append(out, ",\"kind\":\"group\",\"name\":");
  chat_json_append_string(out, c->group.name, strlen(c->group.name));
  bson_string_append(out, ",\"participants\":[");
  for (size_t i = 0; i < c->group.count; i++)
    bson_string_append_printf(out, "%s{\"id\":\"%s\",\"username\":null}", i ? "," : "",
                              c->group.participants[i]);
  bson_string_append(out, "],\"createdAt\":");
  chat_json_append_time(out, c->group.created_at);
  bson_string_append_c(out, '}');
  return out;
}

/* conversation_created, with the join header, to each of users. */
static chat_err_t welcome(command_t *c, char (*users)[CHAT_ID_SIZE], size_t count) {
  bson_string_t *value = group_json(c);
  chat_err_t err = CHAT_OK;
  for (size_t i = 0; i < count && err == CHAT_OK; i++) {
    char target[CHAT_ID_SIZE + 8];
    chat_target(target, sizeof target, CHAT_TARGET_USER, users[i]);
    const chat_broadcast_route_t route = {
        .event = "conversation_created", .target = target, .join = c->conversation_id};
    err = broadcast(c, &route, value);
  }
  bson_string_free(value, true);
  return err;
}

static chat_err_t reply_ok(command_t *c, const bson_string_t *data) {
  bson_string_t *value = bson_string_new("{\"ok\":true,\"data\":");
  bson_string_append(value, data->str);
  bson_string_append_c(value, '}');
  chat_err_t err = persistence_reply(c->rt, c->event, value->str);
  bson_string_free(value, true);
  return err;
}

/* Runs fn with a client and the conversation loaded. */
static chat_err_t with_group(chat_runtime_t *rt, const chat_envelope_t *event,
                             chat_err_t (*fn)(command_t *c)) {
  command_t c = {.rt = rt, .event = event};
  c.conversation_id = payload_id(event, "conversationId");
  if (!c.conversation_id) {
    CHAT_LOG(CHAT_LOG_WARN, "%s without a conversationId; skipped", event->type);
    return CHAT_OK;
  }
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  c.client = chat_mongo_acquire(mongo);
  chat_err_t err = load_group(&c);
  if (err == CHAT_OK)
    err = fn(&c);
  /* Members, owner or deletion may have changed: message.send reads the
   * conversation again (the same partition's owner handles both). */
  conversation_state_forget(c.conversation_id);
  chat_mongo_release(mongo, c.client);
  free(c.group.participants);
  return err;
}

/* ---- conversation.create ---- */

static chat_err_t create(command_t *c) {
  const char *owner = payload_id(c->event, "ownerId");
  bson_iter_t it;
  const char *name =
      bson_iter_init_find(&it, &c->event->payload, "name") && BSON_ITER_HOLDS_UTF8(&it)
          ? bson_iter_utf8(&it, NULL)
          : NULL;
  char(*ids)[CHAT_ID_SIZE] = NULL;
  size_t count = 0;
  char missing[CHAT_ID_SIZE];
  if (!owner || !name || !name[0] || strlen(name) > 100 ||
      !payload_ids(c->event, "memberIds", MEMBERS_MAX - 1, &ids, &count))
    return reply_error(c, CHAT_ERR_SCHEMA,
                       "ownerId, name (1 to 100 bytes) and memberIds (ids) "
                       "are required");
  if (c->group.exists) { /* a replay, or an id taken */
    free(ids);
    if (strcmp(c->group.owner, owner) != 0)
      return reply_error(c, CHAT_ERR_DUPLICATE, "this conversation id is taken");
    bson_string_t *data = group_json(c);
    chat_err_t err = reply_ok(c, data);
    bson_string_free(data, true);
    return err;
  }
  /* The owner first, then the others, each once. */
  group_t *g = &c->group;
  g->participants = calloc(MEMBERS_MAX + 1, sizeof *g->participants);
  if (!g->participants) {
    free(ids);
    return CHAT_ERR_NOMEM;
  }
  memcpy(g->participants[g->count++], owner, CHAT_ID_SIZE);
  for (size_t i = 0; i < count; i++) {
    if (!is_participant(g, ids[i]))
      memcpy(g->participants[g->count++], ids[i], CHAT_ID_SIZE);
  }
  free(ids);
  snprintf(g->name, sizeof g->name, "%s", name);
  snprintf(g->owner, sizeof g->owner, "%s", owner);
  g->created_at = c->event->ts;
  chat_err_t err = find_missing_user(c, g->participants, g->count, missing);
  if (err != CHAT_OK)
    return err;
  if (missing[0]) {
    char message[96];
    snprintf(message, sizeof message, "no user with id %s", missing);
    return reply_error(c, CHAT_ERR_NOT_FOUND, message);
  }
  /* Members first: a conversation that exists always has its members. */
  err = add_member_docs(c, g->participants, g->count, owner);
  if (err != CHAT_OK)
    return err;
  mongoc_collection_t *conversations =
      chat_mongo_collection(chat_runtime_mongo(c->rt), c->client, "conversations");
  bson_t doc = BSON_INITIALIZER, list;
  BSON_APPEND_UTF8(&doc, "_id", c->conversation_id);
  BSON_APPEND_UTF8(&doc, "kind", "group");
  BSON_APPEND_UTF8(&doc, "name", name);
  BSON_APPEND_UTF8(&doc, "ownerId", owner);
  BSON_APPEND_ARRAY_BEGIN(&doc, "participants", &list);
  for (size_t i = 0; i < g->count; i++) {
    char key[16];
    const char *key_str;
    bson_uint32_to_string((uint32_t)i, &key_str, key, sizeof key);
    bson_append_utf8(&list, key_str, -1, g->participants[i], -1);
  }
  bson_append_array_end(&doc, &list);
  BSON_APPEND_DATE_TIME(&doc, "createdAt", g->created_at);
  BSON_APPEND_INT64(&doc, "lastSeq", 0);
  BSON_APPEND_NULL(&doc, "lastMessage");
  BSON_APPEND_NULL(&doc, "lastMessageAt");
  BSON_APPEND_NULL(&doc, "deletedAt");
  bson_error_t error;
  if (!mongoc_collection_insert_one(conversations, &doc, NULL, NULL, &error))
    err = chat_mongo_error(&error); /* retried; a replay then finds it */
  bson_destroy(&doc);
  mongoc_collection_destroy(conversations);
  if (err != CHAT_OK)
    return err;
  g->exists = true;
  CHAT_LOG(CHAT_LOG_INFO, "group %s created by %s with %zu members", c->conversation_id, owner,
           g->count);
  err = welcome(c, g->participants, g->count);
  if (err == CHAT_OK) {
    const char *members[MEMBERS_MAX];
    for (size_t i = 0; i < g->count; i++)
      members[i] = g->participants[i];
    err = persistence_publish_conversation_created(c->rt, c->conversation_id, "group", name, owner,
                                                   members, g->count, g->created_at);
  }
  if (err == CHAT_OK) {
    bson_string_t *data = group_json(c);
    err = reply_ok(c, data);
    bson_string_free(data, true);
  }
  return err;
}

chat_err_t persistence_handle_conversation_create(void *ctx, const chat_envelope_t *event,
                                                  const chat_record_t *record) {
  (void)record;
  return with_group(ctx, event, create);
}

/* ---- member.add ---- */

static chat_err_t add(command_t *c) {
  const char *actor = payload_id(c->event, "actorId");
  char(*ids)[CHAT_ID_SIZE] = NULL;
  size_t count = 0;
  chat_err_t code, err = CHAT_OK;
  char missing[CHAT_ID_SIZE];
  if (!actor || !payload_ids(c->event, "userIds", MEMBERS_MAX, &ids, &count) || count == 0) {
    free(ids);
    return reply_error(c, CHAT_ERR_SCHEMA, "actorId and userIds (1 to 1000 ids) are required");
  }
  const char *refusal = group_refusal(&c->group, actor, &code);
  if (refusal) {
    free(ids);
    return reply_error(c, code, refusal);
  }
  /* Only those not in it yet. */
  size_t fresh = 0;
  for (size_t i = 0; i < count; i++) {
    if (!is_participant(&c->group, ids[i]))
      memmove(ids[fresh++], ids[i], CHAT_ID_SIZE);
  }
  if (c->group.count + fresh > MEMBERS_MAX) {
    free(ids);
    return reply_error(c, CHAT_ERR_TOO_LARGE, "a group has at most 1000 members");
  }
  err = find_missing_user(c, ids, fresh, missing);
  if (err == CHAT_OK && missing[0]) {
    free(ids);
    char message[96];
    snprintf(message, sizeof message, "no user with id %s", missing);
    return reply_error(c, CHAT_ERR_NOT_FOUND, message);
  }
  if (err == CHAT_OK)
    err = add_member_docs(c, ids, fresh, NULL);
  for (size_t i = 0; i < fresh && err == CHAT_OK; i++)
    memcpy(c->group.participants[c->group.count++], ids[i], CHAT_ID_SIZE);
  if (err == CHAT_OK && fresh)
    err = save_participants(c, NULL);
  bson_string_t *list = bson_string_new("[");
  for (size_t i = 0; i < fresh; i++)
    bson_string_append_printf(list, "%s\"%s\"", i ? "," : "", ids[i]);
  bson_string_append_c(list, ']');
  if (err == CHAT_OK && fresh) {
    bson_string_t *value = bson_string_new(NULL);
    bson_string_append_printf(value,
                              "{\"conversationId\":\"%s\",\"userIds\":%s,\"actorId\":\"%s\"}",
                              c->conversation_id, list->str, actor);
    char room[CHAT_ID_SIZE + 8];
    chat_target(room, sizeof room, CHAT_TARGET_ROOM, c->conversation_id);
    const chat_broadcast_route_t route = {.event = "member_added", .target = room};
    err = broadcast(c, &route, value);
    bson_string_free(value, true);
    if (err == CHAT_OK)
      err = welcome(c, ids, fresh);
    if (err == CHAT_OK)
      err = persistence_publish_member_added(c->rt, c->conversation_id, ids, fresh, actor,
                                             c->event->ts);
  }
  if (err == CHAT_OK) {
    bson_string_t *data = bson_string_new(NULL);
    bson_string_append_printf(data, "{\"conversationId\":\"%s\",\"added\":%s,\"memberCount\":%zu}",
                              c->conversation_id, list->str, c->group.count);
    err = reply_ok(c, data);
    bson_string_free(data, true);
  }
  bson_string_free(list, true);
  free(ids);
  return err;
}

chat_err_t persistence_handle_member_add(void *ctx, const chat_envelope_t *event,
                                         const chat_record_t *record) {
  (void)record;
  return with_group(ctx, event, add);
}

/* ---- member.remove and conversation.leave ---- */

/* Takes user out of the group; actor did it (the user, when leaving). */
static chat_err_t remove_member(command_t *c, const char *user, const char *actor) {
  group_t *g = &c->group;
  const char *new_owner = NULL;
  for (size_t i = 0; i < g->count; i++) {
    if (strcmp(g->participants[i], user) == 0) {
      memmove(g->participants[i], g->participants[i + 1], (g->count - i - 1) * CHAT_ID_SIZE);
      g->count--;
      break;
    }
  }
  if (strcmp(g->owner, user) == 0 && g->count > 0)
    new_owner = g->participants[0]; /* the owner left: the longest-standing member takes over */
  mongoc_collection_t *members =
      chat_mongo_collection(chat_runtime_mongo(c->rt), c->client, "members");
  bson_t *filter =
      BCON_NEW("conversationId", BCON_UTF8(c->conversation_id), "userId", BCON_UTF8(user));
  bson_error_t error;
  chat_err_t err = mongoc_collection_delete_one(members, filter, NULL, NULL, &error)
                       ? CHAT_OK
                       : chat_mongo_error(&error);
  bson_destroy(filter);
  if (err == CHAT_OK && new_owner) {
    filter =
        BCON_NEW("conversationId", BCON_UTF8(c->conversation_id), "userId", BCON_UTF8(new_owner));
    bson_t *update = BCON_NEW("$set", "{", "role", BCON_UTF8("owner"), "}");
    if (!mongoc_collection_update_one(members, filter, update, NULL, NULL, &error))
      err = chat_mongo_error(&error);
    bson_destroy(update);
    bson_destroy(filter);
  }
  mongoc_collection_destroy(members);
  if (err == CHAT_OK)
    err = save_participants(c, new_owner);
  if (err != CHAT_OK)
    return err;
  /* To the room, but not to the user who goes (they get their own record,
   * which takes their sockets out of the room). */
  char room[CHAT_ID_SIZE + 8], target[CHAT_ID_SIZE + 8];
  chat_target(room, sizeof room, CHAT_TARGET_ROOM, c->conversation_id);
  chat_target(target, sizeof target, CHAT_TARGET_USER, user);
  bson_string_t *value = bson_string_new(NULL);
  bson_string_append_printf(value,
                            "{\"conversationId\":\"%s\",\"userId\":\"%s\",\"actorId\":\"%s\"}",
                            c->conversation_id, user, actor);
  const chat_broadcast_route_t to_room = {
      .event = "member_removed", .target = room, .exclude_user = user};
  const chat_broadcast_route_t to_user = {
      .event = "member_removed", .target = target, .leave = c->conversation_id};
  err = broadcast(c, &to_room, value);
  if (err == CHAT_OK)
    err = broadcast(c, &to_user, value);
  bson_string_free(value, true);
  if (err == CHAT_OK)
    err = persistence_publish_member_removed(c->rt, c->conversation_id, user, actor, c->event->ts);
  if (err == CHAT_OK) {
    bson_string_t *data = bson_string_new(NULL);
    bson_string_append_printf(data,
                              "{\"conversationId\":\"%s\",\"removed\":\"%s\",\"memberCount\":%zu,"
                              "\"ownerId\":\"%s\"}",
                              c->conversation_id, user, g->count, new_owner ? new_owner : g->owner);
    err = reply_ok(c, data);
    bson_string_free(data, true);
  }
  return err;
}

static chat_err_t remove_by_owner(command_t *c) {
  const char *actor = payload_id(c->event, "actorId");
  const char *user = payload_id(c->event, "userId");
  chat_err_t code;
  if (!actor || !user)
    return reply_error(c, CHAT_ERR_SCHEMA, "actorId and userId are required");
  const char *refusal = group_refusal(&c->group, actor, &code);
  if (refusal)
    return reply_error(c, code, refusal);
  if (strcmp(c->group.owner, actor) != 0)
    return reply_error(c, CHAT_ERR_FORBIDDEN, "only the owner may remove members");
  if (strcmp(user, actor) == 0)
    return reply_error(c, CHAT_ERR_INVALID, "the owner leaves with POST .../leave, not by removal");
  if (!is_participant(&c->group, user))
    return reply_error(c, CHAT_ERR_NOT_FOUND, "that user is not a member of this conversation");
  return remove_member(c, user, actor);
}

chat_err_t persistence_handle_member_remove(void *ctx, const chat_envelope_t *event,
                                            const chat_record_t *record) {
  (void)record;
  return with_group(ctx, event, remove_by_owner);
}

static chat_err_t leave(command_t *c) {
  const char *user = payload_id(c->event, "userId");
  chat_err_t code;
  if (!user)
    return reply_error(c, CHAT_ERR_SCHEMA, "userId is required");
  const char *refusal = group_refusal(&c->group, user, &code);
  if (refusal)
    return reply_error(c, code, refusal);
  return remove_member(c, user, user);
}

chat_err_t persistence_handle_conversation_leave(void *ctx, const chat_envelope_t *event,
                                                 const chat_record_t *record) {
  (void)record;
  return with_group(ctx, event, leave);
}

/* ---- conversation.delete ---- */

static chat_err_t delete_group(command_t *c) {
  const char *actor = payload_id(c->event, "actorId");
  chat_err_t code;
  if (!actor)
    return reply_error(c, CHAT_ERR_SCHEMA, "actorId is required");
  const char *refusal = group_refusal(&c->group, actor, &code);
  if (refusal)
    return reply_error(c, code, refusal);
  if (strcmp(c->group.owner, actor) != 0)
    return reply_error(c, CHAT_ERR_FORBIDDEN, "only the owner may delete the conversation");
  mongoc_collection_t *conversations =
      chat_mongo_collection(chat_runtime_mongo(c->rt), c->client, "conversations");
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(c->conversation_id));
  bson_t *update = BCON_NEW("$set", "{", "deletedAt", BCON_DATE_TIME(c->event->ts), "}");
  bson_error_t error;
  chat_err_t err = mongoc_collection_update_one(conversations, filter, update, NULL, NULL, &error)
                       ? CHAT_OK
                       : chat_mongo_error(&error);
  bson_destroy(update);
  bson_destroy(filter);
  mongoc_collection_destroy(conversations);
  if (err != CHAT_OK)
    return err;
  CHAT_LOG(CHAT_LOG_INFO, "group %s deleted by its owner", c->conversation_id);
  /* Everyone in the room hears it and leaves the room. Its messages stay
   * stored; nothing serves them any more. */
  char room[CHAT_ID_SIZE + 8];
  chat_target(room, sizeof room, CHAT_TARGET_ROOM, c->conversation_id);
  bson_string_t *value = bson_string_new(NULL);
  bson_string_append_printf(value, "{\"conversationId\":\"%s\",\"actorId\":\"%s\"}",
                            c->conversation_id, actor);
  const chat_broadcast_route_t route = {
      .event = "conversation_deleted", .target = room, .leave = c->conversation_id};
  err = broadcast(c, &route, value);
  bson_string_free(value, true);
  if (err == CHAT_OK)
    err = persistence_publish_conversation_deleted(c->rt, c->conversation_id, actor, c->event->ts);
  if (err == CHAT_OK) {
    bson_string_t *data = bson_string_new(NULL);
    bson_string_append_printf(data, "{\"conversationId\":\"%s\",\"deleted\":true}",
                              c->conversation_id);
    err = reply_ok(c, data);
    bson_string_free(data, true);
  }
  return err;
}

chat_err_t persistence_handle_conversation_delete(void *ctx, const chat_envelope_t *event,
                                                  const chat_record_t *record) {
  (void)record;
  return with_group(ctx, event, delete_group);
}
