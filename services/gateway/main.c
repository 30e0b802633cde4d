/* gateway: terminates Socket.IO and REST for clients, publishes their
 * commands to Kafka and delivers chat.broadcast to its sockets
 * (docs/architecture.md). The Socket.IO server arrives with the gateway
 * issue; this skeleton runs the shared runtime and the broadcast consumer. */
#include <stdio.h>

#include "chat/log.h"
#include "chat/runtime.h"

#define GATEWAY_BATCH_MAX 1000 /* broadcast records handed over per batch */

/* Until the socket layer exists there is no one to deliver to: count what
 * arrives so the consumer path is exercised and visible in debug logs. */
static chat_err_t deliver_broadcast(void *ctx, const chat_record_t *records, size_t count) {
  (void)ctx;
  for (size_t i = 0; i < count; i++) {
    const char *event = NULL;
    size_t event_len = 0;
    if (!chat_record_header(&records[i], "event", &event, &event_len))
      event = "", event_len = 0;
    CHAT_LOG(CHAT_LOG_DEBUG, "broadcast %.*s at %s[%d]@%lld: no sockets to deliver to yet",
             (int)event_len, event, records[i].topic, records[i].partition,
             (long long)records[i].offset);
  }
  return CHAT_OK;
}

int main(void) {
  chat_runtime_t *rt = NULL;
  const chat_runtime_options_t opts = {.service = CHAT_SERVICE_GATEWAY};
  chat_err_t err = chat_runtime_start(&opts, &rt);
  if (err != CHAT_OK)
    return err == CHAT_ERR_STOPPED ? 0 : err == CHAT_ERR_CONFIG ? 2 : 1;

  /* Every gateway reads every broadcast partition: a group of its own, from
   * the newest record (what happened before it started is not its to send). */
  const chat_config_t *cfg = chat_runtime_config(rt);
  char group[2 * CHAT_CONFIG_STR_MAX + 32];
  snprintf(group, sizeof group, "%schat.gateway.%s", cfg->topic_prefix, cfg->instance_id);
  const chat_topic_t topics[] = {CHAT_TOPIC_BROADCAST};
  const chat_consumer_options_t consumer_opts = {.from_latest = true};
  err = chat_runtime_consume(rt, group, topics, 1, &consumer_opts, GATEWAY_BATCH_MAX,
                             deliver_broadcast, NULL);
  chat_runtime_destroy(&rt);
  CHAT_LOG(CHAT_LOG_INFO, "stopped");
  return err == CHAT_OK ? 0 : 1;
}
