/* The libwebsockets side of the protocol server (server.h): the
 * lws_protocols table and its callbacks, the listening socket and the
 * check of each new connection's request head before lws parses it, HTTP
 * requests (long-polling and the application's REST API), WebSocket
 * frames, timers and cross-thread calls. What a session does with its
 * packets lives in eio_session.c; this file hands it the connections (a
 * struct lws is its eio_conn_t) and implements its eio_transport_t hooks. */
#define _GNU_SOURCE /* strcasestr(), accept4() */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chat/log.h"
#include "eio_packet.h"
#include "eio_session.h"
#include "engine_metrics.h"
#include "fifo_timers.h"
#include "http_head_guard.h"
#include "http_query.h"
#include "lws_log.h"
#include "static_files.h"

#define QUERY_ARGS_MAX 32    /* query arguments looked at per request */
#define WS_RX_BUFFER 512     /* lws receive buffer per WebSocket; larger frames come in pieces */
#define HTTP_HEADER_ROOM 512 /* status line and headers of a polling answer */
#define CLOSE_GRACE_SECS 5   /* a closed connection's peer has this long to take what is queued */
/* lws' buffer for one request's URI and headers (max_http_header_data;
 * lws' default is 4096). lws drops a request that overflows it without a
 * word, and has no callback for that, so the head of a connection's first
 * request is read and checked here before lws sees it (the head guard,
 * below: at most HTTP_HEAD_MAX bytes, which need HTTP_HEAD_LWS_BUFFER_MIN
 * of this buffer). The later requests of a kept-alive connection are
 * parsed by lws alone, as lws 4.1 gives no way to take a connection back
 * between two requests: for them this is the limit, twice the most the
 * REST API serves (REST_HEADERS_MAX in rest.c), so that those between get
 * its answer (431). A connection holds this buffer only while it has a
 * request in hand (headers arriving, a REST call waiting for Kafka, a long
 * poll waiting for packets), never while it is an idle WebSocket: 8 KB
 * per such request, nothing per idle WebSocket. */
#define HTTP_HEADER_BUFFER 8192
_Static_assert(HTTP_HEADER_BUFFER >= HTTP_HEAD_LWS_BUFFER_MIN,
               "lws must be able to parse every head the guard passes");
#define HEAD_GUARD_PROTOCOL "chat-http-head" /* protocols[1]: the listener, heads being read */
#define HEAD_LINGER_SECS 2 /* a refused connection's rest is read and dropped this long at most */
#define STATIC_FILE_MAX (4 * 1024 * 1024) /* largest web client file served */

typedef enum wsi_kind { KIND_NONE, KIND_POLL_GET, KIND_POLL_POST, KIND_WS, KIND_API } wsi_kind_t;

#define API_BODY_MAX (64 * 1024) /* largest REST request body */

/* lws per-connection state; one HTTP connection may carry several requests. */
typedef struct wsi_state {
  eio_session_t *session;
  wsi_kind_t kind;
  int status;           /* HTTP answer ready to write when non-zero */
  bson_string_t *reply; /* HTTP answer body, or a probe answer on a WebSocket */
  uint8_t *rx;          /* request body or WebSocket message being assembled */
  size_t rx_len;
  bool close_requested;
  bool says_close; /* the request asked for "Connection: close" */
  bool json_reply; /* the answer is application/json whatever its status */
  bool answer_held; /* a polling POST's answer waits for its session's pause (LWS_CALLBACK_TIMER) */
  bool body_seen;  /* a first byte of the request's body came (is_own_head()) */
  const char *content_type; /* a web client file's (static), NULL otherwise */
  /* KIND_API: the request handed to the application. */
  uint64_t request_id;
  char method[8];
  char *path;
  char *query;     /* "a=1&b=2", escaped again (copy_query) */
  bool dispatched; /* handed to on_http (once) */
  char *authorization;
  size_t header_len; /* what lws kept of the URI and headers */
  const char *route;  /* KIND_API: the pattern the application matched (metrics) */
  lws_usec_t arrived_us;
  struct wsi_state *next_pending, *prev_pending;
  struct lws *wsi;
} wsi_state_t;

typedef struct posted_call {
  struct posted_call *next;
  void (*fn)(void *arg);
  void *arg;
} posted_call_t;

typedef struct deferred_call {
  lws_sorted_usec_list_t sul; /* first: the sul callback casts back */
  struct deferred_call *next, *prev;
  chat_sio_server_t *server;
  void (*fn)(void *arg);
  void *arg;
} deferred_call_t;

struct chat_sio_server {
  chat_sio_options_t opts;
  wsi_state_t *pending_requests; /* REST requests waiting for their answer */
  uint64_t last_request_id;
  pthread_mutex_t posted_lock; /* guards posted_head/tail, filled by other threads */
  posted_call_t *posted_head, *posted_tail;
  deferred_call_t *deferred; /* pending chat_sio_server_call_later() calls */
  char path[128];
  struct lws_context *context;
  struct lws_vhost *vhost;
  struct lws *listener;                 /* our listening socket, a raw descriptor in lws */
  lws_sorted_usec_list_t accept_resume; /* accepting again after running out of descriptors */
  lws_usec_t accept_warned_us;          /* when that was last logged */
  struct lws_protocols protocols[3];    /* socket.io, the head guard, the terminator */
  /* The head guard's deadlines, one queue per delay, each with one loop
   * wake-up for the first to fall due: heads (HTTP_HEAD_TIMEOUT_SECS) and
   * refused connections' rest (HEAD_LINGER_SECS). */
  struct head_timers {
    fifo_timers_t queue;
    lws_sorted_usec_list_t wake;
    chat_sio_server_t *server;
  } head_timers[2];
  /* The sessions and their timers (eio_session.h), with one loop wake-up
   * per timer queue for the first to fall due (fifo_timers.h). */
  eio_engine_t engine;
  struct session_timers {
    lws_sorted_usec_list_t wake;
    chat_sio_server_t *server;
    eio_timer_kind_t kind;
  } timers[EIO_TIMER_KINDS];
};

/* ---- the sessions' transport (eio_transport_t) ------------------------- */

/* A struct lws is the session's eio_conn_t: the session never looks inside. */
static eio_conn_t *conn_of(struct lws *wsi) { return (eio_conn_t *)(void *)wsi; }
static struct lws *wsi_of(eio_conn_t *conn) { return (struct lws *)(void *)conn; }

static wsi_state_t *state_of(struct lws *wsi) { return lws_wsi_user(wsi); }

