#include "chat/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/log.h"

#define SERIES_INITIAL_CAP 8 /* series slots of a new metric; doubled as needed */

const double chat_metrics_seconds_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const size_t chat_metrics_seconds_bucket_count =
    sizeof chat_metrics_seconds_buckets / sizeof chat_metrics_seconds_buckets[0];
const double chat_metrics_batch_buckets[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
const size_t chat_metrics_batch_bucket_count =
    sizeof chat_metrics_batch_buckets / sizeof chat_metrics_batch_buckets[0];

typedef enum metric_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } metric_kind_t;

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

struct chat_series {
  chat_metric_t *metric;
  char values[CHAT_METRICS_LABELS_MAX][CHAT_METRICS_LABEL_VALUE_MAX];
  _Atomic uint64_t value; /* counter: the count; gauge: the bits of a double */
  _Atomic uint64_t sum;   /* histogram: the bits of a double */
  atomic_bool retired;    /* a gauge hidden until it is set again */
  /* histogram: one count per bucket, the last one +Inf; not cumulative, so
   * an observation is one increment; the writer adds them up. */
  _Atomic uint64_t buckets[];
};

struct chat_metric {
  metric_kind_t kind;
  char *name, *help;
  size_t label_count;
  char *labels[CHAT_METRICS_LABELS_MAX];
  double *bounds;
  size_t bound_count;
  size_t max_series;
  pthread_mutex_t lock; /* series, series_count, series_cap, overflow_logged */
  chat_series_t **series;
  size_t series_count, series_cap;
  bool overflow_logged;
  chat_metric_t *next;
};

typedef struct hook {
  chat_metrics_hook_fn fn;
  void *ctx;
} hook_t;

struct chat_metrics {
  pthread_mutex_t lock; /* the list of metrics */
  chat_metric_t *first, *last;
  /* Held while hooks run, so that chat_metrics_remove_hook() returning
   * means its hook is not running. Never taken with lock held. */
  pthread_mutex_t hooks_lock;
  hook_t *hooks;
  size_t hook_count, hook_cap;
};

static double bits_to_double(uint64_t bits) {
  double value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

static uint64_t double_to_bits(double value) {
  uint64_t bits;
  memcpy(&bits, &value, sizeof bits);
  return bits;
}

static void atomic_add_double(_Atomic uint64_t *bits, double delta) {
  uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(bits, &old,
                                                double_to_bits(bits_to_double(old) + delta),
                                                memory_order_relaxed, memory_order_relaxed))
    ;
}

static bool valid_name(const char *name, bool colon_allowed) {
  if (!name || !name[0] || (name[0] >= '0' && name[0] <= '9'))
    return false;
  for (const char *c = name; *c; c++) {
    bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || (colon_allowed && *c == ':');
    if (!ok)
      return false;
  }
  return true;
}

static bool ends_with(const char *text, const char *suffix) {
  size_t len = strlen(text), suffix_len = strlen(suffix);
  return len >= suffix_len && strcmp(text + len - suffix_len, suffix) == 0;
}

static void metric_free(chat_metric_t *metric) {
  if (!metric)
    return;
  for (size_t i = 0; i < metric->series_count; i++)
    free(metric->series[i]);
  free(metric->series);
  for (size_t i = 0; i < metric->label_count; i++)
    free(metric->labels[i]);
  free(metric->bounds);
  free(metric->name);
  free(metric->help);
  pthread_mutex_destroy(&metric->lock);
  free(metric);
}

chat_metrics_t *chat_metrics_create(void) {
  chat_metrics_t *reg = calloc(1, sizeof *reg);
  if (!reg)
    return NULL;
  pthread_mutex_init(&reg->lock, NULL);
  pthread_mutex_init(&reg->hooks_lock, NULL);
  return reg;
}

