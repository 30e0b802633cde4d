#include "handle_message_created.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/ids.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/log.h"
#include "chat/reply_quote.h"
#include "chat/topics.h"
#include "online_cache.h"
#include "presence_store.h"

#define PUSH_MEMBERS_MAX 10000 /* members of one message.created looked at */

/* How many entries memberIds has (at most PUSH_MEMBERS_MAX). */
static size_t member_count(const chat_envelope_t *event) {
  bson_iter_t it, members;
  size_t count = 0;
  if (bson_iter_init_find(&it, &event->payload, "memberIds") && BSON_ITER_HOLDS_ARRAY(&it) &&
      bson_iter_recurse(&it, &members)) {
    while (count < PUSH_MEMBERS_MAX && bson_iter_next(&members))
      count++;
  }
  return count;
}

/* The members of the message other than its sender, from memberIds. */
static size_t recipients_of(const chat_envelope_t *event, const char *sender_id,
                            char (*out)[CHAT_ID_SIZE], size_t cap) {
  bson_iter_t it, members;
  size_t count = 0;
  if (!bson_iter_init_find(&it, &event->payload, "memberIds") || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &members))
    return 0;
  while (count < cap && bson_iter_next(&members)) {
    if (!BSON_ITER_HOLDS_UTF8(&members))
      continue;
    const char *id = bson_iter_utf8(&members, NULL);
    if (!chat_is_id(id) || strcmp(id, sender_id) == 0)
      continue;
    memcpy(out[count++], id, CHAT_ID_SIZE);
  }
  return count;
}

/* Keeps in recipients those with no live session; returns how many. What
 * this process settled lately answers (online_cache.h), the rest is one
 * count of sessions by the indexed userId each: a group of 1,000 costs its
 * lookups once, not at every message. */
static size_t keep_offline(mongoc_collection_t *sessions, char (*recipients)[CHAT_ID_SIZE],
                           size_t count, chat_err_t *err) {
  size_t offline = 0;
  *err = CHAT_OK;
  int64_t now = presence_wall_ms();
  for (size_t i = 0; i < count && *err == CHAT_OK; i++) {
    bool online = false;
    if (!online_cache_get(recipients[i], now, &online)) {
      bson_error_t error;
      bson_t *filter = BCON_NEW("userId", BCON_UTF8(recipients[i]));
      int64_t live =
          mongoc_collection_count_documents(sessions, filter, NULL, NULL, NULL, &error);
      bson_destroy(filter);
      if (live < 0) {
        CHAT_LOG(CHAT_LOG_WARN, "sessions of user %s: %s", recipients[i], error.message);
        *err = chat_mongo_error(&error);
        break;
      }
      online = live > 0;
      online_cache_put(recipients[i], online, now);
    }
    if (!online)
      memmove(recipients[offline++], recipients[i], CHAT_ID_SIZE);
  }
  return offline;
}

static void append_ids(bson_t *doc, const char *key, char (*ids)[CHAT_ID_SIZE], size_t count) {
  bson_t list;
  bson_append_array_begin(doc, key, -1, &list);
  for (size_t i = 0; i < count; i++) {
    char index[16];
    const char *index_str;
    bson_uint32_to_string((uint32_t)i, &index_str, index, sizeof index);
    bson_append_utf8(&list, index_str, -1, ids[i], -1);
  }
  bson_append_array_end(doc, &list);
}

/* Records that the message's offline members were asked for; returns
 * CHAT_OK, CHAT_ERR_DUPLICATE when that was done before, or the store's
 * error. */
static chat_err_t claim(mongoc_collection_t *requests, const char *message_id,
                        const char *conversation_id, char (*offline)[CHAT_ID_SIZE], size_t count,
                        int64_t created_at_ms) {
  bson_t *doc = BCON_NEW("_id", BCON_UTF8(message_id), "conversationId",
                         BCON_UTF8(conversation_id), "createdAt", BCON_DATE_TIME(created_at_ms),
                         "requestedAt", BCON_DATE_TIME(presence_wall_ms()));
  append_ids(doc, "userIds", offline, count);
  bson_error_t error;
  chat_err_t err = CHAT_OK;
  if (!mongoc_collection_insert_one(requests, doc, NULL, NULL, &error)) {
    err = chat_mongo_error(&error);
    if (err != CHAT_ERR_DUPLICATE)
      CHAT_LOG(CHAT_LOG_WARN, "recording the push of message %s: %s", message_id, error.message);
  }
  bson_destroy(doc);
  return err;
}

/* Forgets a claim whose event could not be produced. */
static void unclaim(mongoc_collection_t *requests, const char *message_id) {
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(message_id));
  bson_error_t error;
  if (!mongoc_collection_delete_one(requests, filter, NULL, NULL, &error))
    CHAT_LOG(CHAT_LOG_WARN, "forgetting the push of message %s: %s", message_id, error.message);
  bson_destroy(filter);
}

