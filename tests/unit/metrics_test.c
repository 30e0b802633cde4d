/* The metrics registry and its writer: the exact text exposition format
 * 0.0.4 a scrape gets, the series cap, retired gauges, hooks, and updates
 * from several threads at once. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "chat/metrics.h"

static char *written(chat_metrics_t *reg) {
  bson_string_t *out = bson_string_new("");
  chat_metrics_write(reg, out);
  return bson_string_free(out, false);
}

#define ASSERT_WRITTEN(reg, expected)                                                              \
  do {                                                                                             \
    char *text_ = written(reg);                                                                    \
    cr_assert_str_eq(text_, expected);                                                             \
    bson_free(text_);                                                                              \
  } while (0)

Test(metrics, counter_and_gauge_with_and_without_labels) {
  chat_metrics_t *reg = chat_metrics_create();
  static const char *const labels[] = {"type", "outcome", NULL};
  chat_metric_t *consumed =
      chat_metrics_counter(reg, "chat_records_consumed_total", "Records consumed", labels, 16);
  chat_metric_t *up = chat_metrics_gauge(reg, "chat_up", "Whether it runs", NULL, 1);
  chat_counter_add(CHAT_SERIES(consumed, "message.send", "ok"), 3);
  chat_counter_add(CHAT_SERIES(consumed, "user.register", "malformed"), 1);
  chat_counter_add(CHAT_SERIES(consumed, "message.send", "ok"), 2);
  chat_gauge_set(chat_metric_series(up, NULL), 1);
  chat_gauge_add(chat_metric_series(up, NULL), 0.5);
  ASSERT_WRITTEN(reg, "# HELP chat_records_consumed_total Records consumed\n"
                      "# TYPE chat_records_consumed_total counter\n"
                      "chat_records_consumed_total{type=\"message.send\",outcome=\"ok\"} 5\n"
                      "chat_records_consumed_total{type=\"user.register\","
                      "outcome=\"malformed\"} 1\n"
                      "# HELP chat_up Whether it runs\n"
                      "# TYPE chat_up gauge\n"
                      "chat_up 1.5\n");
  chat_metrics_destroy(&reg);
  cr_assert_null(reg);
}

Test(metrics, a_metric_without_labels_is_written_before_its_first_update) {
  chat_metrics_t *reg = chat_metrics_create();
  chat_metrics_counter(reg, "chat_errors_total", "Errors", NULL, 1);
  ASSERT_WRITTEN(reg, "# HELP chat_errors_total Errors\n"
                      "# TYPE chat_errors_total counter\n"
                      "chat_errors_total 0\n");
  chat_metrics_destroy(&reg);
}

Test(metrics, histogram_buckets_are_cumulative_with_sum_and_count) {
  chat_metrics_t *reg = chat_metrics_create();
  static const char *const labels[] = {"op", NULL};
  static const double bounds[] = {0.005, 0.1, 1};
  chat_metric_t *latency = chat_metrics_histogram(reg, "chat_mongo_operation_seconds",
                                                  "Latency", labels, bounds, 3, 8);
  chat_series_t *insert = CHAT_SERIES(latency, "insert");
  /* Sums of powers of two add up exactly in a double. */
  chat_histogram_observe(insert, 0.00390625);
  chat_histogram_observe(insert, 0.0625);
  chat_histogram_observe(insert, 1); /* on a bound: that bucket */
  chat_histogram_observe(insert, 2.5); /* only +Inf */
  chat_metrics_histogram(reg, "chat_batch_records", "Batch sizes", NULL, bounds, 1, 1);
  ASSERT_WRITTEN(reg, "# HELP chat_mongo_operation_seconds Latency\n"
                      "# TYPE chat_mongo_operation_seconds histogram\n"
                      "chat_mongo_operation_seconds_bucket{op=\"insert\",le=\"0.005\"} 1\n"
                      "chat_mongo_operation_seconds_bucket{op=\"insert\",le=\"0.1\"} 2\n"
                      "chat_mongo_operation_seconds_bucket{op=\"insert\",le=\"1\"} 3\n"
                      "chat_mongo_operation_seconds_bucket{op=\"insert\",le=\"+Inf\"} 4\n"
                      "chat_mongo_operation_seconds_sum{op=\"insert\"} 3.56640625\n"
                      "chat_mongo_operation_seconds_count{op=\"insert\"} 4\n"
                      "# HELP chat_batch_records Batch sizes\n"
                      "# TYPE chat_batch_records histogram\n"
                      "chat_batch_records_bucket{le=\"0.005\"} 0\n"
                      "chat_batch_records_bucket{le=\"+Inf\"} 0\n"
                      "chat_batch_records_sum 0\n"
                      "chat_batch_records_count 0\n");
  chat_metrics_destroy(&reg);
}

