/**
 * The age v1 header: version line, recipient stanzas, `---` footer with the header MAC.
 * Encoding, the MAC, and an incremental parser that tells a damaged header ('corrupt') from one that
 * simply stops ('truncated'). Spec: https://age-encryption.org/v1 ("Header").
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { base64nopad } from '@scure/base';
import { AgeError } from './errors.js';

export const VERSION_LINE = 'age-encryption.org/v1';
const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const BODY_COLUMNS = 64;
const MAC_BYTES = 32;
/** A real header is a few hundred bytes; this only bounds memory on garbage input. */
const MAX_HEADER_BYTES = 1 << 20;
const MAX_ARGS_LINE = 4096;
const MAC_LINE_LENGTH = 4 + 43;
const NL = 0x0a;

/** One recipient stanza: `args[0]` is its type (`X25519`, `scrypt`, or anything we ignore). */
export interface Stanza {
  args: string[];
  body: Buffer;
}

export interface ParsedHeader {
  stanzas: Stanza[];
  /** The bytes the MAC covers: from the version line through `---`. */
  macInput: Buffer;
  mac: Buffer;
  /** Header length in bytes, footer line included. */
  size: number;
}

/** Raw standard base64 without padding (the only encoding age uses in headers). */
export const b64encode = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64').replace(/=+$/, '');

/** Strict decoding: alphabet, no padding, canonical trailing bits; `undefined` when invalid. */
export function b64decode(text: string): Buffer | undefined {
  try {
    return Buffer.from(base64nopad.decode(text));
  } catch {
    return undefined;
  }
}

export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

export function headerMac(fileKey: Uint8Array, macInput: Uint8Array): Buffer {
  return createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header')).update(macInput).digest();
}

export function verifyHeaderMac(fileKey: Uint8Array, header: ParsedHeader): void {
  if (!timingSafeEqual(headerMac(fileKey, header.macInput), header.mac)) {
    throw new AgeError('corrupt', 'age header MAC mismatch: the header was modified (bit rot or tampering)');
  }
}

/** The complete header for `stanzas`, MAC'd with `fileKey`. */
export function encodeHeader(stanzas: Stanza[], fileKey: Uint8Array): Buffer {
  let text = `${VERSION_LINE}\n`;
  for (const s of stanzas) {
    text += `-> ${s.args.join(' ')}\n`;
    const body = b64encode(s.body);
    // Full 64-column lines, then a shorter (possibly empty) line that ends the body.
    for (let i = 0; i <= body.length; i += BODY_COLUMNS) text += `${body.slice(i, i + BODY_COLUMNS)}\n`;
  }
  const macInput = Buffer.from(`${text}---`, 'latin1');
  return Buffer.concat([macInput, Buffer.from(` ${b64encode(headerMac(fileKey, macInput))}\n`, 'latin1')]);
}

type ParserState = 'version' | 'line' | 'body';

/**
 * Feed bytes until `feed` returns the header and the bytes after it. Lines are checked as they
 * arrive, so a damaged header fails at once with 'corrupt'; input that ends first is 'truncated'.
 */
