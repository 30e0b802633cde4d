/* The metrics every process has: what build it runs, when it started, and
 * its memory and descriptors, read from /proc/self when scraped. */
#include <dirent.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "chat/metrics.h"

#ifndef CHAT_VERSION
#define CHAT_VERSION "unknown" /* set by common/CMakeLists.txt from project() */
#endif
#ifndef CHAT_REVISION
#define CHAT_REVISION "unknown" /* git rev-parse at configure time, outside a checkout unknown */
#endif

typedef struct process_metrics {
  chat_series_t *resident_bytes;
  chat_series_t *open_fds;
} process_metrics_t;

/* Resident pages are the second field of /proc/self/statm. */
static double resident_bytes(void) {
  unsigned long size = 0, resident = 0;
  FILE *statm = fopen("/proc/self/statm", "re");
  if (!statm)
    return 0;
  if (fscanf(statm, "%lu %lu", &size, &resident) != 2)
    resident = 0;
  fclose(statm);
  return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

/* Entries of /proc/self/fd, less the one opendir() holds while it reads. */
static double open_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  double count = 0;
  if (!dir)
    return 0;
  for (struct dirent *entry; (entry = readdir(dir));)
    if (entry->d_name[0] != '.')
      count++;
  closedir(dir);
  return count > 0 ? count - 1 : 0;
}

static void read_proc(void *ctx) {
  process_metrics_t *metrics = ctx;
  chat_gauge_set(metrics->resident_bytes, resident_bytes());
  chat_gauge_set(metrics->open_fds, open_fds());
}

chat_err_t chat_metrics_register_process(chat_metrics_t *reg, const char *service) {
  /* One per process for its whole life: the hook's context is never freed. */
  static process_metrics_t metrics;
  static atomic_bool registered;
  if (atomic_exchange(&registered, true))
    return CHAT_OK; /* a second runtime in the process (tests) shares the first one's */
  static const char *const build_labels[] = {"service", "version", "revision", NULL};
  chat_series_t *build = CHAT_SERIES(
      chat_metrics_gauge(reg, "chat_build_info",
                         "Always 1; the labels say which service, version and git revision runs",
                         build_labels, 4),
      service, CHAT_VERSION, CHAT_REVISION);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  chat_gauge_set(build, 1);
  chat_gauge_set(chat_metric_series(chat_metrics_gauge(reg, "chat_process_start_time_seconds",
                                                       "When the process started, in seconds "
                                                       "since the Unix epoch",
                                                       NULL, 1),
                                    NULL),
                 (double)now.tv_sec + (double)now.tv_nsec / 1e9);
  metrics.resident_bytes = chat_metric_series(
      chat_metrics_gauge(reg, "chat_process_resident_memory_bytes",
                         "Resident memory of the process, in bytes (/proc/self/statm)", NULL, 1),
      NULL);
  metrics.open_fds = chat_metric_series(
      chat_metrics_gauge(reg, "chat_process_open_fds",
                         "Open file descriptors of the process (/proc/self/fd)", NULL, 1),
      NULL);
  read_proc(&metrics);
  return chat_metrics_add_hook(reg, read_proc, &metrics);
}
