#include "stack.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define STACK_MAX_CHILDREN 32 /* children one test may have at once */

static pid_t children[STACK_MAX_CHILDREN];

const char *stack_kafka_brokers(void) {
  const char *value = getenv("CHAT_TEST_KAFKA_BROKERS");
  cr_assert(value && value[0],
            "CHAT_TEST_KAFKA_BROKERS is not set: run the tests with tests/run.sh");
  return value;
}

const char *stack_mongo_uri(void) {
  const char *value = getenv("CHAT_TEST_MONGO_URI");
  cr_assert(value && value[0], "CHAT_TEST_MONGO_URI is not set: run the tests with tests/run.sh");
  return value;
}

long long stack_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void stack_unique_name(const char *stem, char *out, size_t out_len) {
  static int counter;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(out, out_len, "%s%d_%d_%ld_", stem, (int)getpid(), ++counter, ts.tv_nsec % 100000);
}

static const char *lookup_stack(void *ctx, const char *name) {
  const char *const *pairs = ctx;
  for (size_t i = 0; pairs && pairs[i]; i += 2) {
    if (strcmp(pairs[i], name) == 0)
      return pairs[i + 1];
  }
  return NULL;
}

void stack_config(chat_config_t *cfg, const char *topic_prefix, const char *mongo_db,
                  const char *const *extra) {
  const char *pairs[64] = {"CHAT_KAFKA_BROKERS",    stack_kafka_brokers(),
                           "CHAT_MONGO_URI",        stack_mongo_uri(),
                           "CHAT_TOPIC_PREFIX",     topic_prefix,
                           "CHAT_MONGO_DB",         mongo_db,
                           "CHAT_TOPIC_PARTITIONS", "3"};
  size_t n = 10;
  for (size_t i = 0; extra && extra[i] && n < 62; i++)
    pairs[n++] = extra[i];
  pairs[n] = NULL;
  char why[512];
  cr_assert_eq(
      chat_config_load_from(cfg, CHAT_SERVICE_PERSISTENCE, lookup_stack, pairs, why, sizeof why),
      CHAT_OK, "%s", why);
}

chat_producer_t *stack_producer_with_topics(const chat_config_t *cfg, const char *client_id) {
  char why[512];
  chat_producer_t *producer = NULL;
  cr_assert_eq(chat_producer_create(cfg, client_id, NULL, NULL, &producer, why, sizeof why), CHAT_OK,
               "%s", why);
  cr_assert_eq(chat_kafka_ensure_topics(producer, cfg, 20000, why, sizeof why), CHAT_OK, "%s", why);
  return producer;
}

/* Below the kernel's ephemeral range, which outgoing connections take
 * their ports from (the services' Kafka and MongoDB clients): the rule of
 * tests/lib/free_port.mjs and deploy/lib/stack.sh's stack_free_port. */
#define FREE_PORT_FIRST 10000
#define FREE_PORT_GIVEN_MAX 256

static int ephemeral_low(void) {
  FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  int low = 0;
  if (f) {
    if (fscanf(f, "%d", &low) != 1)
      low = 0;
    fclose(f);
  }
  return low > FREE_PORT_FIRST + 1000 ? low : 32768;
}

static bool can_listen(int port) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(fd >= 0);
  bool ok = bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(fd, 1) == 0;
  close(fd);
  return ok;
}

int stack_free_port(void) {
  static int given[FREE_PORT_GIVEN_MAX];
  static size_t given_count;
  if (!given_count)
    srandom((unsigned)getpid() ^ (unsigned)time(NULL));
  int last = ephemeral_low() - 1;
  for (int tries = 0; tries < 200; tries++) {
    int port = FREE_PORT_FIRST + (int)(random() % (last - FREE_PORT_FIRST + 1));
    bool taken = false;
    for (size_t i = 0; i < given_count && !taken; i++)
      taken = given[i] == port;
    if (taken || !can_listen(port))
      continue;
    if (given_count < FREE_PORT_GIVEN_MAX)
      given[given_count++] = port;
    return port;
  }
  cr_assert_fail("no free port found from %d to %d", FREE_PORT_FIRST, last);
  return -1;
}

pid_t stack_spawn(char *const argv[], char *const env[], int *stdout_fd) {
  int pipe_fds[2] = {-1, -1};
  if (stdout_fd)
    cr_assert_eq(pipe(pipe_fds), 0);
  fflush(NULL);
  pid_t pid = fork();
  cr_assert(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (stdout_fd) {
      dup2(pipe_fds[1], STDOUT_FILENO);
      close(pipe_fds[0]);
      close(pipe_fds[1]);
    }
    for (size_t i = 0; env && env[i]; i++)
      putenv(env[i]);
    execv(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  if (stdout_fd) {
    close(pipe_fds[1]);
    *stdout_fd = pipe_fds[0];
  }
  for (size_t i = 0; i < STACK_MAX_CHILDREN; i++) {
    if (children[i] == 0) {
      children[i] = pid;
      break;
    }
  }
  return pid;
}

static void forget_child(pid_t pid) {
  for (size_t i = 0; i < STACK_MAX_CHILDREN; i++) {
    if (children[i] == pid)
      children[i] = 0;
  }
}

bool stack_wait(pid_t pid, int timeout_ms, int *status) {
  long long deadline = stack_now_ms() + timeout_ms;
  do {
    pid_t done = waitpid(pid, status, WNOHANG);
    if (done == pid) {
      forget_child(pid);
      return true;
    }
    struct timespec slice = {0, 20 * 1000000L};
    nanosleep(&slice, NULL);
  } while (stack_now_ms() < deadline);
  return false;
}

void stack_kill_all(void) {
  for (size_t i = 0; i < STACK_MAX_CHILDREN; i++) {
    if (children[i] > 0) {
      kill(children[i], SIGKILL);
      waitpid(children[i], NULL, 0);
      children[i] = 0;
    }
  }
}

bool stack_read_line(int fd, char *out, size_t out_len, int timeout_ms) {
  size_t len = 0;
  long long deadline = stack_now_ms() + timeout_ms;
  while (len + 1 < out_len) {
    long long left = deadline - stack_now_ms();
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
      return false;
    char c;
    if (read(fd, &c, 1) != 1)
      return false;
    if (c == '\n')
      break;
    out[len++] = c;
  }
  out[len] = '\0';
  return true;
}

int stack_http_get(int port, const char *path, char *body, size_t body_len) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  char request[512], response[4096];
  size_t len = 0;
  int status = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
    goto out;
  int n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
  if (write(fd, request, (size_t)n) != n)
    goto out;
  for (;;) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 10000) <= 0)
      break;
    ssize_t got = read(fd, response + len, sizeof response - 1 - len);
    if (got <= 0)
      break;
    len += (size_t)got;
  }
  response[len] = '\0';
  sscanf(response, "HTTP/1.1 %d", &status);
  if (body && body_len) {
    const char *start = strstr(response, "\r\n\r\n");
    snprintf(body, body_len, "%s", start ? start + 4 : "");
  }
out:
  if (fd >= 0)
    close(fd);
  return status;
}
