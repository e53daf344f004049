import path from "node:path";
import { fileURLToPath } from "node:url";
import type { InitializeParams } from "vscode-languageserver/node";

export interface WorkspaceFolder {
  uri: string;
  name: string;
  /** File-system path when the folder is a file: URI. */
  fsPath?: string;
}

export interface WorkspaceApi {
  folders(): readonly WorkspaceFolder[];
  /** The path the model sees for a document, and the repository name for repo-level prompts. */
  locate(uri: string): { relativePath: string; repoName: string };
  setFolders(folders: readonly WorkspaceFolder[]): void;
}

/** Workspace folders from `initialize` (workspaceFolders, else the deprecated rootUri/rootPath). */
export function registerWorkspace(params: InitializeParams): WorkspaceApi {
  let folders: WorkspaceFolder[] = [];
  if (params.workspaceFolders && params.workspaceFolders.length > 0) {
    folders = params.workspaceFolders.map((f) => withPath({ uri: f.uri, name: f.name }));
  } else if (params.rootUri) {
    folders = [withPath({ uri: params.rootUri, name: path.basename(safePath(params.rootUri) ?? params.rootUri) })];
  } else if (params.rootPath) {
    folders = [{ uri: `file://${params.rootPath}`, name: path.basename(params.rootPath), fsPath: params.rootPath }];
  }
  return {
    folders: () => folders,
    setFolders: (next) => {
      folders = next.map(withPath);
    },
    locate(uri) {
      const file = safePath(uri);
      // The deepest folder containing the file names the repository.
      const owner = folders
        .filter((f) => f.fsPath && file && isInside(file, f.fsPath))
        .sort((a, b) => (b.fsPath?.length ?? 0) - (a.fsPath?.length ?? 0))[0];
      if (owner?.fsPath && file) return { relativePath: path.relative(owner.fsPath, file).split(path.sep).join("/"), repoName: owner.name };
      const name = file ? path.basename(file) : uri.slice(uri.lastIndexOf("/") + 1);
      return { relativePath: name || uri, repoName: folders[0]?.name ?? "workspace" };
    },
  };
}

function withPath(folder: WorkspaceFolder): WorkspaceFolder {
  const fsPath = safePath(folder.uri);
  return fsPath ? { ...folder, fsPath } : { ...folder };
}

function safePath(uri: string): string | undefined {
  if (!uri.startsWith("file:")) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

function isInside(file: string, folder: string): boolean {
  const rel = path.relative(folder, file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}
