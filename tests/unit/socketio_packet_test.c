/* The Engine.IO and Socket.IO codecs, against the examples of the protocol
 * READMEs and every malformed case. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "chat/json.h"
#include "eio_packet.h"
#include "sio_packet.h"

/* ---- Engine.IO ---- */

Test(engineio, text_frames_of_every_type) {
  for (int type = 0; type <= 6; type++) {
    char frame[8];
    snprintf(frame, sizeof frame, "%dabc", type);
    chat_eio_packet_t packet;
    cr_assert(chat_eio_decode_frame((const uint8_t *)frame, 4, false, &packet));
    cr_assert_eq(packet.type, (chat_eio_type_t)type);
    cr_assert_not(packet.binary);
    cr_assert_eq(packet.len, 3);
    cr_assert(memcmp(packet.data, "abc", 3) == 0);
  }
}

Test(engineio, binary_frame_is_a_binary_message) {
  const uint8_t bytes[] = {1, 2, 3, 4};
  chat_eio_packet_t packet;
  cr_assert(chat_eio_decode_frame(bytes, 4, true, &packet));
  cr_assert_eq(packet.type, CHAT_EIO_MESSAGE);
  cr_assert(packet.binary);
  cr_assert_eq(packet.len, 4);
}

Test(engineio, malformed_frames) {
  chat_eio_packet_t packet;
  cr_assert_not(chat_eio_decode_frame((const uint8_t *)"", 0, false, &packet));
  cr_assert_not(chat_eio_decode_frame((const uint8_t *)"abc", 3, false, &packet));
  cr_assert_not(chat_eio_decode_frame((const uint8_t *)"7", 1, false, &packet));
}

typedef struct collected {
  int count;
  char text[8][32];
  bool binary[8];
} collected_t;

static bool collect(void *ctx, const chat_eio_packet_t *packet) {
  collected_t *c = ctx;
  if (c->count >= 8)
    return false;
  c->binary[c->count] = packet->binary;
  if (packet->binary) {
    for (size_t i = 0; i < packet->len && i < 10; i++)
      c->text[c->count][i] = (char)('0' + packet->data[i]);
  } else {
    snprintf(c->text[c->count], 32, "%d%.*s", packet->type, (int)packet->len,
             (const char *)packet->data);
  }
  c->count++;
  return true;
}

Test(engineio, polling_payload_with_text_and_binary_packets) {
  /* The README's example: "4hello\x1ebAQIDBA==" is a text and a binary message. */
  const char *payload = "4hello\x1e"
                        "bAQIDBA==\x1e"
                        "2\x1e"
                        "4";
  collected_t c = {0};
  cr_assert(chat_eio_decode_payload((const uint8_t *)payload, strlen(payload), collect, &c));
  cr_assert_eq(c.count, 4);
  cr_assert_str_eq(c.text[0], "4hello");
  cr_assert(c.binary[1]);
  cr_assert_str_eq(c.text[1], "1234");
  cr_assert_str_eq(c.text[2], "2");
  cr_assert_str_eq(c.text[3], "4");
}

Test(engineio, malformed_payloads) {
  const char *bad[] = {"abc",
                       "4a\x1e\x1e"
                       "4b",
                       "bAQ*D",
                       "4ok\x1e"
                       "9"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    collected_t c = {0};
    cr_assert_not(chat_eio_decode_payload((const uint8_t *)bad[i], strlen(bad[i]), collect, &c),
                  "accepted payload %zu", i);
  }
}

Test(engineio, encodes_payloads_and_the_handshake) {
  bson_string_t *out = bson_string_new(NULL);
  const uint8_t bytes[] = {1, 2, 3, 4};
  chat_eio_append_to_payload(out, CHAT_EIO_MESSAGE, false, (const uint8_t *)"hello", 5);
  chat_eio_append_to_payload(out, CHAT_EIO_MESSAGE, true, bytes, 4);
  chat_eio_append_to_payload(out, CHAT_EIO_PING, false, NULL, 0);
  cr_assert_str_eq(out->str, "4hello\x1e"
                             "bAQIDBA==\x1e"
                             "2");
  bson_string_truncate(out, 0);
  chat_eio_append_open(out, "abc", true, 25000, 20000, 1000000);
  cr_assert_str_eq(out->str,
                   "0{\"sid\":\"abc\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,"
                   "\"pingTimeout\":20000,\"maxPayload\":1000000}");
  bson_string_free(out, true);
}

