/* What the REST routes that read MongoDB share: their job, the user
 * names and presence of the people a page shows, the read watermarks,
 * the membership check and a page of a conversation's messages. */
#include "rest_reads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "chat/log.h"
#include "chat/message_json.h"
#include "chat/read_rules.h"
#include "rest_request.h"

const char *rest_doc_string(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
    return bson_iter_utf8(&it, NULL);
  return NULL;
}

/* Appends doc[key] as JSON (null when absent). */
void rest_append_field(bson_string_t *out, const bson_t *doc, const char *key) {
  bson_iter_t it;
  bson_t single = BSON_INITIALIZER;
  if (!bson_iter_init_find(&it, doc, key) || !bson_append_iter(&single, "v", 1, &it)) {
    bson_string_append(out, "null");
    bson_destroy(&single);
    return;
  }
  bson_string_t *wrapped = bson_string_new(NULL);
  if (chat_json_append(wrapped, &single, false) == CHAT_OK && wrapped->len > 6)
    bson_string_append_printf(out, "%.*s", (int)(wrapped->len - 6), wrapped->str + 5);
  else
    bson_string_append(out, "null");
  bson_string_free(wrapped, true);
  bson_destroy(&single);
}


void rest_names_want(rest_names_t *names, const char *id) {
  if (!id || !chat_is_id(id))
    return;
  for (size_t i = 0; i < names->count; i++) {
    if (strcmp(names->ids[i], id) == 0)
      return;
  }
  if (names->count == names->cap) {
    size_t cap = names->cap ? names->cap * 2 : 16;
    void *ids = realloc(names->ids, cap * sizeof *names->ids);
    if (!ids)
      return;
    names->ids = ids;
    void *usernames = realloc(names->usernames, cap * sizeof *names->usernames);
    if (!usernames)
      return;
    names->usernames = usernames;
    names->cap = cap;
  }
  memcpy(names->ids[names->count], id, CHAT_ID_SIZE);
  names->usernames[names->count++] = NULL;
}


/* Usernames and presence are read one id at a time, by equality on _id:
 * FerretDB 1.24 never pushes a $in down, so {_id: {$in: [...]}} made
 * PostgreSQL read the whole collection for every page (docs/queries.md).
 * An equality on _id is an index lookup on every store; a page names a
 * few users, at most PARTICIPANTS_SHOWN per conversation shown. */
bool rest_names_load(rest_names_t *names, mongoc_collection_t *users, bson_error_t *error) {
  bson_t *opts = BCON_NEW("projection", "{", "username", BCON_INT32(1), "}");
  bool ok = true;
  for (size_t i = 0; ok && i < names->count; i++) {
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(names->ids[i]));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(users, filter, opts, NULL);
    const bson_t *doc;
    const char *username;
    if (mongoc_cursor_next(cursor, &doc) && (username = rest_doc_string(doc, "username")))
      names->usernames[i] = strdup(username);
    ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(filter);
  }
  bson_destroy(opts);
  return ok;
}

/* Reads who of names is online (the presence service's collection). */
bool rest_names_load_presence(rest_names_t *names, mongoc_collection_t *presence,
                                bson_error_t *error) {
  names->online = calloc(names->count ? names->count : 1, sizeof *names->online);
  if (!names->online)
    return false;
  bson_t *opts = BCON_NEW("projection", "{", "online", BCON_INT32(1), "}");
  bool ok = true;
  for (size_t i = 0; ok && i < names->count; i++) {
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(names->ids[i]));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(presence, filter, opts, NULL);
    const bson_t *doc;
    bson_iter_t it;
    if (mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "online") &&
        BSON_ITER_HOLDS_BOOL(&it))
      names->online[i] = bson_iter_bool(&it);
    ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(filter);
  }
  bson_destroy(opts);
  return ok;
}

void rest_names_free(rest_names_t *names) {
  for (size_t i = 0; i < names->count; i++)
    free(names->usernames[i]);
  free(names->ids);
  free(names->usernames);
  free(names->online);
}

/* {"id":...,"username":...}, or null for no id. */
/* id as a UserRef: its username and, once presence is read, whether it
 * is online. */
static chat_user_ref_t user_ref(const rest_names_t *names, const char *id) {
  chat_user_ref_t person = {.id = id, .username = NULL, .is_online = -1};
  if (!id)
    return person;
  for (size_t i = 0; i < names->count; i++) {
    if (strcmp(names->ids[i], id) == 0) {
      person.username = names->usernames[i];
      if (names->online)
        person.is_online = names->online[i];
    }
  }
  return person;
}

