/* The rules of presence (services/presence/presence_logic.h). */
#include <criterion/criterion.h>

#include "presence_logic.h"

Test(presence_logic, online_while_one_session_lives_on_any_device) {
  cr_assert_eq(presence_decide(false, 1), PRESENCE_NOW_ONLINE);
  cr_assert_eq(presence_decide(true, 2), PRESENCE_UNCHANGED); /* a second device */
  cr_assert_eq(presence_decide(true, 1), PRESENCE_UNCHANGED); /* one of two closed */
  cr_assert_eq(presence_decide(true, 0), PRESENCE_NOW_OFFLINE);
  cr_assert_eq(presence_decide(false, 0), PRESENCE_UNCHANGED); /* a replayed close */
  cr_assert_eq(presence_decide(false, 3), PRESENCE_NOW_ONLINE);
}

Test(presence_logic, a_gateway_is_dead_after_the_expiry_without_heartbeat) {
  const int64_t expiry = 15000;
  cr_assert_not(presence_gateway_dead(20000, 30000, expiry));
  cr_assert_not(presence_gateway_dead(15000, 30000, expiry)); /* exactly the expiry */
  cr_assert(presence_gateway_dead(14999, 30000, expiry));
}

Test(presence_logic, a_gateway_is_judged_by_what_was_read_not_by_the_wall_clock) {
  /* Read up to 16 s while the wall clock says 60 s: a heartbeat at 10 s
   * is only 6 s old in the stream, whatever the wall clock says. */
  cr_assert_not(presence_gateway_dead(10000, 16000, 15000));
  cr_assert(presence_gateway_dead(10000, 25001, 15000));
  /* Cannot tell (just started, another's partition): none is judged. */
  cr_assert_not(presence_gateway_dead(0, 0, 15000));
  cr_assert_not(presence_gateway_dead(-100000, 0, 15000));
}

Test(presence_logic, sessions_of_an_ended_gateway_life_are_stale) {
  cr_assert(presence_session_stale(900, 1000, 0)); /* opened before the restart */
  cr_assert_not(presence_session_stale(1000, 1000, 0));
  cr_assert(presence_session_stale(1500, 1000, 2000)); /* before it was declared dead */
  cr_assert_not(presence_session_stale(2500, 1000, 2000));
}

Test(presence_logic, a_later_start_time_is_a_restart) {
  cr_assert(presence_gateway_restarted(1000, 2000));
  cr_assert_not(presence_gateway_restarted(2000, 2000)); /* the same life */
  cr_assert_not(presence_gateway_restarted(2000, 1000)); /* a late heartbeat of an older life */
  cr_assert_not(presence_gateway_restarted(0, 1000));    /* first seen */
}
