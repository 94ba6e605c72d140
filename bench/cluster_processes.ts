/**
 * Real processes for the Redis-backed cluster, shared by tests/cluster and
 * bench/cluster_throughput.ts: a redis-server (AOF on) on a free loopback port with its own
 * data directory, and API / worker server processes whose stdout lines can be waited for.
 */
import { fromFileUrl } from "../src/_file_url.ts";
import { freePort, type Proc, spawn } from "../tests/_helpers.ts";

export type { Proc };

const ROOT = fromFileUrl(new URL("..", import.meta.url).href);

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
