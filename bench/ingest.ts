// Ingest benchmark: retrieval of a 200 x 512 x 512 16-bit CT series (~100 MiB, explicit VR little endian)
// from a real Orthanc over WADO-RS with transfer-syntax=*, by three methods, each in its own child
// process so that peak RSS belongs to the method alone:
//   ours      the streaming client (src/dicom/dicomweb, undici underneath), parts discarded as they arrive
//   ours-keep the streaming client, every part kept in memory (what a pipeline that holds the series does)
//   dwc       dicomweb-client + xhr2 (buffers the whole response; the baseline)
//   undici    a bare undici request, body discarded (what any undici client pays before parsing)
//   node-http node:http (native llhttp) with a keep-alive http.Agent, body discarded
//   curl      curl to /dev/null (the limit)
// Goals: ours >= 0.8 x curl throughput; peak RSS <= series pixel bytes x 2 + 150 MB.
// Knobs: INGEST_RUNS (child processes per method, default 5); INGEST_ROUNDS (in-process alternating
// rounds of ours and bare undici, default 12); INGEST_AGENT_OPTS, JSON undici Agent
// options for ours (e.g. {"connect":{"highWaterMark":1048576}}), to try a tuning against the same baseline.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const THIS_FILE = fileURLToPath(import.meta.url);
const CHILD_FLAG = '--ingest-child';
const ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const MB = 1e6;

export interface IngestBenchOptions {
  slices?: number;
  /** Timed runs per method, interleaved; the median and the best are reported. */
  runs?: number;
}

type Method = 'ours' | 'ours-keep' | 'undici' | 'node-http' | 'dwc' | 'curl';
const METHODS: Method[] = ['curl', 'undici', 'node-http', 'ours', 'ours-keep', 'dwc'];

interface ChildResult {
  bytes: number;
  parts: number;
  coldMs: number;
  warmMs: number;
}

interface Measurement extends ChildResult {
  peakRssMb: number;
  /** CPU seconds of the whole child (user + system), start-up included. */
  cpuS: number;
}

const SYNTHESIZE = `
import sys, numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
out, n = sys.argv[1], int(sys.argv[2])
study, series, frame = generate_uid(), generate_uid(), generate_uid()
rng = np.random.default_rng(7)
yy, xx = np.mgrid[0:512, 0:512]
body = ((xx - 256) ** 2 / 200.0 ** 2 + (yy - 256) ** 2 / 160.0 ** 2) <= 1
for i in range(n):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.2'
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    ds.PatientName, ds.PatientID, ds.StudyDate, ds.Modality = 'BENCH^INGEST', 'BENCH-1', '20260101', 'CT'
    ds.SeriesNumber, ds.InstanceNumber = 1, i + 1
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, i * 1.0], [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 1.0
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 512, 512, 1, 'MONOCHROME2'
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    pixels = np.where(body, 1000 + rng.integers(-200, 200, (512, 512)), -2000).astype('<i2')
    ds.PixelData = pixels.tobytes()
    ds.save_as(f'{out}/{i:04d}.dcm', write_like_original=False)
print(study, series)
`;

async function synthesizeSeries(dir: string, slices: number): Promise<{ study: string; series: string; files: string[] }> {
  const script = path.join(dir, 'synthesize.py');
  writeFileSync(script, SYNTHESIZE);
  const { stdout } = await execFileAsync('/usr/bin/python3', [script, dir, String(slices)], { maxBuffer: 1 << 20 });
  const [study, series] = stdout.trim().split(/\s+/);
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().map((f) => path.join(dir, f));
  return { study: study!, series: series!, files };
}

/** Runs `command` under /usr/bin/time -v; returns its stdout and the peak RSS it reports. */
function runMeasured(command: string, args: string[]): Promise<{ stdout: string; peakRssMb: number; cpuS: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-v', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      if (code !== 0 || !rss) {
        reject(new Error(`${path.basename(command)} failed (${code}): ${stderr.slice(-2000)}`));
        return;
      }
      const user = Number(/User time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
      const system = Number(/System time \(seconds\): ([\d.]+)/.exec(stderr)?.[1] ?? NaN);
      resolve({ stdout, peakRssMb: (Number(rss[1]) * 1024) / MB, cpuS: user + system });
    });
  });
}

