/* message.send (proto/events/message.send.schema.json), a run at a time.
 *
 * For a run of commands from one batch: take the state of the
 * conversations and users they name from the partition owner's copy
 * (conversation_state.h: point reads by _id the first time only), check
 * that each sender may write there, create the direct conversations that
 * first messages open, give each message the next seq of its
 * conversation, insert them in one ordered write, and only then publish:
 * new_message and message_notification to the room, message_ack
 * "persisted" to the sending socket, command.result to a REST call waiting
 * for it, and message.created to chat.events; then write each touched
 * conversation's summary once, while Kafka takes the records. The hot path
 * writes only: no $in, no sort, no scan.
 *
 * Idempotence: a message's _id is derived from (senderId, clientMsgId), so
 * a command seen twice meets its stored message in the insert's duplicate
 * key error (E11000); only then are the ids from the failed one on read
 * back, by _id, and found ones keep their stored seq and are published
 * again (at-least-once; clients drop what they already have by id).
 * Ordering: one partition has one owner, and an ordered insert stores a
 * prefix of the run, so a conversation's stored seqs never have a gap. A
 * second writer (a zombie owner during a rebalance) makes an insert fail
 * on the unique (conversationId, seq) index: the conversation is read
 * again from the store and the rest of the run gets seqs after what that
 * writer stored. */
#include "handle_message_send.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/broadcast.h"
#include "chat/error_json.h"
#include "chat/ids.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/log.h"
#include "chat/message_json.h"
#include "chat/runtime.h"
#include "chat/topics.h"
#include "conversation_state.h"
#include "persistence_publish.h"
#include "reply_quotes.h"
#include "reply_window.h"
#include "summary_writer.h"

#define INSERT_TRIES 16 /* tries of a run's insert before the batch is retried later */
/* Documents per insert command. FerretDB 1.24 inserts in batches of 100
 * (its --batch-size) and, after a duplicate key error in one batch, goes
 * on with the next one although the insert is ordered (msg_insert.go: the
 * break on a write error leaves only the inner loop): a run of 208 messages
 * refused at index 0 came back with 100 stored past it, seqs taken that
 * the run then gave again, and a gap of 100 in the SIGKILL fault test.
 * No command of ours is larger than one of its batches. */
#define INSERT_CHUNK 100

typedef struct conversation {
  char id[CHAT_ID_SIZE];
  bool exists;  /* stored (or created by this run) */
  bool deleted; /* deletedAt is set: nothing more goes in */
  bool direct;  /* kind "direct" */
  bool touched; /* gets a new message in this run */
  char **participants;
  size_t participant_count;
  int64_t base_seq;         /* the highest seq stored before this run (the owner's copy) */
  awaiting_t base_awaiting[2];
  int64_t last_seq; /* the highest seq stored, as this run goes */
  const char *last_content; /* of the message with the highest seq this run stored */
  uint32_t last_content_len;
  int64_t last_content_seq;
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
  bool stored;   /* found stored already: a redelivery */
  bool inserted; /* stored by this run (an earlier try of its insert) */
  int64_t seq;
  int64_t created_at; /* ms; the gateway's accept time, so a replay has the same */
  char stored_receiver[CHAT_ID_SIZE];
  replied_first_t replied; /* stored with the message, so a redelivery publishes it again */
  const char *reply_to;     /* a reply: the id of the message it answers; NULL when none */
  chat_reply_quote_t quote; /* a reply's quote of it, taken once and stored with the reply */
  bool quoted;              /* quote is set */
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
  /* Made while the store took the first try's insert (store_messages):
   * published_early once that insert went in whole, with what queuing the
   * records answered; made_us is the time making them took. */
  bool published_early;
  chat_err_t publish_err;
  int64_t made_us;
  size_t insert_parts; /* the most parts a try of its insert went in */
} run_t;