/* Answers an HTTP request on wsi with status and body (taken over). */
static void http_answer(struct lws *wsi, int status, bson_string_t *body) {
  wsi_state_t *state = state_of(wsi);
  if (state->reply)
    bson_string_free(state->reply, true);
  state->status = status;
  state->reply = body;
  lws_callback_on_writable(wsi);
}

/* Closes wsi on its next writable callback, which sends what is queued
 * first. A peer that stops reading never gives one (its window stays
 * shut), and lws would keep the connection, with what is queued for it,
 * until its own idle hang-up minutes later: the timeout ends it after
 * CLOSE_GRACE_SECS whatever the peer does. */
static void close_wsi_later(struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  state->session = NULL;
  state->close_requested = true;
  lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_GRACE_SECS);
  lws_callback_on_writable(wsi);
}

static void wake_writer(void *ctx, eio_conn_t *conn) {
  (void)ctx;
  lws_callback_on_writable(wsi_of(conn));
}

static void answer_poll(void *ctx, eio_conn_t *conn, bson_string_t *body) {
  (void)ctx;
  state_of(wsi_of(conn))->session = NULL;
  http_answer(wsi_of(conn), 200, body);
}

/* Only the probe answer: write_ws() sends state->reply ahead of the queue. */
static void send_text(void *ctx, eio_conn_t *conn, const char *text) {
  (void)ctx;
  wsi_state_t *state = state_of(wsi_of(conn));
  if (state->reply)
    bson_string_free(state->reply, true);
  state->reply = bson_string_new(text);
  lws_callback_on_writable(wsi_of(conn));
}

static void close_conn(void *ctx, eio_conn_t *conn) {
  (void)ctx;
  close_wsi_later(wsi_of(conn));
}

static int64_t now_us(void *ctx) {
  (void)ctx;
  return lws_now_usecs();
}

static void arm_timers(void *ctx, eio_timer_kind_t kind, int64_t due_us) {
  chat_sio_server_t *server = ctx;
  struct session_timers *timers = &server->timers[kind];
  lws_usec_t now = lws_now_usecs();
  lws_sul_schedule(server->context, 0, &timers->wake, timers->wake.cb,
                   due_us > now ? due_us - now : 0);
}

/* A client past its rate limit (chat_sio_socket_pause_reading()): lws
 * stops reading its socket, keeps what it had read past the message in
 * hand, and LWS_CALLBACK_TIMER turns reading on again (on_wsi_timer). */
static void pause_reading(void *ctx, eio_conn_t *conn, int64_t due_us) {
  (void)ctx;
  struct lws *wsi = wsi_of(conn);
  lws_usec_t now = lws_now_usecs();
  lws_rx_flow_control(wsi, 0);
  lws_set_timer_usecs(wsi, due_us > now ? due_us - now : 1);
}

static void on_timers_due(lws_sorted_usec_list_t *wake) {
  struct session_timers *timers = lws_container_of(wake, struct session_timers, wake);
  eio_engine_run_timers(&timers->server->engine, timers->kind);
}

#define HANDSHAKE_QUERY_MAX 4096 /* query arguments kept from the opening request */

/* The request's query string, encoded again ("a=1&q=Tom%20%26%20Jerry"):
 * lws hands over the arguments apart and decoded, split on the '&' and
 * '=' that were not escaped, so each name and value is escaped again and
 * chat_query_get() reads every argument as the client wrote it (an
 * escaped '&' or '=' stays in its value). */
