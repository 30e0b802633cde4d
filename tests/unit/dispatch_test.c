/* The dispatcher: records to handlers by envelope type, consecutive records
 * of a run handler's type as one run, malformed and unknown ones skipped. */
#include <criterion/criterion.h>
#include <string.h>

#include "chat/dispatch.h"

typedef struct seen {
  char log[256];
  chat_err_t fail_on_run; /* returned by the run handler */
} seen_t;

static chat_err_t one(void *ctx, const chat_envelope_t *event, const chat_record_t *record) {
  seen_t *seen = ctx;
  (void)record;
  strcat(seen->log, "one:");
  strcat(seen->log, event->type);
  strcat(seen->log, " ");
  return CHAT_OK;
}

static chat_err_t run(void *ctx, const chat_envelope_t *events, const chat_record_t *const *records,
                      size_t count) {
  seen_t *seen = ctx;
  char part[32];
  snprintf(part, sizeof part, "run:%zu@%lld ", count, (long long)records[0]->offset);
  strcat(seen->log, part);
  cr_assert_str_eq(events[count - 1].type, "message.send");
  return seen->fail_on_run;
}

static const chat_event_handler_t handlers[] = {
    {"user.register", one, NULL},
    {"message.send", NULL, run},
};

static chat_record_t record_of(const char *value, int64_t offset) {
  return (chat_record_t){
      .topic = "t", .offset = offset, .value = value, .value_len = strlen(value)};
}

#define ENV(type)                                                                                  \
  "{\"v\":1,\"type\":\"" type                                                                      \
  "\",\"id\":\"65f1a200e4b0a1b2c3d4e801\",\"ts\":1,\"source\":\"t/1\","                            \
  "\"payload\":{}}"

Test(dispatch, consecutive_records_of_a_run_type_come_as_one_run) {
  seen_t seen = {0};
  chat_record_t records[] = {
      record_of(ENV("message.send"), 10),  record_of(ENV("message.send"), 11),
      record_of("not json", 12),           record_of(ENV("message.send"), 13),
      record_of(ENV("user.register"), 14), record_of(ENV("nobody.handles"), 15),
      record_of(ENV("message.send"), 16),
  };
  chat_dispatch_t dispatch = {handlers, 2, &seen, 4096, NULL};
  cr_assert_eq(chat_dispatch_batch(&dispatch, records, 7), CHAT_OK);
  /* The malformed record between two sends is skipped, so they join the run. */
  cr_assert_str_eq(seen.log, "run:3@10 one:user.register run:1@16 ");
}

Test(dispatch, a_failed_run_stops_the_batch_with_its_error) {
  seen_t seen = {.fail_on_run = CHAT_ERR_UNAVAILABLE};
  chat_record_t records[] = {record_of(ENV("message.send"), 1), record_of(ENV("user.register"), 2)};
  chat_dispatch_t dispatch = {handlers, 2, &seen, 4096, NULL};
  cr_assert_eq(chat_dispatch_batch(&dispatch, records, 2), CHAT_ERR_UNAVAILABLE);
  cr_assert_str_eq(seen.log, "run:1@1 ");
}

Test(dispatch, an_empty_batch_is_done) {
  seen_t seen = {0};
  chat_dispatch_t dispatch = {handlers, 2, &seen, 4096, NULL};
  cr_assert_eq(chat_dispatch_batch(&dispatch, NULL, 0), CHAT_OK);
  cr_assert_str_eq(seen.log, "");
}