static chat_err_t publish(chat_runtime_t *rt, const chat_envelope_t *event,
                          const char *message_id, const char *conversation_id,
                          const char *sender_id, char (*offline)[CHAT_ID_SIZE], size_t count) {
  chat_envelope_t env;
  chat_err_t err =
      chat_envelope_init(&env, "notification.requested", chat_runtime_source(rt), NULL);
  if (err != CHAT_OK)
    return err;
  bson_t *p = &env.payload;
  bson_iter_t it;
  BSON_APPEND_UTF8(p, "messageId", message_id);
  BSON_APPEND_UTF8(p, "conversationId", conversation_id);
  BSON_APPEND_UTF8(p, "senderId", sender_id);
  append_ids(p, "userIds", offline, count);
  BSON_APPEND_INT64(p, "seq",
                    bson_iter_init_find(&it, &event->payload, "seq") ? bson_iter_as_int64(&it) : 0);
  /* What a phone shows: the first characters, as a reply quotes them. */
  uint32_t content_len = 0;
  const char *content = chat_envelope_string(event, "content", &content_len);
  size_t len = content ? chat_reply_excerpt_len(content, content_len, CHAT_REPLY_EXCERPT_MAX) : 0;
  bson_append_utf8(p, "preview", -1, content ? content : "", (int)len);
  const char *created = chat_envelope_string(event, "createdAt", NULL);
  BSON_APPEND_UTF8(p, "createdAt", created ? created : "");
  bson_string_t *value = bson_string_new(NULL);
  err = chat_envelope_encode(&env, value);
  chat_envelope_cleanup(&env);
  if (err == CHAT_OK) {
    char topic[CHAT_TOPIC_NAME_MAX];
    chat_topic_name(chat_runtime_config(rt)->topic_prefix, CHAT_TOPIC_EVENTS, topic, sizeof topic);
    err = chat_producer_produce(chat_runtime_producer(rt), topic, conversation_id,
                                strlen(conversation_id), value->str, value->len, NULL, 0, 0);
  }
  bson_string_free(value, true);
  return err;
}

chat_err_t presence_handle_message_created(void *ctx, const chat_envelope_t *event,
                                           const chat_record_t *record) {
  chat_runtime_t *rt = ctx;
  const char *message_id = chat_envelope_string(event, "messageId", NULL);
  const char *conversation_id = chat_envelope_string(event, "conversationId", NULL);
  const char *sender_id = chat_envelope_string(event, "senderId", NULL);
  if (!message_id || !conversation_id || !sender_id || !chat_is_id(message_id) ||
      !chat_is_id(conversation_id) || !chat_is_id(sender_id)) {
    CHAT_LOG(CHAT_LOG_WARN, "skipping message.created at %s[%d]@%lld: no message, conversation "
             "or sender id", record->topic, record->partition, (long long)record->offset);
    return CHAT_OK;
  }
  /* A backlog (presence's group new to chat.events, or back after an
   * outage), or a send handled again long after, is not pushed: a phone
   * buzzing for a message of an hour ago helps nobody, and the user sees
   * it when they open the app. The age is the message's own. */
  int64_t created_at = event->ts;
  const char *created = chat_envelope_string(event, "createdAt", NULL);
  if (created)
    chat_json_parse_time(created, &created_at);
  if (presence_wall_ms() - created_at > PUSH_MAX_AGE_MS)
    return CHAT_OK;
  size_t cap = member_count(event);
  if (cap == 0)
    return CHAT_OK; /* an older producer without memberIds */
  char(*recipients)[CHAT_ID_SIZE] = calloc(cap, sizeof *recipients);
  if (!recipients)
    return CHAT_ERR_NOMEM;
  size_t count = recipients_of(event, sender_id, recipients, cap);
  chat_err_t err = CHAT_OK;
  if (count == 0)
    goto out; /* nobody but the sender */
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *sessions = chat_mongo_collection(mongo, client, "sessions");
  mongoc_collection_t *requests = chat_mongo_collection(mongo, client, "notification_requests");
  size_t offline = keep_offline(sessions, recipients, count, &err);
  if (err == CHAT_OK && offline > 0) {
    err = claim(requests, message_id, conversation_id, recipients, offline, created_at);
    if (err == CHAT_OK) {
      err = publish(rt, event, message_id, conversation_id, sender_id, recipients, offline);
      if (err != CHAT_OK)
        unclaim(requests, message_id); /* the retry of the batch asks again */
    } else if (err == CHAT_ERR_DUPLICATE)
      err = CHAT_OK; /* asked for already: a redelivery */
  }
  mongoc_collection_destroy(requests);
  mongoc_collection_destroy(sessions);
  chat_mongo_release(mongo, client);
out:
  free(recipients);
  return err;
}

void presence_prune_notification_requests(chat_runtime_t *rt) {
  static int64_t last_pruned_ms; /* the tick thread's alone */
  int64_t now = presence_wall_ms();
  if (now - last_pruned_ms < PUSH_PRUNE_EVERY_MS)
    return;
  last_pruned_ms = now;
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *requests = chat_mongo_collection(mongo, client, "notification_requests");
  bson_t *filter = BCON_NEW("createdAt", "{", "$lt",
                            BCON_DATE_TIME(now - PUSH_MAX_AGE_MS - PUSH_CLAIM_MARGIN_MS), "}");
  bson_error_t error;
  if (!mongoc_collection_delete_many(requests, filter, NULL, NULL, &error))
    CHAT_LOG(CHAT_LOG_WARN, "pruning notification_requests: %s", error.message);
  bson_destroy(filter);
  mongoc_collection_destroy(requests);
  chat_mongo_release(mongo, client);
}
