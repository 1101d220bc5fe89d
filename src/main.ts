// Entry point: the command line, settings, the pid lock and the process's signals; the appliance
// itself is wired in one place (appliance.ts).
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { createAppliance, StartupError, type Appliance } from "./appliance.ts";
import { runBackup } from "./backup-command.ts";
import { buildCommit } from "./build-commit.macro.ts" with { type: "macro" };
import { helpText, loadSettings, SettingsError, type Settings } from "./config.ts";
import { createLogger, errorText } from "./log.ts";
import { runLogin } from "./login-command.ts";
import { acquirePidLock, type PidLock } from "./pid-lock.ts";
import { isDiskFull } from "./store/disk.ts";

const argv = process.argv.slice(2);
if (argv[0] === "backup") process.exit(await runBackup(argv.slice(1), process.env));
if (argv[0] === "login") process.exit(await runLogin(argv.slice(1), process.env, pkg.version));
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(helpText());
  process.exit(0);
}
const commit = buildCommit();
if (argv.includes("--version")) {
  process.stdout.write(`planfix-telegram ${pkg.version} (${commit})\n`);
  process.exit(0);
}

let settings: Settings;
try {
  settings = loadSettings(argv, process.env);
} catch (e) {
  if (!(e instanceof SettingsError)) throw e;
  process.stderr.write(`planfix-telegram: ${e.message}\n`);
  process.exit(2);
}

const log = createLogger(settings.logLevel);
// Everything written from here on (database, WAL, media, admin token) is for this user only.
process.umask(0o077);

let pidLock: PidLock;
try {
  pidLock = acquirePidLock(join(settings.dataDir, "appliance.pid"));
} catch (e) {
  log.error("cannot start", { error: errorText(e) });
  process.exit(1);
}

let appliance: Appliance;
try {
  appliance = createAppliance(settings, { log, version: pkg.version, commit });
  await appliance.start();
} catch (e) {
  if (!(e instanceof StartupError)) throw e;
  if (e.exitCode === 2) process.stderr.write(`planfix-telegram: ${e.message}\n`);
  else log.error(e.message, { error: e.detail });
  process.exit(e.exitCode);
}

// A write that found the disk full (SQLite or a file) where nobody awaited it must not end the process:
// nothing was acknowledged, and it goes on once space is freed. Anything else still ends it.
const stray = (e: unknown) => {
  if (isDiskFull(e)) {
    appliance.disk.noteFull();
    log.error("a write failed: the disk is full; nothing unstored was acknowledged", { error: errorText(e) });
    return;
  }
  log.error("crashed", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.exit(1);
};
process.on("uncaughtException", stray);
process.on("unhandledRejection", stray);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("shutting down", { signal });
  await appliance.stop();
  pidLock.release();
  log.info("stopped");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
