// Starts HTTPS from the settings: certificate files (re-read on change or SIGHUP) or ACME.
import { join } from "node:path";
import type { Settings } from "../config.ts";
import { errorText, type Logger } from "../log.ts";
import { AcmeCertificates } from "./acme.ts";
import { readCertPair, watchCertFiles } from "./cert-files.ts";
import { HttpsServer, type HttpsOptions } from "./https-server.ts";

export interface HttpsHandle {
  stop(): Promise<void>;
}

/** Rejects (CertError, or a bind error) when HTTPS cannot start with the files given. */
export async function startHttps(settings: Settings, handler: Pick<HttpsOptions, "fetch" | "onServer">, log: Logger): Promise<HttpsHandle> {
  const server = new HttpsServer({ port: settings.port, hostname: settings.host, ...handler, onError: (e) => log.warn("HTTPS listener error", { error: errorText(e) }) });
  const tls = settings.tls;
  if (tls.kind === "files") {
    const first = readCertPair(tls.certFile, tls.keyFile);
    await server.use(first);
    log.info("HTTPS certificate loaded", { subject: first.subject, notAfter: first.notAfter.toISOString() });
    const unwatch = watchCertFiles(tls.certFile, tls.keyFile, async (why) => {
      try {
        const pair = readCertPair(tls.certFile, tls.keyFile);
        await server.use(pair);
        log.info("HTTPS certificate reloaded", { why, subject: pair.subject, notAfter: pair.notAfter.toISOString() });
      } catch (e) {
        log.error("HTTPS certificate not reloaded; the previous one stays in use", { why, error: errorText(e) });
      }
    });
    return { stop: async () => (unwatch(), server.stop()) };
  }
  if (tls.kind === "acme") {
    const certs = new AcmeCertificates({
      ...tls,
      hostname: settings.host,
      dir: join(settings.dataDir, "acme"),
      log,
      onCertificate: (pair) => {
        const first = !server.listening;
        server.use(pair).then(
          () => log.info(first ? "HTTPS listening with the ACME certificate" : "HTTPS certificate renewed", { domain: tls.domain }),
          (e) => log.error(first ? "HTTPS could not start with the ACME certificate" : "renewed HTTPS certificate not put in use", { domain: tls.domain, error: errorText(e) }),
        );
      },
    });
    certs.start();
    if (!server.listening) log.info("HTTPS starts listening once the ACME certificate arrives", { domain: tls.domain, port: settings.port });
    return { stop: async () => void (await Promise.all([certs.stop(), server.stop()])) };
  }
  throw new Error("startHttps called with TLS off");
}