void chat_metrics_destroy(chat_metrics_t **reg_ptr) {
  chat_metrics_t *reg = reg_ptr ? *reg_ptr : NULL;
  if (!reg)
    return;
  for (chat_metric_t *metric = reg->first, *next; metric; metric = next) {
    next = metric->next;
    metric_free(metric);
  }
  free(reg->hooks);
  pthread_mutex_destroy(&reg->lock);
  pthread_mutex_destroy(&reg->hooks_lock);
  free(reg);
  *reg_ptr = NULL;
}

static chat_metrics_t *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_create(void) { default_registry = chat_metrics_create(); }

chat_metrics_t *chat_metrics_default(void) {
  pthread_once(&default_once, default_create);
  CHAT_ASSERT(default_registry);
  return default_registry;
}

static size_t count_labels(const char *const *labels) {
  size_t count = 0;
  while (labels && labels[count])
    count++;
  return count;
}

/* True when metric was registered with the same shape as asked now. */
static bool same_shape(const chat_metric_t *metric, metric_kind_t kind, const char *const *labels,
                       const double *bounds, size_t bound_count) {
  if (metric->kind != kind || metric->label_count != count_labels(labels) ||
      metric->bound_count != bound_count)
    return false;
  for (size_t i = 0; i < metric->label_count; i++)
    if (strcmp(metric->labels[i], labels[i]) != 0)
      return false;
  for (size_t i = 0; i < bound_count; i++)
    if (metric->bounds[i] != bounds[i])
      return false;
  return true;
}

static chat_series_t *series_new(chat_metric_t *metric, const char *const *values) {
  size_t buckets = metric->kind == KIND_HISTOGRAM ? metric->bound_count + 1 : 0;
  chat_series_t *series = calloc(1, sizeof *series + buckets * sizeof series->buckets[0]);
  if (!series)
    return NULL;
  series->metric = metric;
  /* A labelled gauge is written once it has been set: a series looked up
   * ahead of its first value would read as a false 0. */
  atomic_init(&series->retired, metric->kind == KIND_GAUGE && metric->label_count > 0);
  for (size_t i = 0; i < metric->label_count; i++) {
    size_t len = strlen(values[i]);
    if (len >= CHAT_METRICS_LABEL_VALUE_MAX) {
      len = CHAT_METRICS_LABEL_VALUE_MAX - 1;
      /* Cut before a UTF-8 continuation byte, never in a character. */
      while (len > 0 && ((unsigned char)values[i][len] & 0xC0) == 0x80)
        len--;
    }
    memcpy(series->values[i], values[i], len);
    series->values[i][len] = '\0';
  }
  return series;
}

/* Appends series to metric (lock held). Returns false when out of memory. */
static bool series_append(chat_metric_t *metric, chat_series_t *series) {
  if (metric->series_count == metric->series_cap) {
    size_t cap = metric->series_cap ? metric->series_cap * 2 : SERIES_INITIAL_CAP;
    chat_series_t **grown = realloc(metric->series, cap * sizeof *grown);
    if (!grown)
      return false;
    metric->series = grown;
    metric->series_cap = cap;
  }
  metric->series[metric->series_count++] = series;
  return true;
}

