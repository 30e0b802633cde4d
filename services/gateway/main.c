/* gateway: terminates Socket.IO for clients (services/gateway/socketio/),
 * authenticates sockets with JWT, and consumes chat.broadcast to deliver
 * to them (docs/architecture.md). The libwebsockets loop runs on the main
 * thread; the broadcast consumer on a thread of its own. */
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broadcast_deliver.h"
#include "chat/broadcast.h"
#include "chat/envelope.h"
#include "chat/log.h"
#include "chat/runtime.h"
#include "chat/topics.h"
#include "client_events.h"
#include "describe_api.h"
#include "gateway.h"
#include "guest_rooms.h"
#include "id_table.h"
#include "presence_events.h"
#include "rest.h"
#include "rest_pending.h"
#include "rooms.h"
#include "rooms_lookup.h"
#include "send_message.h"
#include "server.h"
#include "socket_lifecycle.h"
#include "socket_recovery.h"
#include "socket_resume.h"
#include "socket_state.h"
#include "work_queue.h"

#define GATEWAY_BATCH_MAX 1000  /* broadcast records handed over per batch */
#define GATEWAY_SERVICE_MS 100  /* longest wait of one loop turn, bounds stop latency */
#define GATEWAY_PRODUCER_LINGER_MS 1 /* a command waits this long for others to share its request */
#define GATEWAY_WORKERS 2       /* threads for password hashing and MongoDB reads */
#define GATEWAY_WORK_QUEUED 256 /* jobs waiting for a worker before 503 */
#define GATEWAY_SWEEP_MS 1000   /* how often REST calls past their deadline are answered */

static const char *on_connect(void *ctx, chat_sio_socket_t *socket, const bson_t *auth) {
  return gateway_socket_accept(ctx, socket, auth);
}

static void on_connected(void *ctx, chat_sio_socket_t *socket) {
  gateway_socket_connected(ctx, socket);
}

static void on_event(void *ctx, chat_sio_socket_t *socket, const chat_sio_packet_t *packet,
                     const chat_sio_attachment_t *attachments, size_t attachment_count) {
  (void)attachments;
  gateway_socket_t *state = chat_sio_socket_user(socket);
  if (state->guest_socket)
    gateway_guest_event(ctx, state, packet, attachment_count);
  else if (!gateway_socket_hold_event(state, packet))
    gateway_handle_client_event(ctx, state, packet);
}

static void on_disconnect(void *ctx, chat_sio_socket_t *socket, const char *reason) {
  CHAT_LOG(CHAT_LOG_DEBUG, "socket %s gone: %s", chat_sio_socket_id(socket), reason);
  gateway_socket_gone(ctx, socket);
}

/* A broadcast record handed from the consumer thread to the loop thread:
 * its route, read once, and its value. */
typedef struct broadcast_copy {
  gateway_t *gw;
  chat_broadcast_route_t route; /* its strings point into storage */
  char *storage;
  int32_t partition;
  int64_t offset;
  size_t value_len;
  char value[];
} broadcast_copy_t;

static void free_copy(broadcast_copy_t *copy) {
  free(copy->storage);
  free(copy);
}

static void deliver_on_loop(void *arg) {
  broadcast_copy_t *copy = arg;
  gateway_t *gw = copy->gw;
  const chat_broadcast_route_t *route = &copy->route;
  const char *gateway_id = chat_target_id(route->target, CHAT_TARGET_GATEWAY);
  if (gateway_id && strcmp(gateway_id, chat_runtime_config(gw->rt)->instance_id) == 0) {
    recovery_advance(gw, route->event, copy->partition, copy->offset, NULL, 0);
    if (strcmp(route->event, "command.result") == 0 && route->correlation_id)
      rest_pending_resolve(gw, route->correlation_id, copy->value, copy->value_len);
  } else {
    gateway_deliver(gw, route, copy->value, copy->value_len, copy->partition, copy->offset);
  }
  free_copy(copy);
}

