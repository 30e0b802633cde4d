#!/usr/bin/env python3
"""Checks proto/openapi.yaml against the running system: starts
persistence, receipts, presence and a gateway on the real Kafka and
FerretDB that tests/run.sh started, calls every operation the document
lists (answers that succeed and answers that refuse), and validates each
status and body against the document. Fails when an operation was never
called successfully. Prints "N passed, M failed".

Environment: CHAT_TEST_KAFKA_BROKERS, CHAT_TEST_MONGO_URI and the binaries
CHAT_TEST_GATEWAY, CHAT_TEST_PERSISTENCE, CHAT_TEST_RECEIPTS,
CHAT_TEST_PRESENCE (tests/CMakeLists.txt sets them)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

HERE = os.path.dirname(os.path.abspath(__file__))
DOC_PATH = os.path.join(HERE, "..", "..", "proto", "openapi.yaml")
BASE_URI = "https://chat-backend.invalid/proto/openapi.yaml"

passed = failed = 0


def check(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Services:
    def __init__(self):
        pid = os.getpid()
        self.common = {
            "CHAT_KAFKA_BROKERS": os.environ["CHAT_TEST_KAFKA_BROKERS"],
            "CHAT_MONGO_URI": os.environ["CHAT_TEST_MONGO_URI"],
            "CHAT_MONGO_DB": f"openapi_{pid}",
            "CHAT_TOPIC_PREFIX": f"openapi_{pid}_",
            "CHAT_TOPIC_PARTITIONS": "2",
            "CHAT_LOG_LEVEL": "warn",
        }
        self.children = []

    def start(self, binary, extra=None):
        health = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
        env.update(self.common, CHAT_HEALTH_PORT=str(health), **(extra or {}))
        child = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
        self.children.append(child)
        deadline = time.time() + 60
        while time.time() < deadline:
            if child.poll() is not None:
                raise RuntimeError(f"{binary} exited with {child.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{binary} not ready within 60 s")

    def stop(self):
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                check(f"{child.args[0]} stops cleanly on SIGTERM", child.wait(30) == 0, child.returncode)


class Api:
    def __init__(self, base, doc):
        self.base = base
        self.doc = doc
        # OpenAPI 3.1's schemas are JSON Schema 2020-12: validate in place.
        self.registry = Registry().with_resource(BASE_URI, DRAFT202012.create_resource(doc))
        self.ops = {}  # operationId -> (method, path template, operation)
        for path, item in doc["paths"].items():
            for method, op in item.items():
                self.ops[op["operationId"]] = (method.upper(), path, op)
        self.succeeded = set()

    def call(self, op_id, params=None, query="", body=None, token=None, expect=None):
        method, template, op = self.ops[op_id]
        path = template
        for name, value in (params or {}).items():
            path = path.replace("{" + name + "}", value)
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path + (f"?{query}" if query else ""),
                                         data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        name = f"{op_id} {method} {path} -> {status}"
        try:
            answer = json.loads(text)
        except json.JSONDecodeError:
            check(name + " is JSON", False, text[:200])
            return status, None
        documented = str(status) in op["responses"]
        check(name + " is a documented status", documented, json.dumps(answer)[:300])
        if documented:
            pointer = "/paths/" + template.replace("~", "~0").replace("/", "~1") + \
                f"/{method.lower()}/responses/{status}"
            response = self.resolve(pointer)
            if "$ref" in response:
                pointer = response["$ref"].split("#", 1)[1]
            schema = {"$ref": BASE_URI + "#" + pointer + "/content/application~1json/schema"}
            errors = list(Draft202012Validator(schema, registry=self.registry).iter_errors(answer))
            check(name + " matches the document", not errors,
                  f"{errors[0].message if errors else ''} in {json.dumps(answer)[:300]}")
            if not errors and 200 <= status < 300:
                self.succeeded.add(op_id)
        if expect is not None:
            check(name + f" is the expected {expect}", status == expect, json.dumps(answer)[:300])
        return status, answer

    def resolve(self, pointer):
        node = self.doc
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node



def main():
    for var in ("CHAT_TEST_KAFKA_BROKERS", "CHAT_TEST_MONGO_URI", "CHAT_TEST_GATEWAY",
                "CHAT_TEST_PERSISTENCE", "CHAT_TEST_RECEIPTS", "CHAT_TEST_PRESENCE"):
        if not os.environ.get(var):
            print(f"{var} is unset: run through tests/run.sh")
            return 1
    with open(DOC_PATH) as f:
        doc = yaml.safe_load(f)
    check("the document is OpenAPI 3.1", str(doc.get("openapi", "")).startswith("3.1"))
    services = Services()
    port = free_port()
    try:
        services.start(os.environ["CHAT_TEST_PERSISTENCE"])
        services.start(os.environ["CHAT_TEST_RECEIPTS"])
        services.start(os.environ["CHAT_TEST_PRESENCE"])
        services.start(os.environ["CHAT_TEST_GATEWAY"], {
            "CHAT_GATEWAY_PORT": str(port), "CHAT_INSTANCE_ID": "gw-openapi",
            "CHAT_JWT_SECRET": "openapi-test-secret-0123456789abcdef0123"})
        run(Api(f"http://127.0.0.1:{port}", doc))
    finally:
        services.stop()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def run(api):
    pid = os.getpid()
    users = {}
    for name in ("alice", "bob", "carol"):
        _, answer = api.call("register", body={"username": f"{name}_{pid}", "password": "a good password"}, expect=201)
        users[name] = answer["data"]["user"] | {"token": answer["data"]["token"]}
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    api.call("register", body={"username": f"alice_{pid}", "password": "a good password"}, expect=409)
    api.call("register", body=b"{nope", expect=400)
    api.call("login", body={"username": f"alice_{pid}", "password": "a good password"}, expect=200)
    api.call("login", body={"username": f"alice_{pid}", "password": "a bad password"}, expect=401)
    api.call("listUsers", token=alice["token"], expect=200)
    api.call("listUsers", expect=401)

    first = None
    for i in range(3):
        _, answer = api.call("sendMessage", token=alice["token"],
                             body={"receiverId": bob["id"], "content": f"hello {i}"}, expect=201)
        first = first or answer["data"]
    conversation = first["conversation_id"]
    api.call("sendMessage", token=alice["token"], body={"content": "to nobody"}, expect=400)
    api.call("sendMessage", token=alice["token"], body={"receiverId": bob["id"], "content": "x" * 10001}, expect=413)
    api.call("sendMessage", token=carol["token"], body={"conversationId": conversation, "content": "let me in"}, expect=403)
    # Edits and reactions, before history so that its answer shows them.
    thumbs = urllib.parse.quote("\U0001F44D")
    api.call("editMessage", params={"id": first["id"]}, token=alice["token"], body={"content": "hello, edited"}, expect=200)
    api.call("editMessage", params={"id": first["id"]}, token=bob["token"], body={"content": "not mine"}, expect=403)
    api.call("editMessage", params={"id": first["id"]}, token=alice["token"], body={"content": ""}, expect=400)
    api.call("editMessage", params={"id": first["id"]}, token=alice["token"], body={"content": "x" * 10001}, expect=413)
    api.call("editMessage", params={"id": "65f1a1aae4b0a1b2c3d4e7aa"}, token=alice["token"], body={"content": "gone"}, expect=404)
    api.call("addReaction", params={"id": first["id"], "emoji": thumbs}, token=bob["token"], expect=200)
    api.call("addReaction", params={"id": first["id"], "emoji": "nope"}, token=bob["token"], expect=400)
    api.call("addReaction", params={"id": first["id"], "emoji": thumbs}, token=carol["token"], expect=403)
    api.call("addReaction", params={"id": first["id"], "emoji": thumbs}, expect=401)
    api.call("removeReaction", params={"id": first["id"], "emoji": urllib.parse.quote("\u2764\ufe0f")}, token=alice["token"], expect=200)
    api.call("listConversations", token=alice["token"], query="page=1&limit=20", expect=200)
    api.call("listConversations", token=alice["token"], query="limit=1000", expect=400)
    api.call("listMessages", params={"id": conversation}, token=bob["token"], query="page=1&limit=2", expect=200)
    api.call("listMessages", params={"id": conversation}, token=bob["token"], query="after=1", expect=200)
    api.call("listMessages", params={"id": conversation}, token=carol["token"], expect=403)
    api.call("listMessages", params={"id": "nope"}, token=carol["token"], expect=400)
    api.call("searchMessages", params={"id": conversation}, token=bob["token"], query="q=HELLO", expect=200)
    api.call("searchMessages", params={"id": conversation}, token=bob["token"], expect=400)
    api.call("unreadCount", token=bob["token"], expect=200)
    api.call("unreadByConversation", token=bob["token"], expect=200)
    api.call("markRead", params={"id": conversation}, token=bob["token"], expect=200)
    api.call("markRead", params={"id": conversation}, token=carol["token"], expect=403)
    api.call("directDetails", token=alice["token"], query=f"otherUserId={bob['id']}", expect=200)
    api.call("directDetails", token=alice["token"], query="otherUserId=65f1a0c2e4b0a1b2c3d4e5aa", expect=404)
    api.call("directMessages", token=alice["token"], query=f"otherUserId={bob['id']}&limit=10", expect=200)
    api.call("directMessages", token=alice["token"], expect=400)
    api.call("getPresence", params={"id": bob["id"]}, token=alice["token"], expect=200)
    api.call("getPresence", params={"id": "65f1a0c2e4b0a1b2c3d4e5aa"}, token=alice["token"], expect=404)

    _, answer = api.call("createGroup", token=alice["token"], body={"name": "Weekend plans", "memberIds": [bob["id"]]}, expect=201)
    group = answer["data"]["conversationId"]
    api.call("createGroup", token=alice["token"], body={"name": "", "memberIds": []}, expect=400)
    # Replies and who read it (issue 21).
    _, answer = api.call("sendMessage", token=alice["token"],
                         body={"conversationId": group, "content": "plans?"}, expect=201)
    original = answer["data"]["id"]
    _, answer = api.call("sendMessage", token=bob["token"],
                         body={"conversationId": group, "content": "yes", "replyTo": original}, expect=201)
    check("a reply's answer quotes its original", answer["data"].get("replyTo", {}).get("messageId") == original,
          answer["data"])
    api.call("sendMessage", token=bob["token"], body={"conversationId": group, "content": "x", "replyTo": "nope"},
             expect=400)
    api.call("sendMessage", token=bob["token"],
             body={"conversationId": group, "content": "x", "replyTo": first["id"]}, expect=400)
    api.call("sendMessage", token=bob["token"],
             body={"conversationId": group, "content": "x", "replyTo": "65f1a1aae4b0a1b2c3d4e7ff"}, expect=404)
    api.call("markRead", params={"id": group}, token=bob["token"], expect=200)
    api.call("messageReaders", params={"id": original}, token=alice["token"], expect=200)
    api.call("messageReaders", params={"id": original}, token=carol["token"], expect=404)
    api.call("messageReaders", params={"id": first["id"]}, token=alice["token"], expect=400)
    api.call("messageReaders", params={"id": "nope"}, token=alice["token"], expect=400)
    api.call("messageReaders", params={"id": original}, expect=401)
    api.call("listMembers", params={"id": group}, token=bob["token"], expect=200)
    api.call("listMembers", params={"id": group}, token=carol["token"], expect=403)
    api.call("addMembers", params={"id": group}, token=bob["token"], body={"userIds": [carol["id"]]}, expect=200)
    api.call("addMembers", params={"id": group}, token=bob["token"], body={"userIds": []}, expect=400)
    api.call("removeMember", params={"id": group, "userId": carol["id"]}, token=bob["token"], expect=403)
    api.call("removeMember", params={"id": group, "userId": carol["id"]}, token=alice["token"], expect=200)
    api.call("leaveGroup", params={"id": group}, token=carol["token"], expect=403)
    api.call("leaveGroup", params={"id": group}, token=bob["token"], expect=200)
    api.call("deleteMessage", params={"id": first["id"]}, token=bob["token"], expect=403)
    api.call("deleteMessage", params={"id": first["id"]}, token=alice["token"], expect=200)
    api.call("deleteMessage", params={"id": first["id"]}, token=alice["token"], expect=404)
    api.call("editMessage", params={"id": first["id"]}, token=alice["token"], body={"content": "too late"}, expect=404)
    api.call("addReaction", params={"id": first["id"], "emoji": thumbs}, token=bob["token"], expect=404)
    api.call("deleteGroup", params={"id": group}, token=bob["token"], expect=403)
    api.call("deleteGroup", params={"id": group}, token=alice["token"], expect=200)
    api.call("deleteGroup", params={"id": group}, token=alice["token"], expect=404)

    for op_id in api.ops:
        check(f"{op_id} was called and answered as documented", op_id in api.succeeded)


if __name__ == "__main__":
    sys.exit(main())
