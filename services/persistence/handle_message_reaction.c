/* reaction.add and reaction.remove: a member reacts to a message of
 * their conversation with an emoji, or takes it back. The message's
 * document holds its reactions (chat/reactions.h: one of each emoji per
 * user, at most CHAT_REACTIONS_DISTINCT_MAX distinct); a deleted message
 * takes none. The room hears reaction_added / reaction_removed and
 * chat.events gets reaction.added / reaction.removed, each with the
 * emoji's count once the change is made, so that an event seen twice
 * sets a count rather than adding to it. A refusal goes back as
 * reaction_reverted, or to the REST call that waits.
 *
 * Redelivery: a react already in the set changes nothing; when it is this
 * very command (the entry's at is the command's time) the room is told
 * again, since the first try may have stopped before telling. An unreact
 * of what is not there changes nothing and tells nobody. */
#include <stdio.h>
#include <string.h>

#include "chat/emoji.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/log.h"
#include "chat/reactions.h"
#include "handle_message_edit.h"
#include "message_changes.h"
#include "persistence_publish.h"

#define REACTION_REVERT "reaction_reverted"

static chat_err_t store_reactions(mongoc_collection_t *messages, const char *message_id,
                                  const bson_t *reactions) {
  bson_error_t error;
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(message_id));
  bson_t update = BSON_INITIALIZER, set;
  BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
  BSON_APPEND_ARRAY(&set, "reactions", reactions);
  bson_append_document_end(&update, &set);
  chat_err_t err = mongoc_collection_update_one(messages, filter, &update, NULL, NULL, &error)
                       ? CHAT_OK
                       : chat_mongo_error(&error);
  bson_destroy(&update);
  bson_destroy(filter);
  return err;
}

/* The room, chat.events and the waiting REST call. told: whether the room
 * and chat.events hear of it (a change, or the replay of one). */
static chat_err_t tell(chat_runtime_t *rt, const chat_envelope_t *event, bool add, bool told,
                       const stored_message_t *m, const char *message_id, const char *user_id,
                       const char *emoji, uint32_t emoji_len, int64_t count) {
  bson_string_t *value = bson_string_new(NULL);
  bson_string_append_printf(value,
                            "{\"messageId\":\"%s\",\"conversationId\":\"%s\",\"userId\":\"%s\","
                            "\"emoji\":",
                            message_id, m->conversation_id, user_id);
  chat_json_append_string(value, emoji, emoji_len);
  bson_string_append_printf(value, ",\"count\":%lld}", (long long)count);
  chat_err_t err = CHAT_OK;
  if (told) {
    err = message_changes_tell_room(rt, m->conversation_id,
                                    add ? "reaction_added" : "reaction_removed", value->str,
                                    value->len);
    if (err == CHAT_OK)
      err = persistence_publish_reaction(rt, add, message_id, m->conversation_id, user_id, emoji,
                                         emoji_len, count, event->ts);
  }
  if (err == CHAT_OK && event->correlation_id[0]) {
    /* The REST answer says where the caller stands: reacted or not. */
    value->len--;
    value->str[value->len] = '\0';
    bson_string_append_printf(value, ",\"reacted\":%s}", add ? "true" : "false");
    bson_string_t *answer = bson_string_new("{\"ok\":true,\"data\":");
    bson_string_append(answer, value->str);
    bson_string_append_c(answer, '}');
    err = persistence_reply(rt, event, answer->str);
    bson_string_free(answer, true);
  }
  bson_string_free(value, true);
  return err;
}

static chat_err_t handle_reaction(chat_runtime_t *rt, const chat_envelope_t *event,
                                  const chat_record_t *record, bool add) {
  const char *message_id = message_changes_payload_id(event, "messageId");
  const char *user_id = message_changes_payload_id(event, "userId");
  uint32_t emoji_len = 0;
  const char *emoji = chat_envelope_string(event, "emoji", &emoji_len);
  if (!message_id || !user_id) {
    CHAT_LOG(CHAT_LOG_WARN, "%s at %s[%d]@%lld lacks messageId or userId; skipped", event->type,
             record->topic, record->partition, (long long)record->offset);
    return CHAT_OK;
  }
  chat_mongo_t *mongo = chat_runtime_mongo(rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  stored_message_t m;
  bool member = false;
  const char *reason = NULL;
  chat_err_t code = CHAT_OK;
  chat_reaction_change_t change = {0};
  chat_err_t err = stored_message_load(messages, message_id, &m);
  /* Nothing is said of a message to someone outside its conversation,
   * not even whether the emoji was valid. */
  if (err == CHAT_OK && m.found)
    err = message_changes_is_member(mongo, client, m.conversation_id, user_id, &member);
  if (err == CHAT_OK) {
    if (!m.found)
      code = CHAT_ERR_NOT_FOUND, reason = "message not found";
    else if (!member)
      code = CHAT_ERR_FORBIDDEN, reason = "not a member of this conversation";
    else if (!emoji || !chat_emoji_is_valid(emoji, emoji_len))
      code = CHAT_ERR_INVALID, reason = "emoji must be one emoji of at most 32 bytes";
    else if (m.deleted)
      code = CHAT_ERR_NOT_FOUND, reason = "message was deleted";
  }
  if (err == CHAT_OK && !reason) {
    bson_iter_t it;
    bson_t stored, next;
    const uint8_t *data = NULL;
    uint32_t len = 0;
    bool has = bson_iter_init_find(&it, m.doc, "reactions") && BSON_ITER_HOLDS_ARRAY(&it);
    if (has)
      bson_iter_array(&it, &len, &data);
    has = has && bson_init_static(&stored, data, len);
    chat_reactions_apply(has ? &stored : NULL, user_id, emoji, emoji_len, add, event->ts, &next,
                         &change);
    if (change.too_many) {
      code = CHAT_ERR_TOO_LARGE, reason = "a message has at most 20 distinct emoji";
    } else if (change.changed) {
      err = store_reactions(messages, message_id, &next);
      bson_destroy(&next);
    }
  }
  mongoc_collection_destroy(messages);
  chat_mongo_release(mongo, client);
  if (err == CHAT_OK && reason)
    err = message_changes_refuse(rt, event, message_id, REACTION_REVERT, code, reason);
  else if (err == CHAT_OK)
    err = tell(rt, event, add, change.changed || change.replay, &m, message_id, user_id, emoji,
               emoji_len, change.count);
  stored_message_cleanup(&m);
  return err;
}

chat_err_t persistence_handle_reaction_add(void *ctx, const chat_envelope_t *event,
                                           const chat_record_t *record) {
  return handle_reaction(ctx, event, record, true);
}

chat_err_t persistence_handle_reaction_remove(void *ctx, const chat_envelope_t *event,
                                              const chat_record_t *record) {
  return handle_reaction(ctx, event, record, false);
}
