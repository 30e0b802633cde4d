#include "rest_pending.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/envelope.h"
#include "gateway.h"

struct rest_pending {
  rest_pending_t *next;
  char correlation_id[CHAT_ENVELOPE_CORRELATION_MAX];
  int64_t deadline_ms;
  rest_pending_fn fn;
  void *ctx;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

chat_err_t rest_pending_add(gateway_t *gw, const char *correlation_id, int timeout_ms,
                            rest_pending_fn fn, void *ctx) {
  rest_pending_t *pending = calloc(1, sizeof *pending);
  if (!pending)
    return CHAT_ERR_NOMEM;
  snprintf(pending->correlation_id, sizeof pending->correlation_id, "%s", correlation_id);
  pending->deadline_ms = now_ms() + timeout_ms;
  pending->fn = fn;
  pending->ctx = ctx;
  pending->next = gw->pending;
  gw->pending = pending;
  return CHAT_OK;
}

bool rest_pending_resolve(gateway_t *gw, const char *correlation_id, const char *value,
                          size_t value_len) {
  for (rest_pending_t **link = &gw->pending; *link; link = &(*link)->next) {
    rest_pending_t *pending = *link;
    if (strcmp(pending->correlation_id, correlation_id) == 0) {
      *link = pending->next;
      pending->fn(gw, pending->ctx, value, value_len, false);
      free(pending);
      return true;
    }
  }
  return false;
}

void rest_pending_expire(gateway_t *gw) {
  int64_t now = now_ms();
  for (rest_pending_t **link = &gw->pending; *link;) {
    rest_pending_t *pending = *link;
    if (pending->deadline_ms > now) {
      link = &pending->next;
      continue;
    }
    *link = pending->next;
    pending->fn(gw, pending->ctx, NULL, 0, false);
    free(pending);
  }
}

size_t rest_pending_discard(gateway_t *gw) {
  size_t count = 0;
  while (gw->pending) {
    count++;
    rest_pending_t *pending = gw->pending;
    gw->pending = pending->next;
    pending->fn(gw, pending->ctx, NULL, 0, true);
    free(pending);
  }
  return count;
}
