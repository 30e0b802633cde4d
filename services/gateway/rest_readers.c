/* Who read a message: derived from the members' read watermarks
 * (message_readers.h), never stored per reader. Every read is an equality
 * the local store pushes down (docs/queries.md): the message by _id, the
 * caller's membership by (conversationId, userId), the conversation by
 * _id, its watermarks by conversationId, each reader's name by _id. */
#include "rest_readers.h"

#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/limits.h"
#include "message_readers.h"
#include "rest_jobs.h"
#include "rest_reads.h"

/* A group's member list, as far as the readers of a message go. */
#define READERS_MEMBERS_MAX 10000 /* members of one conversation considered at most */

typedef struct readers_job {
  rest_job_t base; /* first: the engine's part */
  char user_id[CHAT_JWT_SUB_MAX];
  char message_id[CHAT_ID_SIZE];
} readers_job_t;

/* The message as the answer needs it. */
typedef struct read_message {
  char conversation_id[CHAT_ID_SIZE];
  char sender_id[CHAT_ID_SIZE];
  int64_t seq;
  bool deleted;
} read_message_t;

/* The one answer for a message the caller may not see, whether it exists
 * or not: a non-member learns nothing of another conversation's ids. */
static void fail_unseen(readers_job_t *job) {
  rest_job_fail(&job->base, 404, CHAT_ERR_NOT_FOUND, "no such message");
}

/* Reads the message by _id; false with *error set on a store failure,
 * true with *found false when there is none. */
static bool load_message(mongoc_collection_t *messages, const char *id, read_message_t *out,
                         bool *found, bson_error_t *error) {
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
  bson_t *opts = BCON_NEW("projection", "{", "conversationId", BCON_INT32(1), "senderId",
                          BCON_INT32(1), "seq", BCON_INT32(1), "deletedAt", BCON_INT32(1), "}",
                          "limit", BCON_INT64(1));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, filter, opts, NULL);
  const bson_t *doc;
  bson_iter_t it;
  *found = false;
  if (mongoc_cursor_next(cursor, &doc)) {
    const char *conversation = rest_doc_string(doc, "conversationId");
    const char *sender = rest_doc_string(doc, "senderId");
    if (conversation && sender && chat_is_id(conversation) && chat_is_id(sender)) {
      *found = true;
      memcpy(out->conversation_id, conversation, CHAT_ID_SIZE);
      memcpy(out->sender_id, sender, CHAT_ID_SIZE);
      out->seq = bson_iter_init_find(&it, doc, "seq") ? bson_iter_as_int64(&it) : 0;
      out->deleted = bson_iter_init_find(&it, doc, "deletedAt") && !BSON_ITER_HOLDS_NULL(&it);
    }
  }
  bool ok = !mongoc_cursor_error(cursor, error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  return ok;
}

/* The conversation's participants (strdup'd into *members) and kind;
 * false with *error set on a store failure. *live is false when it does
 * not exist or is deleted. */
static bool load_conversation(mongoc_collection_t *conversations, const char *id, char ***members,
                              size_t *member_count, bool *direct, bool *live,
                              bson_error_t *error) {
  bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
  bson_t *opts = BCON_NEW("projection", "{", "kind", BCON_INT32(1), "participants", BCON_INT32(1),
                          "deletedAt", BCON_INT32(1), "}", "limit", BCON_INT64(1));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(conversations, filter, opts, NULL);
  const bson_t *doc;
  bson_iter_t it, people;
  *live = false;
  *members = NULL;
  *member_count = 0;
  if (mongoc_cursor_next(cursor, &doc)) {
    const char *kind = rest_doc_string(doc, "kind");
    *direct = kind && strcmp(kind, "direct") == 0;
    *live = !(bson_iter_init_find(&it, doc, "deletedAt") && !BSON_ITER_HOLDS_NULL(&it));
    if (bson_iter_init_find(&it, doc, "participants") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &people)) {
      *members = calloc(READERS_MEMBERS_MAX, sizeof **members);
      while (*members && *member_count < READERS_MEMBERS_MAX && bson_iter_next(&people)) {
        if (BSON_ITER_HOLDS_UTF8(&people) && chat_is_id(bson_iter_utf8(&people, NULL)))
          (*members)[(*member_count)++] = strdup(bson_iter_utf8(&people, NULL));
      }
    }
  }
  bool ok = !mongoc_cursor_error(cursor, error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  return ok;
}