static chat_metric_t *metric_register(chat_metrics_t *reg, metric_kind_t kind, const char *name,
                                      const char *help, const char *const *labels,
                                      const double *bounds, size_t bound_count,
                                      size_t max_series) {
  size_t label_count = count_labels(labels);
  CHAT_ASSERT(valid_name(name, true));
  CHAT_ASSERT(kind != KIND_COUNTER || ends_with(name, "_total"));
  CHAT_ASSERT(label_count <= CHAT_METRICS_LABELS_MAX);
  CHAT_ASSERT(max_series >= 1);
  for (size_t i = 0; i < label_count; i++) {
    CHAT_ASSERT(valid_name(labels[i], false) && strncmp(labels[i], "__", 2) != 0);
    CHAT_ASSERT(kind != KIND_HISTOGRAM || strcmp(labels[i], "le") != 0);
  }
  for (size_t i = 1; i < bound_count; i++)
    CHAT_ASSERT(bounds[i - 1] < bounds[i]);

  pthread_mutex_lock(&reg->lock);
  chat_metric_t *metric = reg->first;
  while (metric && strcmp(metric->name, name) != 0)
    metric = metric->next;
  if (metric) {
    CHAT_ASSERT(same_shape(metric, kind, labels, bounds, bound_count));
    goto out;
  }
  metric = calloc(1, sizeof *metric);
  if (!metric)
    goto out;
  pthread_mutex_init(&metric->lock, NULL);
  metric->kind = kind;
  metric->max_series = max_series;
  metric->name = strdup(name);
  metric->help = strdup(help ? help : "");
  metric->bound_count = bound_count;
  metric->bounds = bound_count ? malloc(bound_count * sizeof *bounds) : NULL;
  bool ok = metric->name && metric->help && (!bound_count || metric->bounds);
  if (metric->bounds)
    memcpy(metric->bounds, bounds, bound_count * sizeof *bounds);
  for (size_t i = 0; i < label_count && ok; i++) {
    metric->labels[i] = strdup(labels[i]);
    ok = metric->labels[i] != NULL;
    metric->label_count = i + 1;
  }
  if (ok && label_count == 0) {
    chat_series_t *only = series_new(metric, NULL);
    ok = only && series_append(metric, only);
    if (!ok)
      free(only);
  }
  if (!ok) {
    metric_free(metric);
    metric = NULL;
    goto out;
  }
  if (reg->last)
    reg->last->next = metric;
  else
    reg->first = metric;
  reg->last = metric;
out:
  pthread_mutex_unlock(&reg->lock);
  return metric;
}

chat_metric_t *chat_metrics_counter(chat_metrics_t *reg, const char *name, const char *help,
                                    const char *const *labels, size_t max_series) {
  return metric_register(reg, KIND_COUNTER, name, help, labels, NULL, 0, max_series);
}

chat_metric_t *chat_metrics_gauge(chat_metrics_t *reg, const char *name, const char *help,
                                  const char *const *labels, size_t max_series) {
  return metric_register(reg, KIND_GAUGE, name, help, labels, NULL, 0, max_series);
}

chat_metric_t *chat_metrics_histogram(chat_metrics_t *reg, const char *name, const char *help,
                                      const char *const *labels, const double *bounds,
                                      size_t bound_count, size_t max_series) {
  return metric_register(reg, KIND_HISTOGRAM, name, help, labels, bounds, bound_count, max_series);
}

/* The series whose values are values, or NULL (lock held). */
static chat_series_t *series_find(const chat_metric_t *metric, const char *const *values) {
  for (size_t i = 0; i < metric->series_count; i++) {
    chat_series_t *series = metric->series[i];
    size_t l = 0;
    while (l < metric->label_count &&
           strncmp(series->values[l], values[l], CHAT_METRICS_LABEL_VALUE_MAX - 1) == 0)
      l++;
    if (l == metric->label_count)
      return series;
  }
  return NULL;
}

chat_series_t *chat_metric_series(chat_metric_t *metric, const char *const *values) {
  const char *other[CHAT_METRICS_LABELS_MAX];
  if (!metric)
    return NULL;
  pthread_mutex_lock(&metric->lock);
  chat_series_t *series = metric->label_count ? series_find(metric, values) : metric->series[0];
  if (!series && metric->series_count >= metric->max_series) {
    /* Past the cap every new set of values shares one series, which is
     * made beyond the cap so that the count stays bounded at cap + 1. */
    if (!metric->overflow_logged) {
      metric->overflow_logged = true;
      CHAT_LOG(CHAT_LOG_WARN, "metric %s has %zu series, its cap: new label values count as '%s'",
               metric->name, metric->max_series, CHAT_METRICS_OTHER);
    }
    for (size_t i = 0; i < metric->label_count; i++)
      other[i] = CHAT_METRICS_OTHER;
    values = other;
    series = series_find(metric, values);
  }
  if (!series) {
    series = series_new(metric, values);
    if (series && !series_append(metric, series)) {
      free(series);
      series = NULL;
    }
  }
  pthread_mutex_unlock(&metric->lock);
  return series;
}

