// Files in and out. Uploads and home-DC downloads run on the main connection (no second socket with
// the same key, no GramJS exported-sender loops); files stored on another DC go through a file
// connection to that DC (crossdc.ts).
import { open } from "node:fs/promises";
import { Api } from "telegram";
import { generateRandomBytes, readBigIntFromBuffer } from "telegram/Helpers";
import { TelegramFailure, type OutgoingFile } from "../domain/telegram-port.ts";
import { toLong } from "./gram.ts";
import type { MediaHandle } from "./messages.ts";

export const PART_SIZE = 512 * 1024;
const BIG_FILE_THRESHOLD = 10 * 1024 * 1024;
/** Telegram's limit for photos (larger images go as documents). */
const MAX_PHOTO_BYTES = 10 * 1024 * 1024;

/** Errors with which Telegram refuses a picture as a photo; the same upload is then sent as a document. */
export const PHOTO_REFUSALS = new Set([
  "PHOTO_INVALID_DIMENSIONS",
  "PHOTO_EXT_INVALID",
  "PHOTO_SAVE_FILE_INVALID",
  "PHOTO_INVALID",
  "PHOTO_CROP_SIZE_SMALL",
  "IMAGE_PROCESS_FAILED",
  "PHOTO_FILE_MISSING",
]);

export interface FileTransport {
  /** An RPC on the main connection (errors already mapped to TelegramFailure). */
  call<R>(request: Api.AnyRequest): Promise<R>;
  homeDcId: number;
  /** upload.getFile on another DC (errors mapped). */
  getFileFromDc(dcId: number, request: Api.upload.GetFile): Promise<Api.upload.TypeFile>;
}

/**
 * Whether an outgoing file goes as a photo: JPEG or PNG (by MIME type or extension) up to 10 MB —
 * the formats Telegram reliably accepts as photos. GIF, WebP, HEIC, BMP, … go as documents (Telegram
 * would turn GIFs into animations and WebP into stickers). A picture Telegram still refuses as a photo
 * (dimensions, aspect ratio) is re-sent as a document.
 */
export function sendsAsPhoto(file: OutgoingFile): boolean {
  const size = sizeOf(file);
  if (size === 0 || size > MAX_PHOTO_BYTES) return false;
  const mime = file.mimeType.toLowerCase();
  if (mime === "image/jpeg" || mime === "image/jpg" || mime === "image/png") return true;
  if (mime && mime !== "application/octet-stream") return false;
  return /\.(jpe?g|png)$/i.test(file.name);
}

export function randomLong() {
  return readBigIntFromBuffer(generateRandomBytes(8), true, true);
}

export function sizeOf(file: OutgoingFile): number {
  return "bytes" in file ? file.bytes.length : file.size;
}

/** Uploads the file in 512 KB parts on the main connection (a file on disk is read part by part); returns the InputFile to send. */
export async function uploadFile(t: FileTransport, file: OutgoingFile): Promise<Api.TypeInputFile> {
  const fileId = randomLong();
  const size = sizeOf(file);
  const big = size > BIG_FILE_THRESHOLD;
  const parts = Math.max(1, Math.ceil(size / PART_SIZE));
  const disk = "path" in file ? await open(file.path, "r") : null;
  try {
    for (let i = 0; i < parts; i++) {
      const length = Math.min(PART_SIZE, size - i * PART_SIZE);
      let chunk: Buffer;
      if ("bytes" in file) chunk = Buffer.from(file.bytes.buffer, file.bytes.byteOffset + i * PART_SIZE, length);
      else {
        chunk = Buffer.alloc(length);
        const { bytesRead } = await disk!.read(chunk, 0, length, i * PART_SIZE);
        if (bytesRead !== length) throw new TelegramFailure("error", `file ${file.name} changed while it was uploaded`);
      }
      const ok = big
        ? await t.call<boolean>(new Api.upload.SaveBigFilePart({ fileId, filePart: i, fileTotalParts: parts, bytes: chunk }))
        : await t.call<boolean>(new Api.upload.SaveFilePart({ fileId, filePart: i, bytes: chunk }));
      if (!ok) throw new TelegramFailure("error", `upload part ${i} refused`);
    }
  } finally {
    await disk?.close();
  }
  const name = file.name;
  return big ? new Api.InputFileBig({ id: fileId, parts, name }) : new Api.InputFile({ id: fileId, parts, name, md5Checksum: "" });
}

export function uploadedMedia(file: OutgoingFile, input: Api.TypeInputFile, asPhoto: boolean): Api.TypeInputMedia {
  if (asPhoto) return new Api.InputMediaUploadedPhoto({ file: input });
  return new Api.InputMediaUploadedDocument({
    file: input,
    mimeType: file.mimeType || "application/octet-stream",
    attributes: [new Api.DocumentAttributeFilename({ fileName: file.name })],
    forceFile: true,
  });
}

export function locationOf(h: MediaHandle): Api.TypeInputFileLocation {
  const common = { id: toLong(h.id), accessHash: toLong(h.accessHash), fileReference: Buffer.from(h.fileReference, "base64") };
  return h.loc === "photo" ? new Api.InputPhotoFileLocation({ ...common, thumbSize: h.thumbSize }) : new Api.InputDocumentFileLocation({ ...common, thumbSize: "" });
}

export function tooLarge(size: number, maxBytes: number): TelegramFailure {
  return new TelegramFailure("error", `FILE_TOO_LARGE: ${size} bytes, limit ${maxBytes}`);
}

/**
 * Downloads a file by location, in 512 KB parts: on the main connection when it lives on our DC, else
 * on a file connection to its DC (following FILE_MIGRATE_n). Stops with FILE_TOO_LARGE as soon as more
 * than `maxBytes` arrived.
 */
export async function downloadLocation(t: FileTransport, location: Api.TypeInputFileLocation, dcId: number, size: number | null, maxBytes: number): Promise<Uint8Array> {
  if (size !== null && size > maxBytes) throw tooLarge(size, maxBytes);
  const chunks: Buffer[] = [];
  let total = 0;
  let dc = dcId;
  let migrations = 0;
  for (let offset = 0; ; ) {
    const request = new Api.upload.GetFile({ location, offset: toLong(String(offset)), limit: PART_SIZE });
    let res: Api.upload.TypeFile;
    try {
      res = dc === t.homeDcId ? await t.call<Api.upload.TypeFile>(request) : await t.getFileFromDc(dc, request);
    } catch (e) {
      const m = e instanceof TelegramFailure ? e.reason.match(/^FILE_MIGRATE_(\d+)$/) : null;
      if (m && migrations++ < 2) {
        dc = Number(m[1]);
        continue;
      }
      throw e;
    }
    if (!(res instanceof Api.upload.File)) throw new TelegramFailure("error", "CDN_REDIRECT_UNSUPPORTED");
    const bytes = Buffer.from(res.bytes);
    total += bytes.length;
    if (total > maxBytes) throw tooLarge(total, maxBytes);
    chunks.push(bytes);
    if (bytes.length < PART_SIZE) break;
    offset += PART_SIZE;
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}

export function isFileReferenceError(e: unknown): boolean {
  return e instanceof TelegramFailure && /^FILE_REFERENCE_/.test(e.reason);
}