/* Runs on the consumer thread: copies each routable record to the loop. */
static chat_err_t deliver_broadcast(void *ctx, const chat_record_t *records, size_t count) {
  gateway_t *gw = ctx;
  for (size_t i = 0; i < count; i++) {
    const chat_record_t *record = &records[i];
    broadcast_copy_t *copy = calloc(1, sizeof *copy + record->value_len + 1);
    if (!copy)
      return CHAT_ERR_NOMEM; /* the batch is retried */
    copy->gw = gw;
    chat_err_t err = chat_broadcast_read(record, &copy->route, &copy->storage);
    if (err == CHAT_ERR_INVALID) {
      CHAT_LOG(CHAT_LOG_WARN, "broadcast %s[%d]@%lld has no target, event or value; skipped",
               record->topic, record->partition, (long long)record->offset);
      free_copy(copy);
      continue;
    }
    if (err != CHAT_OK) {
      free_copy(copy);
      return err;
    }
    memcpy(copy->value, record->value, record->value_len);
    copy->value_len = record->value_len;
    copy->partition = record->partition;
    copy->offset = record->offset;
    if (chat_sio_server_post(gw->sio, deliver_on_loop, copy) != CHAT_OK) {
      free_copy(copy);
      return CHAT_ERR_NOMEM;
    }
  }
  return CHAT_OK;
}

static void sweep(void *arg) {
  gateway_t *gw = arg;
  rest_pending_expire(gw);
  chat_sio_server_call_later(gw->sio, GATEWAY_SWEEP_MS, sweep, gw);
}

static void *broadcast_main(void *arg) {
  gateway_t *gw = arg;
  /* Every gateway reads every broadcast partition from the newest record
   * (what came before it started is not its own), by direct assignment:
   * no consumer group. The group name only labels its Kafka client. */
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  char group[2 * CHAT_CONFIG_STR_MAX + 32];
  snprintf(group, sizeof group, "%schat.gateway.%s", cfg->topic_prefix, cfg->instance_id);
  const chat_topic_t topics[] = {CHAT_TOPIC_BROADCAST};
  const chat_consumer_options_t opts = {.from_latest = true,
                                        .all_partitions_from_end = true,
                                        .on_started = recovery_started,
                                        .started_ctx = gw,
                                        .batch_without_wait = true};
  if (chat_runtime_consume(gw->rt, group, topics, 1, &opts, GATEWAY_BATCH_MAX, deliver_broadcast,
                           gw) != CHAT_OK) {
    chat_runtime_request_stop(gw->rt);
    chat_sio_server_wake(gw->sio); /* the loop thread notices the stop now */
  }
  return NULL;
}

