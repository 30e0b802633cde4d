/* Who read a group's message, from the members' watermarks
 * (services/gateway/message_readers.h). */
#include <criterion/criterion.h>

#include "message_readers.h"

static const char *const members[] = {"olga", "mike", "vera", "ivan"};

Test(message_readers, a_member_whose_watermark_reached_the_seq_has_read_it) {
  const read_watermark_t marks[] = {
      {"vera", 7, 1000}, /* past it */
      {"mike", 5, 900},  /* exactly it */
      {"ivan", 4, 800},  /* not yet */
  };
  size_t readers[4];
  size_t n = message_readers(5, "olga", members, 4, marks, 3, readers);
  cr_assert_eq(n, 2);
  /* In the order of the members. */
  cr_assert_str_eq(marks[readers[0]].user_id, "mike");
  cr_assert_str_eq(marks[readers[1]].user_id, "vera");
}

Test(message_readers, the_sender_is_never_a_reader) {
  const read_watermark_t marks[] = {{"olga", 99, 1}};
  size_t readers[4];
  cr_assert_eq(message_readers(5, "olga", members, 4, marks, 1, readers), 0);
}

Test(message_readers, no_watermark_means_nothing_read) {
  size_t readers[4];
  cr_assert_eq(message_readers(1, "olga", members, 4, NULL, 0, readers), 0);
}

Test(message_readers, a_watermark_of_someone_who_left_does_not_count) {
  const read_watermark_t marks[] = {{"gone", 50, 1}, {"ivan", 50, 2}};
  size_t readers[4];
  size_t n = message_readers(10, "olga", members, 4, marks, 2, readers);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(marks[readers[0]].user_id, "ivan");
}
