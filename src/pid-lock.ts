// Refuses to run two appliances on one data directory: both would start the same sessions, and one
// auth key live twice is killed by Telegram (AUTH_KEY_DUPLICATED). The guard is an OS lock (flock) held
// on the lock file for the life of the process: it dies with the process (kill -9, power loss), so a
// stale file — even one naming a pid that was reused after a reboot — never blocks a start. The pid in
// the file is only for the message.
import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EWOULDBLOCK = 11;
const LIBC_NAMES = ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];

type Libc = { flock(fd: number, op: number): number; errno(): number };
let libc: Libc | null = null;

function loadLibc(): Libc {
  if (libc) return libc;
  const errors: string[] = [];
  for (const name of LIBC_NAMES) {
    try {
      const lib = dlopen(name, {
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        __errno_location: { args: [], returns: FFIType.ptr },
      });
      const s = lib.symbols;
      libc = {
        flock: (fd, op) => s.flock(fd, op),
        errno: () => {
          const p = s.__errno_location();
          return p ? read.i32(p, 0) : 0;
        },
      };
      return libc;
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new Error(`cannot load the C library to lock the data directory (${errors.join("; ")})`);
}

export interface PidLock {
  /** Drops the lock (tests; a process that exits drops it anyway). */
  release(): void;
}

/** Takes the lock or throws saying who holds it. Keep the process alive as long as the lock must hold. */
export function acquirePidLock(file: string): PidLock {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const c = loadLibc();
  const fd = openSync(file, "a+", 0o600);
  if (c.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = c.errno();
    closeSync(fd);
    if (errno !== EWOULDBLOCK) throw new Error(`cannot lock ${file} (errno ${errno}); the file system of the data directory must support flock`);
    const pid = readPid(file);
    throw new Error(`another planfix-telegram${pid ? ` (pid ${pid})` : ""} is running on this data directory (${dirname(file)}); stop it first`);
  }
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`);
  } catch {
    // Only informational: a full disk must not stop the start.
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      c.flock(fd, LOCK_UN);
      closeSync(fd);
    },
  };
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
