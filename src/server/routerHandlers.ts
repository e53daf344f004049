import { MessageType, type Connection } from "vscode-languageserver/node";
import type { Settings } from "../config/schema.js";
import { CloudRegistry } from "../inference/cloud/CloudRegistry.js";
import { scrub, type CloudError } from "../inference/cloud/errors.js";
import { routerConfig } from "../inference/router/config.js";
import { RoutedCompletionBackend } from "../inference/router/RoutedCompletionBackend.js";
import { Router } from "../inference/router/Router.js";
import type { Preference } from "../inference/router/types.js";
import { routerSummary } from "../inference/router/summary.js";
import type { CompletionBackend } from "../inference/types.js";
import { configureEgress } from "../privacy/egress.js";
import { ContextGate } from "../privacy/context.js";
import { preloadRedaction } from "../privacy/redact.js";
import type { Logger } from "../util/logger.js";
import { guard } from "./guard.js";
import { RouteLogRequest, type RouteLogParams, type RouteLogResult } from "./protocol.js";
import type { WorkspaceApi } from "./workspace.js";

export interface RouterApi {
  router: Router;
  cloud: CloudRegistry;
  /** The completion backend that routes between the local model and the cloud. */
  backend: RoutedCompletionBackend;
  configure(settings: Settings): void;
  /** The privacy gate's context check for this workspace (what may be sent to a cloud API). */
  gate: ContextGate;
  /** Tells the user (once per distinct message) about a cloud failure they must fix. */
  reportCloudProblem(error: CloudError): void;
  /**
   * Sets the global preference at runtime (ifai.switchBackend); it holds until the setting
   * router.preference itself changes. Returns the preference before.
   */
  setPreference(preference: Preference): Preference;
  /** Whether the global preference comes from the settings or from ifai.switchBackend. */
  preferenceSource(): "settings" | "command";
}

/**
 * The router and the cloud providers as the server sees them: the routed completion backend, the
 * `ifai/routeLog` request, and one message per distinct cloud problem a user must fix (a missing
 * key, a wrong URL), never one per keystroke.
 */
export function registerRouter(connection: Connection, logger: Logger, settings: Settings, local: CompletionBackend, workspace: WorkspaceApi): RouterApi {
  const routerLogger = logger.child({ component: "router" });
  const cloud = new CloudRegistry(logger.child({ component: "cloud" }));
  // The process-wide egress gate learns the setting here; IFAI_LOCAL_ONLY it reads itself.
  configureEgress({ localOnly: settings["privacy.localOnly"] });
  const gate = new ContextGate(() => workspace.folders());
  cloud.configure(settings);
  const router = new Router(
    routerConfig(settings),
    {
      localStatus: () => local.status(),
      cloudProvider: (task) => cloud.providerFor(task),
      excluded: (uri) => gate.documentRefusal(uri),
      contextExcluded: (source) => gate.contextRefusal(source),
    },
    routerLogger,
  );
  const shown = new Set<string>();
  const tell = (message: string): void => {
    if (shown.has(message)) return;
    shown.add(message);
    routerLogger.warn(message);
    void connection.sendNotification("window/showMessage", { type: MessageType.Warning, message: `ifai: ${message}` });
  };
  const reportConfiguration = (): void => {
    if (router.settings().localOnly) return;
    for (const problem of cloud.configurationProblems()) tell(problem);
    // A provider may be used: load the redaction rules now rather than on the first cloud request.
    if (cloud.names().length > 0) preloadRedaction();
  };
  reportConfiguration();
  const backend = new RoutedCompletionBackend(local, router, cloud, routerLogger, (error) => tell(scrub(error.message)), (source) => gate.contextRefusal(source));

  connection.onRequest(
    RouteLogRequest.method,
    guard(logger, RouteLogRequest.method, (p: RouteLogParams | undefined): RouteLogResult => {
      const snapshot = router.routeLog(p?.last);
      return { decisions: snapshot.entries, counts: snapshot.counts, summary: routerSummary(router.settings(), cloud) };
    }),
  );

  let runtimePreference: Preference | undefined;
  let settingPreference = settings["router.preference"];
  return {
    router,
    cloud,
    backend,
    gate,
    configure(next) {
      configureEgress({ localOnly: next["privacy.localOnly"] });
      cloud.configure(next);
      gate.reset();
      if (next["router.preference"] !== settingPreference) runtimePreference = undefined;
      settingPreference = next["router.preference"];
      const config = routerConfig(next);
      router.configure(runtimePreference ? { ...config, preference: runtimePreference } : config);
      reportConfiguration();
    },
    reportCloudProblem: (error) => tell(scrub(error.message)),
    setPreference(preference) {
      const previous = router.settings().preference;
      runtimePreference = preference;
      router.configure({ ...router.settings(), preference });
      return previous;
    },
    preferenceSource: () => (runtimePreference ? "command" : "settings"),
  };
}