void chat_counter_add(chat_series_t *series, uint64_t n) {
  if (series)
    atomic_fetch_add_explicit(&series->value, n, memory_order_relaxed);
}

void chat_gauge_set(chat_series_t *series, double value) {
  if (!series)
    return;
  atomic_store_explicit(&series->value, double_to_bits(value), memory_order_relaxed);
  atomic_store_explicit(&series->retired, false, memory_order_relaxed);
}

void chat_gauge_add(chat_series_t *series, double delta) {
  if (!series)
    return;
  atomic_add_double(&series->value, delta);
  atomic_store_explicit(&series->retired, false, memory_order_relaxed);
}

void chat_histogram_observe(chat_series_t *series, double value) {
  if (!series)
    return;
  const chat_metric_t *metric = series->metric;
  size_t bucket = 0;
  while (bucket < metric->bound_count && value > metric->bounds[bucket])
    bucket++;
  atomic_fetch_add_explicit(&series->buckets[bucket], 1, memory_order_relaxed);
  atomic_add_double(&series->sum, value);
}

void chat_gauge_retire(chat_series_t *series) {
  if (series)
    atomic_store_explicit(&series->retired, true, memory_order_relaxed);
}

void chat_metric_retire_all(chat_metric_t *metric) {
  if (!metric)
    return;
  pthread_mutex_lock(&metric->lock);
  for (size_t i = 0; i < metric->series_count; i++)
    atomic_store_explicit(&metric->series[i]->retired, true, memory_order_relaxed);
  pthread_mutex_unlock(&metric->lock);
}

chat_err_t chat_metrics_add_hook(chat_metrics_t *reg, chat_metrics_hook_fn hook, void *ctx) {
  chat_err_t err = CHAT_OK;
  pthread_mutex_lock(&reg->hooks_lock);
  if (reg->hook_count == reg->hook_cap) {
    size_t cap = reg->hook_cap ? reg->hook_cap * 2 : 4;
    hook_t *grown = realloc(reg->hooks, cap * sizeof *grown);
    if (!grown) {
      err = CHAT_ERR_NOMEM;
      goto out;
    }
    reg->hooks = grown;
    reg->hook_cap = cap;
  }
  reg->hooks[reg->hook_count++] = (hook_t){hook, ctx};
out:
  pthread_mutex_unlock(&reg->hooks_lock);
  return err;
}

void chat_metrics_remove_hook(chat_metrics_t *reg, chat_metrics_hook_fn hook, void *ctx) {
  pthread_mutex_lock(&reg->hooks_lock);
  for (size_t i = 0; i < reg->hook_count; i++) {
    if (reg->hooks[i].fn == hook && reg->hooks[i].ctx == ctx) {
      memmove(&reg->hooks[i], &reg->hooks[i + 1], (reg->hook_count - i - 1) * sizeof *reg->hooks);
      reg->hook_count--;
      break;
    }
  }
  pthread_mutex_unlock(&reg->hooks_lock);
}

/* A sample value as Prometheus reads it: integers without an exponent,
 * others in the shortest form that reads back the same, NaN and +-Inf. */
static void append_number(bson_string_t *out, double value) {
  char text[40];
  if (isnan(value)) {
    bson_string_append(out, "NaN");
  } else if (isinf(value)) {
    bson_string_append(out, value > 0 ? "+Inf" : "-Inf");
  } else if (value == floor(value) && fabs(value) < 1e15) {
    bson_string_append_printf(out, "%.0f", value);
  } else {
    snprintf(text, sizeof text, "%.15g", value);
    if (strtod(text, NULL) != value)
      snprintf(text, sizeof text, "%.17g", value);
    bson_string_append(out, text);
  }
}

/* Appends text with \ and newline escaped, and " too when in_label. */
static void append_escaped(bson_string_t *out, const char *text, bool in_label) {
  for (const char *c = text; *c; c++) {
    if (*c == '\\')
      bson_string_append(out, "\\\\");
    else if (*c == '\n')
      bson_string_append(out, "\\n");
    else if (*c == '"' && in_label)
      bson_string_append(out, "\\\"");
    else
      bson_string_append_c(out, *c);
  }
}

