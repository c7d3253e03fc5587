import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeFolderCounts, scanLocalFolder } from '../../src/pipeline/read-local-study.ts';

const dir = mkdtempSync(join(tmpdir(), 'scan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scanLocalFolder', () => {
  it('counts every file below the folder and those that are DICOM Part 10, from their first bytes', () => {
    mkdirSync(join(dir, 'sub'));
    copyFileSync('samples/sample-study/ct-01.dcm', join(dir, 'sub', 'ct-01.dcm'));
    copyFileSync('samples/sample-study/dx-01.dcm', join(dir, 'dx-01.dcm'));
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    writeFileSync(join(dir, 'short'), Buffer.from('DICM'));
    expect(scanLocalFolder(dir)).toEqual({ files: 4, part10: 2 });
    expect(describeFolderCounts({ files: 4, skippedFiles: 2, undecodable: 1 })).toBe('4 files found, 2 skipped as not DICOM, 1 skipped with no local decoder');
  });
});
