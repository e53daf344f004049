import readline from "node:readline";
import type { Readable } from "node:stream";
// Types only: the parser below runs (and is unit-tested) without VS Code.
import type { LogOutputChannel } from "vscode";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

export interface ServerLogEntry {
  level: LogLevel;
  text: string;
}

/** pino's numeric levels (fatal 60 shows as an error). */
function levelOf(n: number): LogLevel {
  if (n >= 50) return "error";
  if (n >= 40) return "warn";
  if (n >= 30) return "info";
  if (n >= 20) return "debug";
  return "trace";
}

/**
 * One line the server wrote to stderr as a log entry. The server logs with pino, one JSON object
 * per line ({"level":30,"time":…,"pid":…,"hostname":…,"name":"ifai-lsp","msg":…, …fields}); it
 * keeps its level and message, and the remaining fields follow as JSON (an error's stack on its
 * own lines). The output channel adds its own time stamp, so pino's and the process fields are
 * dropped. Anything that is not such a line (a crash's stack trace, a native library's message)
 * is shown as a warning.
 */
export function parseServerLogLine(line: string): ServerLogEntry {
  if (line.startsWith("{")) {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = undefined;
    }
    if (entry && typeof entry === "object" && typeof (entry as { level?: unknown }).level === "number") {
      const { level, msg, time: _time, pid: _pid, hostname: _hostname, name: _name, v: _v, err, ...fields } = entry as Record<string, unknown>;
      let stack = "";
      if (err && typeof err === "object") {
        const { stack: trace, ...rest } = err as Record<string, unknown>;
        if (typeof trace === "string") stack = `\n${trace}`;
        if (Object.keys(rest).length) fields.err = rest;
      } else if (err !== undefined) {
        fields.err = err;
      }
      const parts = [typeof msg === "string" ? msg : "", Object.keys(fields).length ? JSON.stringify(fields) : ""];
      return { level: levelOf(level as number), text: parts.filter(Boolean).join(" ") + stack };
    }
  }
  return { level: "warn", text: line };
}

/**
 * Forwards the server's stderr to the output channel at each line's own level (vscode-languageclient
 * would log every stderr line as an error).
 */
export function pipeServerLog(input: Readable, channel: LogOutputChannel): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on("line", (line) => {
    if (!line.trim()) return;
    const { level, text } = parseServerLogLine(line);
    channel[level](text);
  });
}

/** What the client does with stdout when it is not the protocol stream (other transports): info lines. */
export function pipeServerStdout(input: Readable, channel: LogOutputChannel): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on("line", (line) => channel.info(line));
}
