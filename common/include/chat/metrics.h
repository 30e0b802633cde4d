/* Prometheus metrics: counters, gauges and histograms in a registry that
 * is written in the text exposition format 0.0.4 (GET /metrics on every
 * service's health port, chat/health.h).
 *
 * A metric (one family: a name, a help text, a type and a fixed list of
 * label names) has series, one per set of label values. Label values must
 * come from small, known sets (an event type from a handler table, a topic,
 * a partition, a status code), never from a user, a conversation or a
 * message: each metric caps its series (max_series), and past the cap
 * every new set of values is counted in one series whose values are all
 * "other" (logged once per metric).
 *
 * Threads: registering a metric and looking a series up take a lock; a
 * series handle is valid for the life of the registry, so a hot path looks
 * it up once and then updates it with atomics only (no lock, no
 * allocation). Writing the registry takes the locks and reads the atomics,
 * so a scrape may see a histogram's buckets one observation ahead of its
 * sum, never a _count that disagrees with its +Inf bucket.
 *
 * Conventions (checked with CHAT_ASSERT at registration): names match
 * [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in _total, durations are
 * histograms in seconds, at most CHAT_METRICS_LABELS_MAX label names, no
 * label "le" on a histogram. Registering a name again returns the metric
 * already there when type, labels and buckets are the same (two producers
 * in one process share their families); anything else is an assertion
 * failure. */
#ifndef CHAT_METRICS_H
#define CHAT_METRICS_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/err.h"

typedef struct chat_metrics chat_metrics_t; /* a registry */
typedef struct chat_metric chat_metric_t;   /* one family */
typedef struct chat_series chat_series_t;   /* one set of label values */

#define CHAT_METRICS_LABELS_MAX 4       /* label names per metric */
#define CHAT_METRICS_LABEL_VALUE_MAX 96 /* longer label values are cut */
#define CHAT_METRICS_OTHER "other"      /* every label value of the series past the cap */

/* Bucket upper bounds (+Inf is implied) for durations in seconds, from
 * 0.5 ms to 10 s, and for batch sizes in records, 1 to 1000. */
extern const double chat_metrics_seconds_buckets[];
extern const size_t chat_metrics_seconds_bucket_count;
extern const double chat_metrics_batch_buckets[];
extern const size_t chat_metrics_batch_bucket_count;

/* A new, empty registry, or NULL when out of memory. Free it with
 * chat_metrics_destroy() once no thread uses its handles. */
chat_metrics_t *chat_metrics_create(void);

/* Frees the registry and every metric and series in it; sets *reg to NULL.
 * Accepts NULL and a NULL *reg. */
void chat_metrics_destroy(chat_metrics_t **reg);

/* The process's registry, which the health server writes. Made on first
 * use, lives until the process exits; never destroy it. */
chat_metrics_t *chat_metrics_default(void);

/* Registers (or finds) a metric. labels is a NULL-terminated list of label
 * names (NULL for none), copied; help is copied. max_series caps the series
 * (at least 1). A metric without labels has its one series from the start,
 * so it is written as 0 before its first update. Returns the metric, owned
 * by the registry, or NULL when out of memory. */
chat_metric_t *chat_metrics_counter(chat_metrics_t *reg, const char *name, const char *help,
                                    const char *const *labels, size_t max_series);
chat_metric_t *chat_metrics_gauge(chat_metrics_t *reg, const char *name, const char *help,
                                  const char *const *labels, size_t max_series);
/* bounds: the buckets' upper bounds, strictly increasing, +Inf left out
 * (copied). */
chat_metric_t *chat_metrics_histogram(chat_metrics_t *reg, const char *name, const char *help,
                                      const char *const *labels, const double *bounds,
                                      size_t bound_count, size_t max_series);

/* The series of metric for values (exactly as many as the metric has label
 * names; NULL when it has none), made on first use; past max_series the
 * "other" series. Returns a handle valid for the registry's life, or NULL
 * when metric is NULL or memory ran out (every update accepts NULL and does
 * nothing, so a failed allocation costs a sample, never a crash). */
chat_series_t *chat_metric_series(chat_metric_t *metric, const char *const *values);

/* chat_metric_series() with the values written inline:
 * CHAT_SERIES(consumed, "message.send", "ok"). */
#define CHAT_SERIES(metric, ...) chat_metric_series((metric), (const char *const[]){__VA_ARGS__})

/* Updates; each accepts NULL. A counter only goes up; a gauge is a double
 * (set or moved); an observation lands in the first bucket whose bound is
 * not below it. */
void chat_counter_add(chat_series_t *series, uint64_t n);
void chat_gauge_set(chat_series_t *series, double value);
void chat_gauge_add(chat_series_t *series, double delta);
void chat_histogram_observe(chat_series_t *series, double value);

/* Hides a gauge's series until it is next set: for gauges over a set that
 * changes (the partitions a consumer has now), so that one that went away
 * is no longer written. A labelled gauge's new series is hidden so until
 * its first value. Accept NULL. */
void chat_gauge_retire(chat_series_t *series);
void chat_metric_retire_all(chat_metric_t *metric);

/* A function run at the start of each chat_metrics_write(), on the
 * scraping thread, to set gauges read from elsewhere (/proc, librdkafka).
 * It may look series up and update them, not register or remove hooks. */
typedef void (*chat_metrics_hook_fn)(void *ctx);

/* Adds hook(ctx) to the registry. Returns CHAT_OK or CHAT_ERR_NOMEM. */
chat_err_t chat_metrics_add_hook(chat_metrics_t *reg, chat_metrics_hook_fn hook, void *ctx);

/* Removes the hook added with the same fn and ctx; when this returns it is
 * not running and will not run again, so ctx may be freed. */
void chat_metrics_remove_hook(chat_metrics_t *reg, chat_metrics_hook_fn hook, void *ctx);

/* Runs the hooks, then appends every metric (in registration order, each
 * family's series in the order they were made) to out in the text
 * exposition format 0.0.4: # HELP and # TYPE lines, then the samples;
 * a histogram as cumulative _bucket{le="..."} lines, _sum and _count. */
void chat_metrics_write(chat_metrics_t *reg, bson_string_t *out);

/* The process metrics every service has, registered in reg:
 * chat_build_info{service,version,revision} (1), chat_process_start_time_seconds
 * (set now), and, read from /proc/self at each scrape,
 * chat_process_resident_memory_bytes and chat_process_open_fds. Once per
 * process, early; later calls do nothing. Returns CHAT_OK or CHAT_ERR_NOMEM. */
chat_err_t chat_metrics_register_process(chat_metrics_t *reg, const char *service);

#endif