void rest_append_user(bson_string_t *out, const rest_names_t *names, const char *id) {
  const chat_user_ref_t person = user_ref(names, id);
  chat_user_ref_json(out, &person);
}


bool rest_read_view_load(rest_read_job_t *job, mongoc_client_t *client, rest_read_view_t *view,
                         bson_error_t *error) {
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  mongoc_collection_t *states = chat_mongo_collection(mongo, client, "read_states");
  bson_t *by_id = BCON_NEW("_id", BCON_UTF8(job->conversation_id));
  bson_t *by_conversation = BCON_NEW("conversationId", BCON_UTF8(job->conversation_id));
  bson_t *seqs = bson_new(), *times = bson_new();
  const bson_t *doc;
  bson_iter_t it, people;
  memset(view, 0, sizeof *view);
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(states, by_conversation, NULL, NULL);
  while (mongoc_cursor_next(cursor, &doc)) {
    const char *user = rest_doc_string(doc, "userId");
    if (!user || !bson_iter_init_find(&it, doc, "lastReadSeq"))
      continue;
    BSON_APPEND_INT64(seqs, user, bson_iter_as_int64(&it));
    if (bson_iter_init_find(&it, doc, "lastReadAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
      BSON_APPEND_INT64(times, user, bson_iter_date_time(&it));
  }
  bool ok = !mongoc_cursor_error(cursor, error);
  mongoc_cursor_destroy(cursor);
  if (bson_iter_init_find(&it, seqs, job->user_id))
    view->viewer_seq = bson_iter_as_int64(&it);
  if (bson_iter_init_find(&it, times, job->user_id))
    view->viewer_at = bson_iter_as_int64(&it);
  cursor = ok ? mongoc_collection_find_with_opts(conversations, by_id, NULL, NULL) : NULL;
  if (cursor && mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "participants") &&
      BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &people)) {
    bool any = false;
    int others = 0;
    while (bson_iter_next(&people)) {
      if (!BSON_ITER_HOLDS_UTF8(&people) ||
          strcmp(bson_iter_utf8(&people, NULL), job->user_id) == 0)
        continue;
      const char *other = bson_iter_utf8(&people, NULL);
      int64_t seq = bson_iter_init_find(&it, seqs, other) ? bson_iter_as_int64(&it) : 0;
      view->others_min_seq = any && view->others_min_seq < seq ? view->others_min_seq : seq;
      any = true;
      others++;
      if (bson_iter_init_find(&it, times, other))
        view->other_at = bson_iter_as_int64(&it);
    }
    if (others != 1)
      view->other_at = 0; /* a group: no one time says when "they" read it */
  }
  if (cursor) {
    ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
  }
  bson_destroy(times);
  bson_destroy(seqs);
  bson_destroy(by_conversation);
  bson_destroy(by_id);
  mongoc_collection_destroy(states);
  mongoc_collection_destroy(conversations);
  return ok;
}

/* A stored message in the REST shape (snake_case, with seq); is_read and read_at for the
 * viewer, from the watermarks (read_at: when the reader's watermark last
 * moved, which is when they read it or later). */
