/**
 * `ifai-lsp doctor`: what this machine offers the local model — compute backend, cores, RAM,
 * VRAM — the model it recommends and why, and the tokens/s of the installed model measured with
 * a short real generation. Prints to stdout (`--json` for one JSON object).
 */
import fs from "node:fs";
import { cliCommand } from "./cliCommand.js";
import { resolveModelPath } from "../config/paths.js";
import { findEntry } from "../inference/models/catalogue.js";
import { detectHardware, recommendModel, type HardwareInfo, type Recommendation } from "../inference/models/hardware.js";
import { LocalCompletionBackend } from "../inference/local/LocalCompletionBackend.js";
import { LocalModel } from "../inference/local/LocalModel.js";
import { autoThreads, getLlamaRuntime, type GpuSetting } from "../inference/local/llamaRuntime.js";
import { silentLogger } from "../util/logger.js";

export const DOCTOR_HELP = `Usage: ifai-lsp doctor [--model FILE] [--gpu auto|cpu|metal|cuda|vulkan] [--threads N] [--no-bench] [--json]
  Prints the compute backend, cores, RAM and VRAM, the recommended model and why, and the
  generation speed (tokens/s) of the installed model (FILE, else $IFAI_MODEL, else the default path).
`;

export interface SpeedResult {
  modelPath: string;
  loadMs: number;
  promptTokens: number;
  generatedTokens: number;
  /** Generation speed after the first token. */
  tokensPerSecond: number;
  firstTokenMs: number;
  contextSize?: number;
  notice?: string;
}

export interface DoctorReport {
  hardware: HardwareInfo;
  threads: number;
  recommendation: Recommendation;
  model: { path: string; present: boolean; bytes?: number };
  speed?: SpeedResult;
  speedError?: string;
}

const GPU_SETTINGS = new Set(["auto", "cpu", "metal", "cuda", "vulkan"]);

function flag(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  const a = args[i]!;
  return a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[i + 1];
}

export async function runDoctor(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const gpu = (flag(args, "--gpu") ?? "auto") as GpuSetting;
  if (!GPU_SETTINGS.has(gpu)) {
    process.stderr.write(`ifai-lsp doctor: --gpu must be one of auto, cpu, metal, cuda, vulkan\n\n${DOCTOR_HELP}`);
    return 2;
  }
  const threadsFlag = flag(args, "--threads");
  const threads = threadsFlag ? Number(threadsFlag) : autoThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    process.stderr.write(`ifai-lsp doctor: --threads must be a positive integer\n`);
    return 2;
  }
  const modelPath = resolveModelPath(flag(args, "--model") ?? env.IFAI_MODEL ?? "", env);
  const llama = await getLlamaRuntime(gpu, threads, silentLogger());
  const hardware = await detectHardware(llama);
  const report: DoctorReport = {
    hardware,
    threads,
    recommendation: recommendModel(hardware),
    model: { path: modelPath, present: false },
  };
  const stat = fs.statSync(modelPath, { throwIfNoEntry: false });
  if (stat?.isFile()) {
    report.model = { path: modelPath, present: true, bytes: stat.size };
    if (!args.includes("--no-bench")) {
      try {
        report.speed = await measureSpeed(modelPath, gpu, threads);
      } catch (error) {
        report.speedError = error instanceof Error ? error.message : String(error);
      }
    }
  }
  if (args.includes("--json")) process.stdout.write(`${JSON.stringify(report)}\n`);
  else process.stdout.write(formatReport(report));
  await llama.dispose().catch(() => undefined);
  return 0;
}

/** Loads the model and times a short greedy generation: the tokens/s a user will see. */
export async function measureSpeed(modelPath: string, gpu: GpuSetting, threads: number, maxTokens = 48): Promise<SpeedResult> {
  const model = new LocalModel({ modelPath, gpu, threads, contextSize: 2048, batchSize: 512, idleUnloadMs: 0, keepLoaded: true }, silentLogger());
  const backend = new LocalCompletionBackend(model, silentLogger());
  try {
    const started = performance.now();
    await model.load();
    const loadMs = Math.round(performance.now() - started);
    const signal = new AbortController().signal;
    const prompt = "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n";
    const result = await backend.generate({ prompt: [{ kind: "text", text: prompt }], maxTokens, maxTimeMs: 60_000, temperature: 0 }, signal);
    const genMs = result.totalMs - (result.firstTokenMs ?? 0);
    const tokensPerSecond = result.generatedTokens > 1 && genMs > 0 ? ((result.generatedTokens - 1) * 1000) / genMs : 0;
    const status = model.status();
    return {
      modelPath,
      loadMs,
      promptTokens: result.promptTokens,
      generatedTokens: result.generatedTokens,
      tokensPerSecond: Math.round(tokensPerSecond * 10) / 10,
      firstTokenMs: Math.round(result.firstTokenMs ?? result.totalMs),
      ...(status.contextSize ? { contextSize: status.contextSize } : {}),
      ...(status.notice ? { notice: status.notice } : {}),
    };
  } finally {
    await model.dispose();
  }
}

const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(1)} GB`;

export function formatReport(r: DoctorReport): string {
  const hw = r.hardware;
  const lines = [
    "ifai-lsp doctor",
    "",
    `Backend     ${hw.backend}${hw.gpuNames.length ? ` (${hw.gpuNames.join(", ")})` : ""}   llama.cpp ${hw.llamaCpp}`,
    `CPU         ${hw.cpuModel}, ${hw.cores} cores available; the local model uses ${r.threads} thread(s)`,
    `RAM         ${gb(hw.ramTotal)} total, ${gb(hw.ramFree)} free`,
    `VRAM        ${hw.vram ? `${gb(hw.vram.total)} total, ${gb(hw.vram.free)} free${hw.vram.unified ? " (unified memory)" : ""}` : "none (CPU backend)"}`,
    `System      ${hw.platform} ${hw.arch}`,
    "",
  ];
  const rec = findEntry(r.recommendation.id);
  lines.push(`Recommended ${r.recommendation.id}${rec ? ` — ${rec.name}, ~${Math.round(rec.files[0]!.approxBytes / 1e6)} MB, ${rec.licence}` : ""}`);
  lines.push(`            ${r.recommendation.reason}`);
  lines.push(`            Get it with: ${cliCommand()} models pull ${r.recommendation.id}`);
  lines.push("");
  if (!r.model.present) {
    lines.push(`Model       none at ${r.model.path}`);
    lines.push(`            Pull one (${cliCommand()} models pull ${r.recommendation.id}) or set model.path to a GGUF file.`);
  } else {
    lines.push(`Model       ${r.model.path} (${Math.round((r.model.bytes ?? 0) / 1e6)} MB)`);
    if (r.speed) {
      lines.push(`Speed       ${r.speed.tokensPerSecond} tokens/s generation (${r.speed.generatedTokens} tokens), first token after ${r.speed.firstTokenMs} ms, loaded in ${r.speed.loadMs} ms`);
      if (r.speed.notice) lines.push(`            ${r.speed.notice}`);
    } else if (r.speedError) {
      lines.push(`Speed       not measured: ${r.speedError}`);
    } else {
      lines.push("Speed       not measured (--no-bench)");
    }
  }
  return `${lines.join("\n")}\n`;
}

