/**
 * ralu-server: a local image server for diffusion transformers with region-adaptive
 * latent upsampling. `serve` (default), `generate`, `schedule`, `edges`; `--help`.
 */
import { ZodError } from "zod";
import { parseGenerateFlags, parseServeFlags, SERVE_HELP } from "./src/config/server_flags.ts";
import { startServer } from "./src/server.ts";

async function serve(args: string[]): Promise<void> {
  const server = await startServer(parseServeFlags(args));
  const stop = async () => {
    console.log("shutting down: cancelling jobs, draining connections");
    await server.shutdown();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}

async function generate(args: string[]): Promise<void> {
  const f = parseGenerateFlags(args);
  const { chooseEp } = await import("./src/onnx/ort.ts");
  const { loadModel } = await import("./src/pipeline/model.ts");
  const { generateImage } = await import("./src/pipeline/generate.ts");
  const model = await loadModel(
    f.model,
    await chooseEp(f.ep),
    f.kernels,
    f["models-dir"],
    f.precision,
  );
  const img = await generateImage(model, {
    prompt: f.prompt,
    size: f.size,
    seed: f.seed,
    steps: f.steps,
    guidance: f.guidance,
    acceleration: f.method === "base" ? undefined : {
      method: f.method,
      ...(f.preset ? { preset: f.preset } : {}),
    },
  }, { signal: new AbortController().signal });
  await Deno.writeFile(f.out, img.bytes);
  console.log(
    `wrote ${f.out} (${img.width}x${img.height}, seed ${img.seed}, ${
      img.timings.totalMs.toFixed(0)
    } ms, ${img.cost.tokenSteps} token-steps)`,
  );
  await model.release();
}

const commands: Record<string, (args: string[]) => Promise<void>> = { serve, generate };

async function main(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(SERVE_HELP);
    return;
  }
  const [first, ...rest] = argv;
  const name = first && !first.startsWith("-") ? first : "serve";
  const args = name === first ? rest : argv;
  const extra = await import("./src/cli_tools.ts").then((m) => m.tools).catch(() => ({}));
  const cmd = commands[name] ?? (extra as Record<string, (a: string[]) => Promise<void>>)[name];
  if (!cmd) {
    console.error(`unknown command "${name}"\n\n${SERVE_HELP}`);
    Deno.exit(2);
  }
  try {
    await cmd(args);
  } catch (err) {
    if (err instanceof ZodError) {
      console.error(
        `invalid flags: ${err.issues.map((i) => `--${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
      Deno.exit(2);
    }
    if (err instanceof Error && err.name === "ModelLoadError") {
      console.error(`cannot start: ${err.message}`);
      Deno.exit(2);
    }
    if (err instanceof TypeError && /option|argument/i.test(err.message)) {
      console.error(`${err.message}\n\n${SERVE_HELP}`);
      Deno.exit(2);
    }
    throw err;
  }
}

if (import.meta.main) await main(Deno.args);
