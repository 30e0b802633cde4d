/* The gateway process's shared state, owned by main.c. Everything here is
 * used on the loop thread unless a field says otherwise; each module that
 * a field names has its own header. */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "chat/runtime.h"
#include "server.h"

typedef struct work_queue work_queue_t;
typedef struct rest_pending rest_pending_t;
typedef struct rooms rooms_t;
typedef struct rooms_lookup rooms_lookup_t;
typedef struct resume_queue resume_queue_t;
typedef struct id_table id_table_t;
typedef struct recovery recovery_t;

typedef struct gateway {
  chat_runtime_t *rt; /* thread-safe */
  chat_sio_server_t *sio;
  work_queue_t *work;      /* worker threads (work_queue.h) */
  rest_pending_t *pending; /* REST calls waiting for a command.result (rest_pending.h) */
  rooms_t *rooms;          /* members are gateway_socket_t (rooms.h, socket_state.h) */
  rooms_lookup_t *lookup;  /* new sockets waiting for their conversations (rooms_lookup.h) */
  resume_queue_t *resumes; /* resuming sockets waiting for their replay (socket_resume.h) */
  id_table_t *sends;       /* message.send waiting for Kafka, by request id (send_message.c) */
  recovery_t *recovery;    /* connection state recovery, or NULL when off (socket_recovery.h) */
  uint64_t next_request_id;
  int64_t started_ms;     /* wall clock at start: the heartbeat's startedAt */
  size_t session_count;   /* authenticated sockets */
  uint64_t delivery_mark; /* marks sockets already served by one delivery */
} gateway_t;

#endif
