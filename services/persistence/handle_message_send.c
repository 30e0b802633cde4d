/* message.send (proto/events/message.send.schema.json), a run at a time.
 *
 * For a run of commands from one batch: read the conversations and users
 * they name (one query each), check that each sender may write there,
 * create the direct conversations that first messages open, find which
 * messages are stored already (a redelivered command), give the new ones
 * the next seq of their conversation, insert them in one ordered write,
 * move each conversation's last message, and only then publish: new_message
 * and message_notification to the room, message_ack "persisted" to the
 * sending socket, command.result to a REST call waiting for it, and
 * message.created to chat.events.
 *
 * Idempotence: a message's _id is derived from (senderId, clientMsgId), so
 * a command seen twice finds its message by _id, keeps its seq, and is
 * published again (at-least-once; clients drop what they already have by
 * id). Ordering: one partition has one owner, and an ordered insert stores
 * a prefix of the run, so messages found stored always precede the new
 * ones of their conversation. A second writer (a zombie owner during a
 * rebalance) makes an insert fail on the unique (conversationId, seq)
 * index: the run is retried and the next try reads the seqs that writer
 * used. */
#include "handle_message_send.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/broadcast.h"
#include "chat/ids.h"
#include "chat/json.h"
#include "chat/log.h"
#include "chat/message_json.h"
#include "chat/runtime.h"
#include "chat/topics.h"
#include "persistence_publish.h"
#include "reply_window.h"

#define CONTENT_MAX 65536 /* proto's limit; the gateway enforces its smaller setting */
#define CLIENT_MSG_ID_MAX 128
#define ATTACHMENT_URL_MAX 2048
#define PREVIEW_MAX 200 /* bytes of content kept as the conversation's last message */

typedef struct conversation {
  char id[CHAT_ID_SIZE];
  bool exists;  /* stored (or created by this run) */
  bool deleted; /* deletedAt is set: nothing more goes in */
  bool direct;  /* kind "direct" */
  bool touched; /* gets a new message in this run */
  char **participants;
  size_t participant_count;
  int64_t last_seq; /* the highest seq stored, as this run goes */
  const char *last_content;
  uint32_t last_content_len;
  int64_t last_at;
  awaiting_t awaiting[2]; /* direct only: per participant */
  bool awaiting_changed;
} conversation_t;

typedef struct user {
  char id[CHAT_ID_SIZE];
  char *username;
} user_t;

typedef struct send {
  const chat_envelope_t *event;
  const chat_record_t *record;
  const char *client_msg_id, *sender_id, *receiver_id, *content, *attachment_url, *connection_id;
  uint32_t content_len;
  char conversation_id[CHAT_ID_SIZE];
  char message_id[CHAT_ID_SIZE];
  /* outcome */
  chat_err_t reject; /* CHAT_OK: goes on */
  const char *reject_message;
  conversation_t *conversation;
  bool stored; /* found stored already: a redelivery */
  int64_t seq;
  int64_t created_at; /* ms; the gateway's accept time, so a replay has the same */
  char stored_receiver[CHAT_ID_SIZE];
  replied_first_t replied; /* stored with the message, so a redelivery publishes it again */
} send_t;

typedef struct run {
  chat_runtime_t *rt;
  mongoc_client_t *client;
  send_t *sends;
  size_t count;
  conversation_t *conversations;
  size_t conversation_count;
  user_t *users;
  size_t user_count;
} run_t;

/* Set when an insert met a seq another writer took: the next try reads
 * the seqs stored past each conversation's lastSeq. */
static bool repair_seqs;

static int64_t monotonic_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void reject(send_t *send, chat_err_t err, const char *message) {
  if (send->reject == CHAT_OK) {
    send->reject = err;
    send->reject_message = message;
  }
}

/* The _id of the message (senderId, clientMsgId) stands for. */
static void message_id_of(const char *sender_id, const char *client_msg_id,
                          char out[CHAT_ID_SIZE]) {
  crypto_hash_sha256_state state;
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, (const unsigned char *)"message:", 8);
  crypto_hash_sha256_update(&state, (const unsigned char *)sender_id, strlen(sender_id) + 1);
  crypto_hash_sha256_update(&state, (const unsigned char *)client_msg_id, strlen(client_msg_id));
  crypto_hash_sha256_final(&state, digest);
  sodium_bin2hex(out, CHAT_ID_SIZE, digest, CHAT_ID_LEN / 2);
}

