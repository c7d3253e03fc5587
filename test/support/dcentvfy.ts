// Runs dicom3tools' dcentvfy over a set of files (a source study plus our results) and splits what it
// reports into errors and warnings: it checks that patient, study and series attributes agree between
// all instances of one entity.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DcentvfyResult {
  errors: string[];
  warnings: string[];
  output: string;
}

export async function dcentvfy(paths: readonly string[]): Promise<DcentvfyResult> {
  const { stdout, stderr } = await run('dcentvfy', [...paths], { maxBuffer: 64 * 1024 * 1024 }).catch(
    (error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
  );
  const output = `${stdout}${stderr}`;
  const lines = output.split(/\r?\n/);
  return { errors: lines.filter((l) => l.startsWith('Error')), warnings: lines.filter((l) => l.startsWith('Warning')), output };
}
