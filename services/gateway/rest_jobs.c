#include "rest_jobs.h"

#include <stdio.h>
#include <stdlib.h>

#include "chat/log.h"
#include "rest_request.h"
#include "work_queue.h"

void *rest_job_new(gateway_t *gw, uint64_t request_id, size_t size) {
  CHAT_ASSERT(size >= sizeof(rest_job_t));
  rest_job_t *job = calloc(1, size);
  if (!job) {
    rest_reply_error(gw, request_id, 503, CHAT_ERR_NOMEM, "server busy, try again");
    return NULL;
  }
  job->gw = gw;
  job->request_id = request_id;
  job->status = 500;
  job->err = CHAT_ERR_INTERNAL;
  return job;
}

void rest_job_fail(rest_job_t *job, int status, chat_err_t err, const char *message) {
  job->status = status;
  job->err = err;
  snprintf(job->message, sizeof job->message, "%s", message);
}

void rest_job_fail_store(rest_job_t *job, const bson_error_t *error) {
  CHAT_LOG(CHAT_LOG_WARN, "REST read: %s", error->message);
  rest_job_fail(job, 503, CHAT_ERR_UNAVAILABLE, "cannot reach the message store now, try again");
}

void rest_job_free(rest_job_t *job) {
  if (!job)
    return;
  if (job->cleanup)
    job->cleanup(job);
  if (job->data)
    bson_string_free(job->data, true);
  free(job);
}

void rest_job_answer(void *arg) {
  rest_job_t *job = arg;
  if (job->data && job->status < 300)
    rest_reply_data(job->gw, job->request_id, job->status, job->data->str);
  else
    rest_reply_error(job->gw, job->request_id, job->status, job->err,
                     job->message[0] ? job->message : "internal error");
  rest_job_free(job);
}

void rest_job_submit(rest_job_t *job, void (*work)(void *job), void (*done)(void *job),
                     const char *busy_message) {
  if (work_queue_submit(job->gw->work, work, done ? done : rest_job_answer, job) != CHAT_OK) {
    rest_reply_error(job->gw, job->request_id, 503, CHAT_ERR_RATE_LIMITED, busy_message);
    rest_job_free(job);
  }
}
