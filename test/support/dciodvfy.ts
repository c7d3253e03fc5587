// Runs dicom3tools' dciodvfy on a DICOM object and splits its findings into errors and warnings.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DciodvfyResult {
  errors: string[];
  warnings: string[];
  /** Everything dciodvfy printed, for failure messages. */
  output: string;
}

/** Verifies Part 10 bytes (or a file path) with `dciodvfy`; "Error -" / "Warning -" lines are collected. */
export async function dciodvfy(input: Uint8Array | string): Promise<DciodvfyResult> {
  let dir: string | undefined;
  let path: string;
  if (typeof input === 'string') {
    path = input;
  } else {
    dir = await mkdtemp(join(tmpdir(), 'dciodvfy-'));
    path = join(dir, 'object.dcm');
    await writeFile(path, input);
  }
  try {
    // dciodvfy exits non-zero when it finds errors; its findings are what we want either way.
    const { stdout, stderr } = await run('dciodvfy', [path], { maxBuffer: 64 * 1024 * 1024 }).catch(
      (error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
    );
    const output = `${stdout}${stderr}`;
    const lines = output.split(/\r?\n/);
    return {
      errors: lines.filter((line) => line.startsWith('Error -')),
      warnings: lines.filter((line) => line.startsWith('Warning -')),
      output,
    };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
