/**
 * The model catalogue: the models ifai-lsp knows how to download, as data. Everything here is a
 * download fact (where, how big, under which licence, which hash); how a model is used (prompt
 * format, pooling, query prefixes) lives with the code that uses it (src/inference/local,
 * src/index/embedding), which refers to these entries by id only.
 *
 * Sizes are the hub's listed sizes, rounded: they feed the free-disk pre-check and the listing,
 * while the exact size always comes from the server's Content-Length.
 *
 * Hashes: a `sha256` is pinned only where it is known for certain from a public source (the hub's
 * LFS oid of that file at a pinned revision, which is the file's SHA-256). No entry pins one
 * today: none could be confirmed from a source the project can cite, and an invented or
 * half-remembered hash would be worse than none. Unpinned downloads are checked against the hash
 * the source itself publishes (the hub's X-Linked-Etag), and that is all `models list`
 * ("checked at download" / "unpinned") and `models verify` ("unchanged": matches the hash recorded
 * at download) claim. To pin an entry, read the LFS SHA-256 from the hub's file page, set
 * `revision` to the commit it belongs to (a branch can move), and add `sha256`.
 */
import { DEFAULT_MODEL_FILE } from "../../config/paths.js";

export type ModelFormat = "gguf" | "onnx";

/** What a model is for: fill-in-the-middle completion, chat, next-edit suggestions, or embeddings for the index. */
export type ModelRole = "fim" | "chat" | "nextEdit" | "embedding";

export interface CatalogueFile {
  /** Path of the file inside the hub repository (the part after /resolve/<revision>/). */
  path: string;
  /** Path of the file inside <cache>/models. */
  localPath: string;
  /** Approximate size in bytes, as the hub lists it. */
  approxBytes: number;
  /** Lower-case hex SHA-256 of the file, only where it is known for certain; absent means unpinned (see the header). */
  sha256?: string;
}

export interface CatalogueEntry {
  /** The id users type: `ifai-lsp models pull <id>`. */
  id: string;
  /** A human-readable name. */
  name: string;
  format: ModelFormat;
  roles: readonly ModelRole[];
  /** "base" models are the ones Qwen recommends for FIM; "instruct" ones for chat; "next-edit" ones are fine-tuned to rewrite the region around the cursor. */
  variant: "base" | "instruct" | "next-edit" | "embedding";
  /** Parameter count as published, e.g. "0.5B". */
  parameters: string;
  /** Quantization of the weights, e.g. "Q4_K_M" or "int8". */
  quantization: string;
  /** SPDX licence id of the weights. */
  licence: string;
  /** The Hugging Face repository ("owner/name") the files come from; hf-mirror.com serves the same paths. */
  hubRepo: string;
  /** The git revision to download (a branch or commit); "main" unless pinned. */
  revision: string;
  /** The same files on ModelScope ("owner/name"), where they are published there. */
  modelScopeRepo?: string;
  files: readonly CatalogueFile[];
  /** Resident memory the model needs once loaded with a 4k context, bytes (rough; for recommendations). */
  approxRamBytes: number;
  /** One sentence on when to choose this model. */
  description: string;
}