int main(int argc, char **argv) {
  /* The gateway's tables of routes and events, for tests and operators:
   * printed before anything is configured or connected. */
  if (argc == 2 && strcmp(argv[1], "--describe-api") == 0)
    return gateway_describe_api(stdout);
  gateway_t gw = {0};
  const chat_runtime_options_t runtime_opts = {
      .service = CHAT_SERVICE_GATEWAY,
      .on_delivery = gateway_on_delivery,
      .delivery_ctx = &gw,
      /* A client waits for every command's "accepted": 1 ms, not 5, of
       * batching (pairbench at 250 msg/s: delivery p50 14 -> 11.5 ms). */
      .producer_linger_ms = GATEWAY_PRODUCER_LINGER_MS};
  chat_err_t err = chat_runtime_start(&runtime_opts, &gw.rt);
  if (err != CHAT_OK)
    return err == CHAT_ERR_STOPPED ? 0 : err == CHAT_ERR_CONFIG ? 2 : 1;

  const chat_config_t *cfg = chat_runtime_config(gw.rt);
  const char *const guest_namespaces[] = {cfg->guest_namespace, NULL};
  /* One descriptor per connection: take all the hard limit allows. */
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &files) != 0)
      CHAT_LOG(CHAT_LOG_WARN, "cannot raise the open-file limit: %s", strerror(errno));
  }
  if (getrlimit(RLIMIT_NOFILE, &files) == 0)
    CHAT_LOG(CHAT_LOG_INFO, "open-file limit %llu: at most about that many connections",
             (unsigned long long)files.rlim_cur);
  const chat_sio_options_t sio_opts = {
      .listen_addr = cfg->listen_addr,
      .port = cfg->gateway_port,
      .path = "/socket.io/",
      .ping_interval_ms = cfg->ping_interval_ms,
      .ping_timeout_ms = cfg->ping_timeout_ms,
      .max_payload = (size_t)cfg->max_payload_bytes,
      .max_queued_bytes = (size_t)cfg->max_queued_bytes,
      .connect_timeout_ms = cfg->connect_timeout_ms,
      .handlers = {on_connect, on_connected, on_event, on_disconnect, gateway_handle_http},
      .namespaces = strcmp(cfg->guest_rooms, "namespace") == 0 ? guest_namespaces : NULL,
      .web_root = strcmp(cfg->web_root, "off") == 0 ? NULL
                  : cfg->web_root[0]                ? cfg->web_root
                                                    : CHAT_WEB_BUILT_ROOT,
      .ctx = &gw,
  };
  char why[256];
  int status = 1;
  pthread_t consumer;
  bool consumer_started = false;
  if (chat_sio_server_create(&sio_opts, &gw.sio, why, sizeof why) != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_ERROR, "%s", why);
    goto out;
  }
  gw.rooms = rooms_create();
  gw.sends = id_table_create();
  gw.lookup = rooms_lookup_create(&gw, gateway_socket_rooms_ready);
  gw.resumes = gateway_resume_queue_create(&gw);
  if (!gw.rooms || !gw.sends || !gw.lookup || !gw.resumes ||
      work_queue_create(gw.sio, GATEWAY_WORKERS, GATEWAY_WORK_QUEUED, &gw.work) != CHAT_OK ||
      recovery_create(&gw, &gw.recovery) != CHAT_OK) {
    CHAT_LOG(CHAT_LOG_ERROR, "cannot start the worker threads");
    goto out;
  }
  chat_sio_server_call_later(gw.sio, GATEWAY_SWEEP_MS, sweep, &gw);
  gateway_presence_heartbeat(&gw); /* and every CHAT_PRESENCE_HEARTBEAT_MS */
  if (pthread_create(&consumer, NULL, broadcast_main, &gw) != 0) {
    CHAT_LOG(CHAT_LOG_ERROR, "cannot start the broadcast consumer thread");
    goto out;
  }
  consumer_started = true;
  CHAT_LOG(CHAT_LOG_INFO, "Socket.IO on http://%s:%d/socket.io/", cfg->listen_addr,
           cfg->gateway_port);
  while (!chat_runtime_stopping(gw.rt)) {
    if (!chat_sio_server_service(gw.sio, GATEWAY_SERVICE_MS)) {
      CHAT_LOG(CHAT_LOG_ERROR, "libwebsockets loop failed");
      chat_runtime_request_stop(gw.rt);
      break;
    }
  }
  status = 0;
out:
  chat_runtime_request_stop(gw.rt);
  /* The consumer and the workers post to the loop: stop them before it. */
  if (consumer_started)
    pthread_join(consumer, NULL);
  work_queue_destroy(&gw.work);
  recovery_destroy(&gw.recovery);
  /* Delivery reports of what is still in flight reach the loop before it
   * goes; none come after the flush. */
  chat_producer_flush(chat_runtime_producer(gw.rt), cfg->shutdown_timeout_ms);
  /* REST calls still waiting for a command hear that the gateway stops,
   * and a few turns of the loop write those answers out. */
  if (rest_pending_discard(&gw) > 0) {
    for (int turn = 0; gw.sio && turn < 10; turn++) {
      chat_sio_server_wake(gw.sio); /* a turn returns at once, not at the next event */
      chat_sio_server_service(gw.sio, 10);
    }
  }
  chat_sio_server_destroy(&gw.sio); /* runs what they posted last */
  rooms_lookup_destroy(&gw.lookup);
  gateway_resume_queue_destroy(&gw.resumes);
  gateway_sends_discard(&gw);
  rooms_destroy(&gw.rooms);
  chat_runtime_destroy(&gw.rt);
  CHAT_LOG(CHAT_LOG_INFO, "stopped");
  return status;
}
