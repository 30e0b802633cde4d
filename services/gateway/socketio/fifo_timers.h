/* Timers that all run for the same delay, kept in one queue per delay.
 * Started in time order with a constant delay, they fall due in the order
 * they were started, so starting, stopping and firing one are O(1); the
 * event loop needs one wake-up per queue instead of one sorted timer per
 * session (libwebsockets' sorted list costs O(sessions) per insertion,
 * which dominated the gateway at 10,000 connections). Pure logic: the
 * caller passes the time and arms its own wake-up for the next due time. */
#ifndef CHAT_SIO_FIFO_TIMERS_H
#define CHAT_SIO_FIFO_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct fifo_timer {
  struct fifo_timer *prev, *next;
  int64_t due_us;
  bool queued;
} fifo_timer_t;

typedef struct fifo_timers {
  fifo_timer_t *head, *tail;
  int64_t delay_us;
  void (*fire)(fifo_timer_t *timer); /* called once per timer falling due */
} fifo_timers_t;

/* An empty queue whose timers fire delay_us after they start. */
void fifo_timers_init(fifo_timers_t *timers, int64_t delay_us, void (*fire)(fifo_timer_t *timer));

/* (Re)starts timer to fall due at now_us + delay. Returns true when it is
 * now the first to fall due, i.e. the caller must arm its wake-up. */
bool fifo_timers_start(fifo_timers_t *timers, fifo_timer_t *timer, int64_t now_us);

/* Stops timer; a timer not running is left as it is. */
void fifo_timers_stop(fifo_timers_t *timers, fifo_timer_t *timer);

/* Fires, in order, every timer due at now_us (each is stopped before its
 * fire call, which may start or stop any timer, itself included). Returns
 * when the next one falls due, or -1 when none is running. */
int64_t fifo_timers_run(fifo_timers_t *timers, int64_t now_us);

#endif
