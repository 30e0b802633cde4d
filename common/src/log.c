#define _GNU_SOURCE /* dladdr() */
#include "chat/log.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat/json.h"

#define LOG_NAME_MAX 64      /* longest service or instance name kept */
#define LOG_MESSAGE_MAX 3072 /* longest formatted message before escaping */
#define LOG_LINE_MAX 8192    /* one line, with every field escaped */

static _Atomic int min_level = CHAT_LOG_INFO;
static char service_name[LOG_NAME_MAX] = "chat";
static char instance_name[LOG_NAME_MAX] = "";

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void chat_log_init(const char *service, const char *instance, chat_log_level_t level) {
  if (service)
    snprintf(service_name, sizeof service_name, "%s", service);
  if (instance)
    snprintf(instance_name, sizeof instance_name, "%s", instance);
  atomic_store(&min_level, (int)level);
}

bool chat_log_enabled(chat_log_level_t level) { return (int)level >= atomic_load(&min_level); }

bool chat_log_level_parse(const char *text, chat_log_level_t *out) {
  for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
    if (strcmp(text, level_names[i]) == 0) {
      *out = (chat_log_level_t)i;
      return true;
    }
  }
  return false;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static void write_line(chat_log_level_t level, const char *file, int line, const char *message) {
  char line_buf[LOG_LINE_MAX];
  char escaped[LOG_MESSAGE_MAX * 2];
  char src[128];
  struct timespec now;
  struct tm utc;

  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &utc);
  chat_json_escape_into(escaped, sizeof escaped, message, strlen(message));
  snprintf(src, sizeof src, "%s:%d", base_name(file), line);

  int n = snprintf(line_buf, sizeof line_buf,
                   "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                   "\"service\":\"%s\",\"instance\":\"%s\",\"msg\":\"%s\",\"src\":\"%s\"}\n",
                   utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                   utc.tm_sec, now.tv_nsec / 1000000, level_names[level], service_name,
                   instance_name, escaped, src);
  /* The escaped message is at most LOG_MESSAGE_MAX * 2 bytes and the other
   * fields are short, so the line always fits in LOG_LINE_MAX. */
  if (n < 0 || (size_t)n >= sizeof line_buf)
    return;
  size_t len = (size_t)n;
  /* One write per line, so lines from several threads never interleave. */
  ssize_t ignored = write(STDERR_FILENO, line_buf, len);
  (void)ignored;
}

void chat_log_write(chat_log_level_t level, const char *file, int line, const char *fmt, ...) {
  char message[LOG_MESSAGE_MAX];
  va_list ap;
  if ((unsigned)level > CHAT_LOG_ERROR)
    level = CHAT_LOG_ERROR;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  write_line(level, file, line, message);
}

void chat_log_assert_failed(const char *expr, const char *file, int line) {
  char message[LOG_MESSAGE_MAX];
  snprintf(message, sizeof message, "assertion failed: %s", expr);
  write_line(CHAT_LOG_ERROR, file, line, message);
  abort();
}

/* ---- the fatal-signal report ---------------------------------------------
 * Written from a signal handler, so nothing here allocates or takes a lock
 * that the crashed code may hold: the line is built in a static buffer with
 * hand-made formatting and sent with one write(2). backtrace() is loaded
 * once at install time (its first call may allocate); dladdr() reads the
 * loaded objects' symbol tables. */

#define CRASH_FRAMES 48        /* stack frames reported */
#define CRASH_LINE_MAX 16384   /* the report line */
#define CRASH_ALT_STACK 65536  /* alternate signal stack of the main thread */

static char crash_line[CRASH_LINE_MAX];
static size_t crash_len;
static volatile sig_atomic_t crashing;

static void crash_put(const char *text, size_t len) {
  if (crash_len + len >= sizeof crash_line - 4) /* room for the closing "]}\n" */
    len = crash_len < sizeof crash_line - 4 ? sizeof crash_line - 4 - crash_len : 0;
  memcpy(crash_line + crash_len, text, len);
  crash_len += len;
}

static void crash_puts(const char *text) { crash_put(text, strlen(text)); }

/* text as the inside of a JSON string: quotes, backslashes and control
 * characters escaped. */
static void crash_put_escaped(const char *text) {
  static const char hex[] = "0123456789abcdef";
  for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
    if (*c == '"' || *c == '\\') {
      char pair[2] = {'\\', (char)*c};
      crash_put(pair, 2);
    } else if (*c < 0x20) {
      char esc[6] = {'\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15]};
      crash_put(esc, 6);
    } else {
      crash_put((const char *)c, 1);
    }
  }
}

static void crash_put_hex(uintptr_t value) {
  char digits[2 + 2 * sizeof value];
  size_t n = sizeof digits;
  do {
    digits[--n] = "0123456789abcdef"[value & 15];
    value >>= 4;
  } while (value && n > 2);
  digits[--n] = 'x';
  digits[--n] = '0';
  crash_put(digits + n, sizeof digits - n);
}

