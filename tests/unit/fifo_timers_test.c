/* The gateway's fixed-delay timer queues (services/gateway/socketio/fifo_timers.h). */
#include <criterion/criterion.h>
#include <stddef.h>

#include "fifo_timers.h"

static fifo_timer_t *fired[16];
static size_t fired_count;
static fifo_timers_t *restart_queue; /* when set, a fired timer starts itself again */
static int64_t restart_at;

static void record(fifo_timer_t *timer) {
  cr_assert_lt(fired_count, 16);
  cr_assert_not(timer->queued, "a timer is stopped before it fires");
  fired[fired_count++] = timer;
  if (restart_queue)
    fifo_timers_start(restart_queue, timer, restart_at);
}

static void reset(void) {
  fired_count = 0;
  restart_queue = NULL;
}

Test(fifo_timers, fire_in_start_order_when_due) {
  fifo_timers_t q;
  fifo_timer_t a = {0}, b = {0}, c = {0};
  reset();
  fifo_timers_init(&q, 100, record);
  cr_assert(fifo_timers_start(&q, &a, 0), "the first timer asks for a wake-up");
  cr_assert_not(fifo_timers_start(&q, &b, 10));
  cr_assert_not(fifo_timers_start(&q, &c, 20));
  cr_assert_eq(fifo_timers_run(&q, 99), 100, "nothing is due yet");
  cr_assert_eq(fired_count, 0);
  cr_assert_eq(fifo_timers_run(&q, 110), 120);
  cr_assert_eq(fired_count, 2);
  cr_assert_eq(fired[0], &a);
  cr_assert_eq(fired[1], &b);
  cr_assert_eq(fifo_timers_run(&q, 1000), -1, "an empty queue has no next due time");
  cr_assert_eq(fired[2], &c);
}

Test(fifo_timers, restart_moves_a_timer_to_the_back) {
  fifo_timers_t q;
  fifo_timer_t a = {0}, b = {0};
  reset();
  fifo_timers_init(&q, 100, record);
  fifo_timers_start(&q, &a, 0);
  fifo_timers_start(&q, &b, 10);
  cr_assert_not(fifo_timers_start(&q, &a, 50), "b is first now");
  cr_assert_eq(fifo_timers_run(&q, 120), 150);
  cr_assert_eq(fired_count, 1);
  cr_assert_eq(fired[0], &b);
}

Test(fifo_timers, stopped_timers_never_fire) {
  fifo_timers_t q;
  fifo_timer_t a = {0}, b = {0}, c = {0};
  reset();
  fifo_timers_init(&q, 100, record);
  fifo_timers_start(&q, &a, 0);
  fifo_timers_start(&q, &b, 1);
  fifo_timers_start(&q, &c, 2);
  fifo_timers_stop(&q, &b); /* from the middle */
  fifo_timers_stop(&q, &a); /* the head */
  fifo_timers_stop(&q, &a); /* twice: no effect */
  cr_assert_eq(fifo_timers_run(&q, 500), -1);
  cr_assert_eq(fired_count, 1);
  cr_assert_eq(fired[0], &c);
  cr_assert(fifo_timers_start(&q, &a, 600), "an emptied queue asks for a wake-up again");
}

Test(fifo_timers, a_timer_started_while_firing_waits_for_its_delay) {
  fifo_timers_t q;
  fifo_timer_t a = {0};
  reset();
  fifo_timers_init(&q, 100, record);
  fifo_timers_start(&q, &a, 0);
  restart_queue = &q;
  restart_at = 100;
  cr_assert_eq(fifo_timers_run(&q, 100), 200, "fires once, not again in the same run");
  cr_assert_eq(fired_count, 1);
}

Test(fifo_timers, a_clock_that_steps_back_keeps_the_order) {
  fifo_timers_t q;
  fifo_timer_t a = {0}, b = {0};
  reset();
  fifo_timers_init(&q, 100, record);
  fifo_timers_start(&q, &a, 50);
  fifo_timers_start(&q, &b, 10);
  cr_assert_eq(b.due_us, 150, "clamped to the last due time");
  fifo_timers_run(&q, 200);
  cr_assert_eq(fired[0], &a);
  cr_assert_eq(fired[1], &b);
}
