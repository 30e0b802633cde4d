#include "presence_logic.h"

presence_change_t presence_decide(bool was_online, int64_t live_sessions) {
  if (live_sessions > 0 && !was_online)
    return PRESENCE_NOW_ONLINE;
  if (live_sessions <= 0 && was_online)
    return PRESENCE_NOW_OFFLINE;
  return PRESENCE_UNCHANGED;
}

bool presence_gateway_dead(int64_t last_heartbeat_ms, int64_t handled_until_ms,
                           int64_t expiry_ms) {
  return handled_until_ms > 0 && handled_until_ms - last_heartbeat_ms > expiry_ms;
}

bool presence_session_stale(int64_t opened_ms, int64_t gateway_started_ms,
                            int64_t gateway_expired_ms) {
  return opened_ms < gateway_started_ms ||
         (gateway_expired_ms > 0 && opened_ms <= gateway_expired_ms);
}

bool presence_gateway_restarted(int64_t stored_started_ms, int64_t heartbeat_started_ms) {
  return stored_started_ms > 0 && heartbeat_started_ms > stored_started_ms;
}
