// Turns the task's `path_session` / `name_session` into a file inside SESSIONS_DIR, refusing anything
// that would lead outside it (absolute paths elsewhere, `..`, symlinks pointing out).
import { existsSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

export class SessionFileError extends Error {
  constructor(
    readonly field: "path_session" | "name_session",
    readonly problem: string,
    readonly status: 400 | 422,
  ) {
    super(`${field}: ${problem}`);
  }
}

const inside = (root: string, p: string) => {
  const rel = relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
};

function checkSegments(field: "path_session" | "name_session", value: string): void {
  if (value.includes("\0")) throw new SessionFileError(field, "must not contain NUL characters", 400);
  if (value.split(/[\\/]+/).includes("..")) throw new SessionFileError(field, "must not contain '..'", 400);
}

/**
 * Returns the session file's path relative to `sessionsDir`.
 * `path_session` may be a file, or a folder that holds `name_session` (optionally with `.session`).
 */
export function locateSessionFile(sessionsDir: string, pathSession: string | undefined, nameSession: string | undefined): string {
  const root = resolve(sessionsDir);
  const path = pathSession?.trim() || undefined;
  const name = nameSession?.trim() || undefined;
  if (!path && !name) throw new SessionFileError("path_session", "path_session or name_session is required", 400);
  if (path) checkSegments("path_session", path);
  if (name) {
    checkSegments("name_session", name);
    if (/[\\/]/.test(name) && path) throw new SessionFileError("name_session", "must be a file name, not a path, when path_session is given", 400);
  }

  let base = root;
  if (path) {
    base = isAbsolute(path) ? resolve(path) : resolve(root, path);
    if (!inside(root, base)) throw new SessionFileError("path_session", "must be inside the sessions directory", 400);
  }
  const candidates: string[] = [];
  const baseIsDir = existsSync(base) && statSync(base).isDirectory();
  if (!path || baseIsDir) {
    if (!name) throw new SessionFileError("path_session", "is a directory; name_session is needed to pick the file", 422);
    candidates.push(join(base, name), join(base, `${name}.session`));
  } else {
    candidates.push(base);
  }
  const shown = relative(root, candidates[0]!) || ".";
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  const field = path ? "path_session" : "name_session";
  if (!found) throw new SessionFileError(field, `session file "${shown}" not found in the sessions directory`, 422);

  // Symlinks: the real file must still be inside the real sessions directory.
  const realRoot = realpathSync(root);
  const real = realpathSync(found);
  if (!inside(realRoot, real)) throw new SessionFileError(field, "leads outside the sessions directory", 400);
  return relative(root, found).split(sep).join("/");
}