void rest_append_message(bson_string_t *out, const bson_t *doc, const rest_names_t *names,
                         const rest_read_view_t *view, const char *viewer) {
  const char *sender = rest_doc_string(doc, "senderId");
  const char *receiver = rest_doc_string(doc, "receiverId");
  bson_iter_t it;
  uint32_t content_len = 0;
  const char *content = NULL;
  if (bson_iter_init_find(&it, doc, "content") && BSON_ITER_HOLDS_UTF8(&it))
    content = bson_iter_utf8(&it, &content_len);
  int64_t created_at = bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it)
                           ? bson_iter_date_time(&it)
                           : 0;
  int64_t seq = bson_iter_init_find(&it, doc, "seq") ? bson_iter_as_int64(&it) : 0;
  bool mine = sender && strcmp(sender, viewer) == 0;
  int64_t edited_at = bson_iter_init_find(&it, doc, "editedAt") && BSON_ITER_HOLDS_DATE_TIME(&it)
                          ? bson_iter_date_time(&it)
                          : 0;
  bson_t reactions;
  const uint8_t *reactions_data = NULL;
  uint32_t reactions_len = 0;
  bool reacted_to = bson_iter_init_find(&it, doc, "reactions") && BSON_ITER_HOLDS_ARRAY(&it);
  if (reacted_to)
    bson_iter_array(&it, &reactions_len, &reactions_data);
  reacted_to = reacted_to && bson_init_static(&reactions, reactions_data, reactions_len);
  bool read = receipts_is_read(seq, mine, view->viewer_seq, view->others_min_seq);
  chat_reply_quote_t quote;
  bool is_reply = chat_reply_quote_read(doc, "replyTo", &quote);
  const chat_rest_message_view_t message = {
      .message =
          {
              .id = rest_doc_string(doc, "_id"),
              .sender_id = sender,
              .receiver_id = receiver,
              .conversation_id = rest_doc_string(doc, "conversationId"),
              .content = content,
              .content_len = content_len,
              .attachment_url = rest_doc_string(doc, "attachmentUrl"),
              .created_at_ms = created_at,
              .seq = seq,
              .reply_to = is_reply ? &quote : NULL,
          },
      .is_read = read,
      .read_at_ms = !read ? 0 : mine ? view->other_at : view->viewer_at,
      .sender = user_ref(names, sender),
      .receiver = user_ref(names, receiver),
      .with_changes = true,
      .edited_at_ms = edited_at,
      .reactions = reacted_to ? &reactions : NULL,
      .viewer_id = viewer,
  };
  chat_rest_message_json(out, &message);
}

/* True when user_id is a member of conversation_id and it is not deleted;
 * else fills the job's answer (403, 404 or 503). */
bool rest_check_member(rest_read_job_t *job, mongoc_client_t *client) {
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_collection_t *members = chat_mongo_collection(mongo, client, "members");
  mongoc_collection_t *conversations = chat_mongo_collection(mongo, client, "conversations");
  bson_error_t error;
  bson_t *filter = BCON_NEW("conversationId", BCON_UTF8(job->conversation_id), "userId",
                            BCON_UTF8(job->user_id));
  int64_t is_member = mongoc_collection_count_documents(members, filter, NULL, NULL, NULL, &error);
  bson_destroy(filter);
  bool ok = false;
  if (is_member < 0) {
    rest_job_fail_store(&job->base, &error);
  } else if (is_member == 0) {
    rest_job_fail(&job->base, 403, CHAT_ERR_FORBIDDEN, "not a member of this conversation");
  } else {
    filter = BCON_NEW("_id", BCON_UTF8(job->conversation_id), "deletedAt", BCON_NULL);
    int64_t live =
        mongoc_collection_count_documents(conversations, filter, NULL, NULL, NULL, &error);
    bson_destroy(filter);
    if (live < 0)
      rest_job_fail_store(&job->base, &error);
    else if (live == 0)
      rest_job_fail(&job->base, 404, CHAT_ERR_NOT_FOUND, "no such conversation");
    else
      ok = true;
  }
  mongoc_collection_destroy(conversations);
  mongoc_collection_destroy(members);
  return ok;
}

/* Reads a page of the conversation's messages (not deleted) into
 * job->base.data: by page (newest page first) or by a seq cursor (before /
 * after, exclusive), always oldest first within the answer. */
