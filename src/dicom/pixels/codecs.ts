// The WebAssembly image codecs (@cornerstonejs builds of libjpeg-turbo, CharLS and OpenJPEG). They are
// CommonJS Emscripten factories: load them once per process through createRequire and pass the result
// around (no module-level singleton), one decoder object per codec, reused for every frame.
import { createRequire } from 'node:module';

export interface CodecFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

/** The shape shared by the three Emscripten decoder classes. */
export interface WasmFrameDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array | Uint8ClampedArray;
  getFrameInfo(): CodecFrameInfo;
  /** CharLS only: 0 = not interleaved (colour comes out plane by plane), 1 = line, 2 = sample. */
  getInterleaveMode?(): number;
}

export interface Codecs {
  jpeg: WasmFrameDecoder;
  jpegLs: WasmFrameDecoder;
  jpeg2000: WasmFrameDecoder;
}

type Factory = (options?: object) => Promise<Record<string, new () => WasmFrameDecoder>>;

/** Instantiates the three decoders (about 100 ms). Call once per process or worker thread. */
export async function loadCodecs(): Promise<Codecs> {
  const require = createRequire(import.meta.url);
  const load = (id: string) => require(id) as Factory;
  // OpenJPEG prints progress lines on stdout: keep the codecs quiet (our logs are JSON).
  const quiet = { print: () => undefined, printErr: () => undefined };
  const [turbo, charls, openjpeg] = await Promise.all([
    load('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs')(quiet),
    load('@cornerstonejs/codec-charls/decodewasmjs')(quiet),
    load('@cornerstonejs/codec-openjpeg/decodewasmjs')(quiet),
  ]);
  const make = (mod: Record<string, new () => WasmFrameDecoder>, name: string): WasmFrameDecoder => {
    const Ctor = mod[name];
    if (!Ctor) throw new Error(`codec class ${name} missing`);
    return new Ctor();
  };
  return {
    jpeg: make(turbo, 'JPEGDecoder'),
    jpegLs: make(charls, 'JpegLSDecoder'),
    jpeg2000: make(openjpeg, 'J2KDecoder'),
  };
}

/** Runs one codec on one encoded frame and copies the result out of WebAssembly memory. */
export function runCodec(decoder: WasmFrameDecoder, encoded: Uint8Array): { info: CodecFrameInfo; pixels: Uint8Array } {
  decoder.getEncodedBuffer(encoded.length).set(encoded);
  decoder.decode();
  const info = decoder.getFrameInfo();
  const out = decoder.getDecodedBuffer(); // a Uint8ClampedArray view into WebAssembly memory for some codecs
  return { info, pixels: new Uint8Array(out.buffer, out.byteOffset, out.byteLength).slice() };
}