static chat_err_t publish_run(run_t *run);

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
  if (!send->client_msg_id || len == 0 || len > CHAT_CLIENT_MSG_ID_MAX)
    return reject(send, CHAT_ERR_SCHEMA, "clientMsgId must be a string of 1 to 128 bytes");
  send->sender_id = chat_envelope_string(event, "senderId", NULL);
  if (!send->sender_id || !chat_is_id(send->sender_id))
    return reject(send, CHAT_ERR_SCHEMA, "senderId must be an id");
  send->content = chat_envelope_string(event, "content", &send->content_len);
  if (!send->content || send->content_len == 0 || send->content_len > CHAT_CONTENT_MAX)
    return reject(send, CHAT_ERR_SCHEMA, "content must be a non-empty string");
  if (bson_iter_init_find(&it, &event->payload, "attachmentUrl") && !BSON_ITER_HOLDS_NULL(&it)) {
    if (!BSON_ITER_HOLDS_UTF8(&it) || (bson_iter_utf8(&it, &len), len > CHAT_ATTACHMENT_URL_MAX))
      return reject(send, CHAT_ERR_SCHEMA, "attachmentUrl must be a string or null");
    send->attachment_url = bson_iter_utf8(&it, NULL);
  }
  if (bson_iter_init_find(&it, &event->payload, "replyTo") && !BSON_ITER_HOLDS_NULL(&it)) {
    if (!BSON_ITER_HOLDS_UTF8(&it) || !chat_is_id(bson_iter_utf8(&it, NULL)))
      return reject(send, CHAT_ERR_SCHEMA, "replyTo must be a message id or null");
    send->reply_to = bson_iter_utf8(&it, NULL);
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

static int64_t doc_int(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key))
    return 0;
  return bson_iter_as_int64(&it);
}

/* Copies what the run needs of a conversation's kept state. */
static bool take_conversation(conversation_t *c, const conversation_state_t *state) {
  c->exists = true;
  c->direct = state->direct;
  c->deleted = state->deleted;
  c->base_seq = c->last_seq = state->last_seq;
  memcpy(c->base_awaiting, state->awaiting, sizeof c->base_awaiting);
  memcpy(c->awaiting, state->awaiting, sizeof c->awaiting);
  c->participants = calloc(state->member_count + 1, sizeof *c->participants);
  if (!c->participants)
    return false;
  for (size_t i = 0; i < state->member_count; i++) {
    c->participants[i] = strdup(state->members[i]);
    if (!c->participants[i])
      return false;
    c->participant_count++;
  }
  return true;
}

