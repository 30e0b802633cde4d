// The processes of the fault runner (run.mjs) and of the storms
// (storms.mjs): a private Kafka and FerretDB on its own PostgreSQL
// (deploy/lib/stack.sh), and our services as child processes that can be
// started, killed, paused and started again with the same settings.
import { spawn, execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => Date.now();

export { freePort } from "../lib/free_port.mjs";
import { freePort } from "../lib/free_port.mjs";

export function run(file, args, options = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: "utf8", ...options }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(" ")}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

// One function of deploy/lib/stack.sh.
export const stackSh = (fn, ...args) =>
  run("bash", ["-c", `source "${root}/deploy/lib/stack.sh" && ${fn} "$@"`, "stack", ...args]);

// The private Kafka and store.
export class Infra {
  constructor(work) {
    this.kafkaDir = path.join(work, "kafka");
    this.storeDir = path.join(work, "ferretdb");
  }
  async start() {
    [this.kafkaPort, this.controllerPort, this.storePort, this.pgPort] =
      [await freePort(), await freePort(), await freePort(), await freePort()];
    await Promise.all([this.startKafka(), this.startStore()]);
    this.brokers = `127.0.0.1:${this.kafkaPort}`;
    this.mongoUri = `mongodb://127.0.0.1:${this.storePort}/`;
  }
  startKafka() { return stackSh("stack_kafka_start", this.kafkaDir, String(this.kafkaPort), String(this.controllerPort)); }
  stopKafka() { return stackSh("stack_kafka_stop", this.kafkaDir); }
  killKafka() {
    const pid = Number(fs.readFileSync(path.join(this.kafkaDir, "kafka.pid"), "utf8"));
    process.kill(pid, "SIGKILL");
    return waitGone(pid);
  }
  startStore() { return stackSh("stack_ferretdb_start", this.storeDir, String(this.storePort), String(this.pgPort)); }
  stopStore() { return stackSh("stack_ferretdb_stop", this.storeDir); }
  async stop() {
    await this.stopKafka().catch((e) => console.error(e.message));
    await this.stopStore().catch((e) => console.error(e.message));
  }
}

export async function waitGone(pid) {
  for (let i = 0; i < 300; i++) {
    try { process.kill(pid, 0); } catch { return; }
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] ?? "";
    if (stat.startsWith("Z")) return;
    await sleep(100);
  }
  throw new Error(`process ${pid} did not go away`);
}

// One of our services: started, killed, paused and started again with the
// same settings (a gateway keeps its port).
export class Service {
  constructor(name, binary, env, logDir) {
    Object.assign(this, { name, binary, env, logFile: path.join(logDir, `${name}.log`), child: null, exits: [] });
  }
  async start() {
    this.healthPort = await freePort();
    const out = fs.openSync(this.logFile, "a");
    const child = spawn(this.binary, [], {
      stdio: ["ignore", out, out],
      env: { ...process.env, ...this.env, CHAT_HEALTH_PORT: String(this.healthPort) },
    });
    fs.closeSync(out);
    this.child = child;
    child.on("exit", (code, signal) => this.exits.push({ code, signal, expected: child.expectedExit ?? false }));
    const deadline = now() + 120000;
    while (!(await this.ready())) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${this.name} exited while starting (see ${this.logFile})`);
      if (now() > deadline) throw new Error(`${this.name} not ready within 120 s (see ${this.logFile})`);
      await sleep(200);
    }
  }
  async ready() {
    try {
      return (await fetch(`http://127.0.0.1:${this.healthPort}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200;
    } catch { return false; }
  }
  running() { return this.child && this.child.exitCode === null && this.child.signalCode === null; }
  async signal(sig) {
    if (sig === "SIGKILL") this.child.expectedExit = true;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill(sig);
    if (sig === "SIGKILL") await exited;
  }
  // SIGTERM; resolves with the exit code (null after a signal).
  async stop() {
    if (!this.running()) return 0;
    this.child.expectedExit = true;
    this.child.kill("SIGCONT");
    const exited = new Promise((r) => this.child.once("exit", (code) => r(code)));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}