static void read_send(send_t *send) {
  const chat_envelope_t *event = send->event;
  uint32_t len = 0;
  bson_iter_t it;
  send->created_at = event->ts;
  send->client_msg_id = chat_envelope_string(event, "clientMsgId", &len);
  if (!send->client_msg_id || len == 0 || len > CLIENT_MSG_ID_MAX)
    return reject(send, CHAT_ERR_SCHEMA, "clientMsgId must be a string of 1 to 128 bytes");
  send->sender_id = chat_envelope_string(event, "senderId", NULL);
  if (!send->sender_id || !chat_is_id(send->sender_id))
    return reject(send, CHAT_ERR_SCHEMA, "senderId must be an id");
  send->content = chat_envelope_string(event, "content", &send->content_len);
  if (!send->content || send->content_len == 0 || send->content_len > CONTENT_MAX)
    return reject(send, CHAT_ERR_SCHEMA, "content must be a non-empty string");
  if (bson_iter_init_find(&it, &event->payload, "attachmentUrl") && !BSON_ITER_HOLDS_NULL(&it)) {
    if (!BSON_ITER_HOLDS_UTF8(&it) || (bson_iter_utf8(&it, &len), len > ATTACHMENT_URL_MAX))
      return reject(send, CHAT_ERR_SCHEMA, "attachmentUrl must be a string or null");
    send->attachment_url = bson_iter_utf8(&it, NULL);
  }
  send->connection_id = chat_envelope_string(event, "connectionId", NULL);
  send->receiver_id = chat_envelope_string(event, "receiverId", NULL);
  const char *conversation_id = chat_envelope_string(event, "conversationId", NULL);
  if (conversation_id && !chat_is_id(conversation_id))
    return reject(send, CHAT_ERR_SCHEMA, "conversationId must be an id");
  if (send->receiver_id) {
    if (!chat_is_id(send->receiver_id))
      return reject(send, CHAT_ERR_SCHEMA, "receiverId must be an id");
    if (!chat_direct_conversation_id(send->sender_id, send->receiver_id, send->conversation_id))
      return reject(send, CHAT_ERR_INVALID, "cannot send a message to yourself");
    if (conversation_id && strcmp(conversation_id, send->conversation_id) != 0)
      send->conversation_id[0] = '\0'; /* a group with a receiver: checked below */
  }
  if (!send->conversation_id[0]) {
    if (!conversation_id)
      return reject(send, CHAT_ERR_SCHEMA, "conversationId or receiverId is required");
    memcpy(send->conversation_id, conversation_id, CHAT_ID_SIZE);
  }
  message_id_of(send->sender_id, send->client_msg_id, send->message_id);
}

static conversation_t *find_conversation(run_t *run, const char *id) {
  for (size_t i = 0; i < run->conversation_count; i++) {
    if (strcmp(run->conversations[i].id, id) == 0)
      return &run->conversations[i];
  }
  return NULL;
}

static const user_t *find_user(const run_t *run, const char *id) {
  for (size_t i = 0; i < run->user_count; i++) {
    if (strcmp(run->users[i].id, id) == 0)
      return &run->users[i];
  }
  return NULL;
}

static bool is_participant(const conversation_t *conversation, const char *user_id) {
  for (size_t i = 0; i < conversation->participant_count; i++) {
    if (strcmp(conversation->participants[i], user_id) == 0)
      return true;
  }
  return false;
}

static void free_run(run_t *run) {
  for (size_t i = 0; i < run->conversation_count; i++) {
    for (size_t j = 0; j < run->conversations[i].participant_count; j++)
      free(run->conversations[i].participants[j]);
    free(run->conversations[i].participants);
  }
  for (size_t i = 0; i < run->user_count; i++)
    free(run->users[i].username);
  free(run->conversations);
  free(run->users);
  free(run->sends);
}

/* Runs find on collection with {_id: {$in: ids}} and calls fn per document. */
static chat_err_t find_by_ids(run_t *run, const char *collection, const char *const *ids,
                              size_t id_count, const bson_t *projection,
                              void (*fn)(run_t *run, const bson_t *doc)) {
  if (id_count == 0)
    return CHAT_OK;
  chat_mongo_t *mongo = chat_runtime_mongo(run->rt);
  mongoc_collection_t *coll = chat_mongo_collection(mongo, run->client, collection);
  bson_t filter = BSON_INITIALIZER, in, list;
  BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in);
  BSON_APPEND_ARRAY_BEGIN(&in, "$in", &list);
  for (size_t i = 0; i < id_count; i++) {
    char key[16];
    const char *key_str;
    bson_uint32_to_string((uint32_t)i, &key_str, key, sizeof key);
    bson_append_utf8(&list, key_str, -1, ids[i], -1);
  }
  bson_append_array_end(&in, &list);
  bson_append_document_end(&filter, &in);
  bson_t opts = BSON_INITIALIZER;
  if (projection)
    BSON_APPEND_DOCUMENT(&opts, "projection", projection);
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
  const bson_t *doc;
  bson_error_t error;
  chat_err_t err = CHAT_OK;
  while (mongoc_cursor_next(cursor, &doc))
    fn(run, doc);
  if (mongoc_cursor_error(cursor, &error)) {
    CHAT_LOG(CHAT_LOG_WARN, "reading %s: %s", collection, error.message);
    err = chat_mongo_error(&error);
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(&opts);
  bson_destroy(&filter);
  mongoc_collection_destroy(coll);
  return err;
}

static int64_t doc_int(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key))
    return 0;
  return bson_iter_as_int64(&it);
}