/** What each field of a catalogue entry means (for docs and reviewers). */
export const CATALOGUE_FIELD_DESCRIPTIONS: Readonly<Record<keyof CatalogueEntry, string>> = {
  id: "The id users type (`ifai-lsp models pull <id>`, ifai.models.pull); matched case-insensitively. Embedding ids equal those of src/index/embedding/catalog.ts, which holds how each is run.",
  name: "A human-readable name for listings.",
  format: "gguf (llama.cpp, the completion and chat models) or onnx (onnxruntime, the embedding models).",
  roles: "What the model is for: fim (fill-in-the-middle completion), chat, nextEdit (next-edit suggestions in the model's own prompt format), embedding.",
  variant: "base (pre-trained; Qwen recommends it for FIM), instruct (tuned for chat), next-edit (a Qwen2.5-Coder fine-tune for next-edit suggestions) or embedding.",
  parameters: "Parameter count as published.",
  quantization: "Weight format of the files downloaded (Q4_K_M by default for GGUF, int8 for ONNX).",
  licence: "SPDX id (or the publisher's licence name) of the weights; Qwen2.5-Coder 3B is under the Qwen Research licence, not Apache-2.0.",
  hubRepo: "The Hugging Face repository the files come from; hf-mirror.com and HF-compatible mirrors serve the same paths.",
  revision: "The git revision downloaded (a branch or a commit).",
  modelScopeRepo: "The same files on ModelScope, where they are published there (Qwen's official GGUF repositories).",
  files: "The files to download: repository path, path inside <cache>/models, approximate size, and a SHA-256 where one is known for certain (none is today: unpinned files are checked against the hub's X-Linked-Etag, and listings say they are unpinned).",
  approxRamBytes: "Rough resident memory once loaded with a 4k context, used by `ifai-lsp doctor` to recommend a model.",
  description: "When to choose this model, in one sentence.",
};

const MB = 1_000_000;

function gguf(entry: Omit<CatalogueEntry, "format" | "revision"> & { revision?: string }): CatalogueEntry {
  return { format: "gguf", revision: "main", ...entry };
}

