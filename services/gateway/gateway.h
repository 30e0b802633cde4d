/* The gateway process's shared state, owned by main.c. Everything here is
 * used on the loop thread unless a field says otherwise. */
#ifndef GATEWAY_H
#define GATEWAY_H

#include "chat/runtime.h"
#include "server.h"
#include "work_queue.h"

typedef struct pending_registration pending_registration_t;

typedef struct gateway {
  chat_runtime_t *rt; /* thread-safe */
  chat_sio_server_t *sio;
  work_queue_t *work;
  pending_registration_t *registrations; /* waiting for persistence's answer */
} gateway_t;

#endif
