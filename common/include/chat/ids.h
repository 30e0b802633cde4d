/* Ids of users, conversations and messages: 24 lowercase hex digits, the
 * text form of a MongoDB ObjectId (proto/README.md). */
#ifndef CHAT_IDS_H
#define CHAT_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_ID_LEN 24
#define CHAT_ID_SIZE (CHAT_ID_LEN + 1) /* with the NUL */

/* True when id is exactly 24 lowercase hex digits. */
bool chat_is_id(const char *id);

/* The id of the one direct (1-1) conversation between two users, whatever
 * their order: the first 24 hex digits of SHA-256("direct:<smaller
 * id>:<larger id>"). Every gateway and persistence process computes the
 * same id, so a pair has at most one conversation even when both send
 * their first message at the same moment (its _id is unique), and all of
 * its messages share one Kafka key. Returns false when an id is not valid
 * or both are the same user. */
bool chat_direct_conversation_id(const char *user_a, const char *user_b, char out[CHAT_ID_SIZE]);

#endif
