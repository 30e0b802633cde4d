/* The floor under the gateway: a bare libwebsockets server that echoes
 * every WebSocket text message, with the gateway's 512-byte receive
 * buffer. What it costs per idle connection and per echoed message is
 * what libwebsockets itself costs here; everything the gateway spends
 * above it is ours.
 *   lws_echo PORT      (listens on 127.0.0.1 until SIGTERM or SIGINT) */
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define RX_BUFFER 512    /* as the gateway's WS_RX_BUFFER */
#define MESSAGE_MAX 4096 /* longest message echoed; longer ones close the connection */

typedef struct echo_out {
  struct echo_out *next;
  size_t len;
  unsigned char data[]; /* LWS_PRE bytes of room, then the message */
} echo_out_t;

typedef struct session {
  echo_out_t *head, *tail; /* messages waiting to be echoed */
  unsigned char *rx;       /* a message arriving in fragments */
  size_t rx_len;
} session_t;

static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static int queue_echo(struct lws *wsi, session_t *s, const void *data, size_t len) {
  echo_out_t *out = malloc(sizeof *out + LWS_PRE + len);
  if (!out)
    return -1;
  out->next = NULL;
  out->len = len;
  memcpy(out->data + LWS_PRE, data, len);
  if (s->tail)
    s->tail->next = out;
  else
    s->head = out;
  s->tail = out;
  lws_callback_on_writable(wsi);
  return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  session_t *s = user;
  switch (reason) {
  case LWS_CALLBACK_RECEIVE:
    if (lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi))
      return queue_echo(wsi, s, in, len); /* the usual case: no copy to assemble */
    if (s->rx_len + len > MESSAGE_MAX)
      return -1;
    if (!s->rx && !(s->rx = malloc(MESSAGE_MAX)))
      return -1;
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (lws_is_final_fragment(wsi)) {
      int rc = queue_echo(wsi, s, s->rx, s->rx_len);
      free(s->rx); /* idle connections hold no buffer */
      s->rx = NULL;
      s->rx_len = 0;
      return rc;
    }
    break;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    while (s->head && !lws_send_pipe_choked(wsi)) {
      echo_out_t *out = s->head;
      if (lws_write(wsi, out->data + LWS_PRE, out->len, LWS_WRITE_TEXT) < (int)out->len)
        return -1;
      s->head = out->next;
      if (!s->head)
        s->tail = NULL;
      free(out);
    }
    if (s->head)
      lws_callback_on_writable(wsi);
    break;
  case LWS_CALLBACK_CLOSED:
    while (s->head) {
      echo_out_t *out = s->head;
      s->head = out->next;
      free(out);
    }
    free(s->rx);
    break;
  default:
    break;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: lws_echo PORT\n");
    return 2;
  }
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  static const struct lws_protocols protocols[] = {
      {"echo", callback, sizeof(session_t), RX_BUFFER, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = atoi(argv[1]);
  info.iface = "127.0.0.1";
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  lws_set_log_level(LLL_ERR, NULL);
  struct lws_context *context = lws_create_context(&info);
  if (!context) {
    fprintf(stderr, "lws_echo: cannot listen on 127.0.0.1:%s\n", argv[1]);
    return 1;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  while (!stopping && lws_service(context, 0) >= 0)
    ;
  lws_context_destroy(context);
  return 0;
}
