/* What the REST routes that read MongoDB on a worker share (rest_reads.c):
 * their job, the route arguments most of them take, the user names and
 * presence of the people an answer shows, the read watermarks, the
 * membership check and a page of a conversation's messages. The reads run
 * on a worker; the *_args functions and rest_read_start on the loop. */
#ifndef GATEWAY_REST_READS_H
#define GATEWAY_REST_READS_H

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

#include "chat/ids.h"
#include "chat/jwt.h"
#include "gateway.h"
#include "rest_jobs.h"
#include "rest_route.h"
#include "server.h"

#define REST_PAGE_LIMIT_MAX 100      /* items per page at most */
#define REST_MEMBERSHIPS_MAX 10000   /* conversations listed per user at most */
#define REST_SEARCH_TERM_MAX 200     /* search: the longest q, in bytes */

/* A read route's job: the caller and the arguments of its request. */
typedef struct rest_read_job {
  rest_job_t base; /* first: the engine's part */
  char user_id[CHAT_JWT_SUB_MAX];
  char conversation_id[CHAT_ID_SIZE];
  char other_id[CHAT_ID_SIZE];
  int64_t page, limit, before, after, from;
  char term[REST_SEARCH_TERM_MAX + 1]; /* search: the text looked for */
} rest_read_job_t;

/* Reads a route's arguments into job; false after answering 400. */
typedef bool (*rest_read_args_fn)(gateway_t *gw, const chat_http_request_t *request,
                                  const rest_params_t *params, rest_read_job_t *job);

/* Authenticates, reads the arguments with read, and runs work on a worker;
 * the request is answered from the job (rest_job_answer). */
void rest_read_start(gateway_t *gw, const chat_http_request_t *request,
                     const rest_params_t *params, rest_read_args_fn read, void (*work)(void *));

/* Route arguments: page and limit (page 1 and default_limit when absent);
 * the :id of the path as the conversation; that and page, limit, before
 * and after of a page of messages. */
bool rest_read_paging(gateway_t *gw, const chat_http_request_t *request, rest_read_job_t *job,
                      int64_t default_limit);
bool rest_read_conversation_id(gateway_t *gw, const chat_http_request_t *request,
                               const rest_params_t *params, rest_read_job_t *job);
bool rest_read_messages_args(gateway_t *gw, const chat_http_request_t *request,
                             const rest_params_t *params, rest_read_job_t *job);

/* doc[key] when it is a string (borrowed), else NULL. */
const char *rest_doc_string(const bson_t *doc, const char *key);

/* Appends doc[key] as JSON (null when absent). */
void rest_append_field(bson_string_t *out, const bson_t *doc, const char *key);

/* Usernames of user ids (and, once read, who of them is online). */
typedef struct rest_names {
  char (*ids)[CHAT_ID_SIZE];
  char **usernames;
  bool *online; /* after rest_names_load_presence(); NULL before */
  size_t count, cap;
} rest_names_t;

/* Adds id (ignored when NULL or no id) to the names to read. */
void rest_names_want(rest_names_t *names, const char *id);
/* Reads the usernames, or who of them is online, one id at a time by
 * _id (an index lookup on every store); false with *error set
 * when the store fails. */
bool rest_names_load(rest_names_t *names, mongoc_collection_t *users, bson_error_t *error);
bool rest_names_load_presence(rest_names_t *names, mongoc_collection_t *presence,
                              bson_error_t *error);
void rest_names_free(rest_names_t *names);

/* Appends {"id","username"[,"isOnline"]} of id, or null for no id. */
void rest_append_user(bson_string_t *out, const rest_names_t *names, const char *id);

/* Who has read how far in one conversation, from the receipts service's
 * watermarks, as the viewer sees it. */
typedef struct rest_read_view {
  int64_t viewer_seq, viewer_at; /* the viewer's watermark and when it last moved */
  int64_t others_min_seq;        /* the lowest watermark among the other members */
  int64_t other_at;              /* a 1-1's other member: when their watermark moved */
} rest_read_view_t;

/* Reads the view of job's conversation for job's user; false with *error
 * set when the store fails. */
bool rest_read_view_load(rest_read_job_t *job, mongoc_client_t *client, rest_read_view_t *view,
                         bson_error_t *error);

/* Appends a stored message in the REST shape, is_read and read_at as
 * viewer sees them. */
void rest_append_message(bson_string_t *out, const bson_t *doc, const rest_names_t *names,
                         const rest_read_view_t *view, const char *viewer);

/* True when job's user is a member of job's conversation and it is not
 * deleted; else fills the job's answer (403, 404 or 503). */
bool rest_check_member(rest_read_job_t *job, mongoc_client_t *client);

/* Reads a page of job's conversation's messages (not deleted) into the
 * job's answer: by page (newest page first) or by a seq cursor (before /
 * after, exclusive), oldest first within the answer. */
void rest_read_messages(rest_read_job_t *job, mongoc_client_t *client, bool with_page_totals);

#endif