static char *copy_query(struct lws *wsi) {
  bson_string_t *query = bson_string_new(NULL);
  for (int i = 0; i < QUERY_ARGS_MAX; i++) {
    int frag_len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (frag_len <= 0)
      break;
    char *arg = malloc((size_t)frag_len + 1);
    if (!arg || lws_hdr_copy_fragment(wsi, arg, frag_len + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
      free(arg);
      continue;
    }
    size_t before = query->len;
    if (before)
      bson_string_append_c(query, '&');
    /* lws turns an escaped '=' in a name into '_': the first '=' is the
     * one that separated. */
    const char *equals = strchr(arg, '=');
    size_t name_len = equals ? (size_t)(equals - arg) : strlen(arg);
    chat_query_append_encoded(query, arg, name_len);
    if (equals) {
      bson_string_append_c(query, '=');
      chat_query_append_encoded(query, equals + 1, strlen(equals + 1));
    }
    free(arg);
    if (query->len >= HANDSHAKE_QUERY_MAX)
      bson_string_truncate(query, (uint32_t)before); /* too long to keep: skipped */
  }
  /* Kept for the life of the session: only as long as it is. */
  char *out = strdup(query->str);
  bson_string_free(query, true);
  return out;
}

/* ---- the head guard ------------------------------------------------------ */

/* lws 4.1 parses a request head before any callback, and drops one too
 * large for its buffer without a word, or answers a malformed escape with
 * an HTML page (http_head_guard.h). So lws does not listen: the server
 * accepts each connection itself (our listening socket, adopted by lws as
 * a raw file descriptor) and looks at the head of its first request while
 * lws holds it as another raw descriptor, in a head_conn_t. It only peeks:
 * the bytes stay in the socket until the head passes, and the socket then
 * goes to lws' HTTP role, which reads the head itself as from any socket
 * it accepted. (Handing lws the bytes instead, as
 * lws_adopt_socket_vhost_readbuf() does, puts them on the wsi's buflist,
 * and lws 4.1.6 mistakes a head on the buflist for the body of its own
 * request and then loops for ever on that body's completion:
 * lib/roles/http/server/server.c, lws_http_action(), the buflist loop
 * after deal_body.) A head that is not yet whole leaves the socket
 * readable, so SO_RCVLOWAT is raised past what came, for poll() to wake
 * only when more does: nothing is held per connection meanwhile but the
 * kernel's own buffer. A head refused is answered here. The deadlines are
 * two fixed-delay queues (fifo_timers.h), not an lws timer per connection,
 * whose sorted list costs O(connections) per insertion. */
typedef struct head_conn {
  fifo_timer_t deadline; /* in head_timers[queue] while queued */
  int queue;             /* HEAD_READING, then HEAD_LINGERING once refused */
  struct lws *wsi;
  size_t peeked; /* bytes of the head seen so far; the socket holds them */
  lws_usec_t opened_us;
  bool refused; /* answered: what comes is read and dropped until the peer closes */
} head_conn_t;

#define HEAD_ACCEPTS_PER_WAKE 64 /* connections accepted per poll() wake-up at most */
#define HEAD_ACCEPT_PAUSE_MS 100 /* accepting pauses this long when out of descriptors */
#define HEAD_ACCEPT_WARN_SECS 10 /* and says so at most this often */

enum { HEAD_READING, HEAD_LINGERING }; /* the queues of head_timers[] */

static head_conn_t *conn_of_deadline(fifo_timer_t *timer) {
  return lws_container_of(timer, head_conn_t, deadline);
}

static void on_head_timers_due(lws_sorted_usec_list_t *wake) {
  struct head_timers *timers = lws_container_of(wake, struct head_timers, wake);
  lws_usec_t now = lws_now_usecs();
  int64_t next = fifo_timers_run(&timers->queue, now);
  if (next >= 0)
    lws_sul_schedule(timers->server->context, 0, &timers->wake, on_head_timers_due,
                     next > now ? next - now : 0);
}

static void head_deadline_stop(head_conn_t *conn) {
  chat_sio_server_t *server = lws_context_user(lws_get_context(conn->wsi));
  fifo_timers_stop(&server->head_timers[conn->queue].queue, &conn->deadline);
}

/* (Re)starts conn's deadline in queue (HEAD_READING or HEAD_LINGERING),
 * and arms the queue's wake-up when it is now the first to fall due. */
static void head_deadline_start(head_conn_t *conn, int queue) {
  chat_sio_server_t *server = lws_context_user(lws_get_context(conn->wsi));
  struct head_timers *timers = &server->head_timers[queue];
  head_deadline_stop(conn);
  conn->queue = queue;
  if (fifo_timers_start(&timers->queue, &conn->deadline, lws_now_usecs()))
    lws_sul_schedule(server->context, 0, &timers->wake, on_head_timers_due, timers->queue.delay_us);
}

/* HEAD_LINGER_SECS after a refusal: closed, whatever the peer still sends. */
static void on_linger_over(fifo_timer_t *timer) {
  lws_set_timeout(conn_of_deadline(timer)->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void on_accept_resume(lws_sorted_usec_list_t *sul) {
  chat_sio_server_t *server = lws_container_of(sul, chat_sio_server_t, accept_resume);
  if (server->listener)
    lws_rx_flow_control(server->listener, 1);
}

/* Sets how many bytes the socket must hold for poll() to say readable. */
static bool set_rcvlowat(int fd, size_t bytes) {
  int value = (int)bytes;
  return setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &value, sizeof value) == 0;
}

/* The method of a refused head as the HTTP metrics count them. */
static const char *head_method(const uint8_t *bytes, size_t len) {
  static const char *const counted[] = {"GET", "POST", "PUT", "DELETE"};
  for (size_t i = 0; i < sizeof counted / sizeof counted[0]; i++) {
    size_t n = strlen(counted[i]);
    if (len > n && memcmp(bytes, counted[i], n) == 0 && bytes[n] == ' ')
      return counted[i];
  }
  return "OTHER";
}

/* Answers a refused head (bytes: what came of it), then ends what we
 * send. What the peer still sends (a head can be megabytes) is read and
 * dropped until it closes, HEAD_LINGER_SECS at most: closing with bytes
 * unread would reset the connection, and a reset can cost the peer the
 * answer before it read it. The answer goes straight to the socket, which
 * has sent nothing yet: its few hundred bytes fit the send buffer whole. */
static void head_refuse(head_conn_t *conn, http_head_verdict_t verdict, const uint8_t *bytes,
                        size_t len) {
  int fd = lws_get_socket_fd(conn->wsi);
  bson_string_t *answer = bson_string_new(NULL);
  http_head_answer(answer, verdict);
  if (send(fd, answer->str, answer->len, MSG_NOSIGNAL) < 0 || shutdown(fd, SHUT_WR) < 0 ||
      !set_rcvlowat(fd, 1))
    CHAT_LOG(CHAT_LOG_DEBUG, "socket.io: refusing a request head: %s", strerror(errno));
  bson_string_free(answer, true);
  engine_metrics_http(head_method(bytes, len), "unmatched", http_head_status(verdict),
                      (double)(lws_now_usecs() - conn->opened_us) / LWS_US_PER_SEC);
  conn->refused = true;
  head_deadline_start(conn, HEAD_LINGERING);
}

/* Hands a connection whose head passed to lws' HTTP role, which then reads
 * it from the socket. The HTTP wsi gets a duplicate of the descriptor, and
 * the raw wsi is closed with its own: for a raw file lws only close()s it
 * (lib/core-net/close.c, __lws_close_free_wsi: role_ops_raw_file goes to
 * async_close, past the shutdown(SHUT_WR) of the HTTP roles, which would
 * end the connection for both). Returns -1, for lws to close the raw wsi. */
static int head_pass(chat_sio_server_t *server, head_conn_t *conn) {
  int fd = lws_get_socket_fd(conn->wsi);
  head_deadline_stop(conn);
  int copy = set_rcvlowat(fd, 1) ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
  if (copy < 0) {
    CHAT_LOG(CHAT_LOG_WARN, "socket.io: cannot hand a connection to lws: %s", strerror(errno));
    return -1;
  }
  /* lws owns copy from here; it closes it itself when adopting fails. */
  lws_adopt_socket_vhost(server->vhost, copy);
  return -1;
}

/* HTTP_HEAD_TIMEOUT_SECS after the connection opened its head is not
 * whole: a 408 when some of it came (a slow or stalled client), a close
 * without a word when nothing did (a browser's preconnected socket must
 * not read an answer to a request it has not sent). */
static void on_head_deadline(fifo_timer_t *timer) {
  head_conn_t *conn = conn_of_deadline(timer);
  uint8_t head[HTTP_HEAD_MAX];
  ssize_t n = conn->peeked ? recv(lws_get_socket_fd(conn->wsi), head, sizeof head, MSG_PEEK) : 0;
  if (n > 0)
    head_refuse(conn, HTTP_HEAD_TIMED_OUT, head, (size_t)n);
  else
    lws_set_timeout(conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Reads and drops what a refused connection still sends; -1 to close it
 * once it ended (or failed). */
static int head_drain(int fd) {
  uint8_t sink[4096];
  for (int i = 0; i < 16; i++) { /* 64 KB a wake-up, to leave the others their turn */
    ssize_t n = recv(fd, sink, sizeof sink, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
      return -1;
    if (n < 0)
      return 0;
  }
  return 0;
}

static int on_head_readable(chat_sio_server_t *server, head_conn_t *conn) {
  int fd = lws_get_socket_fd(conn->wsi);
  if (conn->refused)
    return head_drain(fd);
  uint8_t head[HTTP_HEAD_MAX];
  ssize_t n = recv(fd, head, sizeof head, MSG_PEEK);
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  /* Readable with nothing new past the low mark: the peer ended its side
   * before its head did, and will say no more. */
  if (n == 0 || (size_t)n <= conn->peeked)
    return -1;
  size_t head_len;
  http_head_verdict_t verdict = http_head_check(head, (size_t)n, &head_len);
  if (verdict == HTTP_HEAD_PASS)
    return head_pass(server, conn);
  if (verdict != HTTP_HEAD_NEED_MORE) {
    head_refuse(conn, verdict, head, (size_t)n);
    return 0;
  }
  conn->peeked = (size_t)n; /* fewer than HTTP_HEAD_MAX: wake when more came */
  return set_rcvlowat(fd, conn->peeked + 1) ? 0 : -1;
}

/* Accepts what is waiting on the listening socket, each connection a raw
 * descriptor of HEAD_GUARD_PROTOCOL with the options lws gives the
 * sockets it accepts (lws_plat_set_socket_options: no Nagle). Out of
 * descriptors, accepting pauses a moment rather than spin on a listening
 * socket that stays readable. */
static int on_listener_readable(chat_sio_server_t *server, struct lws *listener) {
  for (int i = 0; i < HEAD_ACCEPTS_PER_WAKE; i++) {
    int fd = accept4(lws_get_socket_fd(listener), NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        lws_usec_t now = lws_now_usecs();
        if (now - server->accept_warned_us >= (lws_usec_t)HEAD_ACCEPT_WARN_SECS * LWS_US_PER_SEC) {
          CHAT_LOG(CHAT_LOG_WARN, "socket.io: cannot accept connections (%s): pausing %d ms a time",
                   strerror(errno), HEAD_ACCEPT_PAUSE_MS);
          server->accept_warned_us = now;
        }
        lws_rx_flow_control(listener, 0);
        lws_sul_schedule(server->context, 0, &server->accept_resume, on_accept_resume,
                         (lws_usec_t)HEAD_ACCEPT_PAUSE_MS * LWS_US_PER_MS);
      }
      return 0; /* EAGAIN: all taken; ECONNABORTED and the like: the next one */
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    lws_sock_file_fd_type desc = {.filefd = fd};
    if (!lws_adopt_descriptor_vhost(server->vhost, LWS_ADOPT_RAW_FILE_DESC, desc,
                                    HEAD_GUARD_PROTOCOL, NULL))
      close(fd); /* lws closes only the sockets it adopts as sockets */
  }
  return 0;
}

/* The callback of the listening socket and of each connection whose head
 * is being read; the listener is the one with the server as its opaque
 * user data. */
static int head_guard_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                               void *in, size_t len) {
  chat_sio_server_t *server = lws_context_user(lws_get_context(wsi));
  head_conn_t *conn = user;
  (void)in;
  (void)len;
  switch (reason) {
  case LWS_CALLBACK_RAW_ADOPT_FILE:
    if (lws_get_opaque_user_data(wsi) == server)
      return 0; /* the listener */
    conn->wsi = wsi;
    conn->opened_us = lws_now_usecs();
    head_deadline_start(conn, HEAD_READING);
    return 0;
  case LWS_CALLBACK_RAW_RX_FILE:
    return lws_get_opaque_user_data(wsi) == server ? on_listener_readable(server, wsi)
                                                   : on_head_readable(server, conn);
  case LWS_CALLBACK_RAW_CLOSE_FILE:
    if (lws_get_opaque_user_data(wsi) == server)
      server->listener = NULL;
    else
      head_deadline_stop(conn);
    return 0;
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: /* a WebSocket asked for it by name */
  case LWS_CALLBACK_HTTP:
    return -1;
  default:
    return 0;
  }
}

/* Listens on address:port (an IPv4 or IPv6 literal) and gives the socket
 * to lws as the head guard's listener. */
static chat_err_t head_guard_listen(chat_sio_server_t *server, const char *address, int port,
                                    char *errbuf, size_t errbuf_len) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
  struct addrinfo *found = NULL;
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  int fd = -1, one = 1, rc = getaddrinfo(address, service, &hints, &found);
  const char *why = rc ? gai_strerror(rc) : NULL;
  if (!why) {
    fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, found->ai_addr, found->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
      why = strerror(errno);
  }
  if (found)
    freeaddrinfo(found);
  if (!why) {
    lws_adopt_desc_t desc = {.vh = server->vhost,
                             .type = LWS_ADOPT_RAW_FILE_DESC,
                             .fd = {.filefd = fd},
                             .vh_prot_name = HEAD_GUARD_PROTOCOL,
                             .opaque = server};
    server->listener = lws_adopt_descriptor_vhost_via_info(&desc);
    why = server->listener ? NULL : "lws cannot adopt the listening socket";
  }
  if (!why)
    return CHAT_OK;
  if (fd >= 0)
    close(fd);
  snprintf(errbuf, errbuf_len, "socket.io: cannot listen on %s:%d: %s", address, port, why);
  return CHAT_ERR_IO;
}

/* ---- lws callback ------------------------------------------------------------ */

/* Copies the value of query argument name ("EIO=") into buf. Arguments too
 * long for buf (a client's own long parameters, such as a token) are
 * skipped, not taken as the end of the list as lws_get_urlarg_by_name()
 * would. */
static bool query_arg(struct lws *wsi, const char *name, char *buf, int len) {
  size_t name_len = strlen(name);
  for (int i = 0; i < QUERY_ARGS_MAX; i++) {
    int frag_len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (frag_len <= 0)
      return false;
    if (frag_len >= len)
      continue;
    if (lws_hdr_copy_fragment(wsi, buf, len, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
      continue;
    if (strncmp(buf, name, name_len) == 0) {
      memmove(buf, buf + name_len, strlen(buf + name_len) + 1);
      return true;
    }
  }
  return false;
}

/* Checks EIO=4 and transport; copies the sid ("" when none). */
static bool valid_query(struct lws *wsi, const char *transport, char *sid, size_t sid_len) {
  char eio[64], got_transport[64];
  if (!query_arg(wsi, "EIO=", eio, sizeof eio) || strcmp(eio, "4") != 0)
    return false;
  if (!query_arg(wsi, "transport=", got_transport, sizeof got_transport) ||
      strcmp(got_transport, transport) != 0)
    return false;
  if (!query_arg(wsi, "sid=", sid, (int)sid_len))
    sid[0] = '\0';
  return true;
}

static bool path_matches(chat_sio_server_t *server, struct lws *wsi, const char *uri) {
  (void)wsi;
  size_t n = strlen(server->path);
  /* "/socket.io/" and "/socket.io" alike */
  return strncmp(uri, server->path, n) == 0 ||
         (strncmp(uri, server->path, n - 1) == 0 && uri[n - 1] == '\0');
}

static int http_error(struct lws *wsi, int status, int code, const char *message) {
  bson_string_t *body = bson_string_new(NULL);
  bson_string_append_printf(body, "{\"code\":%d,\"message\":\"%s\"}", code, message);
  http_answer(wsi, status, body);
  return 0;
}

static void pending_unlink(chat_sio_server_t *server, wsi_state_t *state) {
  if (!state->request_id)
    return;
  if (state->prev_pending)
    state->prev_pending->next_pending = state->next_pending;
  else
    server->pending_requests = state->next_pending;
  if (state->next_pending)
    state->next_pending->prev_pending = state->prev_pending;
  state->request_id = 0;
}

static void api_dispatch(chat_sio_server_t *server, struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (state->dispatched)
    return;
  state->dispatched = true;
  chat_http_request_t request = {
      .id = state->request_id,
      .method = state->method,
      .path = state->path,
      .query = state->query,
      .authorization = state->authorization,
      .header_len = state->header_len,
      .body = state->rx,
      .body_len = state->rx_len,
  };
  server->opts.handlers.on_http(server->opts.ctx, &request);
}

/* A request outside the Socket.IO path, for the application's REST API. */
static int on_api_request(chat_sio_server_t *server, struct lws *wsi, const char *uri) {
  wsi_state_t *state = state_of(wsi);
  static const struct {
    enum lws_token_indexes token;
    const char *name;
  } methods[] = {{WSI_TOKEN_GET_URI, "GET"},
                 {WSI_TOKEN_POST_URI, "POST"},
                 {WSI_TOKEN_PUT_URI, "PUT"},
                 {WSI_TOKEN_DELETE_URI, "DELETE"},
                 {WSI_TOKEN_PATCH_URI, "PATCH"}};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    if (lws_hdr_total_length(wsi, methods[i].token) > 0)
      snprintf(state->method, sizeof state->method, "%s", methods[i].name);
  }
  if (!state->method[0])
    return http_error(wsi, 405, 0, "Method not allowed");
  int auth_len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  state->path = strdup(uri);
  state->query = copy_query(wsi);
  state->authorization = calloc(1, (size_t)(auth_len > 0 ? auth_len : 0) + 1);
  if (!state->path || !state->query || !state->authorization)
    return -1;
  if (auth_len > 0)
    lws_hdr_copy(wsi, state->authorization, auth_len + 1, WSI_TOKEN_HTTP_AUTHORIZATION);
  /* Every header lws knows, the URI and its arguments; lws gives no way
   * to list the others (kept too, up to HTTP_HEADER_BUFFER). */
  for (int token = 0; token < (int)WSI_TOKEN_COUNT; token++) {
    int len = lws_hdr_total_length(wsi, (enum lws_token_indexes)token);
    state->header_len += len > 0 ? (size_t)len : 0;
  }
  state->kind = KIND_API;
  state->wsi = wsi;
  state->route = "unmatched";
  state->arrived_us = lws_now_usecs();
  state->request_id = ++server->last_request_id;
  state->next_pending = server->pending_requests;
  if (server->pending_requests)
    server->pending_requests->prev_pending = state;
  server->pending_requests = state;
  /* A body follows only for POST, PUT and PATCH with a length or chunks;
   * lws sends no completion for an empty one. */
  char length[32] = "";
  lws_hdr_copy(wsi, length, sizeof length, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  bool chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
  bool has_body = (strcmp(state->method, "POST") == 0 || strcmp(state->method, "PUT") == 0 ||
                   strcmp(state->method, "PATCH") == 0) &&
                  (chunked || (length[0] && strtoll(length, NULL, 10) > 0));
  if (!has_body)
    api_dispatch(server, wsi);
  return 0; /* a body follows, or the application answers later */
}

/* A GET of a web client file (static_files.h) outside /api/: answered
 * here when the file exists. Anything else, a missing file included, goes
 * on to the REST API, which answers 404 in its JSON envelope. */
static bool on_static_file(chat_sio_server_t *server, struct lws *wsi, const char *uri) {
  if (!server->opts.web_root || strncmp(uri, "/api/", 5) == 0 ||
      lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
    return false;
  bson_string_t *body;
  const char *type;
  if (static_files_read(server->opts.web_root, uri, STATIC_FILE_MAX, &body, &type) != CHAT_OK)
    return false;
  state_of(wsi)->content_type = type;
  http_answer(wsi, 200, body);
  return true;
}

static int on_http(chat_sio_server_t *server, struct lws *wsi, const char *uri) {
  wsi_state_t *state = state_of(wsi);
  char sid[64];
  memset(state, 0, sizeof *state);
  char connection[64] = "";
  lws_hdr_copy(wsi, connection, sizeof connection, WSI_TOKEN_CONNECTION);
  state->says_close = strcasestr(connection, "close") != NULL;
  if (!path_matches(server, wsi, uri)) {
    if (on_static_file(server, wsi, uri))
      return 0;
    if (server->opts.handlers.on_http)
      return on_api_request(server, wsi, uri);
    return http_error(wsi, 404, 0, "Not found");
  }
  bool is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
  bool is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
  if (!valid_query(wsi, "polling", sid, sizeof sid))
    return http_error(wsi, 400, 0, "Transport unknown");
  if (!is_get && !is_post)
    return http_error(wsi, 400, 2, "Bad handshake method");

  if (!sid[0]) {
    if (!is_get)
      return http_error(wsi, 400, 2, "Bad handshake method");
    eio_session_t *session =
        eio_session_create(&server->engine, EIO_POLLING, NULL, copy_query(wsi));
    if (!session)
      return http_error(wsi, 503, 3, "Bad request");
    http_answer(wsi, 200, eio_session_open_packet(session, true));
    return 0;
  }
  eio_session_t *session = eio_session_find(&server->engine, sid);
  if (!session || !eio_session_is_polling(session))
    return http_error(wsi, 400, 1, "Session ID unknown");

  if (is_post) {
    state->kind = KIND_POLL_POST;
    state->session = session;
    return 0; /* the body follows */
  }
  /* Ready before the call: a session with packets queued answers at once. */
  state->kind = KIND_POLL_GET;
  state->session = session;
  switch (eio_session_poll(session, conn_of(wsi))) {
  case EIO_POLL_HELD:
    return 0;
  case EIO_POLL_NOOP:
    /* The client is moving to the WebSocket: end this poll cleanly. */
    state->kind = KIND_NONE;
    state->session = NULL;
    http_answer(wsi, 200, bson_string_new("6"));
    return 0;
  case EIO_POLL_DUPLICATE:
    /* Two polls at once break ordering: the session has ended. */
    state->kind = KIND_NONE;
    state->session = NULL;
    http_error(wsi, 400, 3, "Bad request");
    return 0;
  }
  return 0;
}

/* Appends a chunk of a request body or WebSocket message being assembled. */
static bool rx_append(wsi_state_t *state, const void *in, size_t len) {
  uint8_t *grown = realloc(state->rx, state->rx_len + len);
  if (!grown)
    return false;
  memcpy(grown + state->rx_len, in, len);
  state->rx = grown;
  state->rx_len += len;
  return true;
}

/* Whether a request's first body bytes are a request line of a method
 * with a body. lws 4.1.6 parses a request pipelined behind another from
 * the bytes it read ahead, and then hands that request's own head to the
 * body parser as if it were its body: lws_http_action()
 * (lib/roles/http/server/server.c) feeds its buffer of read-ahead bytes to
 * lws_read_h1() from the start, head included, and when more is left
 * there than the body's length it completes the body again and again, for
 * ever, within one loop turn (the gateway then answers nothing more, nor
 * SIGTERM). No body served here starts like that (JSON, Engine.IO
 * packets), so such a connection is closed before the loop, after the
 * answers to the requests before it. */
static bool is_own_head(const uint8_t *body, size_t len) {
  static const char *const methods[] = {"POST ", "PUT ", "PATCH "};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    size_t n = strlen(methods[i]);
    if (strncasecmp((const char *)body, methods[i], len < n ? len : n) == 0)
      return true;
  }
  return false;
}

static int on_http_body(chat_sio_server_t *server, struct lws *wsi, const void *in, size_t len) {
  wsi_state_t *state = state_of(wsi);
  if (len && !state->body_seen) {
    state->body_seen = true;
    if (is_own_head(in, len))
      return -1;
  }
  if (state->kind == KIND_API) {
    if (state->status)
      return 0;
    if (state->rx_len + len > API_BODY_MAX) {
      pending_unlink(server, state);
      return http_error(wsi, 413, 0, "Request body too large");
    }
    return rx_append(state, in, len) ? 0 : -1;
  }
  if (state->kind != KIND_POLL_POST || state->status)
    return 0;
  if (state->rx_len + len > server->opts.max_payload) {
    eio_session_t *session = state->session;
    state->session = NULL;
    http_error(wsi, 413, 3, "Payload too large");
    if (session)
      eio_session_close(session, "1", "payload too large");
    return 0;
  }
  return rx_append(state, in, len) ? 0 : -1;
}

static int on_http_body_done(chat_sio_server_t *server, struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (state->kind == KIND_API) {
    if (state->request_id && !state->status)
      api_dispatch(server, wsi);
    return 0;
  }
  if (state->kind != KIND_POLL_POST || state->status)
    return 0;
  eio_session_t *session = state->session;
  state->session = NULL;
  if (!session) {
    /* The session ended while the body was arriving. */
    return http_error(wsi, 400, 1, "Session ID unknown");
  }
  eio_post_result_t result = eio_session_post(session, state->rx, state->rx_len);
  free(state->rx);
  state->rx = NULL;
  state->rx_len = 0;
  if (result == EIO_POST_MALFORMED) {
    /* The session has been closed. */
    http_error(wsi, 400, 3, "Bad request");
    return 0;
  }
  /* A session whose input is paused hears "ok" at the pause's end, so
   * that its client's next POST waits (the session lives on otherwise). */
  int64_t paused_until = result == EIO_POST_OK ? eio_session_paused_until(session) : 0;
  lws_usec_t now = lws_now_usecs();
  if (paused_until > now) {
    state->answer_held = true;
    lws_set_timer_usecs(wsi, paused_until - now);
  }
  http_answer(wsi, 200, bson_string_new("ok"));
  return 0;
}

/* The end of a pause of the connection's input (pause_reading, or a held
 * polling answer). */
static int on_wsi_timer(struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (!state)
    return 0;
  if (state->kind == KIND_WS) {
    lws_rx_flow_control(wsi, 1);
  } else if (state->answer_held) {
    state->answer_held = false;
    lws_callback_on_writable(wsi);
  }
  return 0;
}

static int write_http_answer(struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (!state->status || state->answer_held)
    return 0;
  size_t body_len = state->reply ? state->reply->len : 0;
  uint8_t *buf = malloc(LWS_PRE + HTTP_HEADER_ROOM + body_len);
  if (!buf)
    return -1;
  uint8_t *start = buf + LWS_PRE, *p = start, *end = start + HTTP_HEADER_ROOM - 1;
  int rc = -1;
  const char *type = state->content_type ? state->content_type
                     : state->status == 200 && !state->json_reply ? "text/plain; charset=UTF-8"
                                                                  : "application/json";
  if (lws_add_http_common_headers(wsi, (unsigned)state->status, type, body_len, &p, end) ||
      /* The web client's files change with each build and are small:
       * revalidated on every load rather than cached stale. */
      (state->content_type &&
       lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                    (const unsigned char *)"no-cache", 8, &p, end)) ||
      /* lws closes such a connection after the answer; say so, or a client
       * that pools connections (Node's agent) sends the next request into
       * a closing socket. */
      (state->says_close &&
       lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                    &p, end)) ||
      lws_finalize_write_http_header(wsi, start, &p, end))
    goto out;
  /* The body goes in a buffer of its own with LWS_PRE room before it. */
  uint8_t *body = buf + LWS_PRE;
  memcpy(body, state->reply ? state->reply->str : "", body_len);
  if (lws_write(wsi, body, body_len, LWS_WRITE_HTTP_FINAL) != (int)body_len)
    goto out;
  if (state->kind == KIND_POLL_GET)
    engine_metrics_sent("polling", body_len);
  rc = 0;
out:
  free(buf);
  if (state->reply)
    bson_string_free(state->reply, true);
  state->reply = NULL;
  state->status = 0;
  state->content_type = NULL;
  /* Last: completing the transaction may free state (the protocol is
   * dropped until the next request on this connection). */
  if (rc == 0 && lws_http_transaction_completed(wsi))
    rc = -1;
  return rc;
}

static int write_ws(struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (state->close_requested)
    return -1;
  if (state->reply) { /* a probe answer */
    size_t len = state->reply->len;
    uint8_t *buf = malloc(LWS_PRE + len);
    if (!buf)
      return -1;
    memcpy(buf + LWS_PRE, state->reply->str, len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    free(buf);
    bson_string_free(state->reply, true);
    state->reply = NULL;
    return n < (int)len ? -1 : 0;
  }
  eio_session_t *session = state->session;
  if (!session)
    return 0;
  const eio_out_packet_t *packet;
  while ((packet = eio_session_out_peek(session, conn_of(wsi))) && !lws_send_pipe_choked(wsi)) {
    size_t len = packet->binary ? packet->len : packet->len + 1;
    uint8_t *buf = malloc(LWS_PRE + len);
    if (!buf)
      return -1;
    uint8_t *frame = buf + LWS_PRE;
    if (packet->binary) {
      memcpy(frame, packet->data, packet->len);
    } else {
      frame[0] = (uint8_t)('0' + packet->type);
      memcpy(frame + 1, packet->data, packet->len);
    }
    int n = lws_write(wsi, frame, len, packet->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    free(buf);
    if (n < (int)len)
      return -1;
    engine_metrics_sent("websocket", len);
    eio_session_out_pop(session);
  }
  if (packet)
    lws_callback_on_writable(wsi);
  return 0;
}

/* A whole WebSocket message arrived on wsi. */
static int on_ws_message(struct lws *wsi, const uint8_t *data, size_t len, bool binary) {
  eio_session_t *session = state_of(wsi)->session;
  if (!session)
    return -1;
  return eio_session_ws_message(session, conn_of(wsi), data, len, binary) ? 0 : -1;
}

static int on_ws_established(chat_sio_server_t *server, struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  char sid[64];
  memset(state, 0, sizeof *state);
  state->kind = KIND_WS;
  if (!valid_query(wsi, "websocket", sid, sizeof sid))
    return -1;
  if (sid[0]) {
    eio_session_t *session = eio_session_find(&server->engine, sid);
    if (!session || !eio_session_attach_probe(session, conn_of(wsi))) {
      static const char reason[] = "session unknown or already upgraded";
      lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)reason,
                       sizeof reason - 1);
      return -1;
    }
    state->session = session;
    return 0;
  }
  /* The open packet is queued already: it goes out on the next WRITEABLE. */
  eio_session_t *session =
      eio_session_create(&server->engine, EIO_WEBSOCKET, conn_of(wsi), copy_query(wsi));
  if (!session)
    return -1;
  state->session = session;
  return 0;
}

static int on_ws_receive(chat_sio_server_t *server, struct lws *wsi, const void *in, size_t len) {
  wsi_state_t *state = state_of(wsi);
  if (state->rx_len + len > server->opts.max_payload) {
    if (state->session)
      eio_session_close(state->session, "1", "message too large");
    return -1;
  }
  if (lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi))
    return on_ws_message(wsi, in, len, lws_frame_is_binary(wsi));
  if (!rx_append(state, in, len))
    return -1;
  if (!lws_is_final_fragment(wsi))
    return 0;
  int rc = on_ws_message(wsi, state->rx, state->rx_len, lws_frame_is_binary(wsi));
  free(state->rx);
  state->rx = NULL;
  state->rx_len = 0;
  return rc;
}

static void on_wsi_closed(chat_sio_server_t *server, struct lws *wsi) {
  wsi_state_t *state = state_of(wsi);
  if (!state)
    return;
  pending_unlink(server, state);
  free(state->path);
  free(state->query);
  free(state->authorization);
  state->path = state->query = state->authorization = NULL;
  eio_session_t *session = state->session;
  state->session = NULL;
  if (session)
    eio_session_conn_closed(session, conn_of(wsi));
  free(state->rx);
  state->rx = NULL;
  if (state->reply)
    bson_string_free(state->reply, true);
  state->reply = NULL;
}

/* Runs what other threads posted, on the loop thread. */
static void run_posted(chat_sio_server_t *server) {
  pthread_mutex_lock(&server->posted_lock);
  posted_call_t *call = server->posted_head;
  server->posted_head = server->posted_tail = NULL;
  pthread_mutex_unlock(&server->posted_lock);
  while (call) {
    posted_call_t *next = call->next;
    call->fn(call->arg);
    free(call);
    call = next;
  }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  chat_sio_server_t *server = lws_context_user(lws_get_context(wsi));
  (void)user;
  switch (reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
    char uri[256], sid[64];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 ||
        !path_matches(server, wsi, uri) || !valid_query(wsi, "websocket", sid, sizeof sid))
      return 1;
    /* A sid that cannot be upgraded is refused after the handshake, with
     * a close frame: clients take that as a close, not as an error. */
    return 0;
  }
  case LWS_CALLBACK_HTTP:
    return on_http(server, wsi, in ? (const char *)in : "");
  case LWS_CALLBACK_HTTP_BODY:
    return on_http_body(server, wsi, in, len);
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    return on_http_body_done(server, wsi);
  case LWS_CALLBACK_HTTP_WRITEABLE:
    return write_http_answer(wsi);
  case LWS_CALLBACK_ESTABLISHED:
    return on_ws_established(server, wsi);
  case LWS_CALLBACK_RECEIVE:
    return on_ws_receive(server, wsi, in, len);
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return write_ws(wsi);
  case LWS_CALLBACK_CLOSED:
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    on_wsi_closed(server, wsi);
    return 0;
  case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
    run_posted(server);
    return 0;
  case LWS_CALLBACK_TIMER:
    return on_wsi_timer(wsi);
  default:
    return 0;
  }
}