static void take_conversation(run_t *run, const bson_t *doc) {
  bson_iter_t it, list;
  if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
    return;
  conversation_t *c = find_conversation(run, bson_iter_utf8(&it, NULL));
  if (!c)
    return;
  c->exists = true;
  c->last_seq = doc_int(doc, "lastSeq");
  c->deleted = bson_iter_init_find(&it, doc, "deletedAt") && !BSON_ITER_HOLDS_NULL(&it);
  bson_iter_t waiting, entry;
  if (bson_iter_init_find(&it, doc, "awaiting") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
      bson_iter_recurse(&it, &waiting)) {
    for (size_t n = 0; n < 2 && bson_iter_next(&waiting);) {
      awaiting_t *a = &c->awaiting[n];
      if (!BSON_ITER_HOLDS_DOCUMENT(&waiting) || !chat_is_id(bson_iter_key(&waiting)) ||
          !bson_iter_recurse(&waiting, &entry))
        continue;
      memcpy(a->user, bson_iter_key(&waiting), CHAT_ID_SIZE);
      while (bson_iter_next(&entry)) {
        if (strcmp(bson_iter_key(&entry), "messageId") == 0 && BSON_ITER_HOLDS_UTF8(&entry))
          snprintf(a->message_id, sizeof a->message_id, "%s", bson_iter_utf8(&entry, NULL));
        else if (strcmp(bson_iter_key(&entry), "at") == 0 && BSON_ITER_HOLDS_DATE_TIME(&entry))
          a->at = bson_iter_date_time(&entry);
      }
      n++;
    }
  }
  c->direct = bson_iter_init_find(&it, doc, "kind") && BSON_ITER_HOLDS_UTF8(&it) &&
              strcmp(bson_iter_utf8(&it, NULL), "direct") == 0;
  if (bson_iter_init_find(&it, doc, "participants") && BSON_ITER_HOLDS_ARRAY(&it) &&
      bson_iter_recurse(&it, &list)) {
    while (bson_iter_next(&list)) {
      if (!BSON_ITER_HOLDS_UTF8(&list))
        continue;
      char **grown = realloc(c->participants, (c->participant_count + 1) * sizeof *grown);
      if (!grown)
        break;
      c->participants = grown;
      c->participants[c->participant_count++] = strdup(bson_iter_utf8(&list, NULL));
    }
  }
}

static void take_user(run_t *run, const bson_t *doc) {
  bson_iter_t id, name;
  if (!bson_iter_init_find(&id, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&id) ||
      !bson_iter_init_find(&name, doc, "username") || !BSON_ITER_HOLDS_UTF8(&name))
    return;
  for (size_t i = 0; i < run->user_count; i++) {
    if (strcmp(run->users[i].id, bson_iter_utf8(&id, NULL)) == 0 && !run->users[i].username)
      run->users[i].username = strdup(bson_iter_utf8(&name, NULL));
  }
}

static void take_stored_message(run_t *run, const bson_t *doc) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
    return;
  const char *id = bson_iter_utf8(&it, NULL);
  for (size_t i = 0; i < run->count; i++) {
    send_t *send = &run->sends[i];
    if (send->reject != CHAT_OK || strcmp(send->message_id, id) != 0)
      continue;
    send->stored = true;
    send->seq = doc_int(doc, "seq");
    if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
      send->created_at = bson_iter_date_time(&it);
    if (bson_iter_init_find(&it, doc, "receiverId") && BSON_ITER_HOLDS_UTF8(&it))
      snprintf(send->stored_receiver, sizeof send->stored_receiver, "%s",
               bson_iter_utf8(&it, NULL));
    bson_iter_t replied;
    if (bson_iter_init_find(&it, doc, "repliedFirst") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
        bson_iter_recurse(&it, &replied)) {
      while (bson_iter_next(&replied)) {
        const char *key = bson_iter_key(&replied);
        if (strcmp(key, "originalSenderId") == 0 && BSON_ITER_HOLDS_UTF8(&replied))
          snprintf(send->replied.original_sender, CHAT_ID_SIZE, "%s",
                   bson_iter_utf8(&replied, NULL));
        else if (strcmp(key, "originalMessageId") == 0 && BSON_ITER_HOLDS_UTF8(&replied))
          snprintf(send->replied.original_message, CHAT_ID_SIZE, "%s",
                   bson_iter_utf8(&replied, NULL));
        else if (strcmp(key, "originalAt") == 0 && BSON_ITER_HOLDS_DATE_TIME(&replied))
          send->replied.original_at = bson_iter_date_time(&replied);
      }
    }
  }
}

/* Collects the distinct ids of the run's conversations and users. */
static chat_err_t index_run(run_t *run) {
  run->conversations = calloc(run->count, sizeof *run->conversations);
  run->users = calloc(2 * run->count, sizeof *run->users);
  if (!run->conversations || !run->users)
    return CHAT_ERR_NOMEM;
  for (size_t i = 0; i < run->count; i++) {
    send_t *send = &run->sends[i];
    if (send->reject != CHAT_OK)
      continue;
    send->conversation = find_conversation(run, send->conversation_id);
    if (!send->conversation) {
      send->conversation = &run->conversations[run->conversation_count++];
      memcpy(send->conversation->id, send->conversation_id, CHAT_ID_SIZE);
    }
    const char *people[] = {send->sender_id, send->receiver_id};
    for (size_t p = 0; p < 2; p++) {
      if (people[p] && !find_user(run, people[p]))
        memcpy(run->users[run->user_count++].id, people[p], CHAT_ID_SIZE);
    }
  }
  return CHAT_OK;
}

