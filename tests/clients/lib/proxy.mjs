// A TCP proxy that plays the load balancer in front of the gateways: every
// connection it accepts is piped to its current upstream port; it can
// switch upstream, drop every live connection (both sides destroyed, so a
// client sees its transport close, as after a balancer restart or a network
// cut, never a Socket.IO DISCONNECT) and refuse new connections for a while
// (each is closed at once, as by a balancer with no healthy backend).
// Plain node:net, so it knows nothing of HTTP or WebSocket and works for
// long-polling and the upgrade alike.
import net from "node:net";

export class Proxy {
  // Listens on a free loopback port; forwards to upstreamPort.
  static async start(upstreamPort) {
    const proxy = new Proxy(upstreamPort);
    await new Promise((resolve, reject) => {
      proxy.server.once("error", reject);
      proxy.server.listen(0, "127.0.0.1", resolve);
    });
    proxy.port = proxy.server.address().port;
    return proxy;
  }

  constructor(upstreamPort) {
    this.upstreamPort = upstreamPort;
    this.refusing = false;
    this.live = new Set(); // [client, upstream] pairs
    this.forwarded = new Map(); // upstream port -> connections piped to it
    this.refused = 0;
    this.server = net.createServer((client) => this.accept(client));
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  accept(client) {
    if (this.refusing) {
      this.refused++;
      client.on("error", () => {});
      client.destroy();
      return;
    }
    const port = this.upstreamPort;
    this.forwarded.set(port, (this.forwarded.get(port) ?? 0) + 1);
    const upstream = net.connect(port, "127.0.0.1");
    const pair = [client, upstream];
    this.live.add(pair);
    // Either side's end or error ends both, as a balancer's closed backend does.
    const close = () => {
      this.live.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const side of pair) {
      side.setNoDelay(true);
      side.on("error", close);
      side.on("close", close);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  // New connections go to port from now on; live ones stay where they are.
  switchTo(port) {
    this.upstreamPort = port;
  }

  // New connections are closed at once until open().
  refuse() {
    this.refusing = true;
  }

  // New connections are forwarded again (to port, when given).
  open(port = this.upstreamPort) {
    this.upstreamPort = port;
    this.refusing = false;
  }

  // Destroys every live connection, both sides; returns how many.
  dropAll() {
    const n = this.live.size;
    for (const [client, upstream] of [...this.live]) {
      client.destroy();
      upstream.destroy();
    }
    this.live.clear();
    return n;
  }

  // Connections piped to port so far.
  connectionsTo(port) {
    return this.forwarded.get(port) ?? 0;
  }

  async close() {
    this.refuse();
    this.dropAll();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
