/**
 * Conversions between the bytes the proxy moves and the content JupyterLab
 * models hold (text, base64, JSON).
 */

const STRIDE = 0x8000; // characters per String.fromCharCode call

/**
 * The bytes of a file, by ranges: what a Parquet reader asks for.
 */
export interface IRangeReader {
  readonly size: number;
  read(start: number, end: number): Promise<ArrayBuffer>;
}

/**
 * Bytes as base64 (a binary file's `content`).
 */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  for (let start = 0; start < bytes.length; start += STRIDE) {
    parts.push(String.fromCharCode(...bytes.subarray(start, start + STRIDE)));
  }
  return btoa(parts.join(''));
}

/**
 * The bytes of base64 content (an upload's piece).
 */
export function fromBase64(content: string): Uint8Array<ArrayBuffer> {
  const binary = atob(content);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) {
    bytes[index] = binary.charCodeAt(index);
  }
  return bytes;
}

/**
 * UTF-8 text, or `null` when the bytes are not UTF-8.
 */
export function utf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/**
 * The body to store for a model's content in `format`. Bytes go as a Blob:
 * Chromium sends a Blob several times faster than the same bytes as an
 * array.
 */
export function encode(content: unknown, format: string | null): BodyInit {
  if (format === 'json') {
    return JSON.stringify(content, null, 1) + '\n';
  }
  if (format === 'base64') {
    return new Blob([fromBase64(content as string)]);
  }
  return (content as string | null) ?? '';
}
