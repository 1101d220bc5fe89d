// GET /admin/backup — a consistent copy of the database while the appliance runs (admin token only);
// `planfix-telegram backup FILE` calls it. The snapshot goes through a temporary file in DATA_DIR that
// is unlinked as soon as it is open, so nothing is left behind even if the download is cut.
import { Elysia } from "elysia";
import { createReadStream, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { randomBytes } from "node:crypto";
import { errorText, type Logger } from "../log.ts";
import { vacuumInto } from "../store/backup.ts";
import type { Db } from "../store/db.ts";
import { secretCheck } from "./handle.ts";
import { errorResponses } from "./openapi-schemas.ts";
import { errorResponse } from "./respond.ts";

/** Snapshots being written or opened right now (file names in DATA_DIR/tmp). */
const inProgress = new Set<string>();

export function backupRoutes(deps: { db: Db; dataDir: string; adminToken: string; log: Logger }) {
  return new Elysia().get(
    "/admin/backup",
    async ({ request }) => {
      const refused = secretCheck(request, [deps.adminToken], { missing: "missing token: send 'Authorization: Bearer <admin token>'", wrong: "a backup needs the admin token" });
      if (refused) return refused;
      const dir = join(deps.dataDir, "tmp");
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // A snapshot left by a crash mid-backup is a full copy of the database: it goes (not one in progress).
      for (const name of readdirSync(dir)) if (name.startsWith("backup-") && !inProgress.has(name)) rmSync(join(dir, name), { force: true });
      const name = `backup-${randomBytes(6).toString("hex")}.db`;
      const file = join(dir, name);
      inProgress.add(name);
      try {
        vacuumInto(deps.db, file);
        const stream = createReadStream(file);
        await new Promise<void>((res, rej) => stream.once("open", () => res()).once("error", rej));
        rmSync(file);
        deps.log.info("backup taken");
        return new Response(Readable.toWeb(stream) as unknown as ReadableStream, {
          headers: { "content-type": "application/vnd.sqlite3", "content-disposition": 'attachment; filename="planfix-telegram.db"', "cache-control": "no-store" },
        });
      } catch (e) {
        rmSync(file, { force: true });
        deps.log.error("backup failed", { error: errorText(e) });
        return errorResponse(507, `the backup could not be written: ${errorText(e)}`);
      } finally {
        inProgress.delete(name);
      }
    },
    {
      detail: {
        tags: ["operator"],
        summary: "Database backup",
        description:
          "A consistent SQLite copy of the database (VACUUM INTO), taken while the appliance runs. Admin token only. " +
          "`planfix-telegram backup FILE` calls this. Session files and media are files in DATA_DIR: copy them too (see docs/deploy.md).",
        security: [{ bearer: [] }, { tokenHeader: [] }],
        responses: {
          "200": { description: "The database file (SQLite)", content: { "application/vnd.sqlite3": { schema: { type: "string", format: "binary" } } } },
          ...errorResponses(401, 507),
        },
      },
    },
  );
}
