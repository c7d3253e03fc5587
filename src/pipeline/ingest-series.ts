import type { DicomwebClient } from '../dicom/dicomweb/dicomweb-client.ts';
import { readPart10Meta } from '../dicom/dicomweb/part10-meta.ts';
import type { DicomJsonDataset } from '../dicom/dicom-json.ts';
import { decodeInstance, TRANSFER_SYNTAX, type Codecs, type DecodedInstance } from '../dicom/pixels/index.ts';
import { assembleVolume } from '../dicom/volume/assemble-volume.ts';
import type { Volume } from '../dicom/volume/volume.ts';
import type { SeriesSummary } from '../queue/run-record.ts';
import { PixelDecodeError, TransferSyntaxUnsupportedError } from '../shared/errors.ts';
import { hashStudyUid } from '../shared/uids.ts';

export interface IngestedSeries {
  volume: Volume;
  /** WADO-RS metadata of every instance: the writers copy patient and study modules from it. */
  metadata: DicomJsonDataset[];
  summary: SeriesSummary;
  /** Time spent decoding and assembling (the rest of ingest is waiting for the server). */
  decodeMs: number;
}

/**
 * Retrieves one series with the stored transfer syntaxes (`transfer-syntax=*`), decodes it locally and
 * assembles the volume. An instance whose syntax has no local decoder (12-bit JPEG, say) is fetched
 * again as explicit VR little endian, which the server transcodes.
 */
export async function ingestSeries(
  client: DicomwebClient,
  codecs: Codecs,
  studyUid: string,
  seriesUid: string,
  signal: AbortSignal,
  /** The series' WADO-RS metadata when already fetched (the analyze stage reads it first to plan). */
  prefetchedMetadata?: DicomJsonDataset[],
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

  for await (const part of client.retrieveSeries(studyUid, seriesUid, { transferSyntax: '*', signal })) {
    const decoded = await decodeOrRefetch(part.bytes);
    // The syntax actually decoded: explicit little endian where the server had to transcode.
    transferSyntaxes.add(decoded.transferSyntaxUid);
    instances.push(decoded);
  }

  const assemblyStart = performance.now();
  const volume = assembleVolume(instances);
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
    },
  };
}
