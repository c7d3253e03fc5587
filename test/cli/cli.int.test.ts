import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { PNG } from 'pngjs';
import type { Bundle } from '@medplum/fhirtypes';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { dciodvfy } from '../support/dciodvfy.ts';
import { openTestRedis } from '../support/redis.ts';

const run = promisify(execFile);
const CLI = ['node_modules/.bin/tsx', 'src/cli.ts'];

/** Runs the CLI as a user would; resolves with exit code and output instead of throwing. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(CLI[0]!, [...CLI.slice(1), ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`) and returns what the terminal showed. */
async function cliOnTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const command = [...CLI, ...args].map((a) => `'${a}'`).join(' ');
  const { stdout } = await run('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...env }, timeout: 240_000 });
  return stdout;
}

describe('command line', () => {
  let work: string;
  beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'cli-')); });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('analyze --dir writes valid DICOM results, a valid FHIR bundle, key images and the report page', async () => {
    const out = join(work, 'out');
    const result = await cli(['analyze', '--dir', 'samples/sample-study', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/research use only, not for clinical decisions/);
    expect(result.stdout).toContain('skipped 1 files that are not DICOM');

    const dicom = readdirSync(join(out, 'dicom'));
    expect(dicom.filter((f) => f.endsWith('-seg.dcm'))).toHaveLength(1); // chest CT: lung segmentation
    expect(dicom.filter((f) => f.endsWith('-sr.dcm'))).toHaveLength(3); // CT, MR and DX reports
    for (const file of dicom) expect((await dciodvfy(join(out, 'dicom', file))).errors, file).toEqual([]);

    const bundle = JSON.parse(readFileSync(join(out, 'fhir-bundle.json'), 'utf8')) as Bundle;
    expect(bundle.type).toBe('transaction');
    expect(() => createResourceValidator().assertValidBundle(bundle)).not.toThrow();
    const report = bundle.entry?.find((e) => e.resource?.resourceType === 'DiagnosticReport')?.resource as { status: string; conclusion: string };
    expect(report.status).toBe('preliminary');

    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('research use only');
    expect(html).not.toContain('DEMO^SAMPLE');
    const images = readdirSync(join(out, 'images'));
    expect(images.length).toBeGreaterThanOrEqual(3);
    for (const image of images) {
      expect(html).toContain(`images/${image}`);
      const png = PNG.sync.read(readFileSync(join(out, 'images', image)));
      expect(png.width).toBeGreaterThan(0);
    }
  });

  it('analyze on a folder with a broken file ends with one error line naming its position and code', async () => {
    const input = join(work, 'broken-input');
    cpSync('samples/sample-study', input, { recursive: true });
    const whole = readFileSync('/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm');
    // Sorts first (upper case); its name is what a patient's name in a file name looks like.
    writeFileSync(join(input, 'DOE^JANE.dcm'), whole.subarray(0, whole.length - 1000));
    const result = await cli(['analyze', '--dir', input, '--out', join(work, 'broken-out')]);
    expect(result.code).toBe(1);
    const errorLines = result.stderr.split('\n').filter((l) => l.startsWith('unimedvl-plugin:'));
    expect(errorLines, result.stderr).toEqual([expect.stringMatching(/^unimedvl-plugin: File 1 of \d+ in the folder \(sorted by path\): .+ \((DICOM_PARSE_FAILED|PIXEL_DECODE_FAILED)/)]);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain('DOE');
  });

  it('serve and api refuse to start without API_TOKEN and WEBHOOK_SECRET unless ALLOW_UNAUTHENTICATED=true', async () => {
    const result = await cli(['api'], { PORT: '0', HOST: '127.0.0.1' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'unimedvl-plugin: API_TOKEN and WEBHOOK_SECRET not set: set them, or ALLOW_UNAUTHENTICATED=true to serve without authentication (AUTH_NOT_CONFIGURED: API_TOKEN, WEBHOOK_SECRET)',
    );
  });

  it('analyze names a missing input folder, without a stack trace, before loading the model', async () => {
    const result = await cli(['analyze', '--dir', join(work, 'no-such-folder'), '--out', join(work, 'out-missing')], { LOG_LEVEL: 'debug' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`the input folder ${join(work, 'no-such-folder')} does not exist`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('model sessions ready');
  });

  it('analyze finds an output folder it cannot write before the model runs, and names it', async () => {
    const input = join(work, 'one-dx');
    mkdirSync(input);
    cpSync('samples/sample-study/dx-01.dcm', join(input, 'dx-01.dcm'));
    writeFileSync(join(work, 'a-file'), 'not a folder');
    const out = join(work, 'a-file', 'out');
    const result = await cli(['analyze', '--dir', input, '--out', out], { LOG_LEVEL: 'debug' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`the output folder ${out} cannot be written (ENOTDIR)`);
    expect(result.stderr).not.toContain('model sessions ready');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('analyze says NO_IMAGE_SERIES with the files found and skipped, for an empty and for a non-DICOM folder', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty);
    const emptyRun = await cli(['analyze', '--dir', empty, '--out', join(work, 'out-empty')], { LOG_LEVEL: 'debug' });
    expect(emptyRun.code).toBe(1);
    expect(emptyRun.stderr).toContain(`no image series to analyze in ${empty}: 0 files found, 0 skipped as not DICOM (NO_IMAGE_SERIES)`);

    const text = join(work, 'text-only');
    mkdirSync(join(text, 'notes'), { recursive: true });
    writeFileSync(join(text, 'readme.txt'), 'hello');
    writeFileSync(join(text, 'notes', 'scan.jpg'), Buffer.alloc(400, 7));
    const textRun = await cli(['analyze', '--dir', text, '--out', join(work, 'out-text')], { LOG_LEVEL: 'debug' });
    expect(textRun.code).toBe(1);
    expect(textRun.stderr).toContain('2 files found, 2 skipped as not DICOM (NO_IMAGE_SERIES)');
    expect(textRun.stderr).not.toContain('model sessions ready');
  });

  it('prints human-readable log lines on a terminal, JSON when asked or when not on a terminal', async () => {
    const input = join(work, 'tty-dx');
    mkdirSync(input);
    cpSync('samples/sample-study/dx-01.dcm', join(input, 'dx-01.dcm'));
    const args = ['analyze', '--dir', input, '--out', join(work, 'out-tty')];
    const onTty = await cliOnTerminal(args, { LOG_LEVEL: 'debug' });
    expect(onTty).toMatch(/INFO.*model sessions ready/);
    expect(onTty).not.toMatch(/\{"level"/);
    const jsonOnTty = await cliOnTerminal(args, { LOG_LEVEL: 'debug', LOG_FORMAT: 'json' });
    expect(jsonOnTty).toMatch(/\{"level":30,.*"msg":"model sessions ready"/);
    const piped = await cli(args, { LOG_LEVEL: 'debug' });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toMatch(/\{"level":30,.*"msg":"model sessions ready"/);
  });

  it('models check verifies the bundle, names the provider, and names a corrupted file', async () => {
    const ok = await cli(['models', 'check', 'models/tiny', '--provider', 'cpu']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('files verified (size + sha256): 10');
    expect(ok.stdout).toContain('execution provider: requested cpu, loaded cpu');

    const broken = join(work, 'broken-bundle');
    cpSync('models/tiny', broken, { recursive: true });
    writeFileSync(join(broken, 'lm_head.onnx'), Buffer.alloc(16));
    const bad = await cli(['models', 'check', broken, '--provider', 'cpu']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('MODEL_BUNDLE_INVALID');
    expect(bad.stderr).toContain('lm_head.onnx');
  });

  it('serve stops at start-up on a corrupted bundle, naming the file, before it listens', async () => {
    const broken = join(work, 'broken-serve-bundle');
    cpSync('models/tiny', broken, { recursive: true });
    writeFileSync(join(broken, 'vae_decoder.onnx'), Buffer.alloc(8));
    const result = await cli(['serve'], { MODEL_DIR: broken, PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: 'cli-test-broken', ALLOW_UNAUTHENTICATED: 'true' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('MODEL_BUNDLE_INVALID');
    expect(result.stderr).toContain('vae_decoder.onnx');
  });

  it("asking for CUDA loads it where 'auto' finds it, and elsewhere fails clearly instead of crashing", async () => {
    const auto = await cli(['models', 'check', 'models/tiny', '--provider', 'auto']);
    const found = /loaded (cuda|cpu)/.exec(auto.stdout)?.[1];
    expect(found, auto.stderr).toMatch(/^(cuda|cpu)$/);
    const result = await cli(['models', 'check', 'models/tiny', '--provider', 'cuda']);
    if (found === 'cuda') {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('execution provider: requested cuda, loaded cuda');
    } else {
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('EXECUTION_PROVIDER_UNAVAILABLE');
    }
  });

  it('refuses bad configuration at start-up, naming the keys and never their values', async () => {
    const result = await cli(['api'], { PORT: 'not-a-port', FHIR_URL: 'ftp://secret-host.example/fhir' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('CONFIG_INVALID');
    expect(result.stderr).toContain('FHIR_URL');
    expect(result.stderr).toContain('PORT');
    expect(result.stderr).not.toContain('secret-host');
    expect(result.stderr).not.toContain('not-a-port');
  });

  it('serve starts, answers, and stops cleanly on SIGTERM', async () => {
    const redis = openTestRedis();
    const child = spawn(CLI[0]!, [...CLI.slice(1), 'serve'], {
      env: { ...process.env, LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1', QUEUE_PREFIX: redis.prefix, EXECUTION_PROVIDER: 'cpu', ALLOW_UNAUTHENTICATED: 'true' },
    });
    onTestFinished(() => redis.cleanup());
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 600 && !output.includes('http listening'); i += 1) await new Promise((r) => setTimeout(r, 50));
    const port = (JSON.parse(output.split('\n').find((l) => l.includes('http listening'))!) as { port: number }).port;
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });

  it('explains its commands', async () => {
    const result = await cli(['--help']);
    expect(result.code).toBe(0);
    for (const command of ['serve', 'api', 'worker', 'analyze', 'models check', 'demo']) expect(result.stdout).toContain(command);
    expect(existsSync('bin/unimedvl-plugin.js')).toBe(true);
  });
});
