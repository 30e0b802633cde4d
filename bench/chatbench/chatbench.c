/* chatbench: a load generator that speaks Socket.IO v5 over WebSocket
 * (libwebsockets client), for the chat backend and for any server with
 * seed 004's events (the Node peer in bench/peers/).
 *
 *   chatbench idle   --gateways H:P[,H:P..] --secret S --connections N [--hold SEC]
 *   chatbench pair   --gateways A,B --users FILE --rate R --duration SEC
 *   chatbench fanout --gateways A[,B..] --rooms FILE --rate R --duration SEC [--senders K]
 *                    [--ready-timeout SEC]
 *   chatbench echo   --gateways H:P --connections N --rate R --duration SEC
 *
 * idle opens N authenticated connections (tokens minted with the HS256
 * secret for made-up user ids) spread over the gateways and holds them.
 * pair reads "senderId senderToken receiverId receiverToken" lines: each
 * sender, on the first gateway, sends to its receiver, on the second, at
 * --rate messages per second. fanout reads "conversationId token token.."
 * lines: the first --senders members of each room (default 1) send to it
 * at --rate each, everyone else receives; "expected" in the report counts
 * the deliveries the receivers are owed for the sends of the window, so
 * that a share delivered can be told for rooms too. A gateway puts a
 * socket into its rooms only when its membership lookup answers, seconds
 * after the connect under a connect storm, and a room's messages before
 * that do not reach it; so fanout waits, between the connect phase and the
 * warm-up, until every connected receiver has heard its room: each room's
 * first connected sender sends it a probe (an ordinary message) every
 * 200 ms until a message of that room has reached each of its receivers,
 * for at most --ready-timeout seconds (default 15; 0: no barrier).
 * Probes are due before the warm-up, so they are not in sent or expected
 * and their acks and deliveries are neither counted nor timed (nor in
 * persisted_busy_per_s; a refused one is still an error). stderr says
 * "rooms ready: R of N receivers in S s"; the report adds
 * receivers_not_ready (connected receivers that had heard nothing when
 * the warm-up began) and ready_s (the barrier's length). Then it waits,
 * within the same timeout, until no connection has received anything for
 * 1 s (the connect storm's presence frames: "quiet after S s more (N
 * frames meanwhile)", quiet_s in the report). All three are null with
 * --ready-timeout 0. echo is the floor
 * under all of them: plain WebSockets (no Engine.IO) to
 * bench/floors/lws_echo, each sending at --rate and
 * timing the echo; idle --raw 1 holds plain WebSockets the same way.
 * --user-offset K starts idle's made-up users at K, so that several
 * processes hold different users.
 *
 * Pacing is open-loop: message k of a sender is due at
 * start + k / rate whether or not earlier ones were answered, and every
 * latency is measured from that due time, so a stall shows up in the
 * percentiles instead of slowing the load (no coordinated omission).
 *
 * Connections open at --connect-rate per second with at most
 * --connect-window handshakes under way (default 256); one lost before its
 * handshake is opened again after a second, up to 3 times, and counted in
 * connect_retries. The connect phase prints its progress every 2 s.
 *
 * Every run is bounded: --connections, --duration and --hold have
 * ceilings, and the tool stops after --deadline seconds whatever happens.
 * --source-ips spreads connections over several local addresses
 * (127.0.0.0/8), past the ephemeral-port limit of one; run several
 * processes to pass the per-process open-file limit. The report is one
 * JSON line (--json) or a short table. */
#include <errno.h>
#include <libwebsockets.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "chat/jwt.h"

#define CONNECTIONS_MAX 60000
#define DURATION_MAX 600
#define FRAME_MAX 4096
#define OUTBOX_MAX 64 /* frames waiting per connection */
#define SAMPLES_MAX 4000000
#define CONNECT_RETRIES 3 /* a connection lost before its handshake is opened again */
#define PROBE_INTERVAL_US 200000u /* fanout's barrier: a probe to each room this often */
#define QUIET_US 1000000u         /* fanout: then no frame for this long before the warm-up */

typedef enum role { ROLE_IDLE, ROLE_SENDER, ROLE_RECEIVER } role_t;

typedef struct outgoing {
  char *text;
  size_t len;
} outgoing_t;

typedef struct conn {
  struct lws *wsi;
  role_t role;
  int gateway;
  char token[CHAT_JWT_TOKEN_MAX + 1];
  char peer[25];     /* a sender's receiver id, or room conversation id */
  bool to_room;      /* fanout: send by conversationId */
  bool awaited;      /* fanout's barrier waits for a message of its room to reach it */
  uint32_t room;     /* fanout: its line in --rooms */
  uint32_t audience; /* receivers owed each of this sender's messages */
  bool open, connected, failed;
  bool was_open;    /* the WebSocket handshake was done once */
  bool retrying;    /* lost before its handshake: opened again at retry_at_us */
  uint8_t attempts; /* connection attempts after the first */
  uint64_t retry_at_us;
  /* sender state */
  uint64_t next_due_us, sent;
  uint32_t next_ack;
  outgoing_t outbox[OUTBOX_MAX];
  size_t out_head, out_count;
  char rx[FRAME_MAX * 4];
  size_t rx_len;
} conn_t;