static chat_err_t load(run_t *run) {
  const char **ids = calloc(run->count * 2 + 1, sizeof *ids);
  if (!ids)
    return CHAT_ERR_NOMEM;
  for (size_t i = 0; i < run->conversation_count; i++)
    ids[i] = run->conversations[i].id;
  bson_t *conversation_fields =
      BCON_NEW("kind", BCON_INT32(1), "participants", BCON_INT32(1), "lastSeq", BCON_INT32(1),
               "deletedAt", BCON_INT32(1), "awaiting", BCON_INT32(1));
  chat_err_t err = find_by_ids(run, "conversations", ids, run->conversation_count,
                               conversation_fields, take_conversation);
  bson_destroy(conversation_fields);
  if (err == CHAT_OK) {
    for (size_t i = 0; i < run->user_count; i++)
      ids[i] = run->users[i].id;
    bson_t *user_fields = BCON_NEW("username", BCON_INT32(1));
    err = find_by_ids(run, "users", ids, run->user_count, user_fields, take_user);
    bson_destroy(user_fields);
  }
  free(ids);
  return err;
}

/* Decides, per send, whether its sender may write there. */
static void check_rights(run_t *run) {
  for (size_t i = 0; i < run->count; i++) {
    send_t *send = &run->sends[i];
    if (send->reject != CHAT_OK)
      continue;
    conversation_t *c = send->conversation;
    const user_t *sender = find_user(run, send->sender_id);
    if (!sender || !sender->username) {
      reject(send, CHAT_ERR_NOT_FOUND, "the sender's account does not exist");
    } else if (!c->exists) {
      bool opens_direct = send->receiver_id && chat_is_id(send->receiver_id);
      const user_t *receiver = opens_direct ? find_user(run, send->receiver_id) : NULL;
      if (!opens_direct)
        reject(send, CHAT_ERR_NOT_FOUND, "no such conversation");
      else if (!receiver || !receiver->username)
        reject(send, CHAT_ERR_NOT_FOUND, "no user with this receiverId");
    } else if (c->deleted) {
      reject(send, CHAT_ERR_NOT_FOUND, "this conversation was deleted");
    } else if (!is_participant(c, send->sender_id)) {
      reject(send, CHAT_ERR_FORBIDDEN, "not a member of this conversation");
    } else if (send->receiver_id && !is_participant(c, send->receiver_id)) {
      reject(send, CHAT_ERR_INVALID, "receiverId is not a member of this conversation");
    }
  }
}

/* Creates the direct conversations that first messages open: the members
 * first, then the conversation, so that a conversation that exists always
 * has its members (a retry after a crash in between finishes the job). */
static chat_err_t create_direct_conversations(run_t *run) {
  chat_mongo_t *mongo = chat_runtime_mongo(run->rt);
  mongoc_collection_t *members = chat_mongo_collection(mongo, run->client, "members");
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, run->client, "conversations");
  chat_err_t err = CHAT_OK;
  for (size_t i = 0; i < run->count && err == CHAT_OK; i++) {
    send_t *send = &run->sends[i];
    conversation_t *c = send->conversation;
    if (send->reject != CHAT_OK || c->exists)
      continue;
    const char *pair[2] = {send->sender_id, send->receiver_id};
    if (strcmp(pair[0], pair[1]) > 0)
      pair[0] = send->receiver_id, pair[1] = send->sender_id;
    bson_error_t error;
    for (size_t p = 0; p < 2 && err == CHAT_OK; p++) {
      bson_t *member =
          BCON_NEW("conversationId", BCON_UTF8(c->id), "userId", BCON_UTF8(pair[p]), "role",
                   BCON_UTF8("member"), "joinedAt", BCON_DATE_TIME(send->created_at));
      if (!mongoc_collection_insert_one(members, member, NULL, NULL, &error) &&
          chat_mongo_error(&error) != CHAT_ERR_DUPLICATE) {
        CHAT_LOG(CHAT_LOG_WARN, "adding members of %s: %s", c->id, error.message);
        err = chat_mongo_error(&error);
      }
      bson_destroy(member);
    }
    if (err != CHAT_OK)
      break;
    bson_t *doc =
        BCON_NEW("_id", BCON_UTF8(c->id), "kind", BCON_UTF8("direct"), "name", BCON_NULL, "ownerId",
                 BCON_NULL, "participants", "[", BCON_UTF8(pair[0]), BCON_UTF8(pair[1]), "]",
                 "createdAt", BCON_DATE_TIME(send->created_at), "lastSeq", BCON_INT64(0),
                 "lastMessage", BCON_NULL, "lastMessageAt", BCON_NULL);
    if (mongoc_collection_insert_one(conversations, doc, NULL, NULL, &error)) {
      c->exists = true;
      c->direct = true;
      c->participants = calloc(2, sizeof *c->participants);
      if (c->participants) {
        c->participants[0] = strdup(pair[0]);
        c->participants[1] = strdup(pair[1]);
        c->participant_count = 2;
      }
      CHAT_LOG(CHAT_LOG_INFO, "direct conversation %s opened by user %s", c->id, send->sender_id);
    } else {
      /* DUPLICATE: another writer made it between our read and now; the
       * retry reads it with its seqs. */
      CHAT_LOG(CHAT_LOG_WARN, "creating conversation %s: %s", c->id, error.message);
      err = chat_mongo_error(&error);
    }
    bson_destroy(doc);
  }
  mongoc_collection_destroy(conversations);
  mongoc_collection_destroy(members);
  return err;
}

/* Marks the sends whose message is stored already and, after a seq clash,
 * raises each conversation's last_seq to what is really stored. */
/* Every run reads which of its messages are stored already. On FerretDB
 * 1.24 a read by _id scans the whole collection (145 ms for 20 ids among
 * 1,400 messages): skipping it unless an insert had met a duplicate was
 * faster, but lost the order of seqs after a SIGKILL of the partition's
 * owner in the fault test, so it stays until that is understood. */
