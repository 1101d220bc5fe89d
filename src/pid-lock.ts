// Refuses to run two appliances on one data directory: both would start the same sessions, and one
// auth key live twice is killed by Telegram (AUTH_KEY_DUPLICATED). A pid left by kill -9 is taken over.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export function acquirePidLock(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new Error(`another planfix-telegram (pid ${pid}) is running on this data directory (${dirname(file)})`);
    }
  }
  writeFileSync(file, `${process.pid}\n`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