/** Qwen publishes official GGUF builds only of the instruct models; base GGUFs come from bartowski's widely used quantizations. */
export const CATALOGUE: readonly CatalogueEntry[] = Object.freeze([
  gguf({
    id: "qwen2.5-coder-0.5b",
    name: "Qwen2.5-Coder 0.5B (base) Q4_K_M",
    roles: ["fim"],
    variant: "base",
    parameters: "0.5B",
    quantization: "Q4_K_M",
    licence: "Apache-2.0",
    hubRepo: "bartowski/Qwen2.5-Coder-0.5B-GGUF",
    files: [{ path: "Qwen2.5-Coder-0.5B-Q4_K_M.gguf", localPath: DEFAULT_MODEL_FILE, approxBytes: 398 * MB }],
    approxRamBytes: 700 * MB,
    description: "The default completion model: fast on any CPU (30-50 tokens/s on 2 cores), base weights trained for fill-in-the-middle.",
  }),
  gguf({
    id: "qwen2.5-coder-0.5b-instruct",
    name: "Qwen2.5-Coder 0.5B Instruct Q4_K_M",
    roles: ["chat", "fim"],
    variant: "instruct",
    parameters: "0.5B",
    quantization: "Q4_K_M",
    licence: "Apache-2.0",
    hubRepo: "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
    modelScopeRepo: "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
    files: [{ path: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", localPath: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", approxBytes: 398 * MB }],
    approxRamBytes: 700 * MB,
    description: "Small chat model for explanations and quick edits on low-end machines.",
  }),
  gguf({
    id: "qwen2.5-coder-1.5b",
    name: "Qwen2.5-Coder 1.5B (base) Q4_K_M",
    roles: ["fim"],
    variant: "base",
    parameters: "1.5B",
    quantization: "Q4_K_M",
    licence: "Apache-2.0",
    hubRepo: "bartowski/Qwen2.5-Coder-1.5B-GGUF",
    files: [{ path: "Qwen2.5-Coder-1.5B-Q4_K_M.gguf", localPath: "qwen2.5-coder-1.5b-q4_k_m.gguf", approxBytes: 986 * MB }],
    approxRamBytes: 1_500 * MB,
    description: "Better completions (HumanEval-FIM 83.5 vs 77.7 for 0.5B) for machines with a GPU or 4+ fast cores.",
  }),
  gguf({
    id: "qwen2.5-coder-1.5b-instruct",
    name: "Qwen2.5-Coder 1.5B Instruct Q4_K_M",
    roles: ["chat"],
    variant: "instruct",
    parameters: "1.5B",
    quantization: "Q4_K_M",
    licence: "Apache-2.0",
    hubRepo: "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
    modelScopeRepo: "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
    files: [{ path: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", localPath: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", approxBytes: 1_120 * MB }],
    approxRamBytes: 1_700 * MB,
    description: "Chat and refactoring model for machines with 8 GB of memory or more.",
  }),
  gguf({
    id: "qwen2.5-coder-3b",
    name: "Qwen2.5-Coder 3B (base) Q4_K_M",
    roles: ["fim"],
    variant: "base",
    parameters: "3B",
    quantization: "Q4_K_M",
    licence: "Qwen-Research",
    hubRepo: "bartowski/Qwen2.5-Coder-3B-GGUF",
    files: [{ path: "Qwen2.5-Coder-3B-Q4_K_M.gguf", localPath: "qwen2.5-coder-3b-q4_k_m.gguf", approxBytes: 1_930 * MB }],
    approxRamBytes: 2_600 * MB,
    description: "The strongest local completion model here; wants a GPU (Metal, CUDA or Vulkan) for interactive speed. Licensed for research (Qwen Research licence), not Apache-2.0.",
  }),
  gguf({
    id: "qwen2.5-coder-3b-instruct",
    name: "Qwen2.5-Coder 3B Instruct Q4_K_M",
    roles: ["chat"],
    variant: "instruct",
    parameters: "3B",
    quantization: "Q4_K_M",
    licence: "Qwen-Research",
    hubRepo: "Qwen/Qwen2.5-Coder-3B-Instruct-GGUF",
    modelScopeRepo: "Qwen/Qwen2.5-Coder-3B-Instruct-GGUF",
    files: [{ path: "qwen2.5-coder-3b-instruct-q4_k_m.gguf", localPath: "qwen2.5-coder-3b-instruct-q4_k_m.gguf", approxBytes: 2_100 * MB }],
    approxRamBytes: 2_800 * MB,
    description: "Chat model for machines with a GPU and 16 GB of memory or more. Qwen Research licence.",
  }),
  /*
   * Next-edit models: Qwen2.5-Coder fine-tunes with prompt formats of their own (src/features/
   * nextEdit/formats). Set model.path to the file; nextEdit.format "auto" picks the format from
   * the file name ("sweep" / "zeta" in it), and the same model serves completions.
   *
   * Sweep's 1.5B and 0.5B: the file names are the ones Sweep's own tooling and several independent
   * clients download from these repositories (sweep-autocomplete's MODEL_FILENAME, editor
   * plugins). Not verified from the hub here: the revision (one client pins
   * 409016591c6c1a94f545f22328a85a3516118f34 for the 1.5B), the licence (no source found states it),
   * the 0.5B's size (estimated from the Q8_0 size of the Qwen2.5-Coder-0.5B shape, 529 MB measured
   * here), and the SHA-256s (two independent third-party sources agree on
   * 1321ea5e5d7529e60f9770c6a0b3a965f89542d16cf4ae51bab267f6a88150da for the 1.5B file, one gives
   * 2d2f5ca856765a086d4ee3d0dc4d30358e9d562e36480e0c754240e9cf45ed64 for the 0.5B): so they stay on
   * "main" and unpinned, checked against the hash the hub publishes at download. Sweep's 7B
   * (sweep-next-edit-v2-7B) uses a newer format (line ranges in the section headers, a cursor
   * marker, a prefilled answer) that formats/sweep.ts does not write, so it is not listed.
   */
  gguf({
    id: "sweep-next-edit-1.5b",
    name: "Sweep Next-Edit 1.5B Q8_0",
    roles: ["nextEdit", "fim"],
    variant: "next-edit",
    parameters: "1.5B",
    quantization: "Q8_0",
    licence: "unverified (see the model card)",
    hubRepo: "sweepai/sweep-next-edit-1.5B",
    files: [{ path: "sweep-next-edit-1.5b.q8_0.v2.gguf", localPath: "sweep-next-edit-1.5b-q8_0.gguf", approxBytes: 1_537 * MB }],
    approxRamBytes: 2_200 * MB,
    description: "Sweep's next-edit model (format \"sweep\"): far better next edits than a general model of its size; wants 4+ cores or a GPU.",
  }),
  gguf({
    id: "sweep-next-edit-0.5b",
    name: "Sweep Next-Edit 0.5B Q8_0",
    roles: ["nextEdit", "fim"],
    variant: "next-edit",
    parameters: "0.5B",
    quantization: "Q8_0",
    licence: "unverified (see the model card)",
    hubRepo: "sweepai/sweep-next-edit-0.5B",
    files: [{ path: "sweep-next-edit-0.5b.q8_0.gguf", localPath: "sweep-next-edit-0.5b-q8_0.gguf", approxBytes: 530 * MB }],
    approxRamBytes: 900 * MB,
    description: "The small Sweep next-edit model (format \"sweep\"), for machines where 1.5B is too slow.",
  }),
  // Zed's Zeta (zed-industries/zeta, a Qwen2.5-Coder-7B fine-tune, Apache-2.0) publishes no GGUF
  // itself; bartowski's quantization is the one LM Studio's community repository mirrors. The
  // revision and size are read from the hub's file listing at that commit.
  gguf({
    id: "zeta",
    name: "Zed Zeta 7B Q4_K_M",
    roles: ["nextEdit", "fim"],
    variant: "next-edit",
    parameters: "7B",
    quantization: "Q4_K_M",
    licence: "Apache-2.0",
    hubRepo: "bartowski/zed-industries_zeta-GGUF",
    revision: "24b9f7eaf9bad4b9cce7913f3758beb703f982d9",
    files: [{ path: "zed-industries_zeta-Q4_K_M.gguf", localPath: "zed-industries_zeta-Q4_K_M.gguf", approxBytes: 4_680 * MB }],
    approxRamBytes: 5_600 * MB,
    description: "Zed's edit-prediction model (format \"zeta\"); 7B, so a GPU and 8 GB of memory or more.",
  }),
  {
    id: "jina-embeddings-v2-base-code",
    name: "jina-embeddings-v2-base-code (int8 ONNX)",
    format: "onnx",
    roles: ["embedding"],
    variant: "embedding",
    parameters: "161M",
    quantization: "int8",
    licence: "Apache-2.0",
    hubRepo: "jinaai/jina-embeddings-v2-base-code",
    revision: "main",
    files: [
      { path: "onnx/model_quantized.onnx", localPath: "jina-embeddings-v2-base-code/model_quantized.onnx", approxBytes: 162 * MB },
      { path: "tokenizer.json", localPath: "jina-embeddings-v2-base-code/tokenizer.json", approxBytes: 2 * MB },
    ],
    approxRamBytes: 400 * MB,
    description: "Code search embeddings with an 8k-token context; the index's default.",
  },
  {
    id: "CodeRankEmbed",
    name: "CodeRankEmbed (int8 ONNX)",
    format: "onnx",
    roles: ["embedding"],
    variant: "embedding",
    parameters: "137M",
    quantization: "int8",
    licence: "MIT",
    // nomic-ai publishes PyTorch weights only; this is a community int8 ONNX export of them.
    hubRepo: "mrsladoje/CodeRankEmbed-onnx-int8",
    revision: "main",
    files: [
      { path: "onnx/model.onnx", localPath: "CodeRankEmbed/model.onnx", approxBytes: 132 * MB },
      { path: "tokenizer.json", localPath: "CodeRankEmbed/tokenizer.json", approxBytes: 1 * MB },
    ],
    approxRamBytes: 350 * MB,
    description: "The best code retrieval of the small embedders (CoIR 60.1); queries take a prefix.",
  },
  {
    id: "all-MiniLM-L6-v2",
    name: "all-MiniLM-L6-v2 (int8 ONNX)",
    format: "onnx",
    roles: ["embedding"],
    variant: "embedding",
    parameters: "22M",
    quantization: "int8",
    licence: "Apache-2.0",
    hubRepo: "Xenova/all-MiniLM-L6-v2",
    revision: "main",
    files: [
      { path: "onnx/model_quantized.onnx", localPath: "all-MiniLM-L6-v2/model_quantized.onnx", approxBytes: 23 * MB },
      { path: "tokenizer.json", localPath: "all-MiniLM-L6-v2/tokenizer.json", approxBytes: 1 * MB },
    ],
    approxRamBytes: 120 * MB,
    description: "Tiny general-text embedder for very small machines; weaker on code.",
  },
  {
    id: "Qwen3-Embedding-0.6B",
    name: "Qwen3-Embedding-0.6B (int8 ONNX)",
    format: "onnx",
    roles: ["embedding"],
    variant: "embedding",
    parameters: "0.6B",
    quantization: "int8",
    licence: "Apache-2.0",
    // Qwen publishes safetensors only; Qdrant's ONNX export (int8 weights) needs onnxruntime >= 1.23.
    hubRepo: "Qdrant/Qwen3-Embedding-0.6B-onnx",
    revision: "main",
    files: [
      { path: "onnx/model_quantized.onnx", localPath: "Qwen3-Embedding-0.6B/model_quantized.onnx", approxBytes: 1_120 * MB },
      { path: "tokenizer.json", localPath: "Qwen3-Embedding-0.6B/tokenizer.json", approxBytes: 11 * MB },
    ],
    approxRamBytes: 1_600 * MB,
    description: "The large embedding option (MTEB-Code 75.4) for machines with memory to spare.",
  },
]);