/* Every member's watermark in the conversation (strdup'd user ids). */
static bool load_watermarks(mongoc_collection_t *states, const char *conversation_id,
                            read_watermark_t **marks, size_t *count, bson_error_t *error) {
  bson_t *filter = BCON_NEW("conversationId", BCON_UTF8(conversation_id));
  bson_t *opts = BCON_NEW("projection", "{", "userId", BCON_INT32(1), "lastReadSeq", BCON_INT32(1),
                          "lastReadAt", BCON_INT32(1), "}");
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(states, filter, opts, NULL);
  const bson_t *doc;
  bson_iter_t it;
  size_t cap = 0;
  *marks = NULL;
  *count = 0;
  while (mongoc_cursor_next(cursor, &doc)) {
    const char *user = rest_doc_string(doc, "userId");
    if (!user || !bson_iter_init_find(&it, doc, "lastReadSeq"))
      continue;
    if (*count == cap) {
      cap = cap ? cap * 2 : 16;
      read_watermark_t *grown = realloc(*marks, cap * sizeof *grown);
      if (!grown)
        break;
      *marks = grown;
    }
    read_watermark_t *mark = &(*marks)[(*count)++];
    mark->user_id = strdup(user);
    mark->last_read_seq = bson_iter_as_int64(&it);
    mark->last_read_at = bson_iter_init_find(&it, doc, "lastReadAt") &&
                                 BSON_ITER_HOLDS_DATE_TIME(&it)
                             ? bson_iter_date_time(&it)
                             : 0;
    if (!mark->user_id)
      (*count)--;
  }
  bool ok = !mongoc_cursor_error(cursor, error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  return ok;
}

static bool is_member(mongoc_collection_t *members, const char *conversation_id,
                      const char *user_id, bool *member, bson_error_t *error) {
  bson_t *filter =
      BCON_NEW("conversationId", BCON_UTF8(conversation_id), "userId", BCON_UTF8(user_id));
  int64_t count = mongoc_collection_count_documents(members, filter, NULL, NULL, NULL, error);
  bson_destroy(filter);
  *member = count > 0;
  return count >= 0;
}

/* {"messageId","conversationId","seq","readers":[{"user":{...},"readAt"}],
 * "readCount","memberCount"}: memberCount counts the members who could
 * read it (everyone but the sender). */
static void answer(readers_job_t *job, const read_message_t *message, const rest_names_t *names,
                   const read_watermark_t *marks, const size_t *readers, size_t reader_count,
                   size_t member_count, bool sender_is_member) {
  bson_string_t *out = bson_string_new("{\"messageId\":");
  chat_json_append_string(out, job->message_id, CHAT_ID_LEN);
  bson_string_append(out, ",\"conversationId\":");
  chat_json_append_string(out, message->conversation_id, CHAT_ID_LEN);
  bson_string_append_printf(out, ",\"seq\":%lld,\"readers\":[", (long long)message->seq);
  for (size_t i = 0; i < reader_count; i++) {
    const read_watermark_t *mark = &marks[readers[i]];
    bson_string_append(out, i ? ",{\"user\":" : "{\"user\":");
    rest_append_user(out, names, mark->user_id);
    bson_string_append(out, ",\"readAt\":");
    if (mark->last_read_at)
      chat_json_append_time(out, mark->last_read_at);
    else
      bson_string_append(out, "null");
    bson_string_append_c(out, '}');
  }
  bson_string_append_printf(out, "],\"readCount\":%zu,\"memberCount\":%zu}", reader_count,
                            member_count - (sender_is_member ? 1 : 0));
  job->base.data = out;
  job->base.status = 200;
}

static void read_readers(void *arg) {
  readers_job_t *job = arg;
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_client_t *client = chat_mongo_acquire(mongo);
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  mongoc_collection_t *members = chat_mongo_collection(mongo, client, "members");
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  mongoc_collection_t *states = chat_mongo_collection(mongo, client, "read_states");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_error_t error;
  read_message_t message = {0};
  char **participants = NULL;
  size_t participant_count = 0, mark_count = 0;
  read_watermark_t *marks = NULL;
  size_t *readers = NULL;
  rest_names_t names = {0};
  bool found = false, member = false, direct = false, live = false;
  if (!load_message(messages, job->message_id, &message, &found, &error) ||
      (found && !message.deleted &&
       !is_member(members, message.conversation_id, job->user_id, &member, &error))) {
    rest_job_fail_store(&job->base, &error);
    goto out;
  }
  if (!found || message.deleted || !member) {
    fail_unseen(job);
    goto out;
  }
  if (!load_conversation(conversations, message.conversation_id, &participants,
                         &participant_count, &direct, &live, &error)) {
    rest_job_fail_store(&job->base, &error);
    goto out;
  }
  if (!live) {
    fail_unseen(job);
    goto out;
  }
  if (direct) {
    rest_job_fail(&job->base, 400, CHAT_ERR_INVALID,
                  "readers are listed for messages of groups; in a 1-1, is_read says it");
    goto out;
  }
  if (!load_watermarks(states, message.conversation_id, &marks, &mark_count, &error)) {
    rest_job_fail_store(&job->base, &error);
    goto out;
  }
  readers = calloc(participant_count + 1, sizeof *readers);
  if (!readers) {
    rest_job_fail(&job->base, 503, CHAT_ERR_NOMEM, "server busy, try again");
    goto out;
  }
  size_t reader_count =
      message_readers(message.seq, message.sender_id, (const char *const *)participants,
                      participant_count, marks, mark_count, readers);
  for (size_t i = 0; i < reader_count; i++)
    rest_names_want(&names, marks[readers[i]].user_id);
  if (!rest_names_load(&names, users, &error)) {
    rest_job_fail_store(&job->base, &error);
    goto out;
  }
  bool sender_is_member = false;
  for (size_t i = 0; i < participant_count; i++)
    sender_is_member = sender_is_member || strcmp(participants[i], message.sender_id) == 0;
  answer(job, &message, &names, marks, readers, reader_count, participant_count, sender_is_member);
out:
  rest_names_free(&names);
  free(readers);
  for (size_t i = 0; i < mark_count; i++)
    free((char *)marks[i].user_id);
  free(marks);
  for (size_t i = 0; i < participant_count; i++)
    free(participants[i]);
  free(participants);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(states);
  mongoc_collection_destroy(conversations);
  mongoc_collection_destroy(members);
  mongoc_collection_destroy(messages);
  chat_mongo_release(mongo, client);
}

void rest_message_readers(gateway_t *gw, const chat_http_request_t *request,
                          const rest_params_t *params) {
  chat_jwt_claims_t claims;
  if (!rest_authenticate(gw, request, &claims))
    return;
  if (!chat_is_id(params->values[0])) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID,
                     "the message id must be 24 hex digits");
    return;
  }
  readers_job_t *job = rest_job_new(gw, request->id, sizeof *job);
  if (!job)
    return;
  memcpy(job->user_id, claims.sub, sizeof job->user_id);
  memcpy(job->message_id, params->values[0], CHAT_ID_SIZE);
  rest_job_submit(&job->base, read_readers, NULL, "too many requests at once, try again");
}
