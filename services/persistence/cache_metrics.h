/* The partition owner's caches (conversation_state.h) as metrics. */
#ifndef PERSISTENCE_CACHE_METRICS_H
#define PERSISTENCE_CACHE_METRICS_H

#include "chat/runtime.h"

/* A chat_service_spec_t after_batch: copies the caches' counters and sizes
 * into chat_state_cache_* (docs/operations.md). On the consuming thread,
 * the only one that may read them. */
void persistence_cache_metrics(chat_runtime_t *rt);

#endif
