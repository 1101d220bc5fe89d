// Fails when a module imports across a boundary docs/architecture.md draws: GramJS only in
// src/telegram/, Elysia only in src/http/, Drizzle and SQLite only in src/store/ (and a store of the
// Telegram connector's own, src/telegram/store/, and its session-file reader), the Planfix wire format
// only in src/planfix/, and a core (accounts/, bridge/, domain/, sessions/) that reaches neither HTTP nor Telegram; and a test kit
// (tests/support/) that bench/ uses without the two importing each other. Run by scripts/test.sh.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

interface Rule {
  what: string;
  /** Import specifiers (package or resolved path) this rule is about. */
  matches(spec: string, resolved: string | null): boolean;
  /** Files (relative to the repository) allowed to import them. */
  allowed(file: string): boolean;
}

const under =
  (...dirs: string[]) =>
  (file: string) =>
    dirs.some((d) => file.startsWith(d));
const pkg =
  (...names: string[]) =>
  (spec: string) =>
    names.some((n) => spec === n || spec.startsWith(`${n}/`));

export const RULES: Rule[] = [
  { what: "GramJS (telegram)", matches: pkg("telegram"), allowed: under("src/telegram/") },
  { what: "Elysia", matches: pkg("elysia", "@elysiajs/openapi", "@elysiajs/swagger"), allowed: under("src/http/") },
  {
    what: "Drizzle / SQLite",
    matches: (s) => pkg("drizzle-orm", "bun:sqlite")(s),
    // The connector's session-file reader opens Telethon and Pyrogram session files, SQLite files of their own.
    allowed: (f) => under("src/store/", "src/telegram/store/")(f) || f === "src/telegram/session-file.ts",
  },
  { what: "the Planfix wire format (planfix/form.ts)", matches: (_s, r) => r === "src/planfix/form.ts", allowed: under("src/planfix/") },
  {
    what: "the HTTP layer",
    matches: (_s, r) => r?.startsWith("src/http/") ?? false,
    allowed: (f) => !under("src/accounts/", "src/bridge/", "src/domain/", "src/store/", "src/planfix/", "src/telegram/")(f),
  },
  {
    what: "the Telegram connector",
    matches: (_s, r) => r?.startsWith("src/telegram/") ?? false,
    // src/sessions/ finds and reads session files' bytes; parsing them is the connector's (SessionFormats).
    allowed: (f) => !under("src/accounts/", "src/bridge/", "src/domain/", "src/store/", "src/http/", "src/sessions/")(f),
  },
];

/** The test kit: bench/ takes from tests/ only the kit (tests/support/), and the kit takes nothing from bench/ or the tests. */
export const KIT_RULES: Rule[] = [
  {
    what: "a test outside the kit (tests/support/)",
    matches: (_s, r) => (r?.startsWith("tests/") ?? false) && !r!.startsWith("tests/support/"),
    allowed: (f) => !f.startsWith("bench/") && !f.startsWith("tests/support/"),
  },
  { what: "bench/", matches: (_s, r) => r?.startsWith("bench/") ?? false, allowed: (f) => !f.startsWith("tests/support/") },
];

/** Telegram's own numbers and error names, which the core asks the connector about (MessengerCapabilities). */
const TELEGRAM_WORDS =
  /\b777000\b|\b4096\b|\bRANDOM_ID_[A-Z_]+|\bMEDIA_GONE\b|\bFILE_REFERENCE_[A-Z_]+|\bAUTH_KEY_[A-Z_]+|\bFLOOD_WAIT_|\bPEER_FLOOD\b|\b[A-Z_]*PRIVACY_[A-Z_]+|\bUSER_NOT_MUTUAL_CONTACT\b|\b(?:USER_IS|YOU)_BLOCKED(?:_USER)?\b|\bINPUT_USER_DEACTIVATED\b/;
const CORE = ["src/accounts/", "src/bridge/"];

/** Code without its comments (a comment may explain what Telegram does). */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");

/** Field names only the Planfix wire format uses. */
const WIRE_WORDS = /\bplanfix_token\b/;

const IMPORT = /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|import\s+["']([^"']+)["']/g;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

export function violations(root: string): string[] {
  const out: string[] = [];
  for (const path of files(join(root, "src"))) {
    const file = relative(root, path);
    const text = readFileSync(path, "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2] ?? m[3])!;
      const resolved = spec.startsWith(".") ? relative(root, resolve(path, "..", spec)) : null;
      for (const rule of RULES) {
        if (rule.matches(spec, resolved) && !rule.allowed(file)) out.push(`${file}: imports ${rule.what} ("${spec}")`);
      }
    }
    if (!file.startsWith("src/planfix/") && WIRE_WORDS.test(code(text))) out.push(`${file}: spells out the Planfix wire format (planfix_token) outside src/planfix/`);
    const telegramWord = CORE.some((d) => file.startsWith(d)) ? TELEGRAM_WORDS.exec(code(text)) : null;
    if (telegramWord) out.push(`${file}: spells out Telegram's "${telegramWord[0]}" in the core; ask the connector (MessengerCapabilities)`);
  }
  for (const top of ["bench", "tests/support"]) {
    if (!existsSync(join(root, top))) continue;
    for (const path of files(join(root, top))) {
      const file = relative(root, path);
      for (const m of readFileSync(path, "utf8").matchAll(IMPORT)) {
        const spec = (m[1] ?? m[2] ?? m[3])!;
        const resolved = spec.startsWith(".") ? relative(root, resolve(path, "..", spec)) : null;
        for (const rule of KIT_RULES) if (rule.matches(spec, resolved) && !rule.allowed(file)) out.push(`${file}: imports ${rule.what} ("${spec}")`);
      }
    }
  }
  return out.sort();
}

if (import.meta.main) {
  const found = violations(resolve(import.meta.dir, ".."));
  for (const v of found) process.stderr.write(`boundary: ${v}\n`);
  if (found.length) process.exit(1);
  process.stdout.write("boundaries: ok\n");
}
