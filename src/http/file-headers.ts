// Headers for media served from /files. The files come from strangers on Telegram and are served from
// the appliance's own origin, so nothing in them may run there: no sniffing, a sandbox CSP, and a
// download (attachment) for everything except a few types a browser only ever displays.

/** Types shown inline: they cannot carry script. SVG is an image that can, so it is not here. */
const INERT_TYPES = new Set([
  "image/jpeg",
  "image/png",
  "image/gif",
  "image/webp",
  "image/avif",
  "image/bmp",
  "audio/mpeg",
  "audio/ogg",
  "audio/mp4",
  "audio/aac",
  "audio/wav",
  "audio/webm",
  "audio/flac",
  "video/mp4",
  "video/webm",
  "video/ogg",
  "video/quicktime",
]);

/** The bare media type when it is well-formed (e.g. "text/html"), else application/octet-stream. */
export function cleanMediaType(mimeType: string): string {
  const bare = mimeType.split(";")[0]!.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/.test(bare) ? bare : "application/octet-stream";
}

export const isInline = (mediaType: string): boolean => INERT_TYPES.has(mediaType);

/** RFC 5987 value: percent-encode everything outside attr-char (encodeURIComponent leaves !'()* alone). */
const extValue = (name: string) => encodeURIComponent(name).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

/** Plain printable ASCII for `filename=`, read by clients that ignore `filename*`. */
export function asciiFileName(name: string): string {
  const ascii = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^\x20-\x7e]|["\\%;]/g, "_")
    .trim();
  return ascii.replace(/^[._]+$/, "") || "file";
}

export function fileHeaders(f: { name: string; mimeType: string; size: number }): Record<string, string> {
  const type = cleanMediaType(f.mimeType);
  const disposition = isInline(type) ? "inline" : "attachment";
  return {
    "content-type": type,
    "content-length": String(f.size),
    "content-disposition": `${disposition}; filename="${asciiFileName(f.name)}"; filename*=UTF-8''${extValue(f.name)}`,
    "x-content-type-options": "nosniff",
    "content-security-policy": "sandbox; default-src 'none'",
  };
}
