#include <criterion/criterion.h>
#include <stdio.h>

#include "rooms.h"

static void count_member(void *ctx, void *member) {
  (void)member;
  (*(int *)ctx)++;
}

static void record_member(void *ctx, void *member) {
  void **slot = ctx;
  while (*slot)
    slot++;
  *slot = member;
}

Test(rooms, join_leave_and_iterate) {
  rooms_t *rooms = rooms_create();
  int a, b, c;
  cr_assert(rooms_join(rooms, "room:1", &a));
  cr_assert(rooms_join(rooms, "room:1", &b));
  cr_assert(rooms_join(rooms, "room:1", &a)); /* twice is once */
  cr_assert(rooms_join(rooms, "user:9", &a));
  cr_assert_eq(rooms_count(rooms), 2);
  int n = 0;
  cr_assert_eq(rooms_each(rooms, "room:1", count_member, &n), 2);
  cr_assert_eq(n, 2);
  void *seen[4] = {0};
  rooms_each(rooms, "user:9", record_member, seen);
  cr_assert_eq(seen[0], &a);
  cr_assert_null(seen[1]);

  rooms_leave(rooms, "room:1", &a);
  rooms_leave(rooms, "room:1", &c); /* not a member: nothing happens */
  void *left[4] = {0};
  cr_assert_eq(rooms_each(rooms, "room:1", record_member, left), 1);
  cr_assert_eq(left[0], &b);
  rooms_leave(rooms, "room:1", &b);
  cr_assert_eq(rooms_count(rooms), 1, "an empty room is freed");
  cr_assert_eq(rooms_each(rooms, "room:1", count_member, &n), 0);
  cr_assert_eq(rooms_each(rooms, "room:unknown", count_member, &n), 0);
  rooms_destroy(&rooms);
  cr_assert_null(rooms);
  rooms_destroy(&rooms); /* NULL is fine */
}

Test(rooms, many_members_and_rooms) {
  rooms_t *rooms = rooms_create();
  static char members[1000];
  char name[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "room:%d", i % 50);
    cr_assert(rooms_join(rooms, name, &members[i]));
  }
  cr_assert_eq(rooms_count(rooms), 50);
  int n = 0;
  cr_assert_eq(rooms_each(rooms, "room:7", count_member, &n), 20);
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "room:%d", i % 50);
    rooms_leave(rooms, name, &members[i]);
  }
  cr_assert_eq(rooms_count(rooms), 0);
  rooms_destroy(&rooms);
}