async function measure(method: Method, url: string, study: string, series: string): Promise<Measurement> {
  if (method === 'curl') {
    const { stdout, peakRssMb, cpuS } = await runMeasured('curl', ['-s', '-o', '/dev/null', '-H', `Accept: ${ACCEPT}`, '-w', '%{size_download} %{time_total}', url]);
    const [bytes, seconds] = stdout.trim().split(' ').map(Number);
    return { bytes: bytes!, parts: 0, coldMs: seconds! * 1000, warmMs: seconds! * 1000, peakRssMb, cpuS };
  }
  const tsx = import.meta.resolve('tsx');
  const { stdout, peakRssMb, cpuS } = await runMeasured(process.execPath, ['--import', tsx, THIS_FILE, CHILD_FLAG, method, url, study, series]);
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
  return { ...result, peakRssMb, cpuS };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function runIngestBench(options: IngestBenchOptions = {}): Promise<void> {
  const slices = options.slices ?? 200;
  const runs = options.runs ?? Number(process.env.INGEST_RUNS ?? 5);
  const { startOrthanc } = await import('../test/support/orthanc.ts');
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-ingest-'));
  const orthanc = await startOrthanc();
  try {
    let started = performance.now();
    const { study, series, files } = await synthesizeSeries(dir, slices);
    console.log(`synthesized ${files.length} slices in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    started = performance.now();
    await orthanc.upload(files);
    console.log(`uploaded to Orthanc in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const pixelBytes = slices * 512 * 512 * 2;
    const url = `${orthanc.baseUrl}/studies/${study}/series/${series}`;

    await measure('curl', url, study, series); // warm Orthanc and the page cache
    const samples = new Map<Method, Measurement[]>(METHODS.map((m) => [m, []]));
    for (let run = 0; run < runs; run++) {
      for (const method of METHODS) samples.get(method)!.push(await measure(method, url, study, series));
    }

    const rows = METHODS.map((method) => {
      const list = samples.get(method)!;
      const bytes = list[0]!.bytes;
      const rate = (ms: number) => bytes / MB / (ms / 1000);
      return {
        method, bytes, parts: list[0]!.parts,
        cold: rate(median(list.map((m) => m.coldMs))),
        warm: rate(median(list.map((m) => m.warmMs))),
        bestWarm: rate(Math.min(...list.map((m) => m.warmMs))),
        peakRssMb: Math.max(...list.map((m) => m.peakRssMb)),
        cpuS: median(list.map((m) => m.cpuS)),
      };
    });
    const curl = rows.find((r) => r.method === 'curl')!;
    const rssLimitMb = (pixelBytes * 2) / MB + 150;
    console.log(`\nseries: ${slices} x 512 x 512 x 16 bit, pixel bytes ${(pixelBytes / MB).toFixed(1)} MB, body ${(curl.bytes / MB).toFixed(1)} MB; ${runs} child processes per method, 2 retrievals each (cold, warm); load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`);
    console.log('MB/s are medians over the runs; "x curl" divides by curl\'s median (best: by curl\'s best)');
    console.log('method         cold MB/s  x curl  warm MB/s  x curl  best warm  x curl  peak RSS MB  child CPU s  parts');
    for (const row of rows) {
      console.log([
        row.method.padEnd(14), row.cold.toFixed(0).padStart(9), (row.cold / curl.cold).toFixed(2).padStart(7),
        row.warm.toFixed(0).padStart(10), (row.warm / curl.warm).toFixed(2).padStart(7),
        row.bestWarm.toFixed(0).padStart(10), (row.bestWarm / curl.bestWarm).toFixed(2).padStart(7),
        row.peakRssMb.toFixed(0).padStart(12), row.cpuS.toFixed(2).padStart(12), ` ${row.parts > 0 ? row.parts : '-'}`,
      ].join(' '));
    }
    const ours = rows.find((r) => r.method === 'ours')!;
    const keep = rows.find((r) => r.method === 'ours-keep')!;
    const undici = rows.find((r) => r.method === 'undici')!;
    console.log(`\ngoal: ours >= 0.8 x curl: warm ${(ours.warm / curl.warm).toFixed(2)}, cold ${(ours.cold / curl.cold).toFixed(2)} -> ${ours.warm >= 0.8 * curl.warm ? 'MET' : 'NOT MET'} (warm median)`);
    console.log(`      (ours / bare undici: warm ${(ours.warm / undici.warm).toFixed(2)}, cold ${(ours.cold / undici.cold).toFixed(2)})`);
    console.log(`goal: peak RSS <= ${rssLimitMb.toFixed(0)} MB: ours ${ours.peakRssMb.toFixed(0)} MB, ours-keep ${keep.peakRssMb.toFixed(0)} MB -> ${Math.max(ours.peakRssMb, keep.peakRssMb) <= rssLimitMb ? 'MET' : 'NOT MET'}`);
    const inProcess = await compareInProcess(url, study, series, Number(process.env.INGEST_ROUNDS ?? 12));
    console.log(`in one warm process, ${inProcess.rounds} alternating rounds (min is the least disturbed by load): ours ${inProcess.ours.min.toFixed(0)} ms min / ${inProcess.ours.median.toFixed(0)} ms median, bare undici request ${inProcess.undici.min.toFixed(0)} / ${inProcess.undici.median.toFixed(0)} ms -> ours / bare undici ${(inProcess.undici.min / inProcess.ours.min).toFixed(2)} (min), ${(inProcess.undici.median / inProcess.ours.median).toFixed(2)} (median)`);
  } finally {
    await orthanc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The streaming client and a bare undici request, alternated in this process: single cold/warm samples
 * per child swing with machine load; the minimum over many rounds shows what each costs undisturbed.
 */
async function compareInProcess(url: string, study: string, series: string, rounds: number) {
  const ours = await prepareMethod('ours', url, study, series);
  const undici = await prepareMethod('undici', url, study, series);
  const times = { ours: [] as number[], undici: [] as number[] };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const [name, method] of [['ours', ours], ['undici', undici]] as const) {
        const started = performance.now();
        await method.retrieve();
        times[name].push(performance.now() - started);
      }
    }
  } finally {
    await ours.close();
    await undici.close();
  }
  const summary = (list: number[]) => ({ min: Math.min(...list), median: median(list) });
  return { rounds, ours: summary(times.ours), undici: summary(times.undici) };
}

// --- child process side ---------------------------------------------------------------------------

type RetrieveOnce = () => Promise<{ bytes: number; parts: number }>;

/** Sets up one method (connection and parser warmed by a small request, as in a long-lived worker). */
async function prepareMethod(method: Method, url: string, study: string, series: string): Promise<{ retrieve: RetrieveOnce; close(): Promise<void> }> {
  const baseUrl = url.slice(0, url.indexOf('/studies/'));
  if (method === 'ours' || method === 'ours-keep') {
    const { createDicomwebClient } = await import('../src/dicom/dicomweb/dicomweb-client.ts');
    const { createDicomwebAgent } = await import('../src/dicom/dicomweb/dicomweb-agent.ts');
    const client = createDicomwebClient({ baseUrl, dispatcher: createDicomwebAgent(JSON.parse(process.env.INGEST_AGENT_OPTS ?? '{}')) });
    await client.ping();
    return {
      async retrieve() {
        const kept: Uint8Array[] = [];
        let bytes = 0;
        let parts = 0;
        for await (const part of client.retrieveSeries(study, series, { transferSyntax: '*' })) {
          bytes += part.bytes.byteLength;
          parts++;
          if (method === 'ours-keep') kept.push(part.bytes);
        }
        return { bytes, parts };
      },
      close: () => client.close(),
    };
  }
  if (method === 'undici') {
    const { Agent, request } = await import('undici');
    const dispatcher = new Agent();
    await (await request(`${baseUrl}/studies?limit=1`, { dispatcher })).body.dump();
    return {
      async retrieve() {
        let bytes = 0;
        const response = await request(url, { dispatcher, headers: { accept: ACCEPT } });
        for await (const chunk of response.body) bytes += (chunk as Buffer).length;
        return { bytes, parts: 0 };
      },
      close: () => dispatcher.close(),
    };
  }
  if (method === 'node-http') {
    const http = await import('node:http');
    const agent = new http.Agent({ keepAlive: true });
    const get = (target: string, headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
      http.get(target, { agent, headers }, (response) => {
        let bytes = 0;
        response.on('data', (chunk: Buffer) => (bytes += chunk.length));
        response.on('end', () => resolve(bytes));
        response.on('error', reject);
      }).on('error', reject);
    });
    await get(`${baseUrl}/studies?limit=1`, {});
    return {
      retrieve: async () => ({ bytes: await get(url, { accept: ACCEPT }), parts: 0 }),
      close: async () => agent.destroy(),
    };
  }
  const xhr2Module = 'xhr2'; // untyped CommonJS package: imported by name so tsc does not look for types
  const xhr2 = ((await import(xhr2Module)) as { default: unknown }).default;
  (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = xhr2;
  const { api } = (await import('dicomweb-client')) as unknown as { api: { DICOMwebClient: new (o: { url: string }) => DwcClient } };
  const client = new api.DICOMwebClient({ url: baseUrl });
  await client.searchForStudies({ queryParams: { limit: '1' } });
  return {
    async retrieve() {
      // retrieveSeries({ mediaTypes }) rejects application/dicom in 0.11.3 (its media type check compares
      // "application/" with "application/dicom"), so call the method it would have called.
      const instances = await client._httpGetMultipartApplicationDicom(url, [{ mediaType: 'application/dicom', transferSyntaxUID: '*' }], false);
      return { bytes: instances.reduce((n, i) => n + i.byteLength, 0), parts: instances.length };
    },
    close: async () => undefined,
  };
}

/** Two retrievals in one process: the first pays for JIT and heap growth (cold), the second does not (warm). */
async function runChild(method: Method, url: string, study: string, series: string): Promise<ChildResult> {
  const prepared = await prepareMethod(method, url, study, series);
  const times: number[] = [];
  let last = { bytes: 0, parts: 0 };
  for (let i = 0; i < 2; i++) {
    const started = performance.now();
    last = await prepared.retrieve();
    times.push(performance.now() - started);
  }
  await prepared.close();
  return { ...last, coldMs: times[0]!, warmMs: times[1]! };
}

interface DwcClient {
  searchForStudies(options: { queryParams: Record<string, string> }): Promise<unknown>;
  _httpGetMultipartApplicationDicom(url: string, mediaTypes: Array<{ mediaType: string; transferSyntaxUID: string }>, params: false): Promise<ArrayBuffer[]>;
}

if (process.argv[1] === THIS_FILE && process.argv[2] === CHILD_FLAG) {
  const [method, url, study, series] = process.argv.slice(3) as [Method, string, string, string];
  runChild(method, url, study, series).then(
    (result) => console.log(JSON.stringify(result)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
