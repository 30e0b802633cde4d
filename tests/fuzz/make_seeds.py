#!/usr/bin/env python3
"""Writes the seed inputs of the session and JWT fuzz targets:
    tests/fuzz/make_seeds.py    (from anywhere; rewrites the seeds it owns)

corpus-session/: sequences of operations on one Engine.IO session, in the
format session_fuzz.c reads (its head comment): an op byte, then for 't'
(WebSocket text), 'b' (WebSocket binary) and 'p' (polling POST) a
big-endian 16-bit length and the bytes, for 'w' (write n packets), 'T'
(timers of kind n fall due) and 'c' (connection n closes) one byte.

corpus-jwt/: 'T' + a token, or 'S' + header JSON + newline + payload JSON
for jwt_fuzz.c to sign with its secret.

Inputs that once crashed a target live beside the seeds as crash-*; this
script never touches them."""
import base64
import hashlib
import hmac
import json
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
JWT_SECRET = b"fuzz-secret-0123456789abcdef"  # jwt_fuzz.c's SECRET
NOW = 1800000000  # jwt_fuzz.c's NOW


def frame(op, data=b""):
    if isinstance(data, str):
        data = data.encode()
    return op.encode() + struct.pack(">H", len(data)) + data


def t(text):
    return frame("t", text)


def b(data):
    return frame("b", data)


def post(*packets):
    return frame("p", "\x1e".join(packets))


def byte_op(op, n):
    return op.encode() + bytes([n])


P, W, U, G = b"P", b"W", b"u", b"g"
WRITE = byte_op("w", 255)
PING_DUE, PONG_DUE, CONNECT_DUE = byte_op("T", 0), byte_op("T", 1), byte_op("T", 2)
CLOSE_WS, CLOSE_POLL = byte_op("c", 0), byte_op("c", 1)
PLACEHOLDER = '{"_placeholder":true,"num":0}'

