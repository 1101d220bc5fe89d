// Client folders in SESSIONS_DIR: created (0700) when the admin creates a client, and session files
// deleted only when the admin asks for it — never following a link out of the sessions directory.
import { lstatSync, mkdirSync, realpathSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { clientFolderProblem, isInside } from "./confine.ts";

/** Creates SESSIONS_DIR/<name>/ (mode 0700) unless it is there already; an existing one is left as it is. */
export function ensureClientFolder(sessionsDir: string, name: string): void {
  if (clientFolderProblem(name) !== null) return;
  mkdirSync(sessionsDir, { recursive: true, mode: 0o700 });
  try {
    mkdirSync(join(sessionsDir, name), { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
}

/**
 * Deletes a registered session file (the name itself: a symlink is removed, not what it points to).
 * Returns false when there was nothing to delete or its folder leads outside the sessions directory.
 */
export function deleteSessionFile(sessionsDir: string, sessionPath: string): boolean {
  if (isAbsolute(sessionPath) || sessionPath.split("/").includes("..")) return false;
  const path = join(sessionsDir, sessionPath);
  try {
    if (!isInside(realpathSync(sessionsDir), realpathSync(dirname(path)))) return false;
    if (lstatSync(path).isDirectory()) return false;
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Removes the client's folder when nothing is left in it (files the operator put there are kept). */
export function removeClientFolderIfEmpty(sessionsDir: string, name: string): boolean {
  if (clientFolderProblem(name) !== null) return false;
  try {
    const path = join(sessionsDir, name);
    if (!lstatSync(path).isDirectory()) return false;
    rmdirSync(path);
    return true;
  } catch {
    return false;
  }
}
