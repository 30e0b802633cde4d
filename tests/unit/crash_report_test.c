/* The fatal-signal report (chat_log_install_crash_report): a real fault and
 * an abort() in a child process, whose stderr is read back here. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chat/log.h"

/* Runs crash() in a child with the report installed; returns what the
 * child wrote to stderr (free it) and sets *signo to what ended it. */
static char *crashed_child(void (*crash)(void), int *signo) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    chat_log_init("unit", "crash-1", CHAT_LOG_INFO);
    chat_log_install_crash_report();
    crash();
    _exit(0);
  }
  close(fds[1]);
  size_t cap = 65536, len = 0;
  char *out = calloc(1, cap);
  ssize_t n;
  while ((n = read(fds[0], out + len, cap - 1 - len)) > 0)
    len += (size_t)n;
  close(fds[0]);
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFSIGNALED(status), "the child exited (%d) instead of dying of its signal: %s",
            WEXITSTATUS(status), out);
  *signo = WTERMSIG(status);
  return out;
}

static void null_write(void) {
  volatile int *nowhere = NULL;
  *nowhere = 1;
}

static void give_up(void) { abort(); }

/* The one line at level "fatal", or NULL. */
static const char *fatal_line(const char *out) {
  const char *line = strstr(out, "{\"ts\":");
  return line && strstr(line, "\"level\":\"fatal\"") ? line : NULL;
}

Test(crash_report, a_null_write_reports_sigsegv_at_address_zero) {
  int signo = 0;
  char *out = crashed_child(null_write, &signo);
  cr_assert_eq(signo, SIGSEGV);
  const char *line = fatal_line(out);
  cr_assert(line, "no fatal line in: %s", out);
  cr_assert(strstr(line, "\"service\":\"unit\",\"instance\":\"crash-1\""), "%s", line);
  cr_assert(strstr(line, "\"signal\":\"SIGSEGV\",\"addr\":\"0x0\""), "%s", line);
  cr_assert(strstr(line, "\"backtrace\":[\""), "%s", line);
  /* Criterion runs tests in a worker whose name is not the program's: a
   * frame of main's caller is what every backtrace here has. */
  cr_assert(strstr(line, " __libc_start_main+0x"), "the backtrace misses main's caller: %s", line);
  cr_assert(strstr(line, "]}\n"), "the line must end the JSON and the line: %s", line);
  cr_assert_null(strstr(strstr(line, "]}\n") + 3, "{\"ts\":"), "more than one report: %s", out);
  free(out);
}

Test(crash_report, abort_reports_sigabrt_with_its_sender) {
  int signo = 0;
  char *out = crashed_child(give_up, &signo);
  cr_assert_eq(signo, SIGABRT);
  const char *line = fatal_line(out);
  cr_assert(line, "no fatal line in: %s", out);
  cr_assert(strstr(line, "\"msg\":\"fatal signal SIGABRT\",\"signal\":\"SIGABRT\",\"sender\":\""),
            "%s", line);
  cr_assert(strstr(line, " abort+0x"), "abort() not named in the backtrace: %s", line);
  free(out);
}
