/* What the handlers of a change to a stored message share (an edit, a
 * react, an unreact; handle_message_edit.c, handle_message_reaction.c):
 * reading the message and the caller's membership, refusing back to the
 * asking socket's revert event or the waiting REST call, and telling the
 * conversation's room. */
#ifndef PERSISTENCE_MESSAGE_CHANGES_H
#define PERSISTENCE_MESSAGE_CHANGES_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/envelope.h"
#include "chat/ids.h"
#include "chat/mongo.h"
#include "chat/runtime.h"

/* A message as stored, for checking a change to it. */
typedef struct stored_message {
  bool found;
  bool deleted; /* deletedAt is set */
  char sender_id[CHAT_ID_SIZE], conversation_id[CHAT_ID_SIZE];
  int64_t seq;
  bson_t *doc; /* the whole document (a copy), NULL when not found */
} stored_message_t;

/* Reads message_id from messages into *out (by _id). Returns CHAT_OK
 * (out->found says whether it exists) or the store's error. Free with
 * stored_message_cleanup(). */
chat_err_t stored_message_load(mongoc_collection_t *messages, const char *message_id,
                               stored_message_t *out);
void stored_message_cleanup(stored_message_t *m);

/* Whether user_id is a member of conversation_id (the members
 * collection, by its unique {conversationId, userId} index). */
chat_err_t message_changes_is_member(chat_mongo_t *mongo, mongoc_client_t *client,
                                     const char *conversation_id, const char *user_id,
                                     bool *member);

/* A payload field of event that is an id, or NULL. */
const char *message_changes_payload_id(const chat_envelope_t *event, const char *key);

/* Refuses event: {messageId, reason, code} as revert to the asking socket
 * (its connectionId), and the refusal to the REST call that waits (its
 * correlation id). message_id is echoed as given ("" when none). */
chat_err_t message_changes_refuse(chat_runtime_t *rt, const chat_envelope_t *event,
                                  const char *message_id, const char *revert, chat_err_t code,
                                  const char *reason);

/* Sends value (JSON) as event_name to the conversation's room. */
chat_err_t message_changes_tell_room(chat_runtime_t *rt, const char *conversation_id,
                                     const char *event_name, const char *value, size_t value_len);

#endif
