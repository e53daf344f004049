import type { ChatContextSource } from "./ChatService.js";
import type { IndexService } from "../../index/IndexService.js";

/** The index as chat's context source: the context builder, and why it cannot answer when it cannot. */
export function indexChatContext(service: IndexService): ChatContextSource {
  return {
    searchable: () => service.searchable,
    unavailableReason: () => {
      const status = service.status();
      if (status.state === "disabled") return "the codebase index is off (index.enabled)";
      if (status.folders.length === 0) return "no workspace folder is indexed";
      return `the codebase index is ${status.state}${status.message ? ` (${status.message})` : ""}`;
    },
    buildContext: async (params) => {
      const result = await service.buildContext(params);
      return { chunks: result.chunks };
    },
  };
}