/* fanout: one line of --rooms, for the readiness barrier */
typedef struct room {
  char conversation[25];
  size_t first, count; /* its members in conns[] */
  size_t prober;       /* the connected sender that sends its probes, or SIZE_MAX */
  size_t waiting;      /* connected receivers no message of the room has reached yet */
  uint64_t next_probe_us;
} room_t;

typedef struct samples {
  uint32_t *us; /* latency in microseconds */
  size_t count;
} samples_t;

static struct {
  const char *scenario;
  char *gateways[16];
  int gateway_ports[16];
  size_t gateway_count;
  char *source_ips[32];
  size_t source_count;
  const char *secret, *users_file, *rooms_file;
  long connections, hold_s, duration_s, deadline_s, connect_rate, connect_window;
  long senders; /* fanout: members of each room that send */
  long ready_timeout_s; /* fanout: the longest wait for receivers to be in their rooms */
  double rate;
  bool json;
  bool raw;         /* plain WebSockets, no Engine.IO (echo, idle --raw 1) */
  long user_offset; /* idle: the first made-up user's number */
  /* run state */
  conn_t *conns;
  size_t conn_count, next_to_open;
  struct lws_context *context;
  lws_sorted_usec_list_t tick; /* every millisecond: open what is due, send what is due */
  bool sending;
  uint64_t start_us, measure_from_us, measure_until_us;
  uint64_t send_from_us; /* the first due time of the warm-up: probes are due before it */
  /* fanout's readiness barrier: probes go out while probing */
  room_t *rooms;
  size_t room_count;
  bool probing, barrier; /* the barrier is waiting; it ran */
  uint64_t receivers_connected, receivers_ready, receivers_waiting;
  double ready_s; /* how long the barrier took */
  double quiet_s; /* then how long until no frame came for QUIET_US */
  volatile sig_atomic_t stop;
  /* counters over the measured window */
  uint64_t sent, accepted, persisted, delivered, errors, connect_errors, connected;
  /* errors by kind: the outbox was full (the frame was dropped), a send's
   * ack said ok:false, a message_ack said rejected, a frame overflowed rx */
  uint64_t errors_outbox, errors_refused, errors_rejected, errors_rx;
  uint64_t expected; /* deliveries owed for the window's sends (fanout: room receivers) */
  /* Every persisted ack, warm-up and late ones included: how fast the
   * store side went while it was busy, whatever the window saw. */
  uint64_t persisted_all, persisted_first_us, persisted_last_us;
  uint64_t ws_open; /* handshakes done, once per connection at most (only those never
                       open are retried); connected counts namespaces */
  uint64_t lost;    /* connections given up before their handshake */
  uint64_t retries; /* connections opened again after a loss before the handshake */
  size_t retry_pending;
  double connect_s;          /* how long the connect phase took */
  uint64_t next_progress_us; /* when the connect phase prints its progress next */
  uint64_t last_rx_us;       /* when any connection last received a frame */
  uint64_t frames_rx;        /* frames received by all connections */
  samples_t accepted_lat, persisted_lat, delivered_lat;
  /* pending sends: due time by (connection, ack id) and by client message id */
} bench;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double seconds(uint64_t us) { return (double)us / 1e6; }

/* Records one answer to a message due at due_us; false (not counted) when
 * that message was sent in the warm-up or after the measured window. */
static bool sample(samples_t *s, uint64_t due_us, uint64_t at_us) {
  if (due_us < bench.measure_from_us || due_us >= bench.measure_until_us)
    return false;
  if (!s->us)
    s->us = malloc(SAMPLES_MAX * sizeof *s->us);
  if (s->us && s->count < SAMPLES_MAX)
    s->us[s->count++] =
        (uint32_t)(at_us > due_us ? (at_us - due_us > UINT32_MAX ? UINT32_MAX : at_us - due_us)
                                  : 0);
  return true;
}

static int compare_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static double percentile_ms(samples_t *s, double p) {
  if (s->count == 0)
    return NAN;
  size_t i = (size_t)ceil(p / 100.0 * (double)s->count);
  if (i > 0)
    i--;
  if (i >= s->count)
    i = s->count - 1;
  return s->us[i] / 1000.0;
}

/* ---- frames ---- */

static void queue_frame(conn_t *c, const char *text, size_t len) {
  if (c->out_count == OUTBOX_MAX) {
    bench.errors++; /* the connection cannot keep up: counted, dropped */
    bench.errors_outbox++;
    return;
  }
  outgoing_t *o = &c->outbox[(c->out_head + c->out_count++) % OUTBOX_MAX];
  o->text = malloc(LWS_PRE + len);
  if (!o->text) {
    c->out_count--;
    return;
  }
  memcpy(o->text + LWS_PRE, text, len);
  o->len = len;
  lws_callback_on_writable(c->wsi);
}