/* ---- public ------------------------------------------------------------------ */

chat_err_t chat_sio_server_create(const chat_sio_options_t *opts, chat_sio_server_t **out,
                                  char *errbuf, size_t errbuf_len) {
  struct lws_context_creation_info info;
  chat_sio_server_t *server = calloc(1, sizeof *server);
  if (!server || sodium_init() < 0) {
    free(server);
    return CHAT_ERR_NOMEM;
  }
  server->opts = *opts;
  pthread_mutex_init(&server->posted_lock, NULL);
  const eio_transport_t transport = {wake_writer, answer_poll, send_text,     close_conn,
                                     now_us,      arm_timers,  pause_reading, server};
  eio_engine_init(&server->engine, &server->opts, &transport);
  for (int kind = 0; kind < EIO_TIMER_KINDS; kind++) {
    server->timers[kind].wake.cb = on_timers_due;
    server->timers[kind].server = server;
    server->timers[kind].kind = (eio_timer_kind_t)kind;
  }
  snprintf(server->path, sizeof server->path, "%s", opts->path);
  server->protocols[0] = (struct lws_protocols){
      .name = "socket.io",
      .callback = callback,
      .per_session_data_size = sizeof(wsi_state_t),
      .rx_buffer_size = WS_RX_BUFFER,
  };
  fifo_timers_init(&server->head_timers[HEAD_READING].queue,
                   (int64_t)HTTP_HEAD_TIMEOUT_SECS * LWS_US_PER_SEC, on_head_deadline);
  fifo_timers_init(&server->head_timers[HEAD_LINGERING].queue,
                   (int64_t)HEAD_LINGER_SECS * LWS_US_PER_SEC, on_linger_over);
  for (int queue = HEAD_READING; queue <= HEAD_LINGERING; queue++)
    server->head_timers[queue].server = server;
  server->protocols[1] = (struct lws_protocols){
      .name = HEAD_GUARD_PROTOCOL,
      .callback = head_guard_callback,
      .per_session_data_size = sizeof(head_conn_t),
  };
  /* Only lws's errors, or more when debugging, as our JSON lines. */
  lws_set_log_level(chat_log_enabled(CHAT_LOG_DEBUG) ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR,
                    chat_sio_lws_log);
  memset(&info, 0, sizeof info);
  /* lws does not listen: the head guard does (above). */
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  info.protocols = server->protocols;
  info.user = server;
  info.timeout_secs = 60; /* long polls are answered by a ping well before */
  info.max_http_header_data = HTTP_HEADER_BUFFER;
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  server->context = lws_create_context(&info);
  server->vhost = server->context ? lws_get_vhost_by_name(server->context, "default") : NULL;
  if (!server->vhost) {
    snprintf(errbuf, errbuf_len, "socket.io: cannot create the libwebsockets context");
    lws_context_destroy(server->context);
    free(server);
    return CHAT_ERR_IO;
  }
  chat_err_t err = head_guard_listen(server, opts->listen_addr, opts->port, errbuf, errbuf_len);
  if (err != CHAT_OK) {
    lws_context_destroy(server->context);
    free(server);
    return err;
  }
  *out = server;
  return CHAT_OK;
}

