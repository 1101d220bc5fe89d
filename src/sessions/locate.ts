// Turns the task's `path_session` / `name_session` into a file inside SESSIONS_DIR, refusing anything
// that would lead outside it (absolute paths elsewhere, `..`, symlinks or hard links pointing out).
// A client token is confined to its own folder, SESSIONS_DIR/<client name>/, and anything outside it
// answers exactly like a missing file, so a client learns nothing about other clients' files.
import { existsSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { ConfinementError, isInside, readConfined, realAllowedRoot } from "./confine.ts";
import { SessionReadError } from "../domain/telegram-port.ts";

export class SessionFileError extends Error {
  constructor(
    readonly field: "path_session" | "name_session",
    readonly problem: string,
    readonly status: 400 | 422,
  ) {
    super(`${field}: ${problem}`);
  }
}

function checkSegments(field: "path_session" | "name_session", value: string): void {
  if (value.includes("\0")) throw new SessionFileError(field, "must not contain NUL characters", 400);
  if (value.split(/[\\/]+/).includes("..")) throw new SessionFileError(field, "must not contain '..'", 400);
}

/** The one answer a client gets for every file it may not use: missing, outside its folder, not a file. */
const notInFolder = (field: "path_session" | "name_session", folder: string) =>
  new SessionFileError(field, `no session file by that name in the client's folder (name it as "${folder}/<file>", relative to the sessions directory)`, 422);

/**
 * Returns the session file's path relative to `sessionsDir`.
 * `path_session` may be a file, or a folder that holds `name_session` (optionally with `.session`).
 * `folder`: the client folder a client token is confined to; null for the admin (all of SESSIONS_DIR).
 * With a folder, `name_session` alone is looked up inside it.
 */
export function locateSessionFile(sessionsDir: string, pathSession: string | undefined, nameSession: string | undefined, folder: string | null = null): string {
  const root = resolve(sessionsDir);
  const path = pathSession?.trim() || undefined;
  const name = nameSession?.trim() || undefined;
  if (!path && !name) throw new SessionFileError("path_session", "path_session or name_session is required", 400);
  if (path) checkSegments("path_session", path);
  if (name) {
    checkSegments("name_session", name);
    if (/[\\/]/.test(name) && path) throw new SessionFileError("name_session", "must be a file name, not a path, when path_session is given", 400);
  }
  const field = path ? "path_session" : "name_session";
  if (folder !== null && path && isAbsolute(path)) {
    // Refused by its shape alone: an answer that depended on where it points would show the layout.
    throw new SessionFileError("path_session", `must be relative to the sessions directory, e.g. "${folder}/380955821319.session"`, 400);
  }
  const allowed = folder === null ? root : join(root, folder);

  let base = folder === null ? root : allowed;
  if (path) {
    base = isAbsolute(path) ? resolve(path) : resolve(root, path);
    if (!isInside(allowed, base)) {
      if (folder !== null) throw notInFolder(field, folder);
      throw new SessionFileError("path_session", "must be inside the sessions directory", 400);
    }
  }
  const candidates: string[] = [];
  const baseIsDir = existsSync(base) && statSync(base).isDirectory();
  if (!path || baseIsDir) {
    if (!name) {
      if (folder !== null) throw notInFolder(field, folder);
      throw new SessionFileError("path_session", "is a directory; name_session is needed to pick the file", 422);
    }
    candidates.push(join(base, name), join(base, `${name}.session`));
  } else {
    candidates.push(base);
  }
  const shown = relative(root, candidates[0]!) || ".";
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  if (!found) {
    if (folder !== null) throw notInFolder(field, folder);
    throw new SessionFileError(field, `session file "${shown}" not found in the sessions directory`, 422);
  }
  try {
    readConfined(found, realAllowedRoot(root, folder));
  } catch (e) {
    if (!(e instanceof ConfinementError)) throw e;
    if (folder !== null) throw notInFolder(field, folder);
    if (e.kind === "outside") throw new SessionFileError(field, "leads outside the sessions directory", 400);
    throw new SessionFileError(field, `session file "${shown}" ${e.message}`, 422);
  }
  return relative(root, found).split(sep).join("/");
}

/**
 * Reads a registered session file's bytes, checking again that it is inside `folder` (or SESSIONS_DIR
 * when null). Throws SessionReadError with a reason fit for the number's state (no absolute paths).
 * What the bytes mean is the connector's (SessionFormats).
 */
export function readRegisteredBytes(sessionsDir: string, sessionPath: string, folder: string | null): Buffer {
  const where = folder === null ? "the sessions directory" : "the client's folder";
  let bytes: Buffer;
  try {
    if (sessionPath.split("/").includes("..") || isAbsolute(sessionPath)) throw new ConfinementError("outside", "leads outside its folder");
    bytes = readConfined(join(sessionsDir, sessionPath), realAllowedRoot(sessionsDir, folder));
  } catch (e) {
    if (e instanceof ConfinementError) {
      if (e.kind === "outside") throw new SessionReadError(`${e.message.replace("its folder", where)}; refusing to start it`);
      throw new SessionReadError(e.message === "is not there" ? "cannot be read" : e.message);
    }
    throw new SessionReadError("cannot be read");
  }
  return bytes;
}