/* name{a="x",b="y"[,le="bound"]} with the braces left out when empty. */
static void append_sample_name(bson_string_t *out, const chat_metric_t *metric,
                               const chat_series_t *series, const char *suffix, const char *le) {
  bson_string_append(out, metric->name);
  bson_string_append(out, suffix);
  if (metric->label_count == 0 && !le)
    return;
  bson_string_append_c(out, '{');
  for (size_t i = 0; i < metric->label_count; i++) {
    if (i)
      bson_string_append_c(out, ',');
    bson_string_append_printf(out, "%s=\"", metric->labels[i]);
    append_escaped(out, series->values[i], true);
    bson_string_append_c(out, '"');
  }
  if (le)
    bson_string_append_printf(out, "%sle=\"%s\"", metric->label_count ? "," : "", le);
  bson_string_append_c(out, '}');
}

static void write_histogram_series(bson_string_t *out, const chat_metric_t *metric,
                                   const chat_series_t *series) {
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= metric->bound_count; b++) {
    bson_string_t *le = bson_string_new("");
    if (b < metric->bound_count)
      append_number(le, metric->bounds[b]);
    else
      bson_string_append(le, "+Inf");
    cumulative += atomic_load_explicit(&series->buckets[b], memory_order_relaxed);
    append_sample_name(out, metric, series, "_bucket", le->str);
    bson_string_append_printf(out, " %llu\n", (unsigned long long)cumulative);
    bson_string_free(le, true);
  }
  append_sample_name(out, metric, series, "_sum", NULL);
  bson_string_append_c(out, ' ');
  append_number(out, bits_to_double(atomic_load_explicit(&series->sum, memory_order_relaxed)));
  bson_string_append_c(out, '\n');
  /* _count is the +Inf bucket, so the two always agree. */
  append_sample_name(out, metric, series, "_count", NULL);
  bson_string_append_printf(out, " %llu\n", (unsigned long long)cumulative);
}

static void write_metric(bson_string_t *out, chat_metric_t *metric) {
  bson_string_append_printf(out, "# HELP %s ", metric->name);
  append_escaped(out, metric->help, false);
  bson_string_append_printf(out, "\n# TYPE %s %s\n", metric->name, kind_names[metric->kind]);
  pthread_mutex_lock(&metric->lock);
  for (size_t i = 0; i < metric->series_count; i++) {
    const chat_series_t *series = metric->series[i];
    uint64_t value = atomic_load_explicit(&series->value, memory_order_relaxed);
    if (metric->kind == KIND_HISTOGRAM) {
      write_histogram_series(out, metric, series);
    } else if (metric->kind == KIND_COUNTER) {
      append_sample_name(out, metric, series, "", NULL);
      bson_string_append_printf(out, " %llu\n", (unsigned long long)value);
    } else if (!atomic_load_explicit(&series->retired, memory_order_relaxed)) {
      append_sample_name(out, metric, series, "", NULL);
      bson_string_append_c(out, ' ');
      append_number(out, bits_to_double(value));
      bson_string_append_c(out, '\n');
    }
  }
  pthread_mutex_unlock(&metric->lock);
}

void chat_metrics_write(chat_metrics_t *reg, bson_string_t *out) {
  pthread_mutex_lock(&reg->hooks_lock);
  for (size_t i = 0; i < reg->hook_count; i++)
    reg->hooks[i].fn(reg->hooks[i].ctx);
  pthread_mutex_unlock(&reg->hooks_lock);
  /* Metrics are only ever appended, and each one's next is set before
   * last moves to it: the list can be walked while others register. */
  pthread_mutex_lock(&reg->lock);
  chat_metric_t *metric = reg->first, *last = reg->last;
  pthread_mutex_unlock(&reg->lock);
  for (; metric; metric = metric == last ? NULL : metric->next)
    write_metric(out, metric);
}