bool chat_sio_server_service(chat_sio_server_t *server, int timeout_ms) {
  return lws_service(server->context, timeout_ms) >= 0;
}

void chat_sio_server_wake(chat_sio_server_t *server) { lws_cancel_service(server->context); }

static void deferred_unlink(deferred_call_t *call) {
  if (call->prev)
    call->prev->next = call->next;
  else
    call->server->deferred = call->next;
  if (call->next)
    call->next->prev = call->prev;
}

static void on_deferred_due(lws_sorted_usec_list_t *sul) {
  deferred_call_t *call = lws_container_of(sul, deferred_call_t, sul);
  deferred_unlink(call);
  call->fn(call->arg);
  free(call);
}

chat_err_t chat_sio_server_post(chat_sio_server_t *server, void (*fn)(void *arg), void *arg) {
  posted_call_t *call = calloc(1, sizeof *call);
  if (!call)
    return CHAT_ERR_NOMEM;
  call->fn = fn;
  call->arg = arg;
  pthread_mutex_lock(&server->posted_lock);
  bool loop_woken = server->posted_head != NULL;
  if (server->posted_tail)
    server->posted_tail->next = call;
  else
    server->posted_head = call;
  server->posted_tail = call;
  pthread_mutex_unlock(&server->posted_lock);
  /* One wake-up for all the calls posted before the loop takes them
   * (run_posted() takes the whole list): a burst of broadcast records or
   * delivery reports costs the loop one poll() over its sockets, not one
   * each. */
  if (!loop_woken)
    lws_cancel_service(server->context); /* LWS_CALLBACK_EVENT_WAIT_CANCELLED runs them */
  return CHAT_OK;
}