SESSION_SEEDS = {
    # The crash fixed in 2fc8953: a BINARY_EVENT waiting for its attachment,
    # then a pong, then text, which closes the session and frees the pending
    # packet (a bson_t once copied by value).
    "binary_then_text_ws": W + t("40") + t(f'451-["x",{PLACEHOLDER}]') + t("3") + t('42["x"]'),
    "binary_then_text_polling": P + G + post("40") + G
    + post(f'451-["x",{PLACEHOLDER}]', "3", '42["x"]') + G,
    "ws_connect_event_ack": W + t("40") + WRITE + t('42["hello",1]') + t('421["ack",{"a":1}]')
    + WRITE,
    "ws_binary_event": W + t("40") + t(f'451-["binary",{PLACEHOLDER}]') + b(b"\x01\x02\x03")
    + WRITE,
    "ws_binary_event_ack": W + t("40") + t(f'451-9["binary",{PLACEHOLDER}]') + b(b"\xff") + WRITE,
    "ws_binary_ack": W + t("40") + t(f'461-5[{PLACEHOLDER}]') + b(b"x") + WRITE,
    "ws_binary_two_attachments": W + t("40")
    + t('452-["binary",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    + b(b"a") + b(b"") + WRITE,
    "ws_server_binary": W + t("40") + t('42["binary"]') + WRITE + t('423["binary"]') + WRITE,
    "ws_namespaces": W + t('40/admin,{"token":"valid"}') + t("40/chat,") + t("40/admin,")
    + t("40/nope,") + t('42/chat,["broadcast"]') + t("41/chat,") + t('42/chat,["x"]') + WRITE
    + t("41/admin,") + WRITE,
    "ws_refused": W + t('40{"token":"bad"}') + t("40/admin,") + t('40/admin,{"token":7}')
    + t("40") + WRITE,
    "ws_disconnect_then_event": W + t("40") + t("41") + t('42["x"]') + t("40") + WRITE,
    "ws_transport_close": W + t("40") + t("40/chat,") + t('42["broadcast"]') + CLOSE_WS,
    "ws_client_close": W + t("40") + t("40/chat,") + t("1"),
    "ws_heartbeat": W + t("40") + PING_DUE + WRITE + t("3") + PING_DUE + WRITE + PONG_DUE,
    "ws_ping_timeout": W + t("40") + t("40/chat,") + PING_DUE + PONG_DUE,
    "ws_bad_frames": W + t("40") + t("4") + t("") + t("9") + t("2probe"),
    "ws_too_large": W + t("40") + t("42[\"" + "x" * 1100 + "\"]"),
    "ws_attachment_unannounced": W + t("40") + b(b"\x00"),
    "polling_connect_event": P + G + post("40") + G + post('42["hello"]', '421["ack"]') + G + G,
    "polling_binary": P + G + post("40") + G
    + post(f'451-["binary",{PLACEHOLDER}]', "bAQID") + G + post('42["binary"]') + G,
    "polling_duplicate_get": P + G + G,
    "polling_connect_timeout": P + G + CONNECT_DUE,
    "polling_heartbeat": P + G + post("40") + G + PING_DUE + G + post("3") + PING_DUE + PONG_DUE,
    "polling_close": P + G + post("40", "1") + G,
    "polling_malformed": P + G + post("40", "x") + G,
    "polling_close_poll": P + G + post("40") + CLOSE_POLL + G,
    "upgrade": P + G + post("40") + G + G + U + t("2probe") + t("5") + WRITE + t('42["x"]')
    + WRITE,
    "upgrade_poll_during_probe": P + G + post("40") + U + t("2probe") + G + post('42["x"]') + G
    + t("5") + WRITE,
    "upgrade_probe_closed": P + G + post("40") + U + t("2probe") + CLOSE_WS + G + post('42["x"]')
    + G,
    "upgrade_bad_probe": P + G + U + t("2nope") + t("5") + t("40") + U + U,
    "upgrade_then_binary": P + G + post("40", f'451-["binary",{PLACEHOLDER}]') + U + t("2probe")
    + t("5") + b(b"\x01") + WRITE + CLOSE_WS,
    "two_sessions": W + t("40") + t("1") + P + G + post("40") + G,
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def signed(header, payload, secret=JWT_SECRET):
    head = b64url(json.dumps(header).encode()) + b"." + b64url(json.dumps(payload).encode())
    mac = hmac.new(secret, head, hashlib.sha256).digest()
    return head + b"." + b64url(mac)


HS256 = {"alg": "HS256", "typ": "JWT"}
GOOD = {"sub": "user-1", "iat": NOW - 10, "exp": NOW + 3600}

JWT_SEEDS = {
    "valid": b"T" + signed(HS256, GOOD),
    "expired": b"T" + signed(HS256, dict(GOOD, exp=NOW - 3600)),
    "not_yet_valid": b"T" + signed(HS256, dict(GOOD, nbf=NOW + 3600)),
    "no_subject": b"T" + signed(HS256, {"exp": NOW + 60}),
    "long_subject": b"T" + signed(HS256, dict(GOOD, sub="u" * 200)),
    "wrong_key": b"T" + signed(HS256, GOOD, b"another secret"),
    "alg_none": b"T" + b64url(b'{"alg":"none"}') + b"." + b64url(json.dumps(GOOD).encode()) + b".",
    "alg_hs512": b"T" + signed({"alg": "HS512"}, GOOD),
    "malformed": b"T" + b"a.b",
    "signed_claims": b"S" + json.dumps(HS256).encode() + b"\n" + json.dumps(GOOD).encode(),
    "signed_odd_claims": b"S" + b'{"alg":"HS256"}\n'
    + b'{"sub":["x"],"exp":"soon","nbf":1e309,"iat":-1}',
    "signed_no_alg": b"S" + b'{"typ":"JWT"}\n' + json.dumps(GOOD).encode(),
}


def main():
    for folder, seeds in (("corpus-session", SESSION_SEEDS), ("corpus-jwt", JWT_SEEDS)):
        out = HERE / folder
        out.mkdir(exist_ok=True)
        for name, data in seeds.items():
            (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
