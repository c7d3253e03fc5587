import type { DicomwebClient } from '../dicom/dicomweb/dicomweb-client.ts';
import { readPart10Meta } from '../dicom/dicomweb/part10-meta.ts';
import type { DicomJsonDataset } from '../dicom/dicom-json.ts';
import { decodeInstance, TRANSFER_SYNTAX, type Codecs, type DecodedInstance } from '../dicom/pixels/index.ts';
import { assembleTiledImage } from '../dicom/volume/assemble-tiled-image.ts';
import { assembleVolume } from '../dicom/volume/assemble-volume.ts';
import type { Volume } from '../dicom/volume/volume.ts';
import type { SeriesSummary } from '../queue/run-record.ts';
import { PixelDecodeError, TransferSyntaxUnsupportedError, VolumeAssemblyError } from '../shared/errors.ts';
import { hashStudyUid } from '../shared/uids.ts';
import type { PriorImages } from './find-prior-study.ts';
import { choosePyramidLevel, isWholeSlide, MODEL_INPUT_SIDE } from './choose-pyramid-level.ts';

export interface IngestedSeries {
  volume: Volume;
  /** WADO-RS metadata of every instance: the writers copy patient and study modules from it. */
  metadata: DicomJsonDataset[];
  summary: SeriesSummary;
  /** Time spent decoding and assembling (the rest of ingest is waiting for the server). */
  decodeMs: number;
  /** Key images of the patient's prior study, when a task of this series asks for them (task-profile `priors`). */
  priors?: PriorImages;
}

/**
 * Retrieves one series with the stored transfer syntaxes (`transfer-syntax=*`), decodes it locally and
 * assembles the volume. An instance whose syntax has no local decoder (12-bit JPEG, say) is fetched
 * again as explicit VR little endian, which the server transcodes. A whole-slide pyramid is reduced to
 * one image: only the level nearest the model's input size is retrieved, and its tiles are assembled.
 */
export async function ingestSeries(
  client: DicomwebClient,
  codecs: Codecs,
  studyUid: string,
  seriesUid: string,
  signal: AbortSignal,
  /** The series' WADO-RS metadata when already fetched (the analyze stage reads it first to plan). */
  prefetchedMetadata?: DicomJsonDataset[],
  /** Long side the whole-slide level is chosen for (the model's input size by default). */
  pyramidTargetSide = MODEL_INPUT_SIDE,
): Promise<IngestedSeries> {
  const metadata = prefetchedMetadata ?? await client.retrieveSeriesMetadata(studyUid, seriesUid, { signal });
  const instances: DecodedInstance[] = [];
  const transferSyntaxes = new Set<string>();
  let bytes = 0;
  let decodeMs = 0;
  const timedDecode = (part: Uint8Array) => {
    const start = performance.now();
    try {
      return decodeInstance(part, codecs);
    } finally {
      decodeMs += performance.now() - start;
    }
  };

  const decodeOrRefetch = async (part: Uint8Array) => {
    bytes += part.byteLength;
    try {
      return timedDecode(part);
    } catch (error) {
      if (!(error instanceof TransferSyntaxUnsupportedError)) throw error;
      const sopInstanceUid = readPart10Meta(part)?.sopInstanceUid;
      if (!sopInstanceUid) throw new PixelDecodeError({ cause: error });
      const parts = client.retrieveInstance(studyUid, seriesUid, sopInstanceUid, {
        transferSyntax: TRANSFER_SYNTAX.explicitLittleEndian,
        signal,
      });
      for await (const transcoded of parts) {
        bytes += transcoded.bytes.byteLength;
        return timedDecode(transcoded.bytes);
      }
      throw new PixelDecodeError({ cause: error });
    }
  };

  const level = isWholeSlide(metadata) ? choosePyramidLevel(metadata, pyramidTargetSide) : undefined;
  if (isWholeSlide(metadata) && !level) throw new VolumeAssemblyError({ detail: 'whole-slide series without a pyramid level' });
  const parts = level
    ? client.retrieveInstance(studyUid, seriesUid, level.sopInstanceUid, { transferSyntax: '*', signal })
    : client.retrieveSeries(studyUid, seriesUid, { transferSyntax: '*', signal });
  for await (const part of parts) {
    const decoded = await decodeOrRefetch(part.bytes);
    // The syntax actually decoded: explicit little endian where the server had to transcode.
    transferSyntaxes.add(decoded.transferSyntaxUid);
    instances.push(decoded);
  }

  keepStoredDecimals(metadata, instances);
  const assemblyStart = performance.now();
  const volume = assembleVolume(level ? instances.map(assembleTiledImage) : instances);
  decodeMs += performance.now() - assemblyStart;
  return {
    decodeMs,
    volume,
    metadata,
    summary: {
      seriesKey: hashStudyUid(seriesUid),
      modality: volume.modality,
      instances: instances.length,
      frames: volume.depth,
      bytes,
      rows: volume.rows,
      columns: volume.columns,
      transferSyntaxes: [...transferSyntaxes].sort(),
      ...(level ? { pyramidLevel: { level: level.level, levels: level.levels, tiles: level.tiles } } : {}),
    },
  };
}

/**
 * WADO-RS metadata carries DS values as JSON numbers (`0.000000` arrives as 0): put back the stored text
 * of the attributes results copy, so their study reads the same in every instance (dcentvfy).
 */
function keepStoredDecimals(metadata: DicomJsonDataset[], instances: readonly DecodedInstance[]): void {
  const bySop = new Map(instances.map((i) => [i.sopInstanceUid, i.storedDecimals]));
  for (const item of metadata) {
    const stored = bySop.get(String(item['00080018']?.Value?.[0] ?? ''));
    for (const [tag, text] of Object.entries(stored ?? {})) item[tag] = { vr: 'DS', Value: text.split('\\').map((v) => v.trim()) };
  }
}
