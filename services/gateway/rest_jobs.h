/* The REST job engine: a route whose answer needs a worker thread (a
 * MongoDB read, password hashing) fills a job there and is answered from
 * it on the loop. Every such route's job starts with a rest_job_t. */
#ifndef GATEWAY_REST_JOBS_H
#define GATEWAY_REST_JOBS_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/err.h"
#include "gateway.h"

typedef struct rest_job rest_job_t;

struct rest_job {
  gateway_t *gw;
  uint64_t request_id;
  /* The answer: data (whole JSON) with status < 300, or the error. */
  int status; /* 500 until the work says otherwise */
  chat_err_t err;
  char message[160];
  bson_string_t *data;
  void (*cleanup)(rest_job_t *job); /* or NULL: wipes what the route's job holds, before free */
};

/* Returns a zeroed job of size bytes (a route's job type, whose first
 * member is a rest_job_t) for request_id, answering 500 INTERNAL unless
 * the work says otherwise; or NULL after answering 503 (out of memory). */
void *rest_job_new(gateway_t *gw, uint64_t request_id, size_t size);

/* Sets the job's answer to an error. */
void rest_job_fail(rest_job_t *job, int status, chat_err_t err, const char *message);

/* Sets the job's answer to 503: the store could not be read (logged). */
void rest_job_fail_store(rest_job_t *job, const bson_error_t *error);

/* Runs work(job) on a worker, then done(job) on the loop; done NULL means
 * rest_job_answer. When too many jobs wait already, answers 503 with
 * busy_message and frees job. Takes job. */
void rest_job_submit(rest_job_t *job, void (*work)(void *job), void (*done)(void *job),
                     const char *busy_message);

/* Answers the request from the job, then frees it (a done callback). */
void rest_job_answer(void *job);

/* Frees job (NULL is fine): its data and, through cleanup, the route's. */
void rest_job_free(rest_job_t *job);

#endif