void rest_read_messages(rest_read_job_t *job, mongoc_client_t *client, bool with_page_totals) {
  chat_mongo_t *mongo = chat_runtime_mongo(job->base.gw->rt);
  mongoc_collection_t *messages = chat_mongo_collection(mongo, client, "messages");
  mongoc_collection_t *users = chat_mongo_collection(mongo, client, "users");
  bson_error_t error;
  bson_t filter = BSON_INITIALIZER, range;
  BSON_APPEND_UTF8(&filter, "conversationId", job->conversation_id);
  BSON_APPEND_NULL(&filter, "deletedAt");
  bool newest_first = job->after <= 0;
  if (job->before > 0 || job->after > 0) {
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "seq", &range);
    if (job->before > 0)
      BSON_APPEND_INT64(&range, "$lt", job->before);
    if (job->after > 0)
      BSON_APPEND_INT64(&range, "$gt", job->after);
    bson_append_document_end(&filter, &range);
  }
  int64_t total = 0;
  if (with_page_totals) {
    bson_t all = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&all, "conversationId", job->conversation_id);
    BSON_APPEND_NULL(&all, "deletedAt");
    total = mongoc_collection_count_documents(messages, &all, NULL, NULL, NULL, &error);
    bson_destroy(&all);
    if (total < 0) {
      rest_job_fail_store(&job->base, &error);
      goto out;
    }
  }
  int64_t skip = (job->before > 0 || job->after > 0) ? 0 : (job->page - 1) * job->limit;
  bson_t *opts = BCON_NEW("sort", "{", "seq", BCON_INT32(newest_first ? -1 : 1), "}", "skip",
                          BCON_INT64(skip), "limit", BCON_INT64(job->limit + 1));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(messages, &filter, opts, NULL);
  bson_t **docs = calloc((size_t)job->limit + 1, sizeof *docs);
  size_t n = 0;
  const bson_t *doc;
  rest_names_t names = {0};
  while (docs && n < (size_t)job->limit + 1 && mongoc_cursor_next(cursor, &doc))
    docs[n++] = bson_copy(doc);
  bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bool has_more = n > (size_t)job->limit;
  if (has_more)
    bson_destroy(docs[--n]);
  for (size_t i = 0; i < n; i++) {
    rest_names_want(&names, rest_doc_string(docs[i], "senderId"));
    rest_names_want(&names, rest_doc_string(docs[i], "receiverId"));
  }
  rest_read_view_t view;
  if (failed || !docs || !rest_names_load(&names, users, &error) ||
      !rest_read_view_load(job, client, &view, &error)) {
    rest_job_fail_store(&job->base, &error);
  } else {
    job->base.data = bson_string_new("{\"conversationId\":");
    chat_json_append_string(job->base.data, job->conversation_id, strlen(job->conversation_id));
    bson_string_append(job->base.data, ",\"messages\":[");
    for (size_t k = 0; k < n; k++) {
      size_t i = newest_first ? n - 1 - k : k; /* oldest first, as a chat shows them */
      if (k)
        bson_string_append_c(job->base.data, ',');
      rest_append_message(job->base.data, docs[i], &names, &view, job->user_id);
    }
    bson_string_append_printf(job->base.data, "],\"hasMore\":%s", has_more ? "true" : "false");
    if (with_page_totals)
      bson_string_append_printf(job->base.data, ",\"total\":%lld,\"page\":%lld,\"totalPages\":%lld",
                                (long long)total, (long long)job->page,
                                (long long)((total + job->limit - 1) / job->limit));
    bson_string_append_c(job->base.data, '}');
    job->base.status = 200;
  }
  for (size_t i = 0; i < n; i++)
    bson_destroy(docs[i]);
  free(docs);
  rest_names_free(&names);
out:
  bson_destroy(&filter);
  mongoc_collection_destroy(users);
  mongoc_collection_destroy(messages);
}


/* Reads page and limit (the defaults: page 1, limit 20 or 50). */
bool rest_read_paging(gateway_t *gw, const chat_http_request_t *request, rest_read_job_t *job,
                      int64_t default_limit) {
  return rest_query_int(gw, request, "page", 1, 1, 1000000, &job->page) &&
         rest_query_int(gw, request, "limit", default_limit, 1, REST_PAGE_LIMIT_MAX, &job->limit);
}


bool rest_read_conversation_id(gateway_t *gw, const chat_http_request_t *request,
                               const rest_params_t *params, rest_read_job_t *job) {
  if (!chat_is_id(params->values[0])) {
    rest_reply_error(gw, request->id, 400, CHAT_ERR_INVALID,
                     "the conversation id must be 24 hex digits");
    return false;
  }
  memcpy(job->conversation_id, params->values[0], CHAT_ID_SIZE);
  return true;
}

bool rest_read_messages_args(gateway_t *gw, const chat_http_request_t *request,
                             const rest_params_t *params, rest_read_job_t *job) {
  return rest_read_conversation_id(gw, request, params, job) &&
         rest_read_paging(gw, request, job, 50) &&
         rest_query_int(gw, request, "before", 0, 1, INT64_MAX, &job->before) &&
         rest_query_int(gw, request, "after", 0, 0, INT64_MAX, &job->after);
}

void rest_read_start(gateway_t *gw, const chat_http_request_t *request,
                     const rest_params_t *params, rest_read_args_fn read, void (*work)(void *)) {
  chat_jwt_claims_t claims;
  if (!rest_authenticate(gw, request, &claims))
    return;
  rest_read_job_t *job = rest_job_new(gw, request->id, sizeof *job);
  if (!job)
    return;
  memcpy(job->user_id, claims.sub, sizeof job->user_id);
  if (!read(gw, request, params, job)) {
    rest_job_free(&job->base);
    return;
  }
  rest_job_submit(&job->base, work, NULL, "too many requests at once, try again");
}
