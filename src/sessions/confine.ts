// Confinement of session files: each client's files live in SESSIONS_DIR/<client name>/, and a file
// may be read only when it really is inside the folder it is allowed in — after symlinks, and with no
// hard link elsewhere. Checked on the open file itself every time a number starts, so a symlink swapped
// in after registration is caught, and nothing is read between the check and the use.
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, type Stats } from "node:fs";
import { isAbsolute, join, relative } from "node:path";

/** Why a file may not be used: it is not there (or not a file), or it leads outside its folder. */
export class ConfinementError extends Error {
  constructor(
    readonly kind: "missing" | "outside" | "too-large",
    message: string,
  ) {
    super(message);
  }
}

/** Largest session file read (a Telethon file with a big entity table is a few MB). */
export const MAX_SESSION_BYTES = 32 * 1024 * 1024;
/** How many entries a hard-link search looks at before it gives up (and refuses the file). */
const MAX_SCAN_ENTRIES = 20_000;

export const isInside = (root: string, p: string): boolean => {
  const rel = relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
};

/**
 * Why `name` cannot be a client's folder name, or null when it can. Client names are free text in
 * the task; only these become folders (the folder is the client's whole territory, so no tricks).
 */
export function clientFolderProblem(name: string): string | null {
  if (name === "." || name === ".." || name.startsWith(".")) return "must not start with '.' (it names the client's sessions folder)";
  if (/[\\/\0-\x1f\x7f]/.test(name)) return "must not contain '/', '\\' or control characters (it names the client's sessions folder)";
  if (Buffer.byteLength(name, "utf8") > 255) return "must be at most 255 bytes (it names the client's sessions folder)";
  return null;
}

/**
 * The real folder a client's files must be in: the real SESSIONS_DIR plus the folder's name — not the
 * folder's own real path, so a client folder that is itself a symlink elsewhere confines nothing.
 * `folder` null: the whole sessions directory.
 */
export function realAllowedRoot(sessionsDir: string, folder: string | null): string {
  const realRoot = realpathSync(sessionsDir);
  return folder === null ? realRoot : join(realRoot, folder);
}

/**
 * Where a registered number's file is confined: its client's folder when the file is registered there,
 * otherwise the whole sessions directory (numbers registered before client folders, or by the admin).
 */
export function confinementFolder(sessionPath: string, clientName: string): string | null {
  const first = sessionPath.split("/")[0];
  return first === clientName && clientFolderProblem(clientName) === null && sessionPath.includes("/") ? clientName : null;
}

/** The path the open file descriptor really has (Linux /proc), or null where that is not available. */
function pathOfFd(fd: number): string | null {
  try {
    const p = readlinkSync(`/proc/self/fd/${fd}`);
    return p.startsWith("/") && !p.endsWith(" (deleted)") ? p : null;
  } catch {
    return null;
  }
}

/** How many names the file `st` has inside `dir` (not following symlinked folders); Infinity when too many to look. */
function linksInside(dir: string, st: Stats): number {
  let found = 0;
  let seen = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (++seen > MAX_SCAN_ENTRIES) return -1;
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        try {
          const s = lstatSync(p);
          if (s.ino === st.ino && s.dev === st.dev) found++;
        } catch {}
      }
    }
  }
  return found;
}

/**
 * Reads the file at `path` if, once opened, it is a regular file whose real path is inside `allowedReal`
 * and whose every hard link is inside it too. Throws ConfinementError (messages show no paths).
 */
export function readConfined(path: string, allowedReal: string): Buffer {
  let fd: number;
  try {
    // Non-blocking: a FIFO planted under a session name must not hang the open.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    throw new ConfinementError("missing", "is not there");
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfinementError("missing", "is not a regular file");
    let real = pathOfFd(fd);
    if (real === null) {
      try {
        real = realpathSync(path);
      } catch {
        throw new ConfinementError("missing", "is not there");
      }
    }
    if (!isInside(allowedReal, real)) throw new ConfinementError("outside", "leads outside its folder (a symlink); put the file itself there");
    if (st.nlink > 1 && linksInside(allowedReal, st) < st.nlink) {
      throw new ConfinementError("outside", "has a hard link outside its folder; put a copy of the file there instead");
    }
    if (st.size > MAX_SESSION_BYTES) throw new ConfinementError("too-large", `is larger than ${MAX_SESSION_BYTES / 1024 / 1024} MiB, too large for a session file`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