bool chat_sio_http_respond(chat_sio_server_t *server, uint64_t request_id, int status,
                           const char *json_body) {
  if (!server)
    return false; /* destroyed: nobody left to answer */
  for (wsi_state_t *state = server->pending_requests; state; state = state->next_pending) {
    if (state->request_id != request_id)
      continue;
    pending_unlink(server, state);
    state->json_reply = true;
    engine_metrics_http(state->method[0] ? state->method : "OTHER", state->route, status,
                        (double)(lws_now_usecs() - state->arrived_us) / LWS_US_PER_SEC);
    http_answer(state->wsi, status, bson_string_new(json_body));
    return true;
  }
  return false; /* the client went away meanwhile */
}

void chat_sio_http_route(chat_sio_server_t *server, uint64_t request_id, const char *route) {
  for (wsi_state_t *state = server->pending_requests; state; state = state->next_pending) {
    if (state->request_id == request_id) {
      state->route = route;
      return;
    }
  }
}

chat_err_t chat_sio_server_call_later(chat_sio_server_t *server, int delay_ms,
                                      void (*fn)(void *arg), void *arg) {
  deferred_call_t *call = calloc(1, sizeof *call);
  if (!call)
    return CHAT_ERR_NOMEM;
  call->server = server;
  call->fn = fn;
  call->arg = arg;
  call->next = server->deferred;
  if (server->deferred)
    server->deferred->prev = call;
  server->deferred = call;
  lws_sul_schedule(server->context, 0, &call->sul, on_deferred_due,
                   (lws_usec_t)delay_ms * LWS_US_PER_MS);
  return CHAT_OK;
}