/* The number after key":, or -1. */
static long long number_after(const char *text, const char *key) {
  const char *p = strstr(text, key);
  return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* The due time (us) carried in content "b:<due_us>:<n>", or 0. */
static uint64_t due_in_content(const char *text) {
  const char *p = strstr(text, "\"content\":\"b:");
  return p ? strtoull(p + 13, NULL, 10) : 0;
}

/* fanout: a message reached receiver c while the barrier waits; it counts
 * when it is one of c's room (a user in several rooms hears them all). */
static void room_heard(conn_t *c, const char *text) {
  room_t *r = &bench.rooms[c->room];
  char key[48];
  snprintf(key, sizeof key, "\"conversationId\":\"%s\"", r->conversation);
  if (!strstr(text, key))
    return;
  c->awaited = false;
  bench.receivers_ready++;
  bench.receivers_waiting--;
  r->waiting--;
}

static void on_text(conn_t *c, char *text, size_t len) {
  text[len] = '\0';
  uint64_t at = now_us();
  bench.last_rx_us = at;
  bench.frames_rx++;
  if (bench.raw) { /* an echo of "e:<due_us>" */
    if (strncmp(text, "e:", 2) == 0 &&
        sample(&bench.delivered_lat, strtoull(text + 2, NULL, 10), at))
      bench.delivered++;
    return;
  }
  if (text[0] == '2' && len == 1) { /* Engine.IO ping */
    queue_frame(c, "3", 1);
    return;
  }
  if (text[0] == '0') { /* Engine.IO open: connect the namespace with the token */
    char frame[CHAT_JWT_TOKEN_MAX + 32];
    int n = snprintf(frame, sizeof frame, "40{\"token\":\"%s\"}", c->token);
    queue_frame(c, frame, (size_t)n);
    return;
  }
  if (strncmp(text, "40", 2) == 0) {
    if (!c->connected) {
      c->connected = true;
      bench.connected++;
    }
    return;
  }
  if (strncmp(text, "44", 2) == 0) { /* CONNECT_ERROR */
    c->failed = true;
    bench.connect_errors++;
    fprintf(stderr, "connect refused: %s\n", text + 2);
    return;
  }
  if (strncmp(text, "43", 2) == 0) { /* ack of a send: "accepted" */
    /* 43<ackid>[{"ok":true,"clientMsgId":"b:<due>:<n>",...}] */
    const char *id = strstr(text, "\"clientMsgId\":\"b:");
    if (strstr(text, "\"ok\":false") || !id) {
      bench.errors++;
      bench.errors_refused++;
      if (bench.errors_refused <= 3)
        fprintf(stderr, "send refused: %.300s\n", text);
      return;
    }
    bench.accepted += sample(&bench.accepted_lat, strtoull(id + 17, NULL, 10), at);
    return;
  }
  if (strncmp(text, "42", 2) != 0)
    return;
  if (strncmp(text, "42[\"message_ack\"", 16) == 0) {
    const char *id = strstr(text, "\"clientMsgId\":\"b:");
    if (id && strstr(text, "\"status\":\"persisted\"")) {
      uint64_t due = strtoull(id + 17, NULL, 10);
      bench.persisted += sample(&bench.persisted_lat, due, at);
      if (bench.sending && due >= bench.send_from_us) { /* fanout's probes left out */
        if (bench.persisted_all++ == 0)
          bench.persisted_first_us = at;
        bench.persisted_last_us = at;
      }
    } else if (strstr(text, "\"status\":\"rejected\"")) {
      bench.errors++;
      bench.errors_rejected++;
      if (bench.errors_rejected <= 3)
        fprintf(stderr, "send rejected: %.300s\n", text);
    }
    return;
  }
  if (strncmp(text, "42[\"new_message\"", 16) == 0 ||
      strncmp(text, "42[\"message_notification\"", 25) == 0) {
    uint64_t due = due_in_content(text);
    if (due && c->role == ROLE_RECEIVER) {
      /* A probe is due before the warm-up, so before measure_from_us:
       * sample() leaves it out of delivered and of the latencies. */
      bench.delivered += sample(&bench.delivered_lat, due, at);
    }
    if (c->awaited && bench.probing)
      room_heard(c, text);
    /* The peer (Node) acks by persisting: its new_message to the sender
     * counts as its persisted ack. */
    return;
  }
  (void)number_after;
}

/* Queues one message of sender c, due at due_us. */
static void send_one(conn_t *c, uint64_t due) {
  char frame[512];
  int n = bench.raw ? snprintf(frame, sizeof frame, "e:%llu", (unsigned long long)due)
                    : snprintf(frame, sizeof frame,
                               "42%u[\"send_message\",{\"%s\":\"%s\",\"content\":\"b:%llu:%llu\","
                               "\"clientMsgId\":\"b:%llu:%llu\"}]",
                               c->next_ack++, c->to_room ? "conversationId" : "receiverId",
                               c->peer, (unsigned long long)due, (unsigned long long)c->sent,
                               (unsigned long long)due, (unsigned long long)c->sent);
  queue_frame(c, frame, (size_t)n);
  c->sent++;
}

/* fanout's barrier: a probe every PROBE_INTERVAL_US to each room some
 * connected receiver of which has not heard the room yet. Probes are
 * messages like the others, due now, before the warm-up: outside the
 * window, not in sent or expected. */
static void probe(uint64_t now) {
  for (size_t i = 0; i < bench.room_count; i++) {
    room_t *r = &bench.rooms[i];
    if (!r->waiting || now < r->next_probe_us)
      continue;
    r->next_probe_us = now + PROBE_INTERVAL_US;
    /* The room's first sender, or the next one while it is not connected. */
    if (r->prober == SIZE_MAX || !bench.conns[r->prober].connected) {
      r->prober = SIZE_MAX;
      for (size_t j = r->first; j < r->first + r->count && r->prober == SIZE_MAX; j++)
        if (bench.conns[j].role == ROLE_SENDER && bench.conns[j].connected && bench.conns[j].wsi)
          r->prober = j;
    }
    if (r->prober != SIZE_MAX)
      send_one(&bench.conns[r->prober], now);
  }
}

/* Queues the sends that are due. */
static void pace(conn_t *c, uint64_t now) {
  if (c->role != ROLE_SENDER || !c->connected || bench.rate <= 0)
    return;
  uint64_t interval = (uint64_t)(1e6 / bench.rate);
  while (c->next_due_us <= now && c->next_due_us < bench.measure_until_us + 1000000u) {
    uint64_t due = c->next_due_us;
    send_one(c, due);
    if (due >= bench.measure_from_us && due < bench.measure_until_us) {
      bench.sent++;
      bench.expected += c->audience;
    }
    c->next_due_us += interval;
  }
}

/* A connection that never became a WebSocket: opened again after a
 * second, up to CONNECT_RETRIES times (as a client would), then failed. */
static void lost_before_handshake(conn_t *c, const char *why) {
  if (c->was_open || c->failed || c->retrying)
    return;
  if (c->attempts < CONNECT_RETRIES) {
    c->retrying = true;
    c->retry_at_us = now_us() + 1000000u;
    bench.retry_pending++;
    bench.retries++;
    return;
  }
  c->failed = true;
  bench.connect_errors++;
  bench.lost++;
  if (bench.connect_errors <= 5)
    fprintf(stderr, "connection failed after %d attempts: %s\n", c->attempts + 1, why);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  conn_t *c = (conn_t *)lws_get_opaque_user_data(wsi);
  (void)user;
  switch (reason) {
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    c->open = c->was_open = true;
    bench.ws_open++;
    if (bench.raw) { /* no namespace to connect */
      c->connected = true;
      bench.connected++;
    }
    break;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    c->wsi = NULL;
    lost_before_handshake(c, in ? (const char *)in : "connection error");
    break;
  case LWS_CALLBACK_WSI_DESTROY:
    /* Some losses before the handshake (a reset while the request is
     * sent) come with no CONNECTION_ERROR. */
    if (c)
      lost_before_handshake(c, "closed before the WebSocket handshake");
    break;
  case LWS_CALLBACK_CLIENT_CLOSED:
    if (c) {
      c->wsi = NULL;
      c->open = false;
      if (c->connected)
        bench.connected--;
      c->connected = false;
      if (c->awaited) { /* lost while the barrier waited for it: no longer waited for */
        c->awaited = false;
        bench.receivers_waiting--;
        bench.rooms[c->room].waiting--;
      }
    }
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    if (c->rx_len + len >= sizeof c->rx) {
      c->rx_len = 0;
      bench.errors++;
      bench.errors_rx++;
      break;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (lws_is_final_fragment(wsi)) {
      on_text(c, c->rx, c->rx_len);
      c->rx_len = 0;
    }
    break;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    /* Several frames a turn while the socket takes them: one hot sender
     * queues a few every millisecond, and one frame per WRITEABLE would
     * make the generator the limit. */
    while (c->out_count) {
      outgoing_t *o = &c->outbox[c->out_head];
      int n = lws_write(wsi, (unsigned char *)o->text + LWS_PRE, o->len, LWS_WRITE_TEXT);
      free(o->text);
      c->out_head = (c->out_head + 1) % OUTBOX_MAX;
      c->out_count--;
      if (n < 0)
        return -1;
      if (lws_send_pipe_choked(wsi))
        break;
    }
    if (c->out_count)
      lws_callback_on_writable(wsi);
    break;
  default:
    break;
  }
  return 0;
}

static const struct lws_protocols protocols[] = {{"chatbench", callback, 0, FRAME_MAX, 0, NULL, 0},
                                                 {NULL, NULL, 0, 0, 0, NULL, 0}};

static void open_conn(size_t i) {
  conn_t *c = &bench.conns[i];
  struct lws_client_connect_info info = {0};
  info.context = bench.context;
  info.address = bench.gateways[c->gateway];
  info.port = bench.gateway_ports[c->gateway];
  info.path = bench.raw ? "/" : "/socket.io/?EIO=4&transport=websocket";
  info.host = info.address;
  info.origin = info.address;
  info.protocol = NULL;
  info.local_protocol_name = "chatbench";
  info.ietf_version_or_minus_one = -1;
  info.opaque_user_data = c;
  info.pwsi = &c->wsi;
  if (bench.source_count)
    info.iface = bench.source_ips[i % bench.source_count];
  if (!lws_client_connect_via_info(&info) && !c->failed && !c->retrying) {
    bench.connect_errors++;
    bench.lost++;
    c->failed = true;
  }
}

/* ---- set-up ---- */

static void parse_gateways(char *list) {
  for (char *save = NULL, *item = strtok_r(list, ",", &save); item && bench.gateway_count < 16;
       item = strtok_r(NULL, ",", &save)) {
    char *colon = strrchr(item, ':');
    bench.gateway_ports[bench.gateway_count] = colon ? atoi(colon + 1) : 3000;
    if (colon)
      *colon = '\0';
    bench.gateways[bench.gateway_count++] = item;
  }
}

static void parse_ips(char *list) {
  for (char *save = NULL, *item = strtok_r(list, ",", &save); item && bench.source_count < 32;
       item = strtok_r(NULL, ",", &save))
    bench.source_ips[bench.source_count++] = item;
}

static conn_t *add_conn(role_t role, int gateway, const char *token) {
  if (bench.conn_count == CONNECTIONS_MAX)
    return NULL;
  conn_t *c = &bench.conns[bench.conn_count++];
  c->role = role;
  c->gateway = gateway % (int)bench.gateway_count;
  snprintf(c->token, sizeof c->token, "%s", token);
  return c;
}

static int load_idle(void) {
  char id[25], *token;
  for (long i = 0; i < bench.connections; i++) {
    snprintf(id, sizeof id, "%08x%016llx", 0xbe0cu, (unsigned long long)(i + bench.user_offset));
    if (chat_jwt_sign(bench.secret, id, (int64_t)time(NULL), 3600, &token) != CHAT_OK) {
      fprintf(stderr, "cannot sign a token with that secret\n");
      return -1;
    }
    add_conn(ROLE_IDLE, (int)i, token);
    free(token);
  }
  return 0;
}

/* Plain WebSockets (--raw): no token; senders for echo, idle for idle. */
static int load_raw(role_t role) {
  for (long i = 0; i < bench.connections; i++)
    add_conn(role, (int)i, "");
  return 0;
}

static int load_pairs(void) {
  FILE *f = fopen(bench.users_file, "r");
  if (!f) {
    perror(bench.users_file);
    return -1;
  }
  char sender[64], sender_token[CHAT_JWT_TOKEN_MAX + 1], receiver[64],
      receiver_token[CHAT_JWT_TOKEN_MAX + 1];
  while (fscanf(f, "%63s %1023s %63s %1023s", sender, sender_token, receiver, receiver_token) ==
         4) {
    conn_t *s = add_conn(ROLE_SENDER, 0, sender_token);
    conn_t *r = add_conn(ROLE_RECEIVER, 1, receiver_token);
    if (!s || !r)
      break;
    s->audience = 1;
    snprintf(s->peer, sizeof s->peer, "%.24s", receiver);
  }
  fclose(f);
  return 0;
}

static int load_rooms(void) {
  FILE *f = fopen(bench.rooms_file, "r");
  if (!f) {
    perror(bench.rooms_file);
    return -1;
  }
  char line[1 << 20];
  int room = 0;
  while (fgets(line, sizeof line, f)) {
    char *save = NULL, *conversation = strtok_r(line, " \n", &save);
    if (!conversation)
      continue;
    size_t first = bench.conn_count;
    long member = 0;
    if (bench.room_count % 1024 == 0) {
      room_t *grown = realloc(bench.rooms, (bench.room_count + 1024) * sizeof *grown);
      if (!grown) {
        fclose(f);
        return -1;
      }
      bench.rooms = grown;
    }
    room_t *r = &bench.rooms[bench.room_count++];
    memset(r, 0, sizeof *r);
    snprintf(r->conversation, sizeof r->conversation, "%.24s", conversation);
    r->first = first;
    r->prober = SIZE_MAX;
    for (char *token = strtok_r(NULL, " \n", &save); token; token = strtok_r(NULL, " \n", &save)) {
      /* Members alternate over the gateways, so that a room spans them. */
      conn_t *c = add_conn(member < bench.senders ? ROLE_SENDER : ROLE_RECEIVER,
                           room + (int)member, token);
      if (!c)
        break;
      c->room = (uint32_t)room;
      if (member < bench.senders) {
        snprintf(c->peer, sizeof c->peer, "%s", conversation);
        c->to_room = true;
      }
      member++;
    }
    uint32_t receivers = member > bench.senders ? (uint32_t)(member - bench.senders) : 0;
    for (size_t i = first; i < bench.conn_count; i++)
      if (bench.conns[i].role == ROLE_SENDER)
        bench.conns[i].audience = receivers;
    r->count = bench.conn_count - first;
    room++;
  }
  fclose(f);
  return 0;
}

static void tick(lws_sorted_usec_list_t *sul) {
  uint64_t now = now_us();
  size_t allowed = (size_t)(seconds(now - bench.start_us) * (double)bench.connect_rate) + 1;
  /* At most --connect-window handshakes at once: each pending one holds a
   * timer in libwebsockets' sorted list (O(pending) per insertion, here
   * and in the server), which made 20,000 at once take a minute. */
  while (bench.next_to_open < bench.conn_count && bench.next_to_open < allowed &&
         bench.next_to_open - bench.ws_open - bench.lost - bench.retry_pending <
             (size_t)bench.connect_window)
    open_conn(bench.next_to_open++);
  for (size_t i = 0; bench.retry_pending && i < bench.next_to_open; i++) {
    conn_t *c = &bench.conns[i];
    if (c->retrying && now >= c->retry_at_us) {
      c->retrying = false;
      c->attempts++;
      bench.retry_pending--;
      open_conn(i);
    }
  }
  for (size_t i = 0; bench.sending && i < bench.conn_count; i++)
    pace(&bench.conns[i], now);
  if (bench.probing)
    probe(now);
  if (bench.probing && now >= bench.next_progress_us) {
    bench.next_progress_us = now + 2000000u;
    fprintf(stderr, "%.1f s: %llu of %llu receivers in their rooms\n",
            seconds(now - bench.start_us), (unsigned long long)bench.receivers_ready,
            (unsigned long long)bench.receivers_connected);
  } else if (!bench.sending && now >= bench.next_progress_us) {
    bench.next_progress_us = now + 2000000u;
    fprintf(stderr,
            "%.1f s: %zu opened, %llu WebSockets, %llu connected, %llu retried, %llu failed\n",
            seconds(now - bench.start_us), bench.next_to_open, (unsigned long long)bench.ws_open,
            (unsigned long long)bench.connected, (unsigned long long)bench.retries,
            (unsigned long long)bench.connect_errors);
  }
  /* Sending paces every millisecond; connecting and holding need less, and
   * each turn of the loop polls every descriptor. */
  lws_sul_schedule(bench.context, 0, sul, tick, bench.sending ? 1000 : 10000);
}

static void on_signal(int sig) {
  (void)sig;
  bench.stop = 1;
}

static void report(double elapsed_s) {
  double window = seconds(bench.measure_until_us - bench.measure_from_us);
  samples_t *all[] = {&bench.accepted_lat, &bench.persisted_lat, &bench.delivered_lat};
  for (size_t i = 0; i < 3; i++) {
    if (all[i]->count)
      qsort(all[i]->us, all[i]->count, sizeof *all[i]->us, compare_u32);
  }
  const char *names[] = {"accepted", "persisted", "delivered"};
  if (bench.json) {
    printf("{\"scenario\":\"%s\",\"connections\":%zu,\"connected\":%llu,\"connect_errors\":%llu,"
           "\"connect_retries\":%llu,\"connect_s\":%.1f,\"errors\":%llu,\"window_s\":%.1f,\"sent\":"
           "%llu,\"accepted\":%llu,\"persisted\":%llu,"
           "\"delivered\":%llu,\"expected\":%llu",
           bench.scenario, bench.conn_count, (unsigned long long)bench.connected,
           (unsigned long long)bench.connect_errors, (unsigned long long)bench.retries,
           bench.connect_s, (unsigned long long)bench.errors, window,
           (unsigned long long)bench.sent, (unsigned long long)bench.accepted,
           (unsigned long long)bench.persisted, (unsigned long long)bench.delivered,
           (unsigned long long)bench.expected);
    for (size_t i = 0; i < 3; i++) {
      if (all[i]->count == 0) { /* JSON has no NaN */
        printf(",\"%s_ms\":{\"n\":0,\"p50\":null,\"p90\":null,\"p99\":null,\"p999\":null}",
               names[i]);
        continue;
      }
      printf(",\"%s_ms\":{\"n\":%zu,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f}",
             names[i], all[i]->count, percentile_ms(all[i], 50), percentile_ms(all[i], 90),
             percentile_ms(all[i], 99), percentile_ms(all[i], 99.9));
    }
    /* Persisted acks a second between the first and the last: under a
     * load persistence cannot keep up with, its throughput. */
    if (bench.persisted_all > 1 && bench.persisted_last_us > bench.persisted_first_us)
      printf(",\"persisted_busy_per_s\":%.0f",
             (double)(bench.persisted_all - 1) /
                 seconds(bench.persisted_last_us - bench.persisted_first_us));
    printf(",\"errors_by_kind\":{\"outbox_full\":%llu,\"refused\":%llu,\"rejected\":%llu,"
           "\"rx_overflow\":%llu}",
           (unsigned long long)bench.errors_outbox, (unsigned long long)bench.errors_refused,
           (unsigned long long)bench.errors_rejected, (unsigned long long)bench.errors_rx);
    if (bench.barrier) /* fanout's readiness barrier (null: --ready-timeout 0) */
      printf(",\"receivers_not_ready\":%llu,\"ready_s\":%.1f,\"quiet_s\":%.1f",
             (unsigned long long)(bench.receivers_connected - bench.receivers_ready),
             bench.ready_s, bench.quiet_s);
    else if (!strcmp(bench.scenario, "fanout"))
      printf(",\"receivers_not_ready\":null,\"ready_s\":null,\"quiet_s\":null");
    printf(",\"elapsed_s\":%.1f}\n", elapsed_s);
    return;
  }
  printf("scenario %s: %zu connections, %llu connected, %llu connect errors, %llu errors\n",
         bench.scenario, bench.conn_count, (unsigned long long)bench.connected,
         (unsigned long long)bench.connect_errors, (unsigned long long)bench.errors);
  if (window > 0 && bench.sent) {
    printf("per second over %.0f s: sent %.0f, accepted %.0f, persisted %.0f, delivered %.0f\n",
           window, (double)bench.sent / window, (double)bench.accepted / window,
           (double)bench.persisted / window, (double)bench.delivered / window);
    for (size_t i = 0; i < 3; i++)
      printf("%-9s ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  (n=%zu)\n", names[i],
             percentile_ms(all[i], 50), percentile_ms(all[i], 90), percentile_ms(all[i], 99),
             percentile_ms(all[i], 99.9), all[i]->count);
  }
}

static long arg_long(const char *text, long min, long max, const char *name) {
  char *end;
  long v = strtol(text, &end, 10);
  if (*end || v < min || v > max) {
    fprintf(stderr, "%s must be from %ld to %ld\n", name, min, max);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: chatbench idle|pair|fanout [options] (see the source's head)\n");
    return 2;
  }
  bench.scenario = argv[1];
  bench.hold_s = 10;
  bench.duration_s = 10;
  bench.deadline_s = 900;
  bench.connect_rate = 2000;
  bench.connect_window = 256;
  bench.senders = 1;
  bench.ready_timeout_s = 15;
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *opt = argv[i], *val = argv[i + 1];
    if (!strcmp(opt, "--gateways"))
      parse_gateways(strdup(val));
    else if (!strcmp(opt, "--source-ips"))
      parse_ips(strdup(val));
    else if (!strcmp(opt, "--secret"))
      bench.secret = val;
    else if (!strcmp(opt, "--users"))
      bench.users_file = val;
    else if (!strcmp(opt, "--rooms"))
      bench.rooms_file = val;
    else if (!strcmp(opt, "--connections"))
      bench.connections = arg_long(val, 1, CONNECTIONS_MAX, opt);
    else if (!strcmp(opt, "--hold"))
      bench.hold_s = arg_long(val, 0, DURATION_MAX, opt);
    else if (!strcmp(opt, "--duration"))
      bench.duration_s = arg_long(val, 1, DURATION_MAX, opt);
    else if (!strcmp(opt, "--deadline"))
      bench.deadline_s = arg_long(val, 10, 3600, opt);
    else if (!strcmp(opt, "--connect-rate"))
      bench.connect_rate = arg_long(val, 1, 100000, opt);
    else if (!strcmp(opt, "--connect-window"))
      bench.connect_window = arg_long(val, 1, 100000, opt);
    else if (!strcmp(opt, "--senders"))
      bench.senders = arg_long(val, 1, 1000, opt);
    else if (!strcmp(opt, "--ready-timeout"))
      bench.ready_timeout_s = arg_long(val, 0, DURATION_MAX, opt);
    else if (!strcmp(opt, "--rate"))
      bench.rate = strtod(val, NULL);
    else if (!strcmp(opt, "--raw"))
      bench.raw = strcmp(val, "0") != 0;
    else if (!strcmp(opt, "--user-offset"))
      bench.user_offset = arg_long(val, 0, 1000000000L, opt);
    else if (!strcmp(opt, "--json"))
      bench.json = strcmp(val, "0") != 0;
    else {
      fprintf(stderr, "unknown option %s\n", opt);
      return 2;
    }
  }
  if (!bench.gateway_count) {
    fprintf(stderr, "--gateways is required\n");
    return 2;
  }
  /* Every descriptor the hard limit allows. */
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  bench.conns = calloc(CONNECTIONS_MAX, sizeof *bench.conns);
  if (!strcmp(bench.scenario, "echo"))
    bench.raw = true;
  int loaded = !strcmp(bench.scenario, "idle")   ? (bench.raw      ? load_raw(ROLE_IDLE)
                                                    : bench.secret ? load_idle()
                                                                   : -1)
               : !strcmp(bench.scenario, "echo") ? (bench.connections ? load_raw(ROLE_SENDER) : -1)
               : !strcmp(bench.scenario, "pair") ? (bench.users_file ? load_pairs() : -1)
               : !strcmp(bench.scenario, "fanout") ? (bench.rooms_file ? load_rooms() : -1)
                                                   : -1;
  if (loaded != 0 || bench.conn_count == 0) {
    fprintf(stderr, "nothing to run: idle needs --secret (or --raw 1) and --connections, pair "
                    "--users, fanout --rooms, echo --connections\n");
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  lws_set_log_level(LLL_ERR, NULL);
  struct lws_context_creation_info info = {0};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.fd_limit_per_thread = (unsigned int)(bench.conn_count + 64);
  bench.context = lws_create_context(&info);
  if (!bench.context) {
    fprintf(stderr, "cannot create the libwebsockets context\n");
    return 1;
  }
  bench.start_us = now_us();
  uint64_t deadline = bench.start_us + (uint64_t)bench.deadline_s * 1000000u;
  /* Phase 1: connect at --connect-rate until all are in (or failed). */
  lws_sul_schedule(bench.context, 0, &bench.tick, tick, 1000);
  while (!bench.stop && now_us() < deadline) {
    lws_service(bench.context, 0);
    if (bench.next_to_open == bench.conn_count &&
        bench.connected + bench.connect_errors >= bench.conn_count)
      break;
  }
  bench.connect_s = seconds(now_us() - bench.start_us);
  fprintf(stderr, "%llu of %zu connected in %.1f s\n", (unsigned long long)bench.connected,
          bench.conn_count, bench.connect_s);
  /* Phase 1b (fanout): the readiness barrier. A gateway puts a socket
   * into its rooms when its membership lookup answers, which can be
   * seconds after the connect under a connect storm; a message to a room
   * before that does not reach it. Each room's first sender probes the
   * room every PROBE_INTERVAL_US until every connected receiver of it has
   * heard a message of it, or --ready-timeout passes. Probes are due
   * before send_from_us and measure_from_us: not sent or expected in the
   * report, and their acks and deliveries not counted or timed. */
  if (!strcmp(bench.scenario, "fanout") && bench.ready_timeout_s > 0 && !bench.stop) {
    uint64_t barrier_from = now_us();
    uint64_t barrier_until = barrier_from + (uint64_t)bench.ready_timeout_s * 1000000u;
    for (size_t i = 0; i < bench.conn_count; i++) {
      conn_t *c = &bench.conns[i];
      if (c->role == ROLE_RECEIVER && c->connected) {
        c->awaited = true;
        bench.rooms[c->room].waiting++;
        bench.receivers_connected++;
        bench.receivers_waiting++;
      }
    }
    bench.barrier = true;
    bench.next_progress_us = barrier_from + 2000000u;
    bench.probing = bench.receivers_waiting > 0;
    bool gave_up = false;
    while (bench.probing && !bench.stop && bench.receivers_waiting > 0) {
      uint64_t now = now_us();
      if ((gave_up = now >= barrier_until || now >= deadline))
        break;
      lws_service(bench.context, 0);
    }
    bench.probing = false;
    bench.ready_s = seconds(now_us() - barrier_from);
    fprintf(stderr, "rooms ready: %llu of %llu receivers in %.1f s%s\n",
            (unsigned long long)bench.receivers_ready,
            (unsigned long long)bench.receivers_connected, bench.ready_s,
            gave_up ? " (--ready-timeout passed)" : "");
    /* Then quiet: the connect storm's own traffic still runs through the
     * gateways when the rooms are ready (presence tells every member of a
     * room each other member that comes online: about a million
     * user_online frames for a room of 1,000 connecting at once). The
     * window waits until no connection has received a frame for QUIET_US,
     * within the same --ready-timeout. */
    uint64_t quiet_from = now_us(), frames_before = bench.frames_rx;
    bench.last_rx_us = quiet_from;
    bool noisy = false;
    for (;;) {
      uint64_t now = now_us();
      if (now - bench.last_rx_us >= QUIET_US || bench.stop)
        break;
      if ((noisy = now >= barrier_until || now >= deadline))
        break;
      lws_service(bench.context, 0);
    }
    bench.quiet_s = seconds(now_us() - quiet_from);
    fprintf(stderr, "quiet after %.1f s more (%llu frames meanwhile)%s\n", bench.quiet_s,
            (unsigned long long)(bench.frames_rx - frames_before),
            noisy ? " (--ready-timeout passed)" : "");
  }
  /* Phase 2: hold (idle) or send (pair, fanout): 1 s of warm-up, then the
   * measured window, then up to 5 s for the last answers. */
  uint64_t begin = now_us();
  bool sending = strcmp(bench.scenario, "idle") != 0;
  bench.send_from_us = begin;
  bench.measure_from_us = begin + (sending ? 1000000u : 0);
  bench.measure_until_us =
      bench.measure_from_us + (uint64_t)(sending ? bench.duration_s : bench.hold_s) * 1000000u;
  for (size_t i = 0; i < bench.conn_count; i++)
    bench.conns[i].next_due_us = begin + (uint64_t)(1e6 / (bench.rate > 0 ? bench.rate : 1) *
                                                    ((double)i / (double)bench.conn_count));
  uint64_t end = bench.measure_until_us + (sending ? 5000000u : 0);
  if (!sending && bench.json == false)
    fprintf(stderr, "holding %llu connections for %ld s\n", (unsigned long long)bench.connected,
            bench.hold_s);
  if (!sending) /* tell a driving script that the connections are up */
    fprintf(stderr, "HOLDING %llu\n", (unsigned long long)bench.connected);
  bench.sending = sending;
  while (!bench.stop && now_us() < end && now_us() < deadline)
    lws_service(bench.context, 0);
  lws_sul_cancel(&bench.tick);
  report(seconds(now_us() - bench.start_us));
  /* Out before the connections close: closing 20,000 of them on a busy
   * machine can outlast a driver's patience (bench/run.sh kills after
   * 20 s), and a buffered report would die with the process. */
  fflush(stdout);
  lws_context_destroy(bench.context);
  return 0;
}