Test(metrics, help_and_label_values_are_escaped) {
  chat_metrics_t *reg = chat_metrics_create();
  static const char *const labels[] = {"reason", NULL};
  chat_metric_t *errors =
      chat_metrics_counter(reg, "chat_odd_total", "Back\\slash and\nnewline", labels, 4);
  chat_counter_add(CHAT_SERIES(errors, "say \"no\"\\\n"), 1);
  ASSERT_WRITTEN(reg, "# HELP chat_odd_total Back\\\\slash and\\nnewline\n"
                      "# TYPE chat_odd_total counter\n"
                      "chat_odd_total{reason=\"say \\\"no\\\"\\\\\\n\"} 1\n");
  chat_metrics_destroy(&reg);
}

Test(metrics, past_the_cap_new_values_share_the_other_series) {
  chat_metrics_t *reg = chat_metrics_create();
  static const char *const labels[] = {"topic", "partition", NULL};
  chat_metric_t *lag = chat_metrics_counter(reg, "chat_seen_total", "Seen", labels, 2);
  chat_counter_add(CHAT_SERIES(lag, "t", "0"), 1);
  chat_counter_add(CHAT_SERIES(lag, "t", "1"), 1);
  chat_series_t *third = CHAT_SERIES(lag, "t", "2");
  cr_assert_eq(third, CHAT_SERIES(lag, "t", "3"));
  chat_counter_add(third, 2);
  chat_counter_add(CHAT_SERIES(lag, "t", "1"), 1); /* an existing series is still found */
  ASSERT_WRITTEN(reg, "# HELP chat_seen_total Seen\n"
                      "# TYPE chat_seen_total counter\n"
                      "chat_seen_total{topic=\"t\",partition=\"0\"} 1\n"
                      "chat_seen_total{topic=\"t\",partition=\"1\"} 2\n"
                      "chat_seen_total{topic=\"other\",partition=\"other\"} 2\n");
  chat_metrics_destroy(&reg);
}

Test(metrics, registering_a_name_again_returns_the_same_metric) {
  chat_metrics_t *reg = chat_metrics_create();
  static const char *const labels[] = {"topic", NULL};
  chat_metric_t *first = chat_metrics_counter(reg, "chat_produced_total", "Produced", labels, 8);
  chat_metric_t *again = chat_metrics_counter(reg, "chat_produced_total", "Produced", labels, 8);
  cr_assert_eq(first, again);
  cr_assert_eq(CHAT_SERIES(first, "a"), CHAT_SERIES(again, "a"));
  chat_metrics_destroy(&reg);
}

Test(metrics, long_label_values_are_cut_on_a_character_boundary) {
  chat_metrics_t *reg = chat_metrics_create();
  static const char *const labels[] = {"v", NULL};
  chat_metric_t *metric = chat_metrics_gauge(reg, "chat_long", "Long", labels, 2);
  char value[CHAT_METRICS_LABEL_VALUE_MAX + 8];
  memset(value, 'a', CHAT_METRICS_LABEL_VALUE_MAX - 2);
  strcpy(value + CHAT_METRICS_LABEL_VALUE_MAX - 2, "\xc3\xa9zz"); /* an e-acute across the cut */
  chat_gauge_set(CHAT_SERIES(metric, value), 1);
  char *text = written(reg);
  char expected[CHAT_METRICS_LABEL_VALUE_MAX + 64];
  snprintf(expected, sizeof expected, "chat_long{v=\"%.*s\"} 1\n", CHAT_METRICS_LABEL_VALUE_MAX - 2,
           value);
  cr_assert(strstr(text, expected), "%s", text);
  bson_free(text);
  chat_metrics_destroy(&reg);
}

static void set_from_hook(void *ctx) {
  chat_metric_t *partitions = ctx;
  chat_metric_retire_all(partitions);
  chat_gauge_set(CHAT_SERIES(partitions, "1"), 7);
}

Test(metrics, hooks_run_at_each_write_and_retired_gauges_are_left_out) {
  chat_metrics_t *reg = chat_metrics_create();
  static const char *const labels[] = {"partition", NULL};
  chat_metric_t *lag = chat_metrics_gauge(reg, "chat_lag", "Lag", labels, 8);
  chat_gauge_set(CHAT_SERIES(lag, "0"), 3); /* partition 0 was revoked since */
  cr_assert_eq(chat_metrics_add_hook(reg, set_from_hook, lag), CHAT_OK);
  ASSERT_WRITTEN(reg, "# HELP chat_lag Lag\n"
                      "# TYPE chat_lag gauge\n"
                      "chat_lag{partition=\"1\"} 7\n");
  chat_metrics_remove_hook(reg, set_from_hook, lag);
  chat_gauge_set(CHAT_SERIES(lag, "0"), 4);
  ASSERT_WRITTEN(reg, "# HELP chat_lag Lag\n"
                      "# TYPE chat_lag gauge\n"
                      "chat_lag{partition=\"0\"} 4\n"
                      "chat_lag{partition=\"1\"} 7\n");
  chat_metrics_destroy(&reg);
}

