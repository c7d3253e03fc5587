// JPEG lossless (ITU T.81 process 14, DICOM 1.2.840.10008.1.2.4.57 and .70). The libjpeg-turbo WebAssembly
// build only handles 8-bit samples, and DICOM lossless JPEG is mostly 12 to 16 bits, so this is a small
// decoder of our own: Huffman-coded differences from one of seven predictors (Annex H).
// Kept over jpeg-lossless-decoder-js 2.1.2: on the fixtures' 138 lossless frames that one differs in 75
// (drops the last sample, wraps 16-bit differences wrongly) and took 1.8x as long (2026-12 measurement).

export interface JpegLosslessFrame {
  width: number;
  height: number;
  precision: number;
  components: number;
  /** Samples interleaved per pixel, in the low `precision` bits (unsigned). */
  samples: Uint16Array;
}

interface HuffmanTable {
  /** Indexed by the next 16 bits: (code length << 8) | symbol; 0 = no such code. */
  lookup: Uint32Array;
}

interface FrameHeader {
  precision: number;
  height: number;
  width: number;
  componentIds: number[];
}

/** Decodes one lossless JPEG codestream; throws Error on anything it does not understand. */
export function decodeJpegLossless(data: Uint8Array): JpegLosslessFrame {
  const tables = new Map<number, HuffmanTable>();
  let frame: FrameHeader | undefined;
  let restartInterval = 0;
  const u16 = (at: number) => ((data[at] ?? 0) << 8) | (data[at + 1] ?? 0);
  if (u16(0) !== 0xffd8) throw new Error('not a JPEG stream');
  let pos = 2;
  while (pos < data.length) {
    if (data[pos] !== 0xff) throw new Error('marker expected');
    const marker = data[pos + 1] ?? 0;
    pos += 2;
    if (marker === 0xff) { pos -= 1; continue; } // fill byte
    if (marker === 0xd9) break;
    const length = u16(pos);
    const body = pos + 2;
    const end = pos + length;
    switch (marker) {
      case 0xc3: {
        frame = { precision: data[body] ?? 0, height: u16(body + 1), width: u16(body + 3), componentIds: [] };
        const n = data[body + 5] ?? 0;
        for (let i = 0; i < n; i++) {
          const sampling = data[body + 6 + i * 3 + 1] ?? 0;
          if (sampling !== 0x11) throw new Error('subsampled lossless JPEG is not supported');
          frame.componentIds.push(data[body + 6 + i * 3] ?? 0);
        }
        break;
      }
      case 0xc4: readHuffmanTables(data, body, end, tables); break;
      case 0xdd: restartInterval = u16(body); break;
      case 0xda: {
        if (!frame) throw new Error('scan before frame header');
        return decodeScan(data, body, frame, tables, restartInterval);
      }
      default:
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
          throw new Error('not a lossless Huffman JPEG');
        }
    }
    pos = end;
  }
  throw new Error('no scan in JPEG stream');
}

function readHuffmanTables(data: Uint8Array, start: number, end: number, into: Map<number, HuffmanTable>): void {
  let p = start;
  while (p < end) {
    const id = data[p] ?? 0; // class (0 = DC, the only one used by lossless) << 4 | destination
    const counts = data.subarray(p + 1, p + 17);
    let symbolAt = p + 17;
    const lookup = new Uint32Array(1 << 16);
    let code = 0;
    for (let len = 1; len <= 16; len++) {
      const count = counts[len - 1] ?? 0;
      for (let i = 0; i < count; i++) {
        const symbol = data[symbolAt++] ?? 0;
        const shift = 16 - len;
        const from = code << shift;
        lookup.fill((len << 8) | symbol, from, from + (1 << shift));
        code++;
      }
      code <<= 1;
    }
    into.set(id & 0x0f, { lookup });
    p = symbolAt;
  }
}

