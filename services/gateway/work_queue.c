#include "work_queue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define WORK_QUEUE_THREADS_MAX 16 /* workers one queue may have */

typedef struct job {
  struct job *next;
  void (*work)(void *arg);
  void (*done)(void *arg);
  void *arg;
} job_t;

struct work_queue {
  chat_sio_server_t *server;
  pthread_mutex_t lock;
  pthread_cond_t ready;
  job_t *head, *tail;
  size_t queued, max_queued;
  bool stopping;
  pthread_t threads[WORK_QUEUE_THREADS_MAX];
  size_t thread_count;
};

static void *worker_main(void *arg) {
  work_queue_t *queue = arg;
  for (;;) {
    pthread_mutex_lock(&queue->lock);
    while (!queue->head && !queue->stopping)
      pthread_cond_wait(&queue->ready, &queue->lock);
    job_t *job = queue->head;
    if (job) {
      queue->head = job->next;
      if (!queue->head)
        queue->tail = NULL;
      queue->queued--;
    }
    pthread_mutex_unlock(&queue->lock);
    if (!job)
      return NULL; /* stopping and drained */
    job->work(job->arg);
    if (chat_sio_server_post(queue->server, job->done, job->arg) != CHAT_OK)
      job->done(job->arg); /* out of memory: finish here rather than leak */
    free(job);
  }
}

chat_err_t work_queue_create(chat_sio_server_t *server, size_t thread_count, size_t max_queued,
                             work_queue_t **out) {
  work_queue_t *queue = calloc(1, sizeof *queue);
  if (!queue)
    return CHAT_ERR_NOMEM;
  queue->server = server;
  queue->max_queued = max_queued;
  pthread_mutex_init(&queue->lock, NULL);
  pthread_cond_init(&queue->ready, NULL);
  if (thread_count > WORK_QUEUE_THREADS_MAX)
    thread_count = WORK_QUEUE_THREADS_MAX;
  for (; queue->thread_count < thread_count; queue->thread_count++) {
    if (pthread_create(&queue->threads[queue->thread_count], NULL, worker_main, queue) != 0)
      break;
  }
  if (queue->thread_count == 0) {
    work_queue_destroy(&queue);
    return CHAT_ERR_INTERNAL;
  }
  *out = queue;
  return CHAT_OK;
}

static chat_err_t submit(work_queue_t *queue, void (*work)(void *arg), void (*done)(void *arg),
                         void *arg, bool may_refuse) {
  job_t *job = calloc(1, sizeof *job);
  if (!job)
    return CHAT_ERR_NOMEM;
  job->work = work;
  job->done = done;
  job->arg = arg;
  pthread_mutex_lock(&queue->lock);
  if (may_refuse && queue->queued >= queue->max_queued) {
    pthread_mutex_unlock(&queue->lock);
    free(job);
    return CHAT_ERR_RATE_LIMITED;
  }
  if (queue->tail)
    queue->tail->next = job;
  else
    queue->head = job;
  queue->tail = job;
  queue->queued++;
  pthread_cond_signal(&queue->ready);
  pthread_mutex_unlock(&queue->lock);
  return CHAT_OK;
}

chat_err_t work_queue_submit(work_queue_t *queue, void (*work)(void *arg), void (*done)(void *arg),
                             void *arg) {
  return submit(queue, work, done, arg, true);
}

chat_err_t work_queue_submit_always(work_queue_t *queue, void (*work)(void *arg),
                                    void (*done)(void *arg), void *arg) {
  return submit(queue, work, done, arg, false);
}

void work_queue_destroy(work_queue_t **queue_ptr) {
  work_queue_t *queue = queue_ptr ? *queue_ptr : NULL;
  if (!queue)
    return;
  pthread_mutex_lock(&queue->lock);
  queue->stopping = true;
  pthread_cond_broadcast(&queue->ready);
  pthread_mutex_unlock(&queue->lock);
  for (size_t i = 0; i < queue->thread_count; i++)
    pthread_join(queue->threads[i], NULL);
  pthread_cond_destroy(&queue->ready);
  pthread_mutex_destroy(&queue->lock);
  free(queue);
  *queue_ptr = NULL;
}