/* ---- Socket.IO ---- */

/* Decodes into *packet (a bson_t is never returned or copied by value). */
static void decode_ok(const char *text, chat_sio_packet_t *packet) {
  const char *why = NULL;
  cr_assert(chat_sio_decode(text, strlen(text), 1 << 20, packet, &why), "%s: %s", text, why);
}

static char *data_json(const chat_sio_packet_t *packet) {
  bson_string_t *out = bson_string_new(NULL);
  chat_json_append(out, &packet->data, false);
  return bson_string_free(out, false);
}

Test(socketio, readme_examples) {
  chat_sio_packet_t p;
  decode_ok("0", &p);
  cr_assert_eq(p.type, CHAT_SIO_CONNECT);
  cr_assert_str_eq(p.nsp, "/");
  chat_sio_packet_cleanup(&p);

  decode_ok("0/admin,{\"token\":\"123\"}", &p);
  cr_assert_str_eq(p.nsp, "/admin");
  char *json = data_json(&p);
  cr_assert_str_eq(json, "{\"d\":{\"token\":\"123\"}}");
  bson_free(json);
  chat_sio_packet_cleanup(&p);

  decode_ok("0/custom", &p); /* a CONNECT may end right after the namespace */
  cr_assert_str_eq(p.nsp, "/custom");
  chat_sio_packet_cleanup(&p);

  decode_ok("1/admin,", &p);
  cr_assert_eq(p.type, CHAT_SIO_DISCONNECT);
  chat_sio_packet_cleanup(&p);

  decode_ok("2[\"foo\"]", &p);
  bson_iter_t args;
  cr_assert_str_eq(chat_sio_event_name(&p, &args), "foo");
  cr_assert_not(bson_iter_next(&args));
  chat_sio_packet_cleanup(&p);

  decode_ok("2/admin,456[\"project:delete\",123]", &p);
  cr_assert_eq(p.ack_id, 456);
  cr_assert_str_eq(chat_sio_event_name(&p, &args), "project:delete");
  cr_assert(bson_iter_next(&args) && bson_iter_as_int64(&args) == 123);
  chat_sio_packet_cleanup(&p);

  decode_ok("3/admin,456[]", &p);
  cr_assert_eq(p.type, CHAT_SIO_ACK);
  chat_sio_packet_cleanup(&p);

  decode_ok("4{\"message\":\"Not authorized\"}", &p);
  cr_assert_eq(p.type, CHAT_SIO_CONNECT_ERROR);
  chat_sio_packet_cleanup(&p);

  decode_ok("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]", &p);
  cr_assert_eq(p.type, CHAT_SIO_BINARY_EVENT);
  cr_assert_eq(p.attachments, 1);
  chat_sio_packet_cleanup(&p);

  decode_ok("61-/admin,456[{\"_placeholder\":true,\"num\":0}]", &p);
  cr_assert_eq(p.type, CHAT_SIO_BINARY_ACK);
  cr_assert_eq(p.ack_id, 456);
  cr_assert_str_eq(p.nsp, "/admin");
  chat_sio_packet_cleanup(&p);
}

