#!/usr/bin/env python3
"""Checks deploy/k8s/, which cannot be applied here (no cluster): every
manifest validates offline against the Kubernetes schemas
(kubernetes-validate, strict: no unknown fields); kustomization.yaml lists
every file; each program in services/ has a Deployment with resource
requests and limits, liveness on /healthz and readiness on /readyz at its
CHAT_HEALTH_PORT, Prometheus scrape annotations for that port, a grace
period longer than CHAT_SHUTDOWN_TIMEOUT_MS, every setting a pod needs and
only settings docs/configuration.md knows, and a PodDisruptionBudget; the
gateway has a Service with sticky sessions and a HorizontalPodAutoscaler;
the JWT secret, Kafka credentials and the MongoDB URI come from the Secret.
Prints "N passed, M failed".

Usage: check_k8s.py [REPO_ROOT]  (default: two folders up)
"""
import glob
import os
import re
import sys

import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.30.0"  # the oldest release still supported when written
# Every pod must set these; the last three from the Secret.
REQUIRED = ["CHAT_KAFKA_BROKERS", "CHAT_MONGO_URI", "CHAT_MONGO_DB", "CHAT_LISTEN_ADDR",
            "CHAT_INSTANCE_ID", "CHAT_HEALTH_PORT", "CHAT_TOPIC_REPLICATION"]
FROM_SECRET = {"gateway": ["CHAT_JWT_SECRET", "CHAT_KAFKA_CONFIG", "CHAT_MONGO_URI"]}
FROM_SECRET_DEFAULT = ["CHAT_KAFKA_CONFIG", "CHAT_MONGO_URI"]
HEALTH_PORTS = {"gateway": 8080, "persistence": 8081, "presence": 8082, "receipts": 8083}

passed, failed = 0, 0


