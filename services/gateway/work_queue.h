/* A few worker threads for what must not run on the event loop: argon2id
 * hashing (tens of milliseconds, 64 MiB each) and MongoDB queries. Each
 * job's work runs on a worker, then its done callback on the loop thread. */
#ifndef GATEWAY_WORK_QUEUE_H
#define GATEWAY_WORK_QUEUE_H

#include <stddef.h>

#include "chat/err.h"
#include "server.h"

typedef struct work_queue work_queue_t;

/* Starts thread_count workers that post completions to server's loop. */
chat_err_t work_queue_create(chat_sio_server_t *server, size_t thread_count, size_t max_queued,
                             work_queue_t **out);

/* Queues work(arg) then done(arg) on the loop. Returns CHAT_OK, or
 * CHAT_ERR_RATE_LIMITED when max_queued jobs wait already (answer 503). */
chat_err_t work_queue_submit(work_queue_t *queue, void (*work)(void *arg), void (*done)(void *arg),
                             void *arg);

/* Queues work(arg) then done(arg) on the loop whatever the queue holds:
 * for the gateway's own jobs, which it keeps to a fixed number in flight.
 * Returns CHAT_OK, or CHAT_ERR_NOMEM. */
chat_err_t work_queue_submit_always(work_queue_t *queue, void (*work)(void *arg),
                                    void (*done)(void *arg), void *arg);

/* Finishes the queued jobs, stops the workers, frees; sets *queue NULL. */
void work_queue_destroy(work_queue_t **queue);

#endif