static void crash_put_decimal(long value, int width) {
  char digits[24];
  size_t n = sizeof digits;
  bool negative = value < 0;
  unsigned long v = negative ? 0UL - (unsigned long)value : (unsigned long)value;
  do {
    digits[--n] = (char)('0' + v % 10);
    v /= 10;
    width--;
  } while ((v || width > 0) && n > 1);
  if (negative)
    digits[--n] = '-';
  crash_put(digits + n, sizeof digits - n);
}

/* The time as "2026-11-23T04:36:16.123Z" without gmtime_r(), which is not
 * async-signal-safe (days to a civil date: Howard Hinnant's algorithm). */
static void crash_put_time(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  long days = (long)(now.tv_sec / 86400), secs = (long)(now.tv_sec % 86400);
  long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  long doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153;
  long day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
  long year = yoe + era * 400 + (month <= 2);
  crash_put_decimal(year, 4);
  crash_puts("-");
  crash_put_decimal(month, 2);
  crash_puts("-");
  crash_put_decimal(day, 2);
  crash_puts("T");
  crash_put_decimal(secs / 3600, 2);
  crash_puts(":");
  crash_put_decimal(secs / 60 % 60, 2);
  crash_puts(":");
  crash_put_decimal(secs % 60, 2);
  crash_puts(".");
  crash_put_decimal(now.tv_nsec / 1000000, 3);
  crash_puts("Z");
}

static const char *signal_name(int signo) {
  switch (signo) {
  case SIGSEGV: return "SIGSEGV";
  case SIGBUS: return "SIGBUS";
  case SIGFPE: return "SIGFPE";
  case SIGILL: return "SIGILL";
  case SIGABRT: return "SIGABRT";
  case SIGTRAP: return "SIGTRAP";
  default: return "SIG?";
  }
}

/* One frame: "module+0xoffset symbol+0xoffset", the module's offset being
 * what `addr2line -f -e module 0xoffset` takes, the symbol given where the
 * dynamic symbol table names the function (static functions it does not);
 * "[0xaddress]" when no loaded object holds the address. */
static void crash_put_frame(void *address) {
  Dl_info info;
  crash_puts("\"");
  if (dladdr(address, &info) && info.dli_fname) {
    crash_put_escaped(base_name(info.dli_fname));
    crash_puts("+");
    crash_put_hex((uintptr_t)address - (uintptr_t)info.dli_fbase);
    if (info.dli_sname) {
      crash_puts(" ");
      crash_put_escaped(info.dli_sname);
      crash_puts("+");
      crash_put_hex((uintptr_t)address - (uintptr_t)info.dli_saddr);
    }
  } else {
    crash_puts("[");
    crash_put_hex((uintptr_t)address);
    crash_puts("]");
  }
  crash_puts("\"");
}

static void on_fatal_signal(int signo, siginfo_t *info, void *context) {
  (void)context;
  if (!crashing) { /* a fault inside the report itself goes straight to the default */
    crashing = 1;
    void *frames[CRASH_FRAMES];
    int count = backtrace(frames, CRASH_FRAMES);
    crash_len = 0;
    crash_puts("{\"ts\":\"");
    crash_put_time();
    crash_puts("\",\"level\":\"fatal\",\"service\":\"");
    crash_put_escaped(service_name);
    crash_puts("\",\"instance\":\"");
    crash_put_escaped(instance_name);
    crash_puts("\",\"msg\":\"fatal signal ");
    crash_puts(signal_name(signo));
    crash_puts("\",\"signal\":\"");
    crash_puts(signal_name(signo));
    if (info->si_code > 0) { /* the kernel's: a fault at an address */
      crash_puts("\",\"addr\":\"");
      crash_put_hex((uintptr_t)info->si_addr);
    } else { /* sent with kill(2) or raise(3), abort(3) among them */
      crash_puts("\",\"sender\":\"");
      crash_put_decimal((long)info->si_pid, 1);
    }
    crash_puts("\",\"pid\":");
    crash_put_decimal((long)getpid(), 1);
    crash_puts(",\"backtrace\":[");
    /* Frame 0 is this handler; the signal trampoline follows it. */
    for (int i = 1; i < count; i++) {
      if (i > 1)
        crash_puts(",");
      crash_put_frame(frames[i]);
    }
    memcpy(crash_line + crash_len, "]}\n", 3);
    crash_len += 3;
    ssize_t ignored = write(STDERR_FILENO, crash_line, crash_len);
    (void)ignored;
  }
  /* SA_RESETHAND put the default action back: the signal, raised again,
   * ends the process as it would have ended (a fault re-executes and
   * faults again; a signal sent with kill(2) comes once more). */
  raise(signo);
}

void chat_log_install_crash_report(void) {
  static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP};
  static char alt_stack[CRASH_ALT_STACK];
  void *warm[1];
  (void)backtrace(warm, 1); /* loads libgcc's unwinder now, not in the handler */
  stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
  (void)sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fatal_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
    sigaction(fatal[i], &sa, NULL);
}