def check(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def known_settings(root):
    with open(os.path.join(root, "docs", "configuration.md")) as f:
        return set(re.findall(r"^\| `(CHAT_[A-Z0-9_]+)` \|", f.read(), re.M))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    k8s = os.path.join(root, "deploy", "k8s")
    files = sorted(glob.glob(os.path.join(k8s, "*.yaml")))
    docs = []  # (file, document)
    for path in files:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    docs.append((os.path.basename(path), doc))
    check("manifests found", len(files) >= 6, f"{len(files)} files in {k8s}")

    kustomization = next((d for f, d in docs if d.get("kind") == "Kustomization"), None)
    check("kustomization.yaml", kustomization is not None, "missing")
    listed = set((kustomization or {}).get("resources", []))
    for path in files:
        name = os.path.basename(path)
        if name != "kustomization.yaml":
            check(f"{name} in kustomization.yaml", name in listed, f"resources: {sorted(listed)}")

    for name, doc in docs:
        if doc.get("kind") == "Kustomization":
            continue  # kustomize's own file, not an API object
        what = f"{name}: {doc.get('kind')} {doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            check(f"{what} validates", True)
        except kubernetes_validate.ValidationError as e:
            check(f"{what} validates", False, f"{'.'.join(map(str, e.path))}: {e.message}")
        except Exception as e:  # an unknown kind or version
            check(f"{what} validates", False, repr(e))

    by_kind = {}
    for _, doc in docs:
        by_kind.setdefault(doc.get("kind"), {})[doc.get("metadata", {}).get("name")] = doc
    config = by_kind.get("ConfigMap", {}).get("chat-config", {}).get("data", {})
    secret = by_kind.get("Secret", {}).get("chat-secrets", {}).get("stringData", {})
    check("ConfigMap chat-config", bool(config), "missing")
    check("Secret chat-secrets", bool(secret), "missing")
    known = known_settings(root)
    for key in list(config) + list(secret):
        check(f"setting {key} is known", key in known, "not in docs/configuration.md")
    check("config listens on all addresses", config.get("CHAT_LISTEN_ADDR") == "0.0.0.0",
          f"CHAT_LISTEN_ADDR={config.get('CHAT_LISTEN_ADDR')}")
    for key in ("CHAT_MONGO_URI", "CHAT_JWT_SECRET", "CHAT_KAFKA_CONFIG"):
        check(f"{key} is not in the ConfigMap", key not in config, "credentials belong in the Secret")
    check("JWT secret long enough", len(secret.get("CHAT_JWT_SECRET", "")) >= 32, "shorter than 32")
    shutdown_ms = int(config.get("CHAT_SHUTDOWN_TIMEOUT_MS", "10000"))

    programs = sorted(d for d in os.listdir(os.path.join(root, "services"))
                      if os.path.isfile(os.path.join(root, "services", d, "main.c")))
    check("services found", programs == sorted(HEALTH_PORTS), f"{programs}")
    deployments = by_kind.get("Deployment", {})
    check("a Deployment per service and no other",
          sorted(deployments) == sorted(f"chat-{p}" for p in programs), f"{sorted(deployments)}")
    for program in programs:
        dep = deployments.get(f"chat-{program}")
        if not dep:
            continue
        pod = dep["spec"]["template"]
        spec = pod["spec"]
        labels = dep["spec"]["selector"]["matchLabels"]
        container = spec["containers"][0]
        check(f"{program} runs chat-{program}", container.get("command") == [f"chat-{program}"],
              f"{container.get('command')}")
        env = {e["name"]: e for e in container.get("env", [])}
        sources = set(env)
        for ref in container.get("envFrom", []):
            if ref.get("configMapRef", {}).get("name") == "chat-config":
                sources |= set(config)
        for key in REQUIRED:
            check(f"{program} sets {key}", key in sources, "missing")
        for key in env:
            check(f"{program}: {key} is known", key in known, "not in docs/configuration.md")
        for key in FROM_SECRET.get(program, FROM_SECRET_DEFAULT):
            ref = env.get(key, {}).get("valueFrom", {}).get("secretKeyRef", {})
            check(f"{program} takes {key} from the Secret",
                  ref.get("name") == "chat-secrets" and ref.get("key") in secret, f"{env.get(key)}")
        health = HEALTH_PORTS[program]
        check(f"{program} health port", env.get("CHAT_HEALTH_PORT", {}).get("value") == str(health),
              f"{env.get('CHAT_HEALTH_PORT')}")
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        check(f"{program} exposes its health port", ports.get("health") == health, f"{ports}")
        if program == "gateway":
            check("gateway exposes 3000", ports.get("http") == 3000 and
                  env.get("CHAT_GATEWAY_PORT", {}).get("value") == "3000", f"{ports}")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = container.get(probe, {}).get("httpGet", {})
            check(f"{program} {probe} on {path}",
                  get.get("path") == path and get.get("port") in ("health", health), f"{get}")
        res = container.get("resources", {})
        for part in ("requests", "limits"):
            check(f"{program} resource {part}",
                  {"cpu", "memory"} <= set(res.get(part, {})), f"{res}")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        check(f"{program} grace period drains", grace * 1000 > shutdown_ms + 5000,
              f"{grace} s for CHAT_SHUTDOWN_TIMEOUT_MS={shutdown_ms}")
        notes = pod.get("metadata", {}).get("annotations", {})
        check(f"{program} scrape annotations",
              notes.get("prometheus.io/scrape") == "true" and
              notes.get("prometheus.io/port") == str(health) and
              notes.get("prometheus.io/path") == "/metrics", f"{notes}")
        pdbs = [p for p in by_kind.get("PodDisruptionBudget", {}).values()
                if p["spec"]["selector"].get("matchLabels") == labels]
        check(f"{program} has a PodDisruptionBudget", len(pdbs) == 1, f"{len(pdbs)} select {labels}")

    gateway_labels = deployments.get("chat-gateway", {}).get("spec", {}).get(
        "selector", {}).get("matchLabels")
    services = [s for s in by_kind.get("Service", {}).values()
                if s["spec"].get("selector") == gateway_labels]
    check("a Service for the gateway", len(services) == 1, f"{len(services)}")
    for svc in services:
        check("the gateway Service is sticky", svc["spec"].get("sessionAffinity") == "ClientIP",
              "long-polling needs session affinity")
        check("the gateway Service reaches port http",
              any(p.get("targetPort") in ("http", 3000) for p in svc["spec"]["ports"]), "")
    hpas = [h for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
            if h["spec"]["scaleTargetRef"].get("name") == "chat-gateway"]
    check("a HorizontalPodAutoscaler for the gateway", len(hpas) == 1, f"{len(hpas)}")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
