// What a process costs, from Linux /proc: resident memory and CPU time.
import { readFileSync } from "node:fs";

/** VmRSS of a process in bytes (null when it is gone or /proc is unavailable). */
export function rssBytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** User + system CPU time of a process (all its threads) in ms, 10 ms resolution. */
export function cpuMs(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return null;
  }
}

/** A few words about the machine, for the record. */
export function machine(): { cpu: string; cores: number; memoryGb: number; kernel: string } {
  let cpu = "unknown";
  let cores = 0;
  let memoryGb = 0;
  let kernel = "unknown";
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    cpu = /model name\s*:\s*(.+)/.exec(info)?.[1]?.trim() ?? cpu;
    cores = (info.match(/^processor\s*:/gm) ?? []).length;
  } catch {}
  try {
    memoryGb = Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) / 1048576);
  } catch {}
  try {
    kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {}
  return { cpu, cores, memoryGb, kernel };
}

/** Busy CPU time of the whole machine in ms (all cores; user + nice + system + irq + softirq + steal). */
export function machineBusyMs(): number | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return (user + nice + system + irq + softirq + steal) * TICK_MS;
  } catch {
    return null;
  }
}
