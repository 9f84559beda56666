// The zip container of torch.save files (stored entries only: torch.save never compresses), read from untrusted
// bytes: every offset and size is checked against the buffer before it is used; errors name the op that asked.
import { fail } from '../errors.js';

const u16 = (dv: DataView, at: number): number => dv.getUint16(at, true);
const u32 = (dv: DataView, at: number): number => dv.getUint32(at, true);
const u64 = (dv: DataView, at: number): number => u32(dv, at) + u32(dv, at + 4) * 4294967296;

/** The archive's entries by name, as views into `bytes`. Zip64 sizes and offsets are honoured. */
export function readZip(bytes: Uint8Array, op: string): Map<string, Uint8Array> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record sits in the last 22 + 65535 bytes (after an optional comment).
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (u32(dv, i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail(op, `truncated or not a zip archive: no end-of-central-directory record in its last bytes (${bytes.length} bytes in all)`);
  let count = u16(dv, eocd + 10);
  let cdSize = u32(dv, eocd + 12);
  let cdStart = u32(dv, eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdStart === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(dv, loc) !== 0x07064b50) fail(op, 'zip64 archive without its end-of-central-directory locator');
    const rec = u64(dv, loc + 8);
    if (rec + 56 > bytes.length || u32(dv, rec) !== 0x06064b50) fail(op, 'zip64 end-of-central-directory record missing or truncated');
    count = u64(dv, rec + 32);
    cdSize = u64(dv, rec + 40);
    cdStart = u64(dv, rec + 48);
  }
  if (cdStart + cdSize > bytes.length) fail(op, `truncated file: the zip directory (bytes ${cdStart}–${cdStart + cdSize}) runs past its end (${bytes.length} bytes)`);
  const entries = new Map<string, Uint8Array>();
  const names = new TextDecoder();
  let p = cdStart;
  for (let e = 0; e < count; e++) {
    if (p + 46 > cdStart + cdSize || u32(dv, p) !== 0x02014b50) fail(op, `zip directory entry ${e} is damaged`);
    const method = u16(dv, p + 10);
    let size = u32(dv, p + 20);
    const nameLen = u16(dv, p + 28);
    const extraLen = u16(dv, p + 30);
    const commentLen = u16(dv, p + 32);
    let local = u32(dv, p + 42);
    const name = names.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // Zip64 extra field: the 64-bit values of those fields that read 0xffffffff, in this order.
    const compressed = u32(dv, p + 24);
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = u16(dv, x);
      const len = u16(dv, x + 2);
      if (id === 0x0001) {
        let f = x + 4;
        if (size === 0xffffffff) {
          size = u64(dv, f);
          f += 8;
        }
        if (compressed === 0xffffffff) f += 8;
        if (local === 0xffffffff) local = u64(dv, f);
      }
      x += 4 + len;
    }
    if (method !== 0) fail(op, `zip entry '${name}' is compressed (method ${method}); torch.save writes stored entries only`);
    if (local + 30 > bytes.length || u32(dv, local) !== 0x04034b50) fail(op, `zip entry '${name}': local header missing or truncated`);
    const start = local + 30 + u16(dv, local + 26) + u16(dv, local + 28);
    if (start + size > bytes.length) fail(op, `truncated file: entry '${name}' (bytes ${start}–${start + size}) runs past its end (${bytes.length} bytes)`);
    entries.set(name, bytes.subarray(start, start + size));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