Test(socketio, malformed_packets_say_why) {
  const struct {
    const char *text;
    const char *why;
  } cases[] = {
      {"", "unknown packet type"},
      {"abc", "unknown packet type"},
      {"7[]", "unknown packet type"},
      {"2{}", "EVENT data must be an array"},
      {"2[]", "EVENT data must be an array"},
      {"2[1]", "EVENT data must be an array"},
      {"2abc[\"x\"]", "malformed JSON"},
      {"2[\"x\"", "malformed JSON"},
      {"299999999999[\"x\"]", "ack id out of range"},
      {"31{}", "ACK data must be an array"},
      {"0[1]", "CONNECT data must be an object"},
      {"1[]", "DISCONNECT carries no data"},
      {"4", "CONNECT_ERROR data must be an object"},
      {"5[\"x\"]", "bad attachment count"},
      {"5999-[\"x\"]", "bad attachment count"},
      {"2/a b,[\"x\"]", "bad namespace"},
      {"2[\"x\",{\"$oid\":\"507f1f77bcf86cd799439011\"}]", "malformed JSON"},
      /* Data must be exactly one JSON value: nothing may follow it or
       * escape the parser's {"d": ...} wrapper. */
      {"2[\"a\"]} {\"x\":1", "malformed JSON"},
      {"2[\"a\"],\"e\":1", "malformed JSON"},
      {"2[\"disconnect\"]", "reserved event name"},
      {"2[\"connect_error\",1]", "reserved event name"},
      {"3[]", "ACK without an ack id"},
      {"01{}", "ack id on a packet that takes none"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    chat_sio_packet_t packet;
    const char *why = NULL;
    cr_assert_not(chat_sio_decode(cases[i].text, strlen(cases[i].text), 1 << 20, &packet, &why),
                  "accepted %s", cases[i].text);
    cr_assert(why && strncmp(why, cases[i].why, strlen(cases[i].why)) == 0,
              "%s: said '%s', expected '%s'", cases[i].text, why ? why : "", cases[i].why);
    chat_sio_packet_cleanup(&packet);
  }
  chat_sio_packet_t packet;
  const char *why = NULL;
  /* A NUL inside the data must not cut it short unnoticed. */
  static const char with_nul[] = "2[\"a\"]\0garbage";
  cr_assert_not(chat_sio_decode(with_nul, sizeof with_nul - 1, 1 << 20, &packet, &why));
  cr_assert_str_eq(why, "NUL byte in packet");
  chat_sio_packet_cleanup(&packet);
  cr_assert_not(chat_sio_decode("2[\"x\"]", 6, 5, &packet, &why));
  cr_assert_str_eq(why, "packet too large");
  chat_sio_packet_cleanup(&packet);
}

Test(socketio, headers) {
  bson_string_t *out = bson_string_new(NULL);
  chat_sio_append_header(out, CHAT_SIO_EVENT, 0, "/", -1);
  cr_assert_str_eq(out->str, "2");
  bson_string_truncate(out, 0);
  chat_sio_append_header(out, CHAT_SIO_ACK, 0, "/admin", 456);
  cr_assert_str_eq(out->str, "3/admin,456");
  bson_string_truncate(out, 0);
  chat_sio_append_header(out, CHAT_SIO_BINARY_EVENT, 2, "/", 7);
  cr_assert_str_eq(out->str, "52-7");
  bson_string_free(out, true);
}

/* A packet kept past the frame it came in (a binary event waiting for its
 * attachments) is moved, never copied with '=': an allocated bson_t points
 * into its own struct, and the copy freed the original's storage twice. */
Test(socketio, a_moved_packet_owns_its_data) {
  static const char *const texts[] = {
      "51-[\"x\",{\"_placeholder\":true,\"num\":0}]", /* small: inline storage */
      "51-/guest,7[\"a long event name to leave the inline storage of a bson_t behind\","
      "\"caption caption caption caption caption caption caption caption\","
      "{\"_placeholder\":true,\"num\":0}]", /* large: heap storage */
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    chat_sio_packet_t decoded, *kept = NULL;
    const char *why = NULL;
    cr_assert(chat_sio_decode(texts[i], strlen(texts[i]), 1 << 20, &decoded, &why), "%s", why);
    cr_assert_eq(posix_memalign((void **)&kept, 128, sizeof *kept), 0);
    chat_sio_packet_move(kept, &decoded);
    chat_sio_packet_cleanup(&decoded); /* the frame's copy goes first, as in the server */
    bson_iter_t args;
    cr_assert_str_eq(chat_sio_event_name(kept, &args), i == 0 ? "x" : "a long event name to leave the inline storage of a bson_t behind");
    cr_assert_eq(kept->attachments, 1);
    cr_assert_str_eq(kept->nsp, i == 0 ? "/" : "/guest");
    cr_assert_eq(kept->ack_id, i == 0 ? -1 : 7);
    chat_sio_packet_cleanup(kept);
    free(kept);
  }
}