void chat_sio_server_destroy(chat_sio_server_t **server_ptr) {
  chat_sio_server_t *server = server_ptr ? *server_ptr : NULL;
  if (!server)
    return;
  while (server->deferred) {
    deferred_call_t *call = server->deferred;
    lws_sul_cancel(&call->sul);
    deferred_unlink(call);
    free(call);
  }
  eio_engine_close_all(&server->engine, "server shutting down");
  for (int kind = 0; kind < EIO_TIMER_KINDS; kind++)
    lws_sul_cancel(&server->timers[kind].wake);
  lws_sul_cancel(&server->accept_resume);
  for (int queue = HEAD_READING; queue <= HEAD_LINGERING; queue++)
    lws_sul_cancel(&server->head_timers[queue].wake);
  lws_context_destroy(server->context);
  run_posted(server); /* frees what was posted and never ran */
  pthread_mutex_destroy(&server->posted_lock);
  free(server);
  *server_ptr = NULL;
}

bool chat_sio_query_arg(const char *query, const char *name, char *out, size_t out_len) {
  return chat_query_get(query, name, out, out_len) == CHAT_QUERY_FOUND;
}

bool chat_sio_socket_query_arg(const chat_sio_socket_t *socket, const char *name, char *out,
                               size_t out_len) {
  return chat_sio_query_arg(eio_socket_handshake_query(socket), name, out, out_len);
}

