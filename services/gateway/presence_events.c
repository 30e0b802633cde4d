/* What the gateway tells the presence service (chat.presence): a session
 * opened or closed, keyed by user, and a heartbeat per gateway instance,
 * keyed by gateway id, whose startedAt changes when the gateway restarts. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chat/envelope.h"
#include "chat/json.h"
#include "chat/log.h"
#include "chat/topics.h"
#include "presence_events.h"
#include "produce.h"

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void produce(gateway_t *gw, chat_envelope_t *env, const char *key) {
  char type[CHAT_ENVELOPE_TYPE_MAX];
  memcpy(type, env->type, sizeof type);
  chat_err_t err = gateway_produce(gw, CHAT_TOPIC_PRESENCE, env, key, 0);
  if (err != CHAT_OK)
    CHAT_LOG(CHAT_LOG_WARN, "%s not sent: %s", type, chat_strerror(err));
}

void gateway_presence_session(gateway_t *gw, const gateway_socket_t *state, bool opened) {
  chat_envelope_t env;
  char when[CHAT_JSON_TIME_SIZE];
  if (chat_envelope_init(&env, opened ? "session.opened" : "session.closed",
                         chat_runtime_source(gw->rt), NULL) != CHAT_OK)
    return;
  chat_json_format_time(wall_ms(), when);
  BSON_APPEND_UTF8(&env.payload, "userId", state->user_id);
  BSON_APPEND_UTF8(&env.payload, "gatewayId", chat_runtime_config(gw->rt)->instance_id);
  BSON_APPEND_UTF8(&env.payload, "connectionId", state->connection_id);
  BSON_APPEND_UTF8(&env.payload, opened ? "openedAt" : "closedAt", when);
  produce(gw, &env, state->user_id);
}

void gateway_presence_heartbeat(void *arg) {
  gateway_t *gw = arg;
  const chat_config_t *cfg = chat_runtime_config(gw->rt);
  chat_envelope_t env;
  char started[CHAT_JSON_TIME_SIZE];
  if (!gw->started_ms)
    gw->started_ms = wall_ms();
  if (chat_envelope_init(&env, "gateway.heartbeat", chat_runtime_source(gw->rt), NULL) == CHAT_OK) {
    chat_json_format_time(gw->started_ms, started);
    BSON_APPEND_UTF8(&env.payload, "gatewayId", cfg->instance_id);
    BSON_APPEND_UTF8(&env.payload, "startedAt", started);
    BSON_APPEND_INT64(&env.payload, "sessions", (int64_t)gw->session_count);
    produce(gw, &env, cfg->instance_id);
  }
  if (!chat_runtime_stopping(gw->rt))
    chat_sio_server_call_later(gw->sio, cfg->presence_heartbeat_ms, gateway_presence_heartbeat, gw);
}
