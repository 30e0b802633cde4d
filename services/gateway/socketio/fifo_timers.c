#include "fifo_timers.h"

#include <stddef.h>

void fifo_timers_init(fifo_timers_t *timers, int64_t delay_us, void (*fire)(fifo_timer_t *timer)) {
  timers->head = timers->tail = NULL;
  timers->delay_us = delay_us;
  timers->fire = fire;
}

void fifo_timers_stop(fifo_timers_t *timers, fifo_timer_t *timer) {
  if (!timer->queued)
    return;
  if (timer->prev)
    timer->prev->next = timer->next;
  else
    timers->head = timer->next;
  if (timer->next)
    timer->next->prev = timer->prev;
  else
    timers->tail = timer->prev;
  timer->prev = timer->next = NULL;
  timer->queued = false;
}

bool fifo_timers_start(fifo_timers_t *timers, fifo_timer_t *timer, int64_t now_us) {
  fifo_timers_stop(timers, timer);
  timer->due_us = now_us + timers->delay_us;
  /* The clock only moves forward and the delay is constant, so the tail
   * is always the latest: appending keeps the queue sorted. A clock that
   * stepped back is clamped rather than reordering. */
  if (timers->tail && timer->due_us < timers->tail->due_us)
    timer->due_us = timers->tail->due_us;
  timer->prev = timers->tail;
  timer->next = NULL;
  if (timers->tail)
    timers->tail->next = timer;
  else
    timers->head = timer;
  timers->tail = timer;
  timer->queued = true;
  return timers->head == timer;
}

int64_t fifo_timers_run(fifo_timers_t *timers, int64_t now_us) {
  while (timers->head && timers->head->due_us <= now_us) {
    fifo_timer_t *due = timers->head;
    fifo_timers_stop(timers, due);
    timers->fire(due);
  }
  return timers->head ? timers->head->due_us : -1;
}
