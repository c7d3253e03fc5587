// One whole-slide pyramid level (tiles as frames) -> one image of the level's Total Pixel Matrix.
import { VolumeAssemblyError } from '../../shared/errors.ts';
import type { DecodedInstance, StoredFrame } from '../pixels/decoded-instance.ts';
import type { DicomDataset } from '../pixels/read-part10.ts';

const TAG = {
  TotalPixelMatrixColumns: 0x00480006,
  TotalPixelMatrixRows: 0x00480007,
  DimensionOrganizationType: 0x00209311,
  PerFrameFunctionalGroupsSequence: 0x52009230,
  PlanePositionSlideSequence: 0x0048021a,
  ColumnPositionInTotalImagePixelMatrix: 0x0048021e,
  RowPositionInTotalImagePixelMatrix: 0x0048021f,
} as const;

/** Top-left corner (0-based) of each tile in the total pixel matrix. */
interface TileOrigin { column: number; row: number }

/**
 * Places every tile at its position: explicit per-frame Plane Position (Slide) positions when present
 * (TILED_SPARSE, PS3.3 C.8.12.6.1), else the TILED_FULL order (row-major tiles, first focal plane and optical
 * path first, PS3.3 C.8.12.4.1.3). Edge tiles are clipped to the matrix; uncovered pixels stay white (slide
 * background). Throws VolumeAssemblyError for a level that is not tiled or whose tiles do not cover it.
 */
export function assembleTiledImage(level: DecodedInstance): DecodedInstance {
  const ds = level.dataset;
  const totalColumns = ds.number(TAG.TotalPixelMatrixColumns);
  const totalRows = ds.number(TAG.TotalPixelMatrixRows);
  if (!totalColumns || !totalRows) throw new VolumeAssemblyError({ detail: 'tiled image without a total pixel matrix size' });
  const origins = explicitOrigins(ds, level.numberOfFrames) ?? tiledFullOrigins(level, totalColumns, totalRows, ds);

  const samples = level.samplesPerPixel;
  const first = level.frames[0];
  if (!first) throw new VolumeAssemblyError({ detail: 'tiled image without frames' });
  const out = new (first.constructor as new (length: number) => StoredFrame)(totalColumns * totalRows * samples);
  if (level.bitsAllocated === 8 && level.pixelRepresentation === 0) out.fill(255);
  origins.forEach((origin, f) => {
    const tile = level.frames[f];
    if (!tile) throw new VolumeAssemblyError({ detail: 'tile missing' });
    const width = Math.min(level.columns, totalColumns - origin.column);
    for (let y = 0; y < level.rows && origin.row + y < totalRows; y += 1) {
      if (width <= 0) break;
      const from = y * level.columns * samples;
      const to = ((origin.row + y) * totalColumns + origin.column) * samples;
      out.set(tile.subarray(from, from + width * samples), to);
    }
  });
  return {
    ...level,
    rows: totalRows,
    columns: totalColumns,
    numberOfFrames: 1,
    frames: [out],
    framePositions: [level.framePositions[0]],
    frameRescales: [level.frameRescales[0] ?? { slope: level.rescaleSlope, intercept: level.rescaleIntercept }],
  };
}

function explicitOrigins(ds: DicomDataset, frames: number): TileOrigin[] | undefined {
  const perFrame = ds.items(TAG.PerFrameFunctionalGroupsSequence);
  if (perFrame.length !== frames) return undefined;
  const origins: TileOrigin[] = [];
  for (const item of perFrame) {
    const position = item.items(TAG.PlanePositionSlideSequence)[0];
    const column = position?.number(TAG.ColumnPositionInTotalImagePixelMatrix);
    const row = position?.number(TAG.RowPositionInTotalImagePixelMatrix);
    if (column === undefined || row === undefined) return undefined;
    origins.push({ column: column - 1, row: row - 1 });
  }
  return origins;
}

function tiledFullOrigins(level: DecodedInstance, totalColumns: number, totalRows: number, ds: DicomDataset): TileOrigin[] {
  const organization = ds.string(TAG.DimensionOrganizationType);
  if (organization !== undefined && organization !== 'TILED_FULL') {
    throw new VolumeAssemblyError({ detail: 'tiled image without tile positions' });
  }
  const across = Math.ceil(totalColumns / level.columns);
  const down = Math.ceil(totalRows / level.rows);
  if (level.numberOfFrames < across * down) throw new VolumeAssemblyError({ detail: 'fewer tiles than the total pixel matrix needs' });
  const origins: TileOrigin[] = [];
  for (let r = 0; r < down; r += 1) for (let c = 0; c < across; c += 1) origins.push({ column: c * level.columns, row: r * level.rows });
  return origins;
}
