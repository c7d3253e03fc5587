// The Part 10 reader on the CT fixture: readPart10 (dicom-parser plus our getters) against bare
// dicom-parser, dcmjs, and the pixel decode that follows it, as ratios measured in this run.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { decodeInstance, loadCodecs, readPart10 } from '../src/dicom/pixels/index.ts';
import { readPart10 as readWithDcmjs } from '../src/dicom/writers/dcmjs-io.ts';
import { ensureFixtures } from '../test/support/fixtures.ts';

const dicomParser = createRequire(import.meta.url)('dicom-parser') as { parseDicom(bytes: Uint8Array): unknown };

function median(run: () => void, rounds = 21): number {
  const times: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
}

export async function runParseBench(): Promise<void> {
  const series = await (await ensureFixtures()).ctSeries();
  const files = series.variants['explicit-le'].files.map((f) => new Uint8Array(readFileSync(f)));
  const codecs = await loadCodecs();
  const ours = median(() => { for (const f of files) readPart10(f); });
  const bare = median(() => { for (const f of files) dicomParser.parseDicom(f); });
  const dcmjs = median(() => { for (const f of files) readWithDcmjs(f); }, 5);
  const decode = median(() => { for (const f of files) decodeInstance(f, codecs); }, 5);
  console.log(`${files.length} CT instances (512x512, explicit VR LE), median ms: readPart10 ${ours.toFixed(2)}, bare dicom-parser ${bare.toFixed(2)}, dcmjs ${dcmjs.toFixed(2)}, decodeInstance ${decode.toFixed(1)}`);
  console.log(`readPart10 / bare dicom-parser: ${(ours / bare).toFixed(2)}x; dcmjs / readPart10: ${(dcmjs / ours).toFixed(1)}x; reading is ${((100 * ours) / decode).toFixed(1)}% of decoding`);
}
