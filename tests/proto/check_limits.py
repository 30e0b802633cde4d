#!/usr/bin/env python3
"""Checks common/include/chat/limits.h against proto/: every #define there
is listed below with the schema places that fix it, and each of those
places (a JSON schema's or proto/openapi.yaml's maxLength, minLength,
maxItems) holds the same number. Prints "N passed, M failed".

Usage: check_limits.py [REPO_DIR]  (default: the repository of this file)
"""
import json
import os
import re
import sys

import yaml

SEND_BODY = ["paths", "/api/chat/send", "post", "requestBody", "content", "application/json",
             "schema", "properties"]
GROUP_BODY = ["paths", "/api/chat/conversations", "post", "requestBody", "content",
              "application/json", "schema", "properties"]
MEMBERS_BODY = ["paths", "/api/chat/conversations/{id}/members", "post", "requestBody", "content",
                "application/json", "schema", "properties"]
CREDENTIALS = ["components", "schemas", "Credentials", "properties"]
SCHEMAS = ["components", "schemas"]

# Each limit: the (file under proto/, key path) places whose number it is.
PLACES = {
    "CHAT_CLIENT_MSG_ID_MAX": [
        ("events/message.send.schema.json", ["properties", "clientMsgId", "maxLength"]),
        ("events/message_ack.schema.json", ["properties", "clientMsgId", "maxLength"]),
        ("openapi.yaml", SEND_BODY + ["clientMsgId", "maxLength"]),
    ],
    "CHAT_CONTENT_MAX": [
        ("events/message.send.schema.json", ["properties", "content", "maxLength"]),
        ("events/message.created.schema.json", ["properties", "content", "maxLength"]),
        ("events/new_message.schema.json", ["properties", "content", "maxLength"]),
        ("events/message_notification.schema.json", ["properties", "content", "maxLength"]),
        ("events/message.edit.schema.json", ["properties", "content", "maxLength"]),
        ("events/message.edited.schema.json", ["properties", "content", "maxLength"]),
        ("events/message_edited.schema.json", ["properties", "content", "maxLength"]),
    ],
    "CHAT_EMOJI_MAX": [
        *((f"events/{name}.schema.json", ["properties", "emoji", "maxLength"]) for name in (
            "reaction.add", "reaction.remove", "reaction.added", "reaction.removed",
            "reaction_added", "reaction_removed")),
        ("openapi.yaml", ["components", "parameters", "Emoji", "schema", "maxLength"]),
        ("openapi.yaml", SCHEMAS + ["Reaction", "properties", "emoji", "maxLength"]),
        ("openapi.yaml", SCHEMAS + ["ReactionChanged", "properties", "emoji", "maxLength"]),
    ],
    "CHAT_REACTIONS_DISTINCT_MAX": [
        ("openapi.yaml", SCHEMAS + ["Message", "properties", "reactions", "maxItems"]),
    ],
    "CHAT_ATTACHMENT_URL_MAX": [
        ("events/message.send.schema.json", ["properties", "attachmentUrl", "maxLength"]),
        ("events/message.created.schema.json", ["properties", "attachmentUrl", "maxLength"]),
        ("events/new_message.schema.json", ["properties", "attachmentUrl", "maxLength"]),
        ("openapi.yaml", SEND_BODY + ["attachmentUrl", "maxLength"]),
    ],
    "CHAT_GROUP_NAME_MAX": [
        ("events/conversation.create.schema.json", ["properties", "name", "maxLength"]),
        ("events/conversation.created.schema.json", ["properties", "name", "maxLength"]),
        ("events/conversation_created.schema.json", ["properties", "name", "maxLength"]),
        ("openapi.yaml", GROUP_BODY + ["name", "maxLength"]),
    ],
    "CHAT_GROUP_MEMBERS_MAX": [
        ("events/conversation.create.schema.json", ["properties", "memberIds", "maxItems"]),
        ("events/member.add.schema.json", ["properties", "userIds", "maxItems"]),
        ("openapi.yaml", GROUP_BODY + ["memberIds", "maxItems"]),
        ("openapi.yaml", MEMBERS_BODY + ["userIds", "maxItems"]),
    ],
    "CHAT_USERNAME_MIN": [
        ("events/user.register.schema.json", ["properties", "username", "minLength"]),
    ],
    "CHAT_USERNAME_MAX": [
        ("events/user.register.schema.json", ["properties", "username", "maxLength"]),
    ],
    "CHAT_PASSWORD_MIN": [("openapi.yaml", CREDENTIALS + ["password", "minLength"])],
    "CHAT_PASSWORD_MAX": [("openapi.yaml", CREDENTIALS + ["password", "maxLength"])],
    "CHAT_GUEST_FIELD_MAX": [
        ("events/guest.joined.schema.json", ["properties", "name", "maxLength"]),
        ("events/guest.joined.schema.json", ["properties", "room", "maxLength"]),
        ("events/guest.left.schema.json", ["properties", "name", "maxLength"]),
        ("events/guest.left.schema.json", ["properties", "room", "maxLength"]),
        ("events/roomMessage.schema.json", ["properties", "user", "maxLength"]),
        ("events/users.schema.json", ["items", "properties", "name", "maxLength"]),
        ("events/users.schema.json", ["items", "properties", "room", "maxLength"]),
    ],
}

DEFINE = re.compile(r"^#define\s+(CHAT_\w+)\s+(\d+)\b", re.MULTILINE)

passed, failed = 0, 0


def check(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def load(proto, name, cache={}):
    if name not in cache:
        with open(os.path.join(proto, name)) as f:
            cache[name] = yaml.safe_load(f) if name.endswith(".yaml") else json.load(f)
    return cache[name]


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(repo, "common", "include", "chat", "limits.h")) as f:
        defines = {name: int(value) for name, value in DEFINE.findall(f.read())}
    check("limits.h has limits", len(defines) > 0, "no #define CHAT_... <number> found")
    for name in defines:
        check(f"{name} is checked", name in PLACES, "add the schema places that fix it to PLACES")
    for name, places in PLACES.items():
        check(f"{name} is defined", name in defines, "listed here but not in limits.h")
        for file, path in places:
            node = load(os.path.join(repo, "proto"), file)
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            check(f"{name} = {file} {'/'.join(path)}", node == defines.get(name),
                  f"limits.h says {defines.get(name)}, proto/ says {node}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
