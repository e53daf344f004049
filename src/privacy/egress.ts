import { isIP } from "node:net";
import { localOnlyMode, type LocalOnlyMode } from "./localOnly.js";

/** Why the process connects somewhere: a cloud provider's API or a model download. */
export type EgressPurpose = "cloud API" | "model download";

/** A connection the egress gate refused; the message names how to allow it. */
export class EgressRefusedError extends Error {
  override readonly name = "EgressRefusedError";
  constructor(
    message: string,
    readonly url: string,
    readonly purpose: EgressPurpose,
  ) {
    super(message);
  }
}

/**
 * The process-wide egress policy. The server sets the privacy.localOnly setting here whenever the
 * settings change (the CLI from its environment); IFAI_LOCAL_ONLY is read at every decision, so
 * the environment holds even where no setting was ever given.
 */
let localOnlySetting = false;
let policyEnv: NodeJS.ProcessEnv = process.env;

export function configureEgress(options: { localOnly: boolean; env?: NodeJS.ProcessEnv }): void {
  localOnlySetting = options.localOnly;
  if (options.env) policyEnv = options.env;
}

/** Local-only mode as the gate sees it now (setting or environment). */
export function currentLocalOnly(): LocalOnlyMode {
  return localOnlyMode(localOnlySetting, policyEnv);
}

/**
 * True for hosts that never leave this machine: 127.0.0.0/8, ::1, IPv4-mapped loopback, and the
 * name localhost (which resolvers answer from the hosts file, RFC 6761). Other names are not
 * loopback even if they resolve to it: a name is resolved by DNS, which is itself traffic.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^(0:){7}1$/.test(h) || /^::ffff:127\./.test(h) || /^::ffff:7f[0-9a-f]{2}:/.test(h);
  return false;
}

/**
 * Whether this process may connect to `url` for `purpose`: the one question every outbound
 * connection asks before it is made. In local-only mode (privacy.localOnly or IFAI_LOCAL_ONLY)
 * only loopback addresses are allowed, for every purpose: a connection to this machine does not
 * leave it. (The router and the model manager refuse more than that in local-only mode: no cloud
 * provider at all, no downloads at all; this gate is what holds if a caller forgets.)
 */
export function egressRefusal(url: string | URL, purpose: EgressPurpose): string | undefined {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : url;
  } catch {
    return `${purpose}: "${String(url)}" is not a valid URL`;
  }
  if (!/^(https?|wss?):$/.test(parsed.protocol)) return `${purpose}: only http(s) connections are made, not ${parsed.protocol}`;
  const mode = currentLocalOnly();
  if (mode.on && !isLoopbackHost(parsed.hostname)) {
    const how = mode.source === "environment" ? "IFAI_LOCAL_ONLY is set in the environment" : "privacy.localOnly is on";
    return `local-only mode is on (${how}): no ${purpose} connection to ${parsed.host} is made, nothing leaves this machine. To allow it, ${mode.howToTurnOff}`;
  }
  return undefined;
}

/** Throws EgressRefusedError when `egressRefusal` refuses; call it right before connecting. */
export function assertEgress(url: string | URL, purpose: EgressPurpose): void {
  const refusal = egressRefusal(url, purpose);
  if (refusal) throw new EgressRefusedError(refusal, String(url), purpose);
}

/**
 * A fetch that asks the gate before every request (redirects the caller follows included), for
 * clients that take a fetch function (the openai SDK). A refusal rejects like a failed connection.
 */
export function gatedFetch(purpose: EgressPurpose): typeof fetch {
  return (input, init) => {
    const url = typeof input === "string" || input instanceof URL ? input : input.url;
    const refusal = egressRefusal(url, purpose);
    if (refusal) return Promise.reject(new EgressRefusedError(refusal, String(url), purpose));
    return fetch(input, init);
  };
}