export class HeaderParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private state: ParserState = 'version';
  private readonly stanzas: Stanza[] = [];
  private args: string[] = [];
  private bodyText = '';

  feed(chunk: Buffer): { header: ParsedHeader; rest: Buffer } | undefined {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const nl = this.buf.indexOf(NL, this.pos);
      if (nl < 0) {
        this.checkPartialLine();
        return undefined;
      }
      const line = this.buf.toString('latin1', this.pos, nl);
      const lineStart = this.pos;
      this.pos = nl + 1;
      const done = this.line(line, lineStart);
      if (done) return { header: done, rest: this.buf.subarray(this.pos) };
    }
  }

  /** The input ended: there was no complete header. */
  finish(): never {
    if (this.buf.length === 0) throw new AgeError('truncated', 'empty input: no age header (the file is empty or was cut short)');
    throw new AgeError('truncated', `the file ends inside the age header (after ${this.buf.length} bytes): it was cut short`);
  }

  private line(line: string, lineStart: number): ParsedHeader | undefined {
    switch (this.state) {
      case 'version':
        if (line !== VERSION_LINE) this.notAge(line);
        this.state = 'line';
        return undefined;
      case 'body':
        if (line.length > BODY_COLUMNS || !/^[A-Za-z0-9+/]*$/.test(line)) corrupt('a stanza body line is not 64-column base64');
        this.bodyText += line;
        if (line.length < BODY_COLUMNS) {
          const body = b64decode(this.bodyText);
          if (!body) corrupt('a stanza body is not canonical base64');
          this.stanzas.push({ args: this.args, body });
          this.state = 'line';
        }
        return undefined;
      case 'line':
        if (line.startsWith('-> ')) {
          const args = line.slice(3).split(' ');
          if (args.some((a) => a === '' || !/^[\x21-\x7e]+$/.test(a))) corrupt('a stanza line has an empty or non-printable argument');
          this.args = args;
          this.bodyText = '';
          this.state = 'body';
          return undefined;
        }
        if (line.startsWith('--- ')) {
          const mac = b64decode(line.slice(4));
          if (!mac || mac.length !== MAC_BYTES) corrupt('the header MAC line is malformed');
          if (this.stanzas.length === 0) corrupt('the header has no recipient stanza');
          return { stanzas: this.stanzas, macInput: this.buf.subarray(0, lineStart + 3), mac, size: this.pos };
        }
        return corrupt('a header line is neither a stanza (-> …) nor the MAC (--- …)');
    }
  }

  /** Fail early on garbage instead of buffering it until EOF. */
  private checkPartialLine(): void {
    const partial = this.buf.length - this.pos;
    if (this.buf.length > MAX_HEADER_BYTES) corrupt(`no end of the age header within ${MAX_HEADER_BYTES} bytes`);
    if (this.state === 'version') {
      const head = this.buf.toString('latin1', 0, Math.min(this.buf.length, ARMOR_BEGIN.length));
      const mayBeAge = VERSION_LINE.startsWith(head.slice(0, VERSION_LINE.length + 1));
      if (!mayBeAge && !(ARMOR_BEGIN.startsWith(head) && head.length < ARMOR_BEGIN.length)) this.notAge(head);
      return;
    }
    // A line still open must already look like what it has to be: a flipped newline otherwise
    // runs the header into the binary payload, and a short file would end as 'truncated'.
    const text = this.buf.toString('latin1', this.pos, Math.min(this.buf.length, this.pos + MAX_ARGS_LINE + 1));
    if (this.state === 'body') {
      if (partial > BODY_COLUMNS || !/^[A-Za-z0-9+/]*$/.test(text)) corrupt('a stanza body line is not 64-column base64');
    } else if (text.startsWith('--- ')) {
      if (partial > MAC_LINE_LENGTH || !/^[A-Za-z0-9+/]*$/.test(text.slice(4))) corrupt('the header MAC line is malformed');
    } else if (text.startsWith('-> ')) {
      if (partial > MAX_ARGS_LINE || !/^[\x21-\x7e ]*$/.test(text)) corrupt('a stanza line is too long or not printable');
    } else if (!'-> '.startsWith(text) && !'--- '.startsWith(text)) {
      corrupt('a header line is neither a stanza (-> …) nor the MAC (--- …)');
    }
  }

  private notAge(start: string): never {
    if (start.startsWith(ARMOR_BEGIN)) {
      throw new AgeError('unsupported', 'ASCII-armored age input is not supported: decode it first (age -d reads armor)');
    }
    throw new AgeError('corrupt', `not an age v1 file: the first line is not "${VERSION_LINE}"`);
  }
}

function corrupt(what: string): never {
  throw new AgeError('corrupt', `damaged age header: ${what}`);
}
