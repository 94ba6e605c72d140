/**
 * Real processes for the Redis-backed cluster, shared by tests/cluster and
 * bench/cluster_throughput.ts: a redis-server (AOF on) on a free loopback port with its own
 * data directory, and API / worker server processes whose stdout lines can be waited for.
 */
import { fromFileUrl } from "../src/_file_url.ts";

const ROOT = fromFileUrl(new URL("..", import.meta.url).href);

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A child process whose stdout lines are kept, with a wait for a line matching a pattern. */
export class Proc {
  lines: string[] = [];
  #waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  constructor(readonly child: Deno.ChildProcess) {
    (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        const parts = buf.split("\n");
        buf = parts.pop()!;
        for (const line of parts) {
          this.lines.push(line);
          for (const w of [...this.#waiters]) {
            const m = line.match(w.re);
            if (m) {
              this.#waiters.splice(this.#waiters.indexOf(w), 1);
              w.resolve(m);
            }
          }
        }
      }
    })();
  }
  wait(re: RegExp, ms = 60_000): Promise<RegExpMatchArray> {
    const seen = this.lines.map((l) => l.match(re)).find(Boolean);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}`)), ms);
      this.#waiters.push({ re, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }
  kill(signal: Deno.Signal = "SIGTERM") {
    try {
      this.child.kill(signal);
    } catch { /* gone */ }
  }
}

export function spawn(cmd: string, args: string[]): Proc {
  return new Proc(new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).spawn());
}

export class Cluster {
  readonly port = freePort();
  readonly url = `redis://127.0.0.1:${this.port}/0`;
  redis!: Proc;
  private constructor(readonly dir: string, readonly serverArgs: string[]) {}

  /** A fresh redis-server; `serverArgs` are added to every API and worker command line. */
  static async start(serverArgs: string[] = []): Promise<Cluster> {
    const c = new Cluster(await Deno.makeTempDir({ prefix: "ralu-redis-" }), serverArgs);
    await c.startRedis();
    return c;
  }

  /** (Re)starts redis-server on the same port and data directory (the AOF is replayed). */
  async startRedis(): Promise<Proc> {
    this.redis = spawn("redis-server", [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--save",
      "",
      "--daemonize",
      "no",
      "--protected-mode",
      "no",
    ]);
    await this.redis.wait(/Ready to accept connections/);
    return this.redis;
  }

  async stopRedis(): Promise<void> {
    this.redis.kill("SIGTERM");
    await this.redis.child.status;
  }

  #server(role: "api" | "worker", extra: string[]): Proc {
    return spawn(Deno.execPath(), [
      "run",
      "--unstable-no-legacy-abort",
      "-A",
      `${ROOT}main.ts`,
      "serve",
      "--port",
      "0",
      "--queue",
      this.url,
      "--role",
      role,
      ...this.serverArgs,
      ...extra,
    ]);
  }

  async api(extra: string[] = []): Promise<{ p: Proc; url: string }> {
    const p = this.#server("api", extra);
    const m = await p.wait(/listening on (http:\/\/\S+)/);
    return { p, url: m[1]! };
  }

  async worker(extra: string[] = []): Promise<{ p: Proc; id: string }> {
    const p = this.#server("worker", extra);
    const m = await p.wait(/worker (w-[0-9a-f]+) ready/);
    return { p, id: m[1]! };
  }

  /** redis-cli against this server; stdout trimmed. */
  async cli(...args: string[]): Promise<string> {
    const out = await new Deno.Command("redis-cli", { args: ["-p", String(this.port), ...args] })
      .output();
    return new TextDecoder().decode(out.stdout).trim();
  }

  async stop(procs: Proc[]): Promise<void> {
    for (const p of procs) p.kill("SIGKILL");
    for (const p of procs) await p.child.status;
    await this.stopRedis();
    await Deno.remove(this.dir, { recursive: true });
  }
}