export const DEFAULT_COMPLETION_MODEL_ID = "qwen2.5-coder-0.5b";

/** Public download hosts, tried in this order after any configured mirrors. */
export type PublicHost = "huggingface" | "hf-mirror" | "modelscope";

/** The URL of one catalogue file on a Hugging Face-compatible host (`{base}/{repo}/resolve/{revision}/{path}`). */
export function hubStyleUrl(base: string, repo: string, revision: string, filePath: string): string {
  const trimmed = base.replace(/\/+$/, "");
  const encodedPath = filePath.split("/").map(encodeURIComponent).join("/");
  return `${trimmed}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

/** ModelScope's download URL pattern for a file of a model repository. */
export function modelScopeUrl(repo: string, filePath: string): string {
  const encodedPath = filePath.split("/").map(encodeURIComponent).join("/");
  return `https://modelscope.cn/models/${repo}/resolve/master/${encodedPath}`;
}

export interface MirrorOptions {
  /** Hugging Face-compatible base URLs tried first (an enterprise's internal mirror, or a test server). */
  mirrors: readonly string[];
  /** Also try huggingface.co, hf-mirror.com and (where published) modelscope.cn. */
  publicMirrors: boolean;
}

/** The URLs to try for one file, in order. */
export function fileUrls(entry: CatalogueEntry, file: CatalogueFile, options: MirrorOptions): string[] {
  const urls = options.mirrors.filter((m) => m.trim() !== "").map((m) => hubStyleUrl(m.trim(), entry.hubRepo, entry.revision, file.path));
  if (options.publicMirrors) {
    urls.push(hubStyleUrl("https://huggingface.co", entry.hubRepo, entry.revision, file.path));
    urls.push(hubStyleUrl("https://hf-mirror.com", entry.hubRepo, entry.revision, file.path));
    if (entry.modelScopeRepo) urls.push(modelScopeUrl(entry.modelScopeRepo, file.path));
  }
  return urls;
}

export function findEntry(id: string): CatalogueEntry | undefined {
  const wanted = id.trim().toLowerCase();
  return CATALOGUE.find((e) => e.id.toLowerCase() === wanted);
}

export function entryBytes(entry: CatalogueEntry): number {
  return entry.files.reduce((sum, f) => sum + f.approxBytes, 0);
}

/** Thrown for an id the catalogue does not know; the message lists the ones it does. */
export class UnknownModelError extends Error {
  override readonly name = "UnknownModelError";
  constructor(id: string) {
    super(`Unknown model id "${id}". Known ids: ${CATALOGUE.map((e) => e.id).join(", ")}. A custom model can be pulled by URL (https://…/model.gguf) or used directly through the model.path setting.`);
  }
}
