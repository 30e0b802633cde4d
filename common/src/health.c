#define _GNU_SOURCE /* pipe2() */
#include "chat/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "chat/log.h"
#include "chat/metrics.h"

#define HEALTH_REQUEST_MAX 2048     /* a probe's request line and headers fit */
#define HEALTH_READ_TIMEOUT_MS 2000 /* a client that sends nothing is dropped */

struct chat_health {
  int listen_fd;
  int wake_pipe[2]; /* written by stop to end poll() at once */
  chat_ready_fn ready;
  void *ctx;
  pthread_t thread;
};

/* Sends len bytes, going on after a partial send (a scrape's body is tens
 * of kilobytes). Returns false when the peer went away. */
static bool send_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t sent = send(fd, data, len, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR)
      continue;
    if (sent <= 0)
      return false;
    data += sent;
    len -= (size_t)sent;
  }
  return true;
}

#define HEALTH_JSON "application/json"
#define HEALTH_METRICS "text/plain; version=0.0.4" /* Prometheus' text exposition format */

static void send_typed(int fd, int status, const char *reason, const char *type, const char *body) {
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
                   status, reason, type, strlen(body));
  /* A failed send just means the prober went away, and it will ask again. */
  if (send_all(fd, head, (size_t)n))
    (void)send_all(fd, body, strlen(body));
}

static void send_response(int fd, int status, const char *reason, const char *body) {
  send_typed(fd, status, reason, HEALTH_JSON, body);
}

/* Reads until the end of the headers, a full buffer or the timeout. */
static ssize_t read_request(int fd, char *buf, size_t cap) {
  size_t len = 0;
  while (len < cap - 1) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, HEALTH_READ_TIMEOUT_MS) <= 0)
      return -1;
    ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
    if (n <= 0)
      return -1;
    len += (size_t)n;
    buf[len] = '\0';
    if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
      break;
  }
  buf[len] = '\0';
  return (ssize_t)len;
}

static void serve_one(chat_health_t *health, int fd) {
  char request[HEALTH_REQUEST_MAX];
  char method[16], path[256];
  if (read_request(fd, request, sizeof request) <= 0)
    return;
  if (sscanf(request, "%15s %255s", method, path) != 2) {
    send_response(fd, 400, "Bad Request", "{\"error\":\"malformed request line\"}");
    return;
  }
  char *query = strchr(path, '?');
  if (query)
    *query = '\0';
  bool known = strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0 ||
               strcmp(path, "/metrics") == 0;
  if (!known) {
    send_response(fd, 404, "Not Found", "{\"error\":\"not found\"}");
  } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    send_response(fd, 405, "Method Not Allowed", "{\"error\":\"only GET\"}");
  } else if (strcmp(path, "/healthz") == 0) {
    send_response(fd, 200, "OK", "{\"status\":\"ok\"}");
  } else if (strcmp(path, "/metrics") == 0) {
    bson_string_t *body = bson_string_new("");
    chat_metrics_write(chat_metrics_default(), body);
    send_typed(fd, 200, "OK", HEALTH_METRICS, body->str);
    bson_string_free(body, true);
  } else {
    bson_string_t *body = bson_string_new("{\"status\":");
    bson_string_t *detail = bson_string_new("");
    bool ready = health->ready ? health->ready(health->ctx, detail) : true;
    bson_string_append(body, ready ? "\"ready\"" : "\"unavailable\"");
    bson_string_append(body, detail->str);
    bson_string_append_c(body, '}');
    send_response(fd, ready ? 200 : 503, ready ? "OK" : "Service Unavailable", body->str);
    bson_string_free(detail, true);
    bson_string_free(body, true);
  }
}

static void *health_main(void *arg) {
  chat_health_t *health = arg;
  for (;;) {
    struct pollfd fds[2] = {{.fd = health->listen_fd, .events = POLLIN},
                            {.fd = health->wake_pipe[0], .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      CHAT_LOG(CHAT_LOG_ERROR, "health server poll: %s", strerror(errno));
      break;
    }
    if (fds[1].revents)
      break;
    int fd = accept(health->listen_fd, NULL, NULL);
    if (fd < 0)
      continue;
    /* A scraper that stops reading must not hold the probes up for long. */
    struct timeval send_timeout = {HEALTH_READ_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    serve_one(health, fd);
    close(fd);
  }
  return NULL;
}

chat_err_t chat_health_start(const char *addr, int port, chat_ready_fn ready, void *ctx,
                             chat_health_t **out, char *errbuf, size_t errbuf_len) {
  struct sockaddr_storage ss;
  socklen_t ss_len;
  int one = 1;
  chat_health_t *health = calloc(1, sizeof *health);
  chat_err_t err = CHAT_ERR_IO;

  if (!health)
    return CHAT_ERR_NOMEM;
  health->listen_fd = -1;
  health->wake_pipe[0] = health->wake_pipe[1] = -1;
  health->ready = ready;
  health->ctx = ctx;

  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    ss_len = sizeof *sin;
  } else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    ss_len = sizeof *sin6;
  } else {
    snprintf(errbuf, errbuf_len, "health server: '%s' is not an IP address", addr);
    err = CHAT_ERR_CONFIG;
    goto out;
  }
  health->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (health->listen_fd < 0 || pipe2(health->wake_pipe, O_CLOEXEC) != 0) {
    snprintf(errbuf, errbuf_len, "health server: %s", strerror(errno));
    goto out;
  }
  setsockopt(health->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(health->listen_fd, (struct sockaddr *)&ss, ss_len) != 0 ||
      listen(health->listen_fd, 16) != 0) {
    snprintf(errbuf, errbuf_len, "health server: cannot listen on %s:%d: %s", addr, port,
             strerror(errno));
    goto out;
  }
  if (pthread_create(&health->thread, NULL, health_main, health) != 0) {
    snprintf(errbuf, errbuf_len, "health server: cannot start its thread");
    err = CHAT_ERR_INTERNAL;
    goto out;
  }
  *out = health;
  health = NULL; /* handed to the caller */
  err = CHAT_OK;
out:
  if (health) {
    if (health->listen_fd >= 0)
      close(health->listen_fd);
    if (health->wake_pipe[0] >= 0) {
      close(health->wake_pipe[0]);
      close(health->wake_pipe[1]);
    }
    free(health);
  }
  return err;
}

void chat_health_stop(chat_health_t **health_ptr) {
  chat_health_t *health = health_ptr ? *health_ptr : NULL;
  if (!health)
    return;
  ssize_t ignored = write(health->wake_pipe[1], "x", 1);
  (void)ignored;
  pthread_join(health->thread, NULL);
  close(health->listen_fd);
  close(health->wake_pipe[0]);
  close(health->wake_pipe[1]);
  free(health);
  *health_ptr = NULL;
}
