// The one Part 10 reader: dicom-parser walks the bytes (implicit or explicit VR, little or big endian,
// deflated, encapsulated fragments); this file gives its elements typed getters and our text decoding.
// Element values are views into the caller's bytes (no copies). Measured on the 64-slice 512x512 CT
// fixture: 5.9 ms for all 64 files against 81 ms to decode them (the hand-written walker it replaced: 0.6 ms).
import { TextDecoder } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import dicomParser, { type DataSet } from 'dicom-parser';
import { DicomParseError } from '../../shared/errors.ts';
import { TRANSFER_SYNTAX, describeTransferSyntax } from './transfer-syntax.ts';
import { TAG } from '../tags.ts';

export interface DicomElement {
  tag: number;
  vr: string;
  /** The value bytes (undefined length: empty; see items/fragments). */
  value: Uint8Array;
  littleEndian: boolean;
  /** Sequence items, when the element is a sequence. */
  items?: DicomDataset[];
  /** Encapsulated pixel data: the Basic Offset Table item first, then the fragments. */
  fragments?: Uint8Array[];
}


/** Shared by a dataset and its items: the text decoder follows the top level's Specific Character Set. */
interface TextContext {
  decoder: TextDecoder;
}

/** Default repertoire and ISO_IR 100 read as Latin-1; UTF-8 and GB18030 as themselves; ISO 2022 escapes are not interpreted. */
function decoderFor(specificCharacterSet: string | undefined): TextDecoder {
  const terms = (specificCharacterSet ?? '').split('\\').map((t) => t.trim());
  if (terms.includes('ISO_IR 192')) return new TextDecoder('utf-8');
  if (terms.includes('GB18030')) return new TextDecoder('gb18030');
  return new TextDecoder('latin1');
}

/** One parsed dataset (or sequence item): elements by tag number (group << 16 | element). */
export class DicomDataset {
  constructor(readonly elements: ReadonlyMap<number, DicomElement>, private readonly text: TextContext = { decoder: decoderFor(undefined) }) {}

  has(tag: number): boolean {
    return this.elements.has(tag);
  }

  /** A text value (all of it, backslashes included), trimmed of padding; undefined when absent or empty. */
  string(tag: number): string | undefined {
    const el = this.elements.get(tag);
    if (!el || el.value.length === 0) return undefined;
    const text = this.text.decoder.decode(el.value).replace(/[\0 ]+$/, '').replace(/^ +/, '');
    return text === '' ? undefined : text;
  }

  /** The values of a DS/IS (text) or US/SS/UL/SL/FL/FD (binary) element as numbers. */
  numbers(tag: number): number[] | undefined {
    const el = this.elements.get(tag);
    if (!el || el.value.length === 0) return undefined;
    const v = el.value;
    const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
    const le = el.littleEndian;
    const read = (size: number, get: (o: number) => number) => {
      const out: number[] = [];
      for (let o = 0; o + size <= v.length; o += size) out.push(get(o));
      return out;
    };
    switch (el.vr) {
      case 'US': return read(2, (o) => view.getUint16(o, le));
      case 'SS': return read(2, (o) => view.getInt16(o, le));
      case 'UL': return read(4, (o) => view.getUint32(o, le));
      case 'SL': return read(4, (o) => view.getInt32(o, le));
      case 'FL': return read(4, (o) => view.getFloat32(o, le));
      case 'FD': return read(8, (o) => view.getFloat64(o, le));
      default: {
        const text = this.string(tag);
        if (text === undefined) return undefined;
        const out = text.split('\\').map((s) => Number(s.trim()));
        return out.some((n) => !Number.isFinite(n)) ? undefined : out;
      }
    }
  }

  number(tag: number): number | undefined {
    return this.numbers(tag)?.[0];
  }

  /** A 16-bit unsigned binary value (Rows, Columns, Bits*...); implicit VR cannot tell us its VR, so read it as US. */
  uint16(tag: number): number | undefined {
    const el = this.elements.get(tag);
    if (!el || el.value.length < 2) return undefined;
    return new DataView(el.value.buffer, el.value.byteOffset, 2).getUint16(0, el.littleEndian);
  }

  items(tag: number): DicomDataset[] {
    return this.elements.get(tag)?.items ?? [];
  }

  element(tag: number): DicomElement | undefined {
    return this.elements.get(tag);
  }