/* The state a conversation has after this run, for the owner's copy. */
static void keep_conversation(const conversation_t *c) {
  conversation_state_t state = {.direct = c->direct, .deleted = c->deleted, .last_seq = c->last_seq};
  memcpy(state.awaiting, c->awaiting, sizeof state.awaiting);
  state.members = calloc(c->participant_count + 1, sizeof *state.members);
  if (!state.members) {
    conversation_state_forget(c->id);
    return;
  }
  for (size_t i = 0; i < c->participant_count; i++)
    snprintf(state.members[i], CHAT_ID_SIZE, "%s", c->participants[i]);
  state.member_count = c->participant_count;
  conversation_state_keep(c->id, &state);
  free(state.members);
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
    /* A redelivered reply keeps the quote it was stored with, even if the
     * original was deleted since. */
    send->quoted = chat_reply_quote_read(doc, "replyTo", &send->quote);
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

/* The run's conversations and users from the owner's copy, read from the
 * store (by _id) the first time only. */
static chat_err_t load(run_t *run) {
  const char **ids = malloc((run->conversation_count + run->user_count + 1) * sizeof *ids);
  if (ids) { /* what is not kept yet, read at once */
    for (size_t i = 0; i < run->conversation_count; i++)
      ids[i] = run->conversations[i].id;
    for (size_t i = 0; i < run->user_count; i++)
      ids[run->conversation_count + i] = run->users[i].id;
    conversation_state_prefetch(run->rt, ids, run->conversation_count,
                                ids + run->conversation_count, run->user_count);
    free(ids);
  }
  chat_err_t err = CHAT_OK;
  for (size_t i = 0; i < run->conversation_count && err == CHAT_OK; i++) {
    const conversation_state_t *state = NULL;
    err = conversation_state_get(run->rt, run->client, run->conversations[i].id, &state);
    if (err == CHAT_OK && state && !take_conversation(&run->conversations[i], state))
      err = CHAT_ERR_NOMEM;
  }
  for (size_t i = 0; i < run->user_count && err == CHAT_OK; i++) {
    const char *name = NULL;
    err = conversation_state_user_name(run->rt, run->client, run->users[i].id, &name);
    if (err == CHAT_OK && name && !(run->users[i].username = strdup(name)))
      err = CHAT_ERR_NOMEM;
  }
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
      /* The same answer as for a conversation of others: whether two
       * users have talked is theirs to know. */
      if (!opens_direct)
        reject(send, CHAT_ERR_FORBIDDEN, "not a member of this conversation");
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

/* Takes the quote of each reply's original: from an earlier send of this
 * run when it names one, else with a point read of the stored message by
 * _id. A reply to a message that does not exist, or that is in another
 * conversation, is refused. */
static chat_err_t quote_originals(run_t *run) {
  chat_err_t err = CHAT_OK;
  for (size_t i = 0; i < run->count && err == CHAT_OK; i++) {
    send_t *send = &run->sends[i];
    if (send->reject != CHAT_OK || !send->reply_to)
      continue;
    const send_t *earlier = NULL;
    for (size_t j = 0; j < i && !earlier; j++) {
      if (run->sends[j].reject == CHAT_OK && strcmp(run->sends[j].message_id, send->reply_to) == 0)
        earlier = &run->sends[j];
    }
    if (earlier) {
      if (earlier->conversation != send->conversation) {
        reject(send, CHAT_ERR_INVALID, "replyTo names a message of another conversation");
        continue;
      }
      const user_t *author = find_user(run, earlier->sender_id);
      chat_reply_quote_take(&send->quote, earlier->message_id, earlier->sender_id,
                            author ? author->username : NULL, earlier->content,
                            earlier->content_len, false);
      send->quoted = true;
      continue;
    }
    chat_err_t refusal = CHAT_OK;
    const char *why = NULL;
    err = reply_quotes_lookup(run->rt, run->client, send->reply_to, send->conversation->id,
                              &send->quote, &refusal, &why);
    if (err == CHAT_OK && refusal != CHAT_OK)
      reject(send, refusal, why);
    else if (err == CHAT_OK)
      send->quoted = true;
  }
  return err;
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

/* Reads back, by _id, the messages of the sends from index `from` on that
 * are not known stored yet: after a duplicate key error, some of them may
 * be (a redelivered or resent command). Found ones keep their stored seq. */
static chat_err_t read_back(run_t *run, size_t from) {
  chat_mongo_t *mongo = chat_runtime_mongo(run->rt);
  mongoc_collection_t *messages = chat_mongo_collection(mongo, run->client, "messages");
  bson_t *projection = BCON_NEW("seq", BCON_INT32(1), "createdAt", BCON_INT32(1), "receiverId",
                                BCON_INT32(1), "repliedFirst", BCON_INT32(1), "replyTo",
                                BCON_INT32(1));
  bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
  BSON_APPEND_DOCUMENT(opts, "projection", projection);
  chat_err_t err = CHAT_OK;
  for (size_t i = from; i < run->count && err == CHAT_OK; i++) {
    const send_t *send = &run->sends[i];
    if (send->reject != CHAT_OK || send->stored || send->inserted)
      continue;
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(send->message_id));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t error;
    if (mongoc_cursor_next(cursor, &doc))
      take_stored_message(run, doc); /* every send of that id in the run */
    else if (mongoc_cursor_error(cursor, &error))
      err = chat_mongo_error(&error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(filter);
  }
  bson_destroy(opts);
  bson_destroy(projection);
  mongoc_collection_destroy(messages);
  return err;
}

/* Gives each new message the next seq of its conversation. Called before
 * each try of the insert, it starts from the conversation's base every
 * time: messages found stored (redeliveries) and those inserted by an
 * earlier try keep their seqs, and the new ones follow the highest of
 * them, in the order they came; the reply window is tracked again in that
 * same order, so an inserted message keeps what it was stored with. A
 * message sent twice in this run is stored once. */
static void assign_seqs(run_t *run) {
  for (size_t i = 0; i < run->conversation_count; i++) {
    conversation_t *c = &run->conversations[i];
    c->last_seq = c->base_seq;
    memcpy(c->awaiting, c->base_awaiting, sizeof c->awaiting);
    c->awaiting_changed = false;
    c->touched = false;
    c->last_content = NULL;
  }
  for (size_t i = 0; i < run->count; i++) {
    send_t *send = &run->sends[i];
    if (send->reject == CHAT_OK && (send->stored || send->inserted) &&
        send->seq > send->conversation->last_seq)
      send->conversation->last_seq = send->seq;
  }
  for (size_t i = 0; i < run->count; i++) {
    send_t *send = &run->sends[i];
    if (send->reject != CHAT_OK || send->stored)
      continue;
    conversation_t *c = send->conversation;
    const send_t *earlier = NULL;
    for (size_t j = 0; j < i && !earlier; j++) {
      if (run->sends[j].reject == CHAT_OK && !run->sends[j].stored &&
          strcmp(run->sends[j].message_id, send->message_id) == 0)
        earlier = &run->sends[j];
    }
    if (earlier) {
      send->seq = earlier->seq; /* stored by the earlier one, in this run */
      send->created_at = earlier->created_at;
      continue;
    }
    if (!send->inserted)
      send->seq = ++c->last_seq;
    c->touched = true;
    if (!c->last_content || send->seq >= c->last_content_seq) {
      c->last_content = send->content;
      c->last_content_len = send->content_len;
      c->last_content_seq = send->seq;
      c->last_at = send->created_at;
    }
    memset(&send->replied, 0, sizeof send->replied);
    if (c->direct && reply_window_track(c->awaiting, send->sender_id, send->message_id,
                                        send->created_at, &send->replied))
      c->awaiting_changed = true;
  }
}

/* A send that is the second of its id in the run (stored by the first). */
static bool repeats_earlier(const run_t *run, size_t i) {
  for (size_t j = 0; j < i; j++) {
    if (run->sends[j].reject == CHAT_OK && !run->sends[j].stored &&
        strcmp(run->sends[j].message_id, run->sends[i].message_id) == 0)
      return true;
  }
  return false;
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

/* The message document of a send, as stored. */
static bson_t *message_doc(const send_t *send) {
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
  if (send->quoted)
    chat_reply_quote_append(doc, "replyTo", &send->quote);
  return doc;
}

/* The index in the insert of the first document refused as a duplicate
 * key (E11000), from the reply; -1 when the error was another. */
static int64_t duplicate_index(const bson_t *reply) {
  bson_iter_t it, errors, entry;
  if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &errors) || !bson_iter_next(&errors) ||
      !BSON_ITER_HOLDS_DOCUMENT(&errors) || !bson_iter_recurse(&errors, &entry))
    return -1;
  int64_t index = -1, code = 0;
  while (bson_iter_next(&entry)) {
    if (strcmp(bson_iter_key(&entry), "index") == 0)
      index = bson_iter_as_int64(&entry);
    else if (strcmp(bson_iter_key(&entry), "code") == 0)
      code = bson_iter_as_int64(&entry);
  }
  return code == 11000 ? index : -1;
}

/* After a duplicate on (conversationId, seq): another writer stored seqs
 * this owner did not know of. The conversation is read again from the
 * store, which finds the highest stored seq. */
static chat_err_t reload_base(run_t *run, conversation_t *c) {
  conversation_state_forget(c->id);
  const conversation_state_t *state = NULL;
  chat_err_t err = conversation_state_get(run->rt, run->client, c->id, &state);
  if (err != CHAT_OK)
    return err;
  if (!state)
    return CHAT_ERR_CONFLICT; /* gone meanwhile: the batch is retried */
  CHAT_LOG(CHAT_LOG_WARN, "conversation %s: another writer stored up to seq %lld (this owner had %lld)",
           c->id, (long long)state->last_seq, (long long)c->base_seq);
  c->base_seq = state->last_seq;
  memcpy(c->base_awaiting, state->awaiting, sizeof c->base_awaiting);
  return CHAT_OK;
}

/* One try of the insert: the documents in commands of at most
 * INSERT_CHUNK, each after the one before it went in whole. It touches
 * nothing of the run, so it may run on a thread of its own. */
typedef struct insert_try {
  mongoc_collection_t *messages;
  const bson_t *opts;
  bson_t **docs;
  size_t n;
  /* out */
  size_t went_in;  /* the documents surely stored: a prefix */
  bool failed;
  int64_t refused; /* the index in docs of the one refused as a duplicate, or -1 */
  bson_error_t error;
} insert_try_t;

static void insert_try_run(insert_try_t *t) {
  t->went_in = 0;
  t->failed = false;
  t->refused = -1;
  for (size_t at = 0; at < t->n && !t->failed; at += INSERT_CHUNK) {
    size_t len = t->n - at < INSERT_CHUNK ? t->n - at : INSERT_CHUNK;
    bson_t reply;
    if (mongoc_collection_insert_many(t->messages, (const bson_t **)t->docs + at, len, t->opts,
                                      &reply, &t->error)) {
      t->went_in = at + len;
    } else {
      t->failed = true;
      int64_t in_chunk = duplicate_index(&reply);
      bson_iter_t it;
      int64_t count = bson_iter_init_find(&it, &reply, "insertedCount") ? bson_iter_as_int64(&it)
                                                                        : in_chunk;
      if (in_chunk >= 0 && count != in_chunk)
        CHAT_LOG(CHAT_LOG_ERROR,
                 "the store answered an ordered insert with %lld inserted but the error at "
                 "index %lld: it is not keeping the order, and seqs may have a gap",
                 (long long)count, (long long)in_chunk);
      if (in_chunk >= 0 && (size_t)in_chunk < len) {
        t->refused = (int64_t)at + in_chunk;
        t->went_in = (size_t)t->refused; /* the prefix before the refused one went in */
      }
    }
    bson_destroy(&reply);
  }
}

static void *insert_try_thread(void *arg) {
  insert_try_run(arg);
  return NULL;
}

/* A try's insert goes in up to INSERT_PARTS parts at once, each on a
 * pooled client of its own and each the documents of some of the run's
 * conversations, in run order. Seqs are per conversation, so every part
 * keeps the rule the seqs rest on (a conversation's documents go in in
 * order and stop at the first refused one), and the store works on
 * several commands, and their commits, at once instead of one after the
 * other. A part has at least INSERT_PART_MIN documents: a small run goes
 * in one command, as before; and it needs a pooled client that is free at
 * once, or the run goes in fewer parts. */
#define INSERT_PARTS 3
#define INSERT_PART_MIN 50

typedef struct insert_part {
  insert_try_t t;          /* on the client of store_messages' clients[] for its part */
  const size_t *send_of;   /* the send of each of t.docs */
  pthread_t thread;
  bool threaded;
} insert_part_t;

/* Runs the parts' inserts, each on a thread of its own (the last on this
 * one when it has nothing else to do). On the first try
 * (publish set) this thread meanwhile makes the run's records and holds
 * them (chat_producer_hold): they are queued once every part went in
 * whole, the usual case, and dropped if not (the tries after it find what
 * is stored, and the run publishes after them). So a run's publishing no
 * longer waits for its insert, and nothing is published before the store
 * has it. */
static void insert_parts(run_t *run, insert_part_t *parts, size_t count, bool publish) {
  chat_producer_hold_t *hold = publish ? chat_producer_hold(chat_runtime_producer(run->rt)) : NULL;
  for (size_t p = 0; p < count; p++) {
    parts[p].threaded = (hold || p + 1 < count) &&
                        pthread_create(&parts[p].thread, NULL, insert_try_thread, &parts[p].t) == 0;
    if (!parts[p].threaded)
      insert_try_run(&parts[p].t);
  }
  chat_err_t made = CHAT_ERR_INTERNAL;
  if (hold) {
    int64_t start = monotonic_us();
    made = publish_run(run);
    run->made_us = monotonic_us() - start;
  }
  bool whole = true;
  for (size_t p = 0; p < count; p++) {
    if (parts[p].threaded)
      pthread_join(parts[p].thread, NULL);
    whole = whole && !parts[p].t.failed;
  }
  if (!hold)
    return;
  if (whole && made == CHAT_OK) {
    run->published_early = true;
    run->publish_err = chat_producer_hold_end(hold, true);
  } else {
    chat_producer_hold_end(hold, false);
  }
}

/* How many parts a try of n documents goes in. */
static size_t part_count(const run_t *run, size_t n) {
  size_t parts = n / INSERT_PART_MIN;
  if (parts > INSERT_PARTS)
    parts = INSERT_PARTS;
  if (parts > run->conversation_count)
    parts = run->conversation_count;
  return parts > 0 ? parts : 1;
}

static bool goes_in(const run_t *run, size_t i) {
  const send_t *send = &run->sends[i];
  return send->reject == CHAT_OK && !send->stored && !send->inserted && !repeats_earlier(run, i);
}

/* Stores the run's new messages with ordered insert_many commands. A
 * duplicate key error stops a part's insert at one document, after a
 * prefix went in: those are kept as inserted, the sends from the refused
 * one on are read back by _id (a redelivery is found there), or, when the
 * refused one is not stored, its conversation's seq was taken by another
 * writer and is read again; then seqs are given again and the rest is
 * inserted. Each try stores or finds at least one message or learns
 * another writer's seqs; after INSERT_TRIES the batch is retried later. */
static chat_err_t store_messages(run_t *run) {
  bson_t **docs = calloc(run->count + 1, sizeof *docs);
  size_t *send_of = calloc(run->count + 1, sizeof *send_of);
  bool *new_doc = calloc(run->count + 1, sizeof *new_doc); /* per send: goes in this try */
  chat_mongo_t *mongo = chat_runtime_mongo(run->rt);
  insert_part_t parts[INSERT_PARTS] = {0};
  bson_t *opts = BCON_NEW("ordered", BCON_BOOL(true));
  chat_err_t err = docs && send_of && new_doc ? CHAT_OK : CHAT_ERR_NOMEM;
  for (int try = 0; err == CHAT_OK; try++) {
    if (try == INSERT_TRIES) {
      CHAT_LOG(CHAT_LOG_WARN, "storing a run of %zu messages: %d tries met duplicates; the batch "
               "is retried", run->count, INSERT_TRIES);
      err = CHAT_ERR_CONFLICT;
      break;
    }
    assign_seqs(run);
    size_t want = 0;
    for (size_t i = 0; i < run->count; i++)
      want += new_doc[i] = goes_in(run, i);
    if (want == 0)
      break;
    /* As many parts as there are clients free for them (this thread holds
     * the run's already: it does not wait for more). */
    mongoc_client_t *clients[INSERT_PARTS] = {run->client};
    size_t count = 1, wanted = part_count(run, want), n = 0, used = 0;
    while (count < wanted && (clients[count] = chat_mongo_try_acquire(mongo)))
      count++;
    /* Each part's documents lie together in docs, in run order. */
    for (size_t p = 0; p < count; p++) {
      size_t first = n;
      for (size_t i = 0; i < run->count; i++) {
        if (new_doc[i] &&
            (size_t)(run->sends[i].conversation - run->conversations) % count == p) {
          send_of[n] = i;
          docs[n++] = message_doc(&run->sends[i]);
        }
      }
      if (n == first)
        continue; /* none of its conversations has a document */
      insert_part_t *part = &parts[used++];
      part->send_of = send_of + first;
      part->t = (insert_try_t){.messages = chat_mongo_collection(mongo, clients[p], "messages"),
                               .opts = opts,
                               .docs = docs + first,
                               .n = n - first};
    }
    if (used > run->insert_parts)
      run->insert_parts = used;
    insert_parts(run, parts, used, try == 0);
    bool failed = false;
    size_t from = run->count; /* the first refused send, in run order */
    for (size_t p = 0; p < used; p++) {
      insert_part_t *part = &parts[p];
      for (size_t d = 0; d < part->t.went_in; d++)
        run->sends[part->send_of[d]].inserted = true;
      if (part->t.failed && part->t.refused < 0) {
        CHAT_LOG(CHAT_LOG_WARN, "storing %zu messages: %s; the batch is retried", part->t.n,
                 part->t.error.message);
        if (err == CHAT_OK)
          err = chat_mongo_error(&part->t.error);
      } else if (part->t.failed && part->send_of[part->t.refused] < from) {
        from = part->send_of[part->t.refused];
      }
      failed = failed || part->t.failed;
      mongoc_collection_destroy(part->t.messages);
    }
    for (size_t p = 1; p < count; p++)
      chat_mongo_release(mongo, clients[p]);
    for (size_t d = 0; d < n; d++)
      bson_destroy(docs[d]);
    if (!failed || err != CHAT_OK)
      break;
    err = read_back(run, from);
    for (size_t p = 0; p < used && err == CHAT_OK; p++) {
      const insert_part_t *part = &parts[p];
      if (!part->t.failed)
        continue;
      send_t *refused = &run->sends[part->send_of[part->t.refused]];
      if (!refused->stored)
        err = reload_base(run, refused->conversation);
    }
  }
  bson_destroy(opts);
  free(new_doc);
  free(send_of);
  free(docs);
  return err;
}

/* Each touched conversation's newest summary, handed to the summary
 * writers (summary_writer.h), which write it behind the run. */
static void post_summaries(const run_t *run) {
  for (size_t i = 0; i < run->conversation_count; i++) {
    const conversation_t *c = &run->conversations[i];
    if (!c->touched)
      continue;
    conversation_summary_t summary = {.last_seq = c->last_seq,
                                      .last_at = c->last_at,
                                      .awaiting_changed = c->awaiting_changed};
    memcpy(summary.id, c->id, CHAT_ID_SIZE);
    memcpy(summary.awaiting, c->awaiting, sizeof summary.awaiting);
    conversation_summary_set_preview(&summary, c->last_content, c->last_content_len);
    summary_writer_post(&summary);
  }
}

/* ---- what is published ---- */

static void append_user(bson_string_t *out, const run_t *run, const char *id) {
  const user_t *user = find_user(run, id);
  const chat_user_ref_t person = {id, user ? user->username : NULL, -1};
  chat_user_ref_json(out, &person);
}

/* new_message, as socket clients receive it. */
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
      .reply_to = send->quoted ? &send->quote : NULL,
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

/* The message in the REST shape (POST /api/chat/send). */
static bson_string_t *rest_message_json(const run_t *run, const send_t *send) {
  const char *receiver = receiver_of(send);
  const user_t *sender = find_user(run, send->sender_id);
  const user_t *receiver_user = receiver ? find_user(run, receiver) : NULL;
  const chat_rest_message_view_t view = {
      .message =
          {
              .id = send->message_id,
              .sender_id = send->sender_id,
              .receiver_id = receiver,
              .conversation_id = send->conversation->id,
              .content = send->content,
              .content_len = send->content_len,
              .attachment_url = send->attachment_url,
              .created_at_ms = send->created_at,
              .seq = send->seq,
              .reply_to = send->quoted ? &send->quote : NULL,
          },
      .is_read = false, /* just sent: nobody else has read it */
      .sender = {send->sender_id, sender ? sender->username : NULL, -1},
      .receiver = {receiver, receiver_user ? receiver_user->username : NULL, -1},
      .client_msg_id = send->client_msg_id,
  };
  bson_string_t *out = bson_string_new("{\"ok\":true,\"data\":");
  chat_rest_message_json(out, &view);
  bson_string_append_c(out, '}');
  return out;
}

/* Keyed by the conversation, whatever the target (chat/broadcast.h). */
static chat_err_t broadcast(run_t *run, const send_t *send, const chat_broadcast_route_t *route,
                            const bson_string_t *value) {
  return chat_broadcast_send_keyed(chat_runtime_producer(run->rt), chat_runtime_config(run->rt),
                                   route, send->conversation ? send->conversation->id : NULL,
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
    chat_target(target, sizeof target, CHAT_TARGET_USER, c->participants[i]);
    const chat_broadcast_route_t route = {
        .event = "conversation_created", .target = target, .join = c->id};
    err = broadcast(run, send, &route, value);
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
  return chat_target(out, cap, CHAT_TARGET_CONN, send->connection_id) != NULL;
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
      chat_target(target, sizeof target, CHAT_TARGET_USER, c->participants[i]);
      const chat_broadcast_route_t route = {
          .event = "message_notification", .target = target, .exclude = has_conn ? conn : NULL};
      err = broadcast(run, send, &route, notification);
    }
  } else {
    chat_target(room, sizeof room, CHAT_TARGET_ROOM, c->id);
    bson_string_t *message = new_message_json(run, send);
    const chat_broadcast_route_t open = {
        .event = "new_message", .target = room, .scope = "open", .seq = seq};
    const chat_broadcast_route_t closed = {.event = "message_notification",
                                           .target = room,
                                           .scope = "closed",
                                           .exclude = has_conn ? conn : NULL,
                                           .seq = seq};
    err = broadcast(run, send, &open, message);
    if (err == CHAT_OK)
      err = broadcast(run, send, &closed, notification);
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
    err = broadcast(run, send, &route, ack);
    bson_string_free(ack, true);
  }
  if (err == CHAT_OK && send->event->correlation_id[0]) {
    bson_string_t *result = rest_message_json(run, send);
    err = persistence_reply(run->rt, send->event, result->str);
    bson_string_free(result, true);
  }
  if (err == CHAT_OK)
    err = persistence_publish_message_created(
        run->rt, &(const persistence_message_created_t){
                     .message_id = send->message_id,
                     .conversation_id = c->id,
                     .sender_id = send->sender_id,
                     .receiver_id = receiver_of(send),
                     .content = send->content,
                     .content_len = send->content_len,
                     .attachment_url = send->attachment_url,
                     .seq = send->seq,
                     .created_at_ms = send->created_at,
                     .reply_to = send->quoted ? &send->quote : NULL,
                     .member_ids = (const char *const *)c->participants,
                     .member_count = c->participant_count,
                 });
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
  bson_string_t *error = bson_string_new(NULL);
  chat_error_json(error, chat_err_code(send->reject), send->reject_message);
  if (send->client_msg_id && connection_target(send, conn, sizeof conn)) {
    bson_string_t *ack = bson_string_new("{\"clientMsgId\":");
    chat_json_append_string(ack, send->client_msg_id, strlen(send->client_msg_id));
    bson_string_append_printf(ack, ",\"status\":\"rejected\",\"error\":%s}", error->str);
    const chat_broadcast_route_t route = {.event = "message_ack", .target = conn};
    err = broadcast(run, send, &route, ack);
    bson_string_free(ack, true);
  }
  if (err == CHAT_OK)
    err = chat_broadcast_reply_error(chat_runtime_producer(run->rt), chat_runtime_config(run->rt),
                                     send->event, send->reject, send->reject_message);
  bson_string_free(error, true);
  return err;
}

/* Every record the run publishes: its messages, or why each was refused. */
static chat_err_t publish_run(run_t *run) {
  chat_err_t err = CHAT_OK;
  for (size_t i = 0; i < run->count && err == CHAT_OK; i++) {
    const send_t *send = &run->sends[i];
    err = send->reject == CHAT_OK ? publish_message(run, send) : publish_rejection(run, send);
  }
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
    err = quote_originals(&run);
  }
  if (err == CHAT_OK) {
    err = create_direct_conversations(&run);
  }
  if (err == CHAT_OK)
    err = store_messages(&run);
  t_insert = monotonic_us();
  /* The owner's copy moves only now that the store has the run's
   * messages; after a failure it stays where the store surely is, and the
   * retry finds what went in through the duplicate key errors. */
  for (size_t i = 0; i < run.conversation_count && err == CHAT_OK; i++) {
    if (run.conversations[i].exists)
      keep_conversation(&run.conversations[i]);
  }
  /* The summaries are written behind the run (summary_writer.h): no
   * delivery waits for their commits. A reader of a conversation list or
   * unread count sees the previous summary until the writer gets to it;
   * a crash before that leaves lastSeq behind the messages, which the
   * next owner's load walks forward (conversation_state.h). */
  if (err == CHAT_OK)
    post_summaries(&run);
  t_update = monotonic_us();
  if (err == CHAT_OK)
    err = run.published_early ? run.publish_err : publish_run(&run);
  int64_t t_publish = monotonic_us();
  chat_mongo_release(mongo, run.client);
  if (err == CHAT_OK) {
    state_cache_stats_t cached = conversation_state_stats();
    CHAT_LOG(CHAT_LOG_DEBUG,
             "stored a run of %zu messages in %zu conversations: read %lld us, insert %lld us "
             "in %zu parts (its records made meanwhile in %lld us), summaries posted %lld us, "
             "publish %lld us; conversation states: %llu hits, %llu misses, %zu kept",
             count, run.conversation_count, (long long)(t_load - t0),
             (long long)(t_insert - t_load), run.insert_parts, (long long)run.made_us,
             (long long)(t_update - t_insert), (long long)(t_publish - t_update),
             (unsigned long long)cached.hits,
             (unsigned long long)cached.misses, cached.size);
  }
  free_run(&run);
  return err;
}
