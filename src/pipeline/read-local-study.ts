import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeInstance, hasPreamble, type Codecs, type DecodedInstance } from '../dicom/pixels/index.ts';
import { assembleVolume } from '../dicom/volume/assemble-volume.ts';
import { readPart10 } from '../dicom/writers/dcmjs-io.ts';
import type { DicomJsonDataset } from '../dicom/dicom-json.ts';
import { Tag } from '../dicom/tags.ts';
import { DicomParseError, InputFileError, TransferSyntaxUnsupportedError } from '../shared/errors.ts';
import type { SeriesInput } from './analyze-series.ts';

export interface LocalStudy {
  studyInstanceUid: string;
  series: SeriesInput[];
}

export interface LocalReadReport {
  studies: LocalStudy[];
  /** Files found in the folder and its subfolders. */
  files: number;
  /** Files that are not DICOM Part 10 (READMEs and the like). */
  skippedFiles: number;
  /** Instances in a transfer syntax with no local decoder (no server here to transcode them). */
  undecodable: number;
  /** DICOM files without pixel data (SR, RT plans, waveforms). */
  nonImage: number;
}

/** Reads a folder of DICOM files (recursively) into studies of assembled series, for the local analyze mode. */
export function readLocalStudies(dir: string, codecs: Codecs): LocalReadReport {
  const bySeries = new Map<string, { instances: DecodedInstance[]; metadata: DicomJsonDataset[] }>();
  let skippedFiles = 0;
  let undecodable = 0;
  let nonImage = 0;
  const files = listFiles(dir);
  for (const [index, path] of files.entries()) {
    try {
      const bytes = new Uint8Array(readFileSync(path));
      if (!hasPreamble(bytes)) {
        skippedFiles += 1;
        continue;
      }
      let instance: DecodedInstance;
      try {
        instance = decodeInstance(bytes, codecs);
      } catch (error) {
        if (error instanceof TransferSyntaxUnsupportedError) {
          undecodable += 1;
          continue;
        }
        // SR, RT plans, waveforms: DICOM, but nothing to look at (no pixel data, or no Rows/Columns).
        if (error instanceof DicomParseError && (error.detail === 'no pixel data' || error.detail === 'no image size')) {
          nonImage += 1;
          continue;
        }
        throw error;
      }
      const dataset = normalizeMetadata(readPart10(bytes).dataset);
      delete dataset[Tag.PixelData];
      const entry = bySeries.get(instance.seriesInstanceUid) ?? { instances: [], metadata: [] };
      entry.instances.push(instance);
      entry.metadata.push(dataset);
      bySeries.set(instance.seriesInstanceUid, entry);
    } catch (error) {
      // Any failure (also the parsers' own, foreign errors) names the file by position, never by name.
      throw new InputFileError(index + 1, files.length, error);
    }
  }

  const studies = new Map<string, LocalStudy>();
  for (const { instances, metadata } of bySeries.values()) {
    const volume = assembleVolume(instances);
    const first = instances[0]!;
    const study = studies.get(volume.studyInstanceUid) ?? { studyInstanceUid: volume.studyInstanceUid, series: [] };
    study.series.push({
      volume,
      metadata,
      ...(first.bodyPartExamined ? { bodyPartExamined: first.bodyPartExamined } : {}),
      ...(first.seriesDescription ? { seriesDescription: first.seriesDescription } : {}),
    });
    studies.set(volume.studyInstanceUid, study);
  }
  return { studies: [...studies.values()], files: files.length, skippedFiles, undecodable, nonImage };
}

/** How many files a folder holds and how many of them are DICOM Part 10 (from the first 136 bytes only). */
export function scanLocalFolder(dir: string): { files: number; part10: number } {
  const paths = listFiles(dir);
  const preamble = new Uint8Array(136);
  let part10 = 0;
  for (const path of paths) {
    const fd = openSync(path, 'r');
    try {
      if (hasPreamble(preamble.subarray(0, readSync(fd, preamble, 0, preamble.length, 0)))) part10 += 1;
    } finally {
      closeSync(fd);
    }
  }
  return { files: paths.length, part10 };
}

/** The counts that explain an empty result, e.g. "3 files found, 3 skipped as not DICOM". */
export function describeFolderCounts(counts: { files: number; skippedFiles: number; undecodable?: number; nonImage?: number }): string {
  const parts = [`${counts.files} files found`, `${counts.skippedFiles} skipped as not DICOM`];
  if (counts.undecodable) parts.push(`${counts.undecodable} skipped with no local decoder`);
  if (counts.nonImage) parts.push(`${counts.nonImage} without pixel data`);
  return parts.join(', ');
}

/**
 * Metadata as a DICOMweb server would give it: dcmjs reads an empty number (DS/IS) as `[null]` where
 * DICOM JSON leaves the Value out, and keeps dates in the retired ACR-NEMA form `YYYY.MM.DD`, which
 * results copied from the source (Patient and Study modules) could not carry.
 */
function normalizeMetadata(dataset: DicomJsonDataset): DicomJsonDataset {
  for (const element of Object.values(dataset)) {
    const values = element.Value as unknown[] | undefined;
    if (!Array.isArray(values)) continue;
    if (values.every((v) => v === null || v === undefined)) delete element.Value;
    else if (element.vr === 'DA') element.Value = values.map((v) => (typeof v === 'string' && /^\d{4}\.\d{2}\.\d{2}$/.test(v) ? v.replace(/\./g, '') : v));
  }
  return dataset;
}

function listFiles(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...listFiles(path));
    else files.push(path);
  }
  return files;
}
