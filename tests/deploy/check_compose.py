#!/usr/bin/env python3
"""Checks docker-compose.yaml, which cannot run here (no Docker engine):
it parses; it runs every program in services/ and no other; each chat
service sets only settings docs/configuration.md knows, sets the ones a
container needs, points at Kafka and MongoDB services that exist, and has a
health check on /readyz; the Dockerfile builds every program.
Prints "N passed, M failed".

Usage: check_compose.py [REPO_ROOT]  (default: two folders up)
"""
import os
import re
import sys
from urllib.parse import urlparse

import yaml

# Every container must set these (CHAT_LISTEN_ADDR to 0.0.0.0, or its
# health port is unreachable from the engine).
REQUIRED = ["CHAT_KAFKA_BROKERS", "CHAT_MONGO_URI", "CHAT_MONGO_DB", "CHAT_LISTEN_ADDR",
            "CHAT_INSTANCE_ID", "CHAT_HEALTH_PORT"]

passed, failed = 0, 0


def check(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    try:
        with open(os.path.join(root, "docker-compose.yaml")) as f:
            compose = yaml.safe_load(f)  # resolves anchors and << merges
        check("docker-compose.yaml parses", isinstance(compose, dict), type(compose))
    except (OSError, yaml.YAMLError) as exc:
        check("docker-compose.yaml parses", False, exc)
        print(f"{passed} passed, {failed} failed")
        return 1

    with open(os.path.join(root, "docs", "configuration.md")) as f:
        known = set(re.findall(r"^\| `(CHAT_[A-Z0-9_]+)` \|", f.read(), re.M))
    check("docs/configuration.md lists settings", len(known) > 5, sorted(known))

    programs = sorted(d for d in os.listdir(os.path.join(root, "services"))
                      if os.path.isfile(os.path.join(root, "services", d, "main.c")))
    services = compose.get("services", {})
    running = {}
    for name, svc in services.items():
        command = svc.get("command") or []
        program = command[0] if isinstance(command, list) and command else str(command)
        if program.startswith("chat-"):
            running[program[len("chat-"):]] = (name, svc)
    check("every program in services/ runs in compose", set(programs) <= set(running),
          f"missing {sorted(set(programs) - set(running))}")
    check("compose runs no program that services/ lacks", set(running) <= set(programs),
          f"unknown {sorted(set(running) - set(programs))}")

    with open(os.path.join(root, "deploy", "Dockerfile")) as f:
        dockerfile = f.read()
    check("Dockerfile builds and installs with CMake",
          "cmake --build" in dockerfile and "cmake --install" in dockerfile)
    for program in programs:
        check(f"services/{program} installs a binary",
              f"install(TARGETS chat-{program}" in
              open(os.path.join(root, "services", program, "CMakeLists.txt")).read())

    for program, (name, svc) in sorted(running.items()):
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        chat_vars = {k for k in env if k.startswith("CHAT_")}
        check(f"{name}: every CHAT_ setting is documented", chat_vars <= known,
              f"unknown {sorted(chat_vars - known)}")
        for var in REQUIRED:
            check(f"{name}: sets {var}", var in env)
        check(f"{name}: listens on all interfaces", env.get("CHAT_LISTEN_ADDR") == "0.0.0.0",
              env.get("CHAT_LISTEN_ADDR"))
        brokers = [b.strip().rsplit(":", 1)[0] for b in str(env.get("CHAT_KAFKA_BROKERS", "")).split(",")]
        check(f"{name}: Kafka brokers are compose services", all(b in services for b in brokers), brokers)
        mongo_host = urlparse(str(env.get("CHAT_MONGO_URI", ""))).hostname
        check(f"{name}: MongoDB host is a compose service", mongo_host in services, mongo_host)
        depends = svc.get("depends_on") or {}
        check(f"{name}: waits for healthy Kafka and MongoDB",
              all(isinstance(depends, dict) and depends.get(d, {}).get("condition") == "service_healthy"
                  for d in set(brokers) | {mongo_host}), depends)
        test = " ".join(map(str, (svc.get("healthcheck") or {}).get("test", [])))
        port = str(env.get("CHAT_HEALTH_PORT", ""))
        check(f"{name}: health check asks /readyz on its health port", f":{port}/readyz" in test, test)
        build = svc.get("build") or {}
        check(f"{name}: built from deploy/Dockerfile",
              isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile", build)
    instance_ids = [svc.get("environment", {}).get("CHAT_INSTANCE_ID") for _, svc in running.values()]
    check("instance ids are distinct", len(set(instance_ids)) == len(instance_ids), instance_ids)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
