// Downloads a Planfix attachment ourselves (Telegram would otherwise fetch the URL with no size limit
// and no control over the name), with a size cap and a timeout.
export class DownloadError extends Error {
  constructor(
    message: string,
    /** true when trying again later may work (network, timeout, 5xx). */
    readonly retry: boolean,
  ) {
    super(message);
  }
}

export async function downloadUrl(url: string, opts: { maxBytes: number; timeoutMs: number; name: string }): Promise<{ bytes: Uint8Array; mimeType: string }> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs), redirect: "follow" });
  } catch (e) {
    const timeout = (e as Error).name === "TimeoutError";
    throw new DownloadError(`file "${opts.name}" could not be downloaded: ${timeout ? "timed out" : "network error"}`, true);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new DownloadError(`file "${opts.name}" could not be downloaded: HTTP ${res.status}`, res.status >= 500 || res.status === 429);
  }
  const declared = Number(res.headers.get("content-length") ?? "0");
  const tooBig = () => new DownloadError(`file "${opts.name}" is larger than the ${Math.round(opts.maxBytes / 1048576)} MB limit`, false);
  if (declared > opts.maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooBig();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.byteLength;
      if (size > opts.maxBytes) {
        await res.body?.cancel().catch(() => {});
        throw tooBig();
      }
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof DownloadError) throw e;
    throw new DownloadError(`file "${opts.name}" could not be downloaded: ${(e as Error).name === "TimeoutError" ? "timed out" : "connection lost"}`, true);
  }
  return { bytes: Buffer.concat(chunks), mimeType: (res.headers.get("content-type") ?? "application/octet-stream").split(";")[0]!.trim() };
}