function decodeScan(data: Uint8Array, sosBody: number, frame: FrameHeader, tables: Map<number, HuffmanTable>,
  restartInterval: number): JpegLosslessFrame {
  const ns = data[sosBody] ?? 0;
  if (ns !== frame.componentIds.length) throw new Error('multi-scan lossless JPEG is not supported');
  const componentTables: HuffmanTable[] = [];
  for (let i = 0; i < ns; i++) {
    const table = tables.get(((data[sosBody + 2 + i * 2] ?? 0) >> 4) & 0x0f);
    if (!table) throw new Error('missing Huffman table');
    componentTables.push(table);
  }
  const after = sosBody + 1 + ns * 2;
  const predictor = data[after] ?? 0;
  const pointTransform = (data[after + 2] ?? 0) & 0x0f;
  if (predictor < 1 || predictor > 7) throw new Error('bad predictor');

  const { width, height, precision } = frame;
  const mask = (1 << precision) - 1;
  const initial = 1 << (precision - pointTransform - 1);
  const out = new Uint16Array(width * height * ns);

  // Bit reader over entropy-coded data with 0xFF00 stuffing; stops (feeding zeros) at a marker.
  let pos = sosBody - 2 + (((data[sosBody - 2] ?? 0) << 8) | (data[sosBody - 1] ?? 0));
  let acc = 0;
  let bits = 0;
  const fill = () => {
    while (bits <= 24) {
      let byte: number;
      const b = data[pos];
      if (b === undefined) {
        byte = 0;
      } else if (b === 0xff) {
        const next = data[pos + 1];
        if (next === 0x00) { byte = 0xff; pos += 2; } else { byte = 0; } // a marker: do not consume
      } else {
        byte = b;
        pos++;
      }
      acc = ((acc << 8) | byte) >>> 0;
      bits += 8;
    }
  };
  const receive = (n: number): number => {
    if (n === 0) return 0;
    if (bits < n) fill();
    bits -= n;
    return (acc >>> bits) & ((1 << n) - 1);
  };
  const decodeDiff = (table: HuffmanTable): number => {
    if (bits < 16) fill();
    const entry = table.lookup[(acc >>> (bits - 16)) & 0xffff] ?? 0;
    if (entry === 0) throw new Error('bad Huffman code');
    bits -= entry >> 8;
    const ssss = entry & 0xff;
    if (ssss === 0) return 0;
    if (ssss === 16) return 32768;
    if (ssss > 16) throw new Error('bad difference category');
    const v = receive(ssss);
    return v < 1 << (ssss - 1) ? v - (1 << ssss) + 1 : v;
  };
  const restart = () => {
    bits = 0;
    acc = 0;
    while (pos + 1 < data.length && !(data[pos] === 0xff && (data[pos + 1] ?? 0) >= 0xd0 && (data[pos + 1] ?? 0) <= 0xd7)) pos++;
    pos += 2;
  };

  const stride = width * ns;
  let sinceRestart = 0;
  let firstLineOfInterval = 0; // rows before this one belong to an earlier restart interval
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (restartInterval > 0 && sinceRestart === restartInterval) {
        restart();
        sinceRestart = 0;
        firstLineOfInterval = y;
        if (x !== 0) throw new Error('restart interval inside a row is not supported');
      }
      const at = y * stride + x * ns;
      for (let c = 0; c < ns; c++) {
        const i = at + c;
        let prediction: number;
        if (y === firstLineOfInterval) {
          prediction = x === 0 ? initial : (out[i - ns] ?? 0);
        } else if (x === 0) {
          prediction = out[i - stride] ?? 0;
        } else {
          const ra = out[i - ns] ?? 0;
          const rb = out[i - stride] ?? 0;
          const rc = out[i - stride - ns] ?? 0;
          switch (predictor) {
            case 1: prediction = ra; break;
            case 2: prediction = rb; break;
            case 3: prediction = rc; break;
            case 4: prediction = ra + rb - rc; break;
            case 5: prediction = ra + ((rb - rc) >> 1); break;
            case 6: prediction = rb + ((ra - rc) >> 1); break;
            default: prediction = (ra + rb) >> 1; break;
          }
        }
        out[i] = (prediction + decodeDiff(componentTables[c] as HuffmanTable)) & mask;
      }
      sinceRestart++;
    }
  }
  if (pointTransform > 0) for (let i = 0; i < out.length; i++) out[i] = ((out[i] ?? 0) << pointTransform) & 0xffff;
  return { width, height, precision, components: ns, samples: out };
}