Test(metrics, numbers_are_written_as_prometheus_reads_them) {
  chat_metrics_t *reg = chat_metrics_create();
  static const char *const labels[] = {"case", NULL};
  chat_metric_t *gauge = chat_metrics_gauge(reg, "chat_n", "Numbers", labels, 8);
  chat_gauge_set(CHAT_SERIES(gauge, "big"), 1700000000.25);
  chat_gauge_set(CHAT_SERIES(gauge, "tenth"), 0.1);
  chat_gauge_set(CHAT_SERIES(gauge, "negative"), -3);
  chat_gauge_set(CHAT_SERIES(gauge, "huge"), 1e300);
  ASSERT_WRITTEN(reg, "# HELP chat_n Numbers\n"
                      "# TYPE chat_n gauge\n"
                      "chat_n{case=\"big\"} 1700000000.25\n"
                      "chat_n{case=\"tenth\"} 0.1\n"
                      "chat_n{case=\"negative\"} -3\n"
                      "chat_n{case=\"huge\"} 1e+300\n");
  chat_metrics_destroy(&reg);
}

/* The process metrics stay registered for the process's life, so their
 * registry is kept where LeakSanitizer sees it, never destroyed. */
static chat_metrics_t *process_registry;

Test(metrics, process_metrics_are_registered) {
  chat_metrics_t *reg = process_registry = chat_metrics_create();
  cr_assert_eq(chat_metrics_register_process(reg, "persistence"), CHAT_OK);
  char *text = written(reg);
  cr_assert(strstr(text, "# TYPE chat_build_info gauge\nchat_build_info{service=\"persistence\","
                         "version=\"0.1.0\",revision=\""),
            "%s", text);
  cr_assert(strstr(text, "\nchat_process_start_time_seconds 1"), "%s", text);
  cr_assert(strstr(text, "\nchat_process_resident_memory_bytes "), "%s", text);
  cr_assert(strstr(text, "\nchat_process_open_fds "), "%s", text);
  cr_assert_null(strstr(text, "chat_process_open_fds 0\n"), "%s", text);
  bson_free(text);
}

typedef struct hammer {
  chat_series_t *counter, *histogram, *gauge;
} hammer_t;

#define HAMMER_THREADS 4
#define HAMMER_ROUNDS 100000

static void *hammer_main(void *arg) {
  hammer_t *hammer = arg;
  for (int i = 0; i < HAMMER_ROUNDS; i++) {
    chat_counter_add(hammer->counter, 1);
    chat_histogram_observe(hammer->histogram, 0.5);
    chat_gauge_add(hammer->gauge, 1);
  }
  return NULL;
}

Test(metrics, updates_from_several_threads_are_all_counted) {
  chat_metrics_t *reg = chat_metrics_create();
  static const double bounds[] = {1};
  hammer_t hammer = {
      chat_metric_series(chat_metrics_counter(reg, "chat_hits_total", "Hits", NULL, 1), NULL),
      chat_metric_series(chat_metrics_histogram(reg, "chat_h", "H", NULL, bounds, 1, 1), NULL),
      chat_metric_series(chat_metrics_gauge(reg, "chat_g", "G", NULL, 1), NULL)};
  pthread_t threads[HAMMER_THREADS];
  for (int i = 0; i < HAMMER_THREADS; i++)
    pthread_create(&threads[i], NULL, hammer_main, &hammer);
  for (int i = 0; i < HAMMER_THREADS; i++)
    pthread_join(threads[i], NULL);
  ASSERT_WRITTEN(reg, "# HELP chat_hits_total Hits\n"
                      "# TYPE chat_hits_total counter\n"
                      "chat_hits_total 400000\n"
                      "# HELP chat_h H\n"
                      "# TYPE chat_h histogram\n"
                      "chat_h_bucket{le=\"1\"} 400000\n"
                      "chat_h_bucket{le=\"+Inf\"} 400000\n"
                      "chat_h_sum 200000\n"
                      "chat_h_count 400000\n"
                      "# HELP chat_g G\n"
                      "# TYPE chat_g gauge\n"
                      "chat_g 400000\n");
  chat_metrics_destroy(&reg);
}

Test(metrics, updates_accept_null) {
  chat_counter_add(NULL, 1);
  chat_gauge_set(NULL, 1);
  chat_gauge_add(NULL, 1);
  chat_histogram_observe(NULL, 1);
  chat_metric_retire_all(NULL);
  cr_assert_null(chat_metric_series(NULL, NULL));
}