  /**
   * A copy that owns its (small) values and has no Pixel Data, so keeping it does not keep the whole
   * instance's bytes alive.
   */
  detached(): DicomDataset {
    const copy = new Map<number, DicomElement>();
    for (const [tag, el] of this.elements) {
      if (tag === TAG.PixelData) continue;
      const out: DicomElement = { tag, vr: el.vr, value: new Uint8Array(el.value), littleEndian: el.littleEndian };
      if (el.items) out.items = el.items.map((item) => item.detached());
      copy.set(tag, out);
    }
    return new DicomDataset(copy, this.text);
  }
}

export interface Part10 {
  transferSyntaxUid: string;
  meta: DicomDataset;
  dataset: DicomDataset;
}

/**
 * The File Meta Information (group 0002) alone, without parsing the dataset; undefined when the bytes
 * do not start like a Part 10 file or its header is cut short.
 */
export function readFileMeta(input: Uint8Array): DicomDataset | undefined {
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (!hasPreamble(bytes)) return undefined;
  try {
    return new DicomDataset(convertElements(dicomParser.readPart10Header(bytes), true, { decoder: decoderFor(undefined) }, false));
  } catch {
    return undefined;
  }
}

/** Parses a Part 10 file (preamble, DICM, group 2) or, failing the preamble, a bare explicit-LE dataset. */
export function readPart10(input: Uint8Array): Part10 {
  // A plain Uint8Array view: Buffer.slice would share memory where callers expect copies.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  try {
    const parsed = hasPreamble(bytes)
      ? dicomParser.parseDicom(bytes, { inflater: inflateBody as never })
      : dicomParser.parseDicom(bytes, { TransferSyntaxUID: TRANSFER_SYNTAX.explicitLittleEndian });
    const meta = readFileMeta(bytes) ?? new DicomDataset(new Map());
    const transferSyntaxUid = meta.string(TAG.TransferSyntaxUID) ?? TRANSFER_SYNTAX.explicitLittleEndian;
    const ts = describeTransferSyntax(transferSyntaxUid);
    const text: TextContext = { decoder: decoderFor(undefined) };
    const dataset = new DicomDataset(convertElements(parsed, ts.littleEndian, text, true), text);
    text.decoder = decoderFor(dataset.string(TAG.SpecificCharacterSet));
    return { transferSyntaxUid, meta, dataset };
  } catch (cause) {
    if (cause instanceof DicomParseError) throw cause;
    throw new DicomParseError({ cause });
  }
}

/** Deflated explicit VR little endian: the header as it is, the dataset inflated after it. */
function inflateBody(bytes: Uint8Array, position: number): Uint8Array {
  const inflated = inflateRawSync(bytes.subarray(position));
  const whole = new Uint8Array(position + inflated.length);
  whole.set(bytes.subarray(0, position));
  whole.set(inflated, position);
  return whole;
}

/** True when the bytes start like a Part 10 file: a 128-byte preamble, then "DICM". */
export function hasPreamble(bytes: Uint8Array): boolean {
  return bytes.length >= 136 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** dicom-parser's elements as ours: values are views into its byte array, sequences become item datasets. */
function convertElements(parsed: DataSet, littleEndian: boolean, text: TextContext, topLevel: boolean): Map<number, DicomElement> {
  const bytes = parsed.byteArray as Uint8Array;
  const out = new Map<number, DicomElement>();
  for (const element of Object.values(parsed.elements)) {
    const tag = Number.parseInt(element.tag.slice(1), 16) >>> 0;
    if (topLevel && tag >>> 16 === 0x0002) continue;
    const vr = element.vr ?? 'UN';
    const converted: DicomElement = { tag, vr, value: bytes.subarray(element.dataOffset, element.dataOffset), littleEndian };
    if (element.encapsulatedPixelData && element.fragments) {
      // Our callers want the Basic Offset Table item's value first, then every fragment.
      const botLength = new DataView(bytes.buffer, bytes.byteOffset + element.dataOffset + 4, 4).getUint32(0, true);
      converted.fragments = [
        bytes.subarray(element.dataOffset + 8, element.dataOffset + 8 + botLength),
        ...element.fragments.map((f) => bytes.subarray(f.position, f.position + f.length)),
      ];
    } else if (element.items) {
      converted.vr = 'SQ';
      converted.items = element.items.map((item) => new DicomDataset(item.dataSet ? convertElements(item.dataSet, littleEndian, text, false) : new Map(), text));
    } else {
      if (element.dataOffset + element.length > bytes.length) throw new DicomParseError({ detail: 'element runs past the end' });
      converted.value = bytes.subarray(element.dataOffset, element.dataOffset + element.length);
    }
    out.set(tag, converted);
  }
  return out;
}
