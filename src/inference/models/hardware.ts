/**
 * Hardware detection for `ifai-lsp doctor` and the model recommendation. The backend and VRAM come
 * from node-llama-cpp (the same runtime the local model uses), cores and RAM from the OS.
 */
import os from "node:os";
import type { Llama } from "node-llama-cpp";
import { findEntry } from "./catalogue.js";

export interface HardwareInfo {
  /** The compute backend llama.cpp loaded: metal, cuda, vulkan or cpu. */
  backend: "metal" | "cuda" | "vulkan" | "cpu";
  gpuNames: string[];
  /** GPU memory, bytes; absent on the CPU backend. */
  vram?: { total: number; free: number; unified: boolean };
  /** Logical cores available to this process. */
  cores: number;
  cpuModel: string;
  ramTotal: number;
  ramFree: number;
  platform: string;
  arch: string;
  /** The llama.cpp release node-llama-cpp bundles. */
  llamaCpp: string;
}

export async function detectHardware(llama: Llama): Promise<HardwareInfo> {
  const backend = llama.gpu === false ? "cpu" : llama.gpu;
  let vram: HardwareInfo["vram"];
  let gpuNames: string[] = [];
  if (backend !== "cpu") {
    const state = await llama.getVramState();
    vram = { total: state.total, free: state.free, unified: state.unifiedSize > 0 };
    gpuNames = await llama.getGpuDeviceNames().catch(() => []);
  }
  return {
    backend,
    gpuNames,
    ...(vram ? { vram } : {}),
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
    ramTotal: os.totalmem(),
    ramFree: os.freemem(),
    platform: os.platform(),
    arch: os.arch(),
    llamaCpp: llama.llamaCppRelease.release,
  };
}

export interface Recommendation {
  /** A catalogue id. */
  id: string;
  reason: string;
}

const GB = 1e9;

/**
 * Picks the completion model for the hardware. Completion must answer while the user types, so
 * the choice is driven by generation speed: the 0.5B model is the only one that is interactive on
 * a small CPU (30-50 tokens/s on 2 cores, NOTES.md); a GPU with room for the weights and a context
 * runs the larger ones interactively.
 */
export function recommendModel(hw: Pick<HardwareInfo, "backend" | "vram" | "cores" | "ramTotal" | "ramFree">): Recommendation {
  const need = (id: string): number => findEntry(id)!.approxRamBytes;
  if (hw.backend !== "cpu" && hw.vram) {
    const room = hw.vram.unified ? Math.min(hw.vram.free, hw.ramFree) : hw.vram.free;
    if (room >= need("qwen2.5-coder-3b") * 1.5) {
      return {
        id: "qwen2.5-coder-3b",
        reason: `${hw.backend} GPU with ${gb(room)} free holds the 3B model with room for its context (mind its Qwen Research licence; qwen2.5-coder-1.5b is Apache-2.0).`,
      };
    }
    if (room >= need("qwen2.5-coder-1.5b") * 1.5) {
      return { id: "qwen2.5-coder-1.5b", reason: `${hw.backend} GPU with ${gb(room)} free holds the 1.5B model and its context.` };
    }
  }
  if (hw.cores >= 8 && hw.ramFree >= 4 * GB) {
    return { id: "qwen2.5-coder-1.5b", reason: `No usable GPU, but ${hw.cores} cores and ${gb(hw.ramFree)} free memory run the 1.5B model at interactive speed.` };
  }
  const why = hw.backend === "cpu" ? `no GPU backend, ${hw.cores} cores` : `the GPU has too little free memory, ${hw.cores} cores`;
  return { id: "qwen2.5-coder-0.5b", reason: `${why}: the 0.5B model is the one that completes while you type on a CPU like this.` };
}

function gb(bytes: number): string {
  return `${(bytes / GB).toFixed(1)} GB`;
}
