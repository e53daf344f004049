import type { CompletionRequest, DocumentSnapshot } from "../../src/features/completion/types.js";

/** An automatic completion request for a TypeScript document under file:///p/ (repository "p"). */
export function completionRequest(uri: string, text: string, offset: number, others: DocumentSnapshot[] = []): CompletionRequest {
  return {
    document: { uri, languageId: "typescript", version: 1, text },
    offset,
    trigger: "automatic",
    relativePath: uri.replace("file:///p/", ""),
    repoName: "p",
    displayPath: (u) => u.replace("file:///p/", ""),
    otherDocuments: () => others,
  };
}