static chat_err_t find_stored(run_t *run) {
  const char **ids = calloc(run->count + 1, sizeof *ids);
  size_t n = 0;
  if (!ids)
    return CHAT_ERR_NOMEM;
  for (size_t i = 0; i < run->count; i++) {
    if (run->sends[i].reject == CHAT_OK)
      ids[n++] = run->sends[i].message_id;
  }
  bson_t *fields = BCON_NEW("seq", BCON_INT32(1), "createdAt", BCON_INT32(1), "receiverId",
                            BCON_INT32(1), "repliedFirst", BCON_INT32(1));
  chat_err_t err = find_by_ids(run, "messages", ids, n, fields, take_stored_message);
  bson_destroy(fields);
  free(ids);
  if (err != CHAT_OK || !repair_seqs)
    return err;
  chat_mongo_t *mongo = chat_runtime_mongo(run->rt);
  mongoc_collection_t *messages = chat_mongo_collection(mongo, run->client, "messages");
  for (size_t i = 0; i < run->conversation_count && err == CHAT_OK; i++) {
    conversation_t *c = &run->conversations[i];
    bson_t *filter = BCON_NEW("conversationId", BCON_UTF8(c->id), "seq", "{", "$gt",
                              BCON_INT64(c->last_seq), "}");
    bson_t *opts = BCON_NEW("projection", "{", "seq", BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t error;
    while (mongoc_cursor_next(cursor, &doc)) {
      int64_t seq = doc_int(doc, "seq");
      if (seq > c->last_seq)
        c->last_seq = seq;
    }
    if (mongoc_cursor_error(cursor, &error))
      err = chat_mongo_error(&error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    bson_destroy(filter);
  }
  mongoc_collection_destroy(messages);
  if (err == CHAT_OK)
    repair_seqs = false;
  return err;
}

/* Gives each new message the next seq of its conversation; a message sent
 * twice in this run is stored once. */
static void assign_seqs(run_t *run) {
  for (size_t i = 0; i < run->count; i++) {
    send_t *send = &run->sends[i];
    if (send->reject != CHAT_OK)
      continue;
    conversation_t *c = send->conversation;
    if (send->stored) {
      if (send->seq > c->last_seq)
        c->last_seq = send->seq;
      continue;
    }
    const send_t *earlier = NULL;
    for (size_t j = 0; j < i && !earlier; j++) {
      if (run->sends[j].reject == CHAT_OK &&
          strcmp(run->sends[j].message_id, send->message_id) == 0)
        earlier = &run->sends[j];
    }
    if (earlier) {
      send->stored = true; /* by the earlier one, in this run */
      send->seq = earlier->seq;
      send->created_at = earlier->created_at;
      continue;
    }
    send->seq = ++c->last_seq;
    c->touched = true;
    c->last_content = send->content;
    c->last_content_len = send->content_len;
    c->last_at = send->created_at;
    if (c->direct && reply_window_track(c->awaiting, send->sender_id, send->message_id,
                                        send->created_at, &send->replied))
      c->awaiting_changed = true;
  }
}

/* The receiver of a message: the other member of a direct conversation. */
static const char *receiver_of(const send_t *send) {
  const conversation_t *c = send->conversation;
  if (send->stored_receiver[0])
    return send->stored_receiver;
  if (!c->direct)
    return NULL;
  for (size_t i = 0; i < c->participant_count; i++) {
    if (strcmp(c->participants[i], send->sender_id) != 0)
      return c->participants[i];
  }
  return NULL;
}

static chat_err_t insert_new(run_t *run) {
  bson_t **docs = calloc(run->count + 1, sizeof *docs);
  size_t n = 0;
  if (!docs)
    return CHAT_ERR_NOMEM;
  for (size_t i = 0; i < run->count; i++) {
    send_t *send = &run->sends[i];
    if (send->reject != CHAT_OK || send->stored || send->seq == 0)
      continue;
    if (run->sends[i].stored)
      continue;
    const char *receiver = receiver_of(send);
    bson_t *doc = bson_new();
    BSON_APPEND_UTF8(doc, "_id", send->message_id);
    BSON_APPEND_UTF8(doc, "conversationId", send->conversation->id);
    BSON_APPEND_INT64(doc, "seq", send->seq);
    BSON_APPEND_UTF8(doc, "senderId", send->sender_id);
    if (receiver)
      BSON_APPEND_UTF8(doc, "receiverId", receiver);
    else
      BSON_APPEND_NULL(doc, "receiverId");
    BSON_APPEND_UTF8(doc, "clientMsgId", send->client_msg_id);
    bson_append_utf8(doc, "content", 7, send->content, (int)send->content_len);
    if (send->attachment_url)
      BSON_APPEND_UTF8(doc, "attachmentUrl", send->attachment_url);
    else
      BSON_APPEND_NULL(doc, "attachmentUrl");
    BSON_APPEND_DATE_TIME(doc, "createdAt", send->created_at);
    BSON_APPEND_NULL(doc, "deletedAt");
    if (send->replied.original_sender[0]) {
      bson_t replied;
      BSON_APPEND_DOCUMENT_BEGIN(doc, "repliedFirst", &replied);
      BSON_APPEND_UTF8(&replied, "originalSenderId", send->replied.original_sender);
      BSON_APPEND_UTF8(&replied, "originalMessageId", send->replied.original_message);
      BSON_APPEND_DATE_TIME(&replied, "originalAt", send->replied.original_at);
      bson_append_document_end(doc, &replied);
    }
    docs[n++] = doc;
  }
  chat_err_t err = CHAT_OK;
  if (n > 0) {
    chat_mongo_t *mongo = chat_runtime_mongo(run->rt);
    mongoc_collection_t *messages = chat_mongo_collection(mongo, run->client, "messages");
    bson_t *opts = BCON_NEW("ordered", BCON_BOOL(true));
    bson_error_t error;
    if (!mongoc_collection_insert_many(messages, (const bson_t **)docs, n, opts, NULL, &error)) {
      err = chat_mongo_error(&error);
      if (err == CHAT_ERR_DUPLICATE) {
        repair_seqs = true; /* another writer: the retry reads what it stored */
        err = CHAT_ERR_CONFLICT;
      }
      CHAT_LOG(CHAT_LOG_WARN, "storing %zu messages: %s; the batch is retried", n, error.message);
    }
    bson_destroy(opts);
    mongoc_collection_destroy(messages);
  }
  for (size_t i = 0; i < n; i++)
    bson_destroy(docs[i]);
  free(docs);
  return err;
}

/* Moves each conversation's last message; never backwards. */
static chat_err_t update_conversations(run_t *run) {
  chat_mongo_t *mongo = chat_runtime_mongo(run->rt);
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, run->client, "conversations");
  chat_err_t err = CHAT_OK;
  /* One update per conversation. Not a bulk write: FerretDB 1.24 on
   * SQLite hangs on an update batch of about 100 (measured with pymongo's
   * bulk_write, ordered or not; 60 passed) and stays stuck after it. */
  for (size_t i = 0; i < run->conversation_count && err == CHAT_OK; i++) {
    conversation_t *c = &run->conversations[i];
    if (!c->touched)
      continue;
    /* A preview cut at a UTF-8 character boundary. */
    uint32_t len = c->last_content_len;
    if (len > PREVIEW_MAX) {
      len = PREVIEW_MAX;
      while (len > 0 && ((unsigned char)c->last_content[len] & 0xC0) == 0x80)
        len--;
    }
    bson_t *filter =
        BCON_NEW("_id", BCON_UTF8(c->id), "lastSeq", "{", "$lt", BCON_INT64(c->last_seq), "}");
    bson_t update = BSON_INITIALIZER, set;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_INT64(&set, "lastSeq", c->last_seq);
    bson_append_utf8(&set, "lastMessage", 11, c->last_content, (int)len);
    BSON_APPEND_DATE_TIME(&set, "lastMessageAt", c->last_at);
    if (c->awaiting_changed) {
      bson_t waiting, entry;
      BSON_APPEND_DOCUMENT_BEGIN(&set, "awaiting", &waiting);
      for (size_t k = 0; k < 2; k++) {
        if (!c->awaiting[k].user[0])
          continue;
        BSON_APPEND_DOCUMENT_BEGIN(&waiting, c->awaiting[k].user, &entry);
        BSON_APPEND_UTF8(&entry, "messageId", c->awaiting[k].message_id);
        BSON_APPEND_DATE_TIME(&entry, "at", c->awaiting[k].at);
        bson_append_document_end(&waiting, &entry);
      }
      bson_append_document_end(&set, &waiting);
    }
    bson_append_document_end(&update, &set);
    bson_error_t error;
    if (!mongoc_collection_update_one(conversations, filter, &update, NULL, NULL, &error)) {
      CHAT_LOG(CHAT_LOG_WARN, "updating conversation %s: %s", c->id, error.message);
      err = chat_mongo_error(&error);
    }
    bson_destroy(&update);
    bson_destroy(filter);
  }
  mongoc_collection_destroy(conversations);
  return err;
}

/* ---- what is published ---- */

static void append_user(bson_string_t *out, const run_t *run, const char *id) {
  const user_t *user = find_user(run, id);
  bson_string_append_printf(out, "{\"id\":\"%s\",\"username\":", id);
  if (user && user->username)
    chat_json_append_string(out, user->username, strlen(user->username));
  else
    bson_string_append(out, "null");
  bson_string_append_c(out, '}');
}

static void append_nullable(bson_string_t *out, const char *str) {
  if (str)
    chat_json_append_string(out, str, strlen(str));
  else
    bson_string_append(out, "null");
}

/* new_message, as seed 004's clients receive it. */
static bson_string_t *new_message_json(const run_t *run, const send_t *send) {
  const user_t *sender = find_user(run, send->sender_id);
  const chat_message_view_t view = {
      .id = send->message_id,
      .sender_id = send->sender_id,
      .receiver_id = receiver_of(send),
      .conversation_id = send->conversation->id,
      .content = send->content,
      .content_len = send->content_len,
      .attachment_url = send->attachment_url,
      .created_at_ms = send->created_at,
      .sender_username = sender ? sender->username : NULL,
      .seq = send->seq,
  };
  bson_string_t *out = bson_string_new(NULL);
  chat_new_message_json(out, &view);
  return out;
}

static bson_string_t *notification_json(const run_t *run, const send_t *send) {
  bson_string_t *out = bson_string_new("{\"from\":");
  append_user(out, run, send->sender_id);
  bson_string_append_printf(out, ",\"conversationId\":\"%s\",\"content\":", send->conversation->id);
  chat_json_append_string(out, send->content, send->content_len);
  bson_string_append(out, ",\"timestamp\":");
  chat_json_append_time(out, send->created_at);
  bson_string_append_printf(out, ",\"messageId\":\"%s\",\"seq\":%lld}", send->message_id,
                            (long long)send->seq);
  return out;
}

/* The message in seed 004's REST shape (POST /api/chat/send). */
static bson_string_t *rest_message_json(const run_t *run, const send_t *send) {
  const char *receiver = receiver_of(send);
  bson_string_t *out = bson_string_new("{\"ok\":true,\"data\":{");
  bson_string_append_printf(out,
                            "\"id\":\"%s\",\"sender_id\":\"%s\",\"receiver_id\":", send->message_id,
                            send->sender_id);
  append_nullable(out, receiver);
  bson_string_append_printf(out,
                            ",\"conversation_id\":\"%s\",\"content\":", send->conversation->id);
  chat_json_append_string(out, send->content, send->content_len);
  bson_string_append(out, ",\"attachment_url\":");
  append_nullable(out, send->attachment_url);
  bson_string_append(out, ",\"is_read\":false,\"read_at\":null,\"createdAt\":");
  chat_json_append_time(out, send->created_at);
  bson_string_append(out, ",\"sender\":");
  append_user(out, run, send->sender_id);
  bson_string_append(out, ",\"receiver\":");
  if (receiver)
    append_user(out, run, receiver);
  else
    bson_string_append(out, "null");
  bson_string_append_printf(out, ",\"seq\":%lld,\"clientMsgId\":", (long long)send->seq);
  chat_json_append_string(out, send->client_msg_id, strlen(send->client_msg_id));
  bson_string_append(out, "}}");
  return out;
}

static chat_err_t broadcast(run_t *run, const chat_broadcast_route_t *route,
                            const bson_string_t *value) {
  return chat_broadcast_send(chat_runtime_producer(run->rt), chat_runtime_config(run->rt), route,
                             value->str, value->len, 0);
}

/* conversation_created, with the join header, to each member's sockets. */
static chat_err_t announce_conversation(run_t *run, const send_t *send) {
  const conversation_t *c = send->conversation;
  bson_string_t *value = bson_string_new(NULL);
  bson_string_append_printf(value,
                            "{\"conversationId\":\"%s\",\"kind\":\"direct\",\"name\":null,"
                            "\"participants\":[",
                            c->id);
  for (size_t i = 0; i < c->participant_count; i++) {
    if (i)
      bson_string_append_c(value, ',');
    append_user(value, run, c->participants[i]);
  }
  bson_string_append(value, "],\"createdAt\":");
  chat_json_append_time(value, send->created_at);
  bson_string_append_c(value, '}');
  chat_err_t err = CHAT_OK;
  for (size_t i = 0; i < c->participant_count && err == CHAT_OK; i++) {
    char target[CHAT_ID_SIZE + 8];
    snprintf(target, sizeof target, "user:%s", c->participants[i]);
    const chat_broadcast_route_t route = {
        .event = "conversation_created", .target = target, .join = c->id};
    err = broadcast(run, &route, value);
  }
  bson_string_free(value, true);
  if (err == CHAT_OK)
    err = persistence_publish_conversation_created(run->rt, c->id, "direct", NULL, NULL,
                                                   (const char *const *)c->participants,
                                                   c->participant_count, send->created_at);
  return err;
}

/* Where the sending socket is, for its acks: "conn:<gateway>/<socket>". */
static bool connection_target(const send_t *send, char *out, size_t cap) {
  if (!send->connection_id || !strchr(send->connection_id, '/'))
    return false;
  return (size_t)snprintf(out, cap, "conn:%s", send->connection_id) < cap;
}

static chat_err_t publish_message(run_t *run, const send_t *send) {
  const conversation_t *c = send->conversation;
  char room[CHAT_ID_SIZE + 8], conn[CHAT_ENVELOPE_SOURCE_MAX + 64], seq[24];
  bool has_conn = connection_target(send, conn, sizeof conn);
  snprintf(seq, sizeof seq, "%lld", (long long)send->seq);
  chat_err_t err = CHAT_OK;
  bson_string_t *notification = notification_json(run, send);
  if (c->direct && send->seq == 1) {
    /* The room is new: its members' sockets join it through the records
     * announce_conversation() sent to user:<id>. Records to one user share
     * a partition, so this notification comes after the join. Nobody can
     * have the conversation open yet. */
    err = announce_conversation(run, send);
    for (size_t i = 0; i < c->participant_count && err == CHAT_OK; i++) {
      char target[CHAT_ID_SIZE + 8];
      snprintf(target, sizeof target, "user:%s", c->participants[i]);
      const chat_broadcast_route_t route = {
          .event = "message_notification", .target = target, .exclude = has_conn ? conn : NULL};
      err = broadcast(run, &route, notification);
    }
  } else {
    snprintf(room, sizeof room, "room:%s", c->id);
    bson_string_t *message = new_message_json(run, send);
    const chat_broadcast_route_t open = {
        .event = "new_message", .target = room, .scope = "open", .seq = seq};
    const chat_broadcast_route_t closed = {.event = "message_notification",
                                           .target = room,
                                           .scope = "closed",
                                           .exclude = has_conn ? conn : NULL,
                                           .seq = seq};
    err = broadcast(run, &open, message);
    if (err == CHAT_OK)
      err = broadcast(run, &closed, notification);
    bson_string_free(message, true);
  }
  bson_string_free(notification, true);
  if (err == CHAT_OK && has_conn) {
    bson_string_t *ack = bson_string_new("{\"clientMsgId\":");
    chat_json_append_string(ack, send->client_msg_id, strlen(send->client_msg_id));
    bson_string_append_printf(ack, ",\"status\":\"persisted\",\"messageId\":\"%s\",\"seq\":%lld}",
                              send->message_id, (long long)send->seq);
    /* The sender's socket joins a new conversation's room with its
     * persisted ack, so that it may go on by conversationId as soon as it
     * has the ack (conversation_created to user:<id> may come later). */
    const chat_broadcast_route_t route = {
        .event = "message_ack", .target = conn, .join = c->direct && send->seq == 1 ? c->id : NULL};
    err = broadcast(run, &route, ack);
    bson_string_free(ack, true);
  }
  if (err == CHAT_OK && send->event->correlation_id[0]) {
    bson_string_t *result = rest_message_json(run, send);
    err = persistence_reply(run->rt, send->event, result->str);
    bson_string_free(result, true);
  }
  if (err == CHAT_OK)
    err = persistence_publish_message_created(run->rt, send->message_id, c->id, send->sender_id,
                                              receiver_of(send), send->content, send->content_len,
                                              send->attachment_url, send->seq, send->created_at);
  if (err == CHAT_OK && send->replied.original_sender[0])
    err = persistence_publish_replied_first(run->rt, c->id, send->sender_id,
                                            send->replied.original_sender,
                                            send->replied.original_message, send->message_id,
                                            send->replied.original_at, send->created_at);
  return err;
}

/* Tells the sender why its message was refused. */
static chat_err_t publish_rejection(run_t *run, const send_t *send) {
  char conn[CHAT_ENVELOPE_SOURCE_MAX + 64];
  chat_err_t err = CHAT_OK;
  CHAT_LOG(CHAT_LOG_INFO, "message.send at %s[%d]@%lld refused: %s", send->record->topic,
           send->record->partition, (long long)send->record->offset, send->reject_message);
  bson_string_t *error = bson_string_new("{\"code\":\"");
  bson_string_append(error, chat_err_code(send->reject));
  bson_string_append(error, "\",\"message\":");
  chat_json_append_string(error, send->reject_message, strlen(send->reject_message));
  bson_string_append_c(error, '}');
  if (send->client_msg_id && connection_target(send, conn, sizeof conn)) {
    bson_string_t *ack = bson_string_new("{\"clientMsgId\":");
    chat_json_append_string(ack, send->client_msg_id, strlen(send->client_msg_id));
    bson_string_append_printf(ack, ",\"status\":\"rejected\",\"error\":%s}", error->str);
    const chat_broadcast_route_t route = {.event = "message_ack", .target = conn};
    err = broadcast(run, &route, ack);
    bson_string_free(ack, true);
  }
  if (err == CHAT_OK)
    err = chat_broadcast_reply_error(chat_runtime_producer(run->rt), chat_runtime_config(run->rt),
                                     send->event, send->reject, send->reject_message);
  bson_string_free(error, true);
  return err;
}

chat_err_t persistence_handle_message_sends(void *ctx, const chat_envelope_t *events,
                                            const chat_record_t *const *records, size_t count) {
  run_t run = {.rt = ctx, .count = count};
  run.sends = calloc(count, sizeof *run.sends);
  if (!run.sends)
    return CHAT_ERR_NOMEM;
  for (size_t i = 0; i < count; i++) {
    run.sends[i].event = &events[i];
    run.sends[i].record = records[i];
    read_send(&run.sends[i]);
  }
  chat_mongo_t *mongo = chat_runtime_mongo(run.rt);
  run.client = chat_mongo_acquire(mongo);
  int64_t t0 = monotonic_us(), t_load = 0, t_insert = 0, t_update = 0;
  chat_err_t err = index_run(&run);
  if (err == CHAT_OK)
    err = load(&run);
  t_load = monotonic_us();
  if (err == CHAT_OK) {
    check_rights(&run);
    err = create_direct_conversations(&run);
  }
  if (err == CHAT_OK)
    err = find_stored(&run);
  if (err == CHAT_OK) {
    assign_seqs(&run);
    err = insert_new(&run);
  }
  t_insert = monotonic_us();
  if (err == CHAT_OK)
    err = update_conversations(&run);
  t_update = monotonic_us();
  chat_mongo_release(mongo, run.client);
  for (size_t i = 0; i < count && err == CHAT_OK; i++) {
    const send_t *send = &run.sends[i];
    err = send->reject == CHAT_OK ? publish_message(&run, send) : publish_rejection(&run, send);
  }
  if (err == CHAT_OK) {
    CHAT_LOG(CHAT_LOG_DEBUG,
             "stored a run of %zu messages in %zu conversations: read %lld us, insert %lld us, "
             "update %lld us, publish %lld us",
             count, run.conversation_count, (long long)(t_load - t0),
             (long long)(t_insert - t_load), (long long)(t_update - t_insert),
             (long long)(monotonic_us() - t_update));
  }
  free_run(&run);
  return err;
}
