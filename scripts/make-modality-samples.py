#!/usr/bin/python3
"""Synthesises one small DICOM study per modality of the UniMedVL paper that the other fixtures lack.

Run with Debian's python (pydicom, numpy, PIL; nothing is downloaded):
  /usr/bin/python3 scripts/make-modality-samples.py --out DIR [--seed S] [--patient-name N --patient-id I
      --birth-date YYYYMMDD --accession A]
test/support/fixtures.ts (modalityStudies()) runs it into the fixture cache with FIXTURE_PATIENT; it writes
DIR/<study>/<series>/NN.dcm and DIR/manifest.json (what each instance is and what decoding it must give).

Studies (each its own StudyInstanceUID, all of one patient; UIDs are 2.25 + UUIDv5 of seed, patient id and
role, noise comes from seeded generators, so one seed always gives byte-identical files):
  ultrasound     US Image Storage, one 8-bit MONOCHROME2 B-mode frame (uncompressed) + US Multi-frame Image
                 Storage, a 16-frame cine (FrameTime 40 ms, CineRate 25) with a colour-flow box, stored as
                 YBR_FULL_422 JPEG baseline as scanners commonly send colour cine. The fan is CT_small.dcm
                 scan-converted, with seeded speckle.
  wholeSlide     VL Whole Slide Microscopy Image Storage, one series: four VOLUME levels (2048x1920 down to
                 256x240, TILED_FULL, 256x256 tiles, JPEG baseline YBR_FULL_422, edge tiles padded white), a
                 THUMBNAIL and a LABEL. H&E: tissue outline from CT_small.dcm, seeded nuclei, coloured by
                 the Ruifrok-Johnston haematoxylin/eosin optical densities (pydicom's colour samples are
                 colour bars and a white page, so colour comes from the stain model, not from them).
  fundus         Ophthalmic Photography 8 Bit Image Storage, RGB 512x512, right eye; texture MR_small.dcm.
  oct            Ophthalmic Tomography Image Storage, 11 B-scans (192x256, 8-bit) with Pixel Measures, Frame
                 Content, Plane Position/Orientation functional groups; the fovea is deepest in frame 6.
  endoscopy      VL Endoscopic Image Storage (ES), RGB 384x384; folds from CT_small.dcm.
  photograph     VL Photographic Image Storage (XC), RGB 384x512 skin lesion; texture MR_small.dcm.
  microscopy     VL Microscopic Image Storage (GM), RGB 384x384 H&E field (the WSI stain model).
  brainMr        MR Image Storage, axial T2 TSE and T2 FLAIR series (5 slices each, 192x192, 12 bits, same
                 frame of reference and positions, so T2<->FLAIR pairs by position); head outline from
                 693_J2KI.dcm (a head CT), a periventricular lesion bright on both.
  brainMrPrior   the same patient's earlier brain MR (T2 + FLAIR, smaller lesion), a year before brainMr.
  brainMrOlder   an even earlier brain MR (T2 only, no lesion): a prior that "most recent" must not pick.
  reportsOnly    no image series: a Basic Text SR (structure after reportsi.dcm), an RT Structure Set from
                 rtstruct.dcm and an RT Plan from rtplan.dcm that references it.
dciodvfy (dicom3tools 1.00~20220618) finds no error and no warning in any object except three on the OPT
instance: that version lists the concatenation attributes as Type 1 in the OPT Image Module while its own
multi-frame check forbids them outside a concatenation (test/support/modality-studies.int.test.ts checks).
"""
import argparse
import copy
import functools
import hashlib
import io
import json
import math
import os
import struct
import uuid
import warnings

import numpy as np
import pydicom
from PIL import Image, ImageCms, ImageDraw, ImageFilter
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, PYDICOM_IMPLEMENTATION_UID

SOURCE_DIR = os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files')
DEFAULT_SEED = 'unimedvl-plugin:modality-samples:v1'
DEFAULT_PATIENT = {'name': 'FIXTURE^ZQXPATIENT^ALPHA', 'id': 'FXP-7731-QZ', 'birthDate': '19510317',
                   'accessionNumber': 'ACCFX55821'}

SOP = {
    'us': '1.2.840.10008.5.1.4.1.1.6.1',
    'us-multiframe': '1.2.840.10008.5.1.4.1.1.3.1',
    'wsi': '1.2.840.10008.5.1.4.1.1.77.1.6',
    'op8': '1.2.840.10008.5.1.4.1.1.77.1.5.1',
    'opt': '1.2.840.10008.5.1.4.1.1.77.1.5.4',
    'endoscopic': '1.2.840.10008.5.1.4.1.1.77.1.1',
    'microscopic': '1.2.840.10008.5.1.4.1.1.77.1.2',
    'photographic': '1.2.840.10008.5.1.4.1.1.77.1.4',
    'mr': '1.2.840.10008.5.1.4.1.1.4',
    'basic-text-sr': '1.2.840.10008.5.1.4.1.1.88.11',
    'rt-struct': '1.2.840.10008.5.1.4.1.1.481.3',
    'rt-plan': '1.2.840.10008.5.1.4.1.1.481.5',
}

# Study key -> date, time, accession suffix, description. Distinct dates so "the most recent prior" is defined.
STUDIES = {
    'ultrasound': ('20240311', '091500', 'US', 'US abdomen'),
    'wholeSlide': ('20240312', '140000', 'SM', 'Breast core biopsy, H&E'),
    'fundus': ('20240313', '083000', 'OP', 'Fundus photography'),
    'oct': ('20240313', '084500', 'OT', 'OCT macula'),
    'endoscopy': ('20240314', '100000', 'ES', 'Colonoscopy'),
    'photograph': ('20240315', '110000', 'XC', 'Dermatology photograph'),
    'microscopy': ('20240316', '120000', 'GM', 'Microscopy H&E field'),
    'brainMr': ('20240318', '101500', 'MR', 'MR brain'),
    'brainMrPrior': ('20230320', '093000', 'MP', 'MR brain'),
    'brainMrOlder': ('20210602', '150000', 'MO', 'MR brain'),
    'reportsOnly': ('20240319', '160000', 'RT', 'RT planning'),
}


def code(value, scheme, meaning):
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


@functools.cache
def source(name):
    """A pydicom sample file, pixels decoded (read once; callers copy what they change)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # 693_J2KI.dcm: BitsStored differs from the J2K stream, harmless here
        ds = pydicom.dcmread(os.path.join(SOURCE_DIR, name), force=True)
        if 'PixelData' in ds:
            ds.pixel_array  # decode now, inside the warning filter
    return ds


def normalized(arr, lo_pct=1, hi_pct=99):
    lo, hi = np.percentile(arr, [lo_pct, hi_pct])
    return np.clip((arr.astype(np.float64) - lo) / max(hi - lo, 1e-9), 0.0, 1.0)


def resized(arr, shape, resample=Image.BICUBIC):
    """Float image (0..1) resized to shape (rows, cols) through PIL."""
    img = Image.fromarray(arr.astype(np.float32), 'F').resize((shape[1], shape[0]), resample)
    return np.asarray(img, dtype=np.float64)


def box_blur(arr, radius):
    """Separable box blur (numpy only: Debian's python has no scipy); edges repeat."""
    if radius <= 0:
        return arr
    k = 2 * radius + 1
    for axis in (0, 1):
        pad = [(0, 0)] * arr.ndim
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(arr, pad, mode='edge'), axis=axis)
        n = arr.shape[axis]
        arr = (np.take(c, range(k, k + n), axis=axis) - np.take(c, range(0, n), axis=axis)) / k
    return arr


def to_u8(arr):
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


class Generator:
    def __init__(self, out, seed, patient):
        self.out, self.seed, self.patient = out, seed, patient
        self.manifest = {'seed': seed, 'patient': patient, 'studies': {}}

    # --- identity and randomness -------------------------------------------------------------------------

    def uid(self, role):
        """Stable UID for one role: 2.25 + the decimal UUIDv5 of seed, patient id and role."""
        return '2.25.' + str(uuid.uuid5(uuid.NAMESPACE_URL, f'{self.seed}:{self.patient["id"]}:{role}').int)

    def rng(self, role):
        digest = hashlib.sha256(f'{self.seed}:{role}'.encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], 'little'))

    # --- datasets -----------------------------------------------------------------------------------------

    def study(self, key):
        date, time, suffix, description = STUDIES[key]
        entry = self.manifest['studies'].setdefault(key, {
            'studyInstanceUid': self.uid(f'study:{key}'), 'studyDate': date, 'studyTime': time,
            'accessionNumber': (self.patient['accessionNumber'] + suffix)[:16], 'description': description,
            'series': {},
        })
        return entry

    def dataset(self, key, series_key, sop_class, modality, series_number, series_description, instance):
        """Patient, study, series, equipment, image and SOP common attributes shared by every object."""
        st = self.study(key)
        date, time = st['studyDate'], st['studyTime']
        ds = Dataset()
        ds.SpecificCharacterSet = 'ISO_IR 100'
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = self.uid(f'instance:{key}:{series_key}:{instance}')
        ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
        ds.StudyDate, ds.StudyTime = date, time
        ds.SeriesDate, ds.SeriesTime = date, time
        ds.ContentDate, ds.ContentTime = date, time
        ds.AccessionNumber = st['accessionNumber']
        ds.Modality = modality
        ds.Manufacturer = 'unimedvl-fixtures'
        ds.ReferringPhysicianName = ''
        ds.StudyDescription = st['description']
        ds.SeriesDescription = series_description
        ds.PatientName = self.patient['name']
        ds.PatientID = self.patient['id']
        ds.PatientBirthDate = self.patient['birthDate']
        ds.PatientSex = 'O'
        ds.StudyInstanceUID = st['studyInstanceUid']
        ds.SeriesInstanceUID = self.uid(f'series:{key}:{series_key}')
        ds.StudyID = STUDIES[key][2]
        ds.SeriesNumber = series_number
        ds.InstanceNumber = instance
        return ds

    def enhanced_equipment(self, ds):
        ds.ManufacturerModelName = 'synthetic'
        ds.DeviceSerialNumber = 'FX-0001'
        ds.SoftwareVersions = 'make-modality-samples 1'

    def save(self, ds, key, series_key, name, frames_info=None, extra=None, encapsulated=False, series_extra=None):
        """Writes Part 10 and records the instance (with the pixels decoding must give) in the manifest."""
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = JPEGBaseline8Bit if encapsulated else ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = 'FX_MODALITY_1'
        ds.file_meta = meta
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.preamble = b'\0' * 128
        rel = os.path.join(key, series_key, name)
        os.makedirs(os.path.join(self.out, key, series_key), exist_ok=True)
        ds.save_as(os.path.join(self.out, rel), write_like_original=False)
        series = self.study(key)['series'].setdefault(series_key, {
            'seriesInstanceUid': str(ds.SeriesInstanceUID), 'modality': str(ds.Modality),
            'seriesNumber': int(ds.SeriesNumber), 'description': str(ds.SeriesDescription), 'instances': [],
        })
        series.update(series_extra or {})
        entry = {
            'file': rel, 'sopInstanceUid': str(ds.SOPInstanceUID), 'sopClassUid': str(ds.SOPClassUID),
            'transferSyntaxUid': str(meta.TransferSyntaxUID), 'instanceNumber': int(ds.InstanceNumber),
        }
        if 'Rows' in ds:
            entry.update({
                'rows': int(ds.Rows), 'columns': int(ds.Columns), 'frames': int(ds.get('NumberOfFrames', 1)),
                'samplesPerPixel': int(ds.SamplesPerPixel), 'bitsAllocated': int(ds.BitsAllocated),
                'photometricInterpretation': str(ds.PhotometricInterpretation),
            })
        if 'ImageType' in ds:
            entry['imageType'] = [str(v) for v in ds.ImageType]
        if frames_info is not None:
            entry['pixels'] = frames_info
        if extra:
            entry.update(extra)
        series['instances'].append(entry)
        return entry

    # --- pixel modules ------------------------------------------------------------------------------------

    @staticmethod
    def expected(frames, lossless):
        """What a decoder must give per frame: channel means of the source pixels, and for lossless
        storage the SHA-256 of the stored values (little endian, samples interleaved)."""
        info = {'lossless': lossless, 'frameMeans': []}
        if lossless:
            info['frameSha256'] = []
        for f in frames:
            means = f.reshape(-1, f.shape[-1]).mean(axis=0) if f.ndim == 3 else np.array([f.mean()])
            info['frameMeans'].append([round(float(m), 3) for m in means])
            if lossless:
                info['frameSha256'].append(hashlib.sha256(f.astype(f.dtype.newbyteorder('<')).tobytes()).hexdigest())
        return info

    @staticmethod
    def grey_pixels(ds, frames, bits_stored=8):
        """frames: list of 2-D uint8 or uint16 arrays, stored uncompressed MONOCHROME2."""
        first = frames[0]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = 'MONOCHROME2'
        ds.Rows, ds.Columns = first.shape
        ds.BitsAllocated = 8 if first.dtype == np.uint8 else 16
        ds.BitsStored, ds.HighBit = bits_stored, bits_stored - 1
        ds.PixelRepresentation = 0
        ds.PixelData = b''.join(f.astype(f.dtype.newbyteorder('<')).tobytes() for f in frames)
        ds['PixelData'].VR = 'OB' if ds.BitsAllocated == 8 else 'OW'
        return Generator.expected(frames, True)

    @staticmethod
    def rgb_pixels(ds, frames):
        """frames: list of (rows, cols, 3) uint8, stored uncompressed RGB, colour-by-pixel."""
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = 'RGB'
        ds.PlanarConfiguration = 0
        ds.Rows, ds.Columns = frames[0].shape[:2]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = b''.join(f.tobytes() for f in frames)
        ds['PixelData'].VR = 'OB'
        return Generator.expected(frames, True)

    @staticmethod
    def jpeg_pixels(ds, frames, quality=90):
        """frames: list of (rows, cols, 3) uint8, one JPEG baseline (4:2:2, YBR_FULL_422) per frame."""
        encoded = []
        for f in frames:
            buf = io.BytesIO()
            Image.fromarray(f, 'RGB').save(buf, format='JPEG', quality=quality, subsampling=1)  # 1 = 4:2:2
            encoded.append(buf.getvalue())
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = 'YBR_FULL_422'
        ds.PlanarConfiguration = 0
        ds.Rows, ds.Columns = frames[0].shape[:2]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = encapsulate(encoded, has_bot=True)
        ds['PixelData'].VR = 'OB'
        ds['PixelData'].is_undefined_length = True
        raw = sum(f.nbytes for f in frames)
        ds.LossyImageCompression = '01'
        ds.LossyImageCompressionRatio = f'{raw / sum(len(e) for e in encoded):.2f}'
        ds.LossyImageCompressionMethod = 'ISO_10918_1'
        return Generator.expected(frames, False)

    # --- ultrasound ---------------------------------------------------------------------------------------

    def us_fan(self, rng, rows, cols):
        """B-mode sector: CT_small scan-converted into a 70 degree fan, Rayleigh speckle, depth gain."""
        ct = source('CT_small.dcm')
        hu = ct.pixel_array.astype(np.float64) * float(ct.RescaleSlope) + float(ct.RescaleIntercept)
        tissue = normalized(np.clip(hu, -200, 300))
        y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
        apex_y, cx, r0, r1, half = -20.0, cols / 2.0, 40.0, rows - 8.0, math.radians(35)
        r = np.hypot(x - cx, y - apex_y)
        theta = np.arctan2(x - cx, y - apex_y)
        inside = (r >= r0) & (r <= r1) & (np.abs(theta) <= half)
        u = np.clip((theta + half) / (2 * half), 0, 1) * (tissue.shape[1] - 1)
        v = np.clip((r - r0) / (r1 - r0), 0, 1) * (tissue.shape[0] - 1)
        echo = 0.15 + 0.85 * tissue[np.rint(v).astype(int), np.rint(u).astype(int)]
        speckle = box_blur(rng.rayleigh(0.55, size=(rows, cols)), 1)
        gain = 1.0 - 0.45 * np.clip((r - r0) / (r1 - r0), 0, 1)
        img = np.where(inside, 255.0 * np.clip(echo * speckle * gain, 0, 1), 0.0)
        return img, inside, (x, y)

    def make_ultrasound(self):
        key = 'ultrasound'
        rows, cols = 384, 512
        # Single frame: grey B-mode, uncompressed MONOCHROME2.
        img, _, _ = self.us_fan(self.rng('us:single'), rows, cols)
        ds = self.dataset(key, 'bmode', SOP['us'], 'US', 1, 'Liver B-mode', 1)
        self.us_common(ds, rows, cols, colour_flow=False)
        ds.ImageType = ['ORIGINAL', 'PRIMARY', 'ABDOMINAL', '0001']  # value 4 bits: 2D imaging
        pixels = self.grey_pixels(ds, [to_u8(img)])
        ds.LossyImageCompression = '00'
        self.save(ds, key, 'bmode', '01.dcm', pixels)
        # Cine: 16 frames, a pulsating vessel with colour flow, JPEG baseline YBR_FULL_422.
        frames = []
        n = 16
        base, inside, (x, y) = self.us_fan(self.rng('us:cine'), rows, cols)
        cy, cxv = rows * 0.55, cols * 0.5
        for k in range(n):
            phase = 2 * math.pi * k / n
            radius = 38.0 * (1.0 + 0.25 * math.sin(phase))
            d = np.hypot((x - cxv) / 1.6, y - cy)
            frame = base.copy()
            lumen = inside & (d <= radius)
            frame[lumen] *= 0.08
            rgb = np.repeat(frame[..., None], 3, axis=2)
            velocity = math.cos(phase)  # towards (red) or away from (blue) the probe
            flow = lumen & (d <= radius * 0.85)
            strength = (1.0 - d / (radius * 0.85)) * abs(velocity)
            colour = np.array([230.0, 40.0, 30.0]) if velocity >= 0 else np.array([30.0, 60.0, 230.0])
            rgb[flow] = (strength[flow, None] * colour + (1 - strength[flow, None]) * rgb[flow])
            frames.append(to_u8(rgb))
        ds = self.dataset(key, 'cine', SOP['us-multiframe'], 'US', 2, 'Aorta colour Doppler cine', 1)
        self.us_common(ds, rows, cols, colour_flow=True)
        ds.ImageType = ['ORIGINAL', 'PRIMARY', 'ABDOMINAL', '0011']  # value 4 bits: 2D imaging + colour Doppler
        pixels = self.jpeg_pixels(ds, frames)
        ds.NumberOfFrames = n
        ds.FrameIncrementPointer = 0x00181063  # FrameTime
        ds.FrameTime = '40'
        ds.CineRate = 25
        ds.RecommendedDisplayFrameRate = 25
        ds.StartTrim, ds.StopTrim = 1, n
        ds.ActualFrameDuration = 40
        self.save(ds, key, 'cine', '01.dcm', pixels, {'frameTimeMs': 40.0, 'cineRate': 25}, encapsulated=True)

    @staticmethod
    def us_common(ds, rows, cols, colour_flow):
        ds.BodyPartExamined = 'ABDOMEN'
        ds.PatientOrientation = ''
        ds.BurnedInAnnotation = 'NO'
        ds.TransducerType = 'SECTOR_PHASED'
        region = Dataset()
        region.RegionSpatialFormat = 1  # 2-D tissue or flow
        region.RegionDataType = 2 if colour_flow else 1
        region.RegionFlags = 0
        region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
        region.RegionLocationMaxX1, region.RegionLocationMaxY1 = cols - 1, rows - 1
        region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection = 3, 3  # cm
        region.PhysicalDeltaX, region.PhysicalDeltaY = 0.04, 0.04
        region.ReferencePixelX0, region.ReferencePixelY0 = cols // 2, 0
        ds.SequenceOfUltrasoundRegions = Sequence([region])

    # --- whole-slide microscopy ---------------------------------------------------------------------------

    @functools.cache
    def slide_base(self):
        """The WSI's full-resolution H&E image, 2048 wide and 1920 high (the GM photograph is a field of it)."""
        return self.he_tissue(1920, 2048, 'wsi:tissue')

    def he_tissue(self, rows, cols, role):
        """An H&E-like RGB field: tissue where CT_small has soft tissue or bone, seeded nuclei, stain colours."""
        rng = self.rng(role)
        ct = source('CT_small.dcm')
        hu = ct.pixel_array.astype(np.float64) * float(ct.RescaleSlope) + float(ct.RescaleIntercept)
        density = resized(normalized(np.clip(hu, -300, 400)), (rows, cols))
        tissue = density > 0.18
        # Eosin: stroma density follows the CT intensity, with fibre-like streaks.
        streaks = box_blur(rng.random((rows, cols)), 3)
        eosin = np.where(tissue, 0.25 + 0.55 * density + 0.5 * (streaks - 0.5), 0.0)
        # Haematoxylin: nuclei, denser where the tissue is denser.
        canvas = Image.new('F', (cols, rows), 0.0)
        draw = ImageDraw.Draw(canvas)
        count = int(rows * cols / 260)
        ys, xs = rng.integers(0, rows, count), rng.integers(0, cols, count)
        keep = tissue[ys, xs] & (rng.random(count) < 0.35 + 0.65 * density[ys, xs])
        radii = rng.uniform(2.5, 6.0, count)
        elong = rng.uniform(0.7, 1.4, count)
        for yy, xx, rr, ee in zip(ys[keep], xs[keep], radii[keep], elong[keep]):
            draw.ellipse([xx - rr * ee, yy - rr / ee, xx + rr * ee, yy + rr / ee], fill=1.0)
        nuclei = box_blur(np.asarray(canvas, dtype=np.float64), 1)
        haem = 1.6 * nuclei + np.where(tissue, 0.08, 0.0)
        # Ruifrok & Johnston optical density vectors (RGB) for haematoxylin and eosin.
        h_vec, e_vec = np.array([0.650, 0.704, 0.286]), np.array([0.072, 0.990, 0.300])  # eosin a little redder
        od = haem[..., None] * h_vec + np.clip(eosin, 0, None)[..., None] * e_vec
        rgb = 245.0 * np.exp(-od) + rng.normal(0.0, 2.0, (rows, cols, 1))
        return to_u8(rgb)

    @staticmethod
    def tiles(image, tile, background=245):
        """TILED_FULL frame order: row-major tiles, the last row and column padded with background."""
        rows, cols = image.shape[:2]
        ty, tx = -(-rows // tile), -(-cols // tile)
        padded = np.full((ty * tile, tx * tile, 3), background, np.uint8)
        padded[:rows, :cols] = image
        return [padded[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile].copy() for r in range(ty) for c in range(tx)]

    def make_whole_slide(self):
        key, series_key = 'wholeSlide', 'slide'
        base = self.slide_base()
        (rows, cols), tile, spacing = base.shape[:2], 256, 0.0005  # mm per pixel at the base level (about 20x)
        frame_of_reference = self.uid(f'frame-of-reference:{key}')
        dimension_uid = self.uid(f'dimension-organization:{key}')
        instances = []
        levels = [base]
        while levels[-1].shape[1] > tile:
            prev = levels[-1]
            levels.append(np.asarray(Image.fromarray(prev).resize((prev.shape[1] // 2, prev.shape[0] // 2), Image.BOX)))
        for index, level in enumerate(levels):
            image_type = ['ORIGINAL', 'PRIMARY', 'VOLUME', 'NONE'] if index == 0 else ['DERIVED', 'PRIMARY', 'VOLUME', 'RESAMPLED']
            instances.append((image_type, level, tile, spacing * cols / level.shape[1]))
        thumb = np.asarray(Image.fromarray(base).resize((cols // 16, rows // 16), Image.LANCZOS))  # 128x120
        instances.append((['DERIVED', 'PRIMARY', 'THUMBNAIL', 'RESAMPLED'], thumb, None, spacing * 16))
        instances.append((['ORIGINAL', 'PRIMARY', 'LABEL', 'NONE'], self.slide_label(), None, 0.1))  # label camera: 0.1 mm/px
        for number, (image_type, image, tile_size, pixel_spacing) in enumerate(instances, start=1):
            ds = self.dataset(key, series_key, SOP['wsi'], 'SM', 1, 'H&E 20x', number)
            self.enhanced_equipment(ds)
            ds.FrameOfReferenceUID = frame_of_reference
            ds.PositionReferenceIndicator = 'SLIDE_CORNER'
            ds.VolumetricProperties = 'VOLUME'
            ds.ImageType = image_type
            label = image_type[2] == 'LABEL'
            ds.SpecimenLabelInImage = 'YES' if label else 'NO'
            ds.BurnedInAnnotation = 'YES' if label else 'NO'
            ds.FocusMethod = 'AUTO'
            ds.ExtendedDepthOfField = 'NO'
            ds.AcquisitionDateTime = ds.ContentDate + ds.ContentTime
            ds.AcquisitionContextSequence = Sequence([])
            height, width = image.shape[:2]
            tile_rows, tile_cols = (tile_size, tile_size) if tile_size else (height, width)
            frames = self.tiles(image, tile_size) if tile_size else [image]
            pixels = self.jpeg_pixels(ds, frames)
            ds.Rows, ds.Columns = tile_rows, tile_cols
            ds.NumberOfFrames = len(frames)
            ds.TotalPixelMatrixColumns, ds.TotalPixelMatrixRows = width, height
            ds.TotalPixelMatrixFocalPlanes = 1
            ds.NumberOfOpticalPaths = 1
            ds.DimensionOrganizationType = 'TILED_FULL'
            origin = Dataset()
            origin.XOffsetInSlideCoordinateSystem, origin.YOffsetInSlideCoordinateSystem = 20.0, 40.0
            ds.TotalPixelMatrixOriginSequence = Sequence([origin])
            ds.ImageOrientationSlide = [0, -1, 0, -1, 0, 0]
            if not label:
                ds.ImagedVolumeWidth = round(width * pixel_spacing, 6)
                ds.ImagedVolumeHeight = round(height * pixel_spacing, 6)
                ds.ImagedVolumeDepth = 0.004
            dim_org = Dataset()
            dim_org.DimensionOrganizationUID = dimension_uid
            ds.DimensionOrganizationSequence = Sequence([dim_org])
            indices = []
            for pointer in (0x0048021E, 0x0048021F):  # column and row position in the total pixel matrix
                d = Dataset()
                d.DimensionOrganizationUID = dimension_uid
                d.DimensionIndexPointer = pointer
                d.FunctionalGroupPointer = 0x0048021A  # PlanePositionSlideSequence
                indices.append(d)
            ds.DimensionIndexSequence = Sequence(indices)
            shared = Dataset()
            measures = Dataset()
            measures.PixelSpacing = [pixel_spacing, pixel_spacing]
            measures.SliceThickness = 0.004
            shared.PixelMeasuresSequence = Sequence([measures])
            frame_type = Dataset()
            frame_type.FrameType = image_type
            shared.WholeSlideMicroscopyImageFrameTypeSequence = Sequence([frame_type])
            path_id = Dataset()
            path_id.OpticalPathIdentifier = '1'
            shared.OpticalPathIdentificationSequence = Sequence([path_id])
            ds.SharedFunctionalGroupsSequence = Sequence([shared])
            self.optical_path(ds)
            self.specimen(ds, key)
            if label:
                ds.LabelText = 'FX-S1'
                ds.BarcodeValue = 'FXS1'
            extra = {'totalPixelMatrixColumns': width, 'totalPixelMatrixRows': height, 'pixelSpacingMm': pixel_spacing}
            self.save(ds, key, series_key, f'{number:02d}.dcm', pixels, extra, encapsulated=True)

    def slide_label(self):
        """A slide label: white card with barcode-like bars (no text), 96x256."""
        rng = self.rng('wsi:label')
        label = np.full((96, 256, 3), 250, np.uint8)
        x = 16
        while x < 240:
            w = int(rng.integers(1, 4))
            if rng.random() < 0.6:
                label[16:80, x:x + w] = 20
            x += w + 1
        return label

    @staticmethod
    def optical_path(ds):
        path = Dataset()
        path.OpticalPathIdentifier = '1'
        path.OpticalPathDescription = 'Brightfield'
        path.IlluminationTypeCodeSequence = Sequence([code('111744', 'DCM', 'Brightfield illumination')])
        path.IlluminationColorCodeSequence = Sequence([code('414298005', 'SCT', 'Full Spectrum')])
        path.ICCProfile = srgb_profile()
        ds.OpticalPathSequence = Sequence([path])

    def specimen(self, ds, key):
        """Specimen module: one slide holding one H&E-stained breast core biopsy section."""
        ds.ContainerIdentifier = f'FX-SLIDE-{STUDIES[key][2]}'
        ds.IssuerOfTheContainerIdentifierSequence = Sequence([])
        ds.ContainerTypeCodeSequence = Sequence([code('433466003', 'SCT', 'Microscope slide')])
        description = Dataset()
        description.SpecimenIdentifier = f'FX-S1-{STUDIES[key][2]}'
        description.SpecimenUID = self.uid(f'specimen:{key}')
        description.IssuerOfTheSpecimenIdentifierSequence = Sequence([])
        description.PrimaryAnatomicStructureSequence = Sequence([code('76752008', 'SCT', 'Breast')])
        steps = []
        for substance in (code('12710003', 'SCT', 'hematoxylin stain'), code('36879007', 'SCT', 'water soluble eosin stain')):
            items = []
            ident = Dataset()
            ident.ValueType = 'TEXT'
            ident.ConceptNameCodeSequence = Sequence([code('121041', 'DCM', 'Specimen Identifier')])
            ident.TextValue = description.SpecimenIdentifier
            items.append(ident)
            kind = Dataset()
            kind.ValueType = 'CODE'
            kind.ConceptNameCodeSequence = Sequence([code('111701', 'DCM', 'Processing type')])
            kind.ConceptCodeSequence = Sequence([code('127790008', 'SCT', 'Staining')])
            items.append(kind)
            using = Dataset()
            using.ValueType = 'CODE'
            using.ConceptNameCodeSequence = Sequence([code('424361007', 'SCT', 'Using substance')])
            using.ConceptCodeSequence = Sequence([substance])
            items.append(using)
            step = Dataset()
            step.SpecimenPreparationStepContentItemSequence = Sequence(items)
            steps.append(step)
        description.SpecimenPreparationSequence = Sequence(steps)
        ds.SpecimenDescriptionSequence = Sequence([description])

    # --- ophthalmology ------------------------------------------------------------------------------------

    def fundus_image(self, size):
        """Colour fundus: orange-red retina in a circular field, optic disc, macula, vessels; MR_small texture."""
        rng = self.rng('op:fundus')
        y, x = np.mgrid[0:size, 0:size].astype(np.float64)
        c = (size - 1) / 2.0
        r = np.hypot(x - c, y - c) / (size * 0.47)
        field = r <= 1.0
        texture = resized(normalized(source('MR_small.dcm').pixel_array), (size, size))
        shade = np.clip(1.0 - 0.35 * r ** 2, 0, 1) * (0.85 + 0.3 * (texture - 0.5))
        disc_x, disc_y = c + size * 0.2, c - size * 0.02  # right eye: the disc lies nasal (image right)
        disc = np.hypot((x - disc_x) / 1.0, (y - disc_y) / 1.12) / (size * 0.07)
        macula = np.hypot(x - (c - size * 0.08), y - c) / (size * 0.09)
        rgb = np.stack([205.0 * shade, 85.0 * shade, 35.0 * shade], axis=2)
        rgb *= (1.0 - 0.35 * np.exp(-macula ** 2))[..., None]
        disc_glow = np.exp(-disc ** 4)[..., None]
        rgb = rgb * (1 - disc_glow) + disc_glow * np.array([250.0, 215.0, 150.0])
        # Vessels: arcades leaving the disc, random-walk curves drawn dark red.
        canvas = Image.new('L', (size, size), 0)
        draw = ImageDraw.Draw(canvas)
        for k in range(10):
            angle = (k / 10.0) * 2 * math.pi + rng.uniform(-0.2, 0.2)
            px, py, width = disc_x, disc_y, int(rng.integers(3, 6))
            points = [(px, py)]
            for _ in range(40):
                angle += rng.uniform(-0.18, 0.18)
                px += math.cos(angle) * size * 0.012
                py += math.sin(angle) * size * 0.012
                points.append((px, py))
            draw.line(points, fill=255, width=width)
        vessels = box_blur(np.asarray(canvas, dtype=np.float64) / 255.0, 1)[..., None]
        rgb = rgb * (1 - 0.55 * vessels) + 0.55 * vessels * np.array([120.0, 20.0, 15.0])
        rgb += rng.normal(0.0, 2.0, rgb.shape)
        rgb[~field] = 0.0
        return to_u8(rgb)

    def ocular(self, ds, laterality):
        ds.ImageLaterality = laterality
        ds.AnatomicRegionSequence = Sequence([code('81745001', 'SCT', 'Eye')])
        ds.AcquisitionContextSequence = Sequence([])
        ds.RefractiveStateSequence = Sequence([])
        ds.EmmetropicMagnification = None
        ds.IntraOcularPressure = None
        ds.HorizontalFieldOfView = 45.0
        ds.PupilDilated = 'NO'

    def make_fundus(self):
        key = 'fundus'
        ds = self.dataset(key, 'fundus', SOP['op8'], 'OP', 1, 'Colour fundus 45 deg OD', 1)
        self.enhanced_equipment(ds)
        self.ocular(ds, 'R')
        ds.ImageType = ['ORIGINAL', 'PRIMARY']
        ds.AcquisitionDateTime = ds.ContentDate + ds.ContentTime
        ds.PatientEyeMovementCommanded = 'NO'
        ds.AcquisitionDeviceTypeCodeSequence = Sequence([code('409898007', 'SCT', 'Fundus Camera')])
        ds.IlluminationTypeCodeSequence = Sequence([])
        ds.LightPathFilterTypeStackCodeSequence = Sequence([])
        ds.ImagePathFilterTypeStackCodeSequence = Sequence([])
        ds.LensesCodeSequence = Sequence([])
        ds.DetectorType = 'CCD'
        ds.BurnedInAnnotation = 'NO'
        ds.LossyImageCompression = '00'
        ds.PatientOrientation = ''
        # Synchronization module (dciodvfy wants it for OP): acquisition time from UTC, no trigger.
        ds.SynchronizationFrameOfReferenceUID = '1.2.840.10008.15.1.1'
        ds.SynchronizationTrigger = 'NO TRIGGER'
        ds.AcquisitionTimeSynchronized = 'N'
        pixels = self.rgb_pixels(ds, [self.fundus_image(512)])
        ds.NumberOfFrames = 1
        ds.FrameIncrementPointer = 0x00181063
        ds.FrameTime = 0
        self.save(ds, key, 'fundus', '01.dcm', pixels)

    def oct_frames(self, count, rows, cols):
        """Macular B-scans: curved retinal layers with a foveal pit that is deepest in the central frame."""
        rng = self.rng('opt:bscans')
        texture = resized(normalized(source('MR_small.dcm').pixel_array), (rows, cols))
        x = np.arange(cols, dtype=np.float64)
        depth = np.arange(rows, dtype=np.float64)[:, None]
        layers = [(0.0, 7, 0.95), (10.0, 14, 0.45), (26.0, 10, 0.70), (38.0, 16, 0.30), (56.0, 6, 0.98), (63.0, 8, 0.85)]
        frames = []
        centre = (count - 1) / 2.0
        for k in range(count):
            offset = (k - centre) / max(centre, 1)
            # The inner layers thin towards the fovea (deepest pit in the central frame); the RPE stays put.
            thin = 1.0 - 0.8 * np.exp(-((x - cols / 2) / (cols * 0.1)) ** 2) * math.exp(-(offset / 0.45) ** 2)
            rpe = rows * 0.62 + 40.0 * ((x - cols / 2) / cols) ** 2
            img = np.zeros((rows, cols))
            for start, thickness, brightness in layers:
                inner = start < 56
                z0 = rpe - (56 - start) * thin if inner else rpe + (start - 56)
                band = (depth >= z0) & (depth < z0 + thickness * (thin if inner else 1.0))
                img = np.where(band, brightness, img)
            img *= 0.8 + 0.4 * texture
            speckle = rng.gamma(2.0, 0.5, (rows, cols))
            img = 235.0 * np.clip(img * speckle, 0, 1) + rng.normal(8.0, 3.0, (rows, cols))
            frames.append(to_u8(img))
        return frames

    def make_oct(self):
        key, series_key = 'oct', 'macula'
        count, rows, cols = 11, 192, 256
        ds = self.dataset(key, series_key, SOP['opt'], 'OPT', 1, 'Macular cube 6x3 mm OD', 1)
        self.enhanced_equipment(ds)
        self.ocular(ds, 'R')
        ds.AxialLengthOfTheEye = None
        frames = self.oct_frames(count, rows, cols)
        pixels = self.grey_pixels(ds, frames)
        ds.NumberOfFrames = count
        ds.ImageType = ['ORIGINAL', 'PRIMARY']
        ds.AcquisitionDateTime = ds.ContentDate + ds.ContentTime
        ds.AcquisitionDuration = 1.2
        ds.AcquisitionNumber = 1
        ds.PresentationLUTShape = 'IDENTITY'
        ds.LossyImageCompression = '00'
        ds.BurnedInAnnotation = 'NO'
        ds.FrameOfReferenceUID = self.uid(f'frame-of-reference:{key}')
        ds.PositionReferenceIndicator = ''
        ds.AcquisitionDeviceTypeCodeSequence = Sequence([code('392012008', 'SCT', 'Optical Coherence Tomography Scanner')])
        ds.DetectorType = 'CCD'
        ds.IlluminationWaveLength = 840.0
        ds.IlluminationPower = 0.75
        ds.IlluminationBandwidth = 50.0
        ds.DepthSpatialResolution = 5.0
        ds.MaximumDepthDistortion = 1.0
        ds.AlongScanSpatialResolution = 15.0
        ds.MaximumAlongScanDistortion = 1.0
        ds.AcrossScanSpatialResolution = 15.0
        ds.MaximumAcrossScanDistortion = 1.0
        ds.LightPathFilterTypeStackCodeSequence = Sequence([])
        # Geometry: each B-scan lies in an x-z plane, rows go down in depth; frames step 0.3 mm in y.
        lateral, axial, step = 6.0 / cols, 2.0 / rows, 0.3
        dim_uid = self.uid(f'dimension-organization:{key}')
        dim_org = Dataset()
        dim_org.DimensionOrganizationUID = dim_uid
        ds.DimensionOrganizationSequence = Sequence([dim_org])
        indices = []
        for pointer, label in ((0x00209056, 'Stack ID'), (0x00209057, 'In-Stack Position Number')):
            d = Dataset()
            d.DimensionOrganizationUID = dim_uid
            d.DimensionIndexPointer = pointer
            d.FunctionalGroupPointer = 0x00209111  # FrameContentSequence
            d.DimensionDescriptionLabel = label
            indices.append(d)
        ds.DimensionIndexSequence = Sequence(indices)
        shared = Dataset()
        measures = Dataset()
        measures.PixelSpacing = [round(axial, 6), round(lateral, 6)]
        measures.SliceThickness = step
        shared.PixelMeasuresSequence = Sequence([measures])
        orientation = Dataset()
        orientation.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
        shared.PlaneOrientationSequence = Sequence([orientation])
        anatomy = Dataset()
        anatomy.FrameLaterality = 'R'
        anatomy.AnatomicRegionSequence = Sequence([code('81745001', 'SCT', 'Eye')])
        shared.FrameAnatomySequence = Sequence([anatomy])
        ds.SharedFunctionalGroupsSequence = Sequence([shared])
        per_frame = []
        for k in range(count):
            item = Dataset()
            content = Dataset()
            content.StackID = '1'
            content.InStackPositionNumber = k + 1
            content.DimensionIndexValues = [1, k + 1]
            content.FrameAcquisitionDateTime = ds.AcquisitionDateTime
            content.FrameReferenceDateTime = ds.AcquisitionDateTime
            content.FrameAcquisitionDuration = 100.0
            item.FrameContentSequence = Sequence([content])
            position = Dataset()
            position.ImagePositionPatient = [-3.0, round(-1.5 + step * k, 3), 0.0]
            item.PlanePositionSequence = Sequence([position])
            per_frame.append(item)
        ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
        self.save(ds, key, series_key, '01.dcm', pixels, {'centralFrame': count // 2 + 1})

    # --- photographs: endoscopy, dermatology, microscopy --------------------------------------------------

    def endoscopy_image(self, size):
        """Colon mucosa: pink-red folds (CT_small's structure), vignetting, specular highlights, round field."""
        rng = self.rng('es:image')
        ct = source('CT_small.dcm')
        hu = ct.pixel_array.astype(np.float64) * float(ct.RescaleSlope) + float(ct.RescaleIntercept)
        folds = resized(normalized(np.clip(hu, -150, 250)), (size, size))
        y, x = np.mgrid[0:size, 0:size].astype(np.float64)
        c = (size - 1) / 2.0
        r = np.hypot(x - c, y - c) / (size * 0.49)
        light = np.clip(1.15 - 0.8 * r ** 2, 0, 1.2)
        base = np.array([215.0, 110.0, 100.0])
        rgb = (0.55 + 0.45 * folds)[..., None] * base * light[..., None]
        canvas = Image.new('L', (size, size), 0)
        draw = ImageDraw.Draw(canvas)
        for _ in range(14):  # specular reflections of the scope's light on wet mucosa
            hx, hy, hr = rng.uniform(0.2, 0.8) * size, rng.uniform(0.2, 0.8) * size, rng.uniform(2, 7)
            draw.ellipse([hx - hr * 1.6, hy - hr, hx + hr * 1.6, hy + hr], fill=255)
        highlights = box_blur(np.asarray(canvas, dtype=np.float64) / 255.0, 2)
        rgb = rgb * (1 - highlights[..., None]) + highlights[..., None] * 250.0
        rgb += rng.normal(0.0, 2.5, rgb.shape)
        rgb[r > 1.0] = 0.0
        return to_u8(rgb)

    def skin_image(self, rows, cols):
        """Dermatology photograph: skin tone, pigmented irregular lesion; MR_small texture."""
        rng = self.rng('xc:image')
        texture = resized(normalized(source('MR_small.dcm').pixel_array), (rows, cols))
        y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
        angle = np.arctan2(y - rows / 2, x - cols / 2)
        edge = 1.0 + 0.18 * np.sin(3 * angle + 0.7) + 0.1 * np.sin(7 * angle)
        d = np.hypot((x - cols / 2) / 70.0, (y - rows / 2) / 55.0) / edge
        lesion = np.clip(1.3 - d, 0, 1) ** 0.6
        skin = np.array([224.0, 178.0, 150.0]) * (0.9 + 0.2 * texture)[..., None]
        mole = np.array([95.0, 60.0, 45.0]) * (0.8 + 0.4 * texture)[..., None]
        rgb = skin * (1 - lesion[..., None]) + mole * lesion[..., None] + rng.normal(0, 2.0, (rows, cols, 3))
        return to_u8(rgb)

    def vl_photo(self, key, sop_class, modality, description, image, anatomy=None, specimen=False, laterality=None):
        ds = self.dataset(key, 'photo', sop_class, modality, 1, description, 1)
        ds.ImageType = ['ORIGINAL', 'PRIMARY']
        ds.AcquisitionContextSequence = Sequence([])
        ds.AcquisitionDateTime = ds.ContentDate + ds.ContentTime
        ds.PatientOrientation = ''
        ds.LossyImageCompression = '00'
        ds.BurnedInAnnotation = 'NO'
        if anatomy is not None:
            ds.AnatomicRegionSequence = Sequence([anatomy])
        if specimen:
            self.specimen(ds, key)
        if laterality is not None:
            ds.ImageLaterality = laterality
        pixels = self.rgb_pixels(ds, [image])
        self.save(ds, key, 'photo', '01.dcm', pixels)

    def make_photographs(self):
        self.vl_photo('endoscopy', SOP['endoscopic'], 'ES', 'Colonoscopy, sigmoid colon', self.endoscopy_image(384),
                      code('60184004', 'SCT', 'Sigmoid colon'))
        self.vl_photo('photograph', SOP['photographic'], 'XC', 'Skin lesion, back', self.skin_image(384, 512),
                      code('123961009', 'SCT', 'Back'), laterality='U')  # U: unpaired body part
        field = self.slide_base()[700:1084, 800:1184].copy()  # a 384x384 field of the slide's base level
        self.vl_photo('microscopy', SOP['microscopic'], 'GM', 'H&E field 20x', field, specimen=True)

    # --- brain MR: T2 and FLAIR, and two priors ----------------------------------------------------------

    @functools.cache
    def head_labels(self):
        """Tissue labels (512x512) from 693_J2KI.dcm, a head CT: scalp, skull, CSF rim, grey and white matter."""
        ct = source('693_J2KI.dcm').pixel_array.astype(np.float64)  # stored values: water about 1024
        bone = ct > 1300
        ys, xs = np.nonzero(bone)
        cy, cx = ys.mean(), xs.mean()
        ry, rx = 2.2 * ys.std(), 2.2 * xs.std()  # an ellipse around the skull leaves out the scanner table
        y, x = np.mgrid[0:ct.shape[0], 0:ct.shape[1]]
        region = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0
        head, bone = (ct > 900) & region, bone & region
        ring = Image.fromarray((bone * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(5))
        ImageDraw.floodfill(ring, (0, 0), 128)
        cavity = (np.asarray(ring) == 0)
        def eroded(mask, size):
            return np.asarray(Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.MinFilter(size))) > 0
        brain = eroded(cavity, 7)
        white = eroded(brain, 25)
        labels = np.zeros(ct.shape, np.uint8)          # 0 air
        labels[head] = 1                               # scalp
        labels[np.asarray(ring) == 255] = 2            # skull (closed ring)
        labels[cavity] = 3                             # CSF between skull and brain
        labels[brain] = 4                              # grey matter
        labels[white] = 5                              # white matter
        return labels, (cy, cx)

    # label -> (T2 TSE, T2 FLAIR) signal; 6 ventricle CSF, 7 lesion.
    MR_SIGNAL = {0: (0, 0), 1: (650, 750), 2: (80, 80), 3: (1900, 140), 4: (1100, 1000), 5: (780, 720),
                 6: (1900, 140), 7: (1550, 1650)}

    def brain_slice(self, labels, centre, z, lesion_radius, size, rng, contrast):
        """One axial slice at z mm: the head shrinks away from z=0, ventricles, lesion, noise, MR_small texture."""
        cy, cx = centre
        scale = 1.0 - 0.006 * abs(z)
        inv = 0.62 * labels.shape[0] / (scale * size)  # the head fills most of the field of view
        # Output pixel (u, v) samples label pixel centre + (u - size/2) * inv (PIL's affine maps output to input).
        img = Image.fromarray(labels).transform(
            (size, size), Image.AFFINE, (inv, 0, cx - inv * size / 2, 0, inv, cy - inv * size / 2), Image.NEAREST)
        lab = np.asarray(img).copy()
        y, x = np.mgrid[0:size, 0:size].astype(np.float64)
        c = size / 2.0
        vent = max(0.0, 1.0 - abs(z) / 20.0)
        for side in (-1, 1):
            d = ((x - c - side * size * 0.05) / (size * 0.035 * vent + 1e-6)) ** 2 + ((y - c) / (size * 0.11 * vent + 1e-6)) ** 2
            lab[(d <= 1.0) & (lab == 5)] = 6
        if lesion_radius > 0 and abs(z) <= 7:
            r = lesion_radius * (1.0 - abs(z) / 10.0)
            d = np.hypot(x - (c + size * 0.13), y - (c - size * 0.08))
            lab[(d <= r) & (lab >= 4)] = 7
        signal = np.zeros(lab.shape)
        for label, values in self.MR_SIGNAL.items():
            signal[lab == label] = values[contrast]
        texture = resized(normalized(source('MR_small.dcm').pixel_array), (size, size))
        signal *= 0.94 + 0.12 * texture
        signal = box_blur(signal, 1)
        noisy = np.hypot(signal + rng.normal(0, 18, signal.shape), rng.normal(0, 18, signal.shape))  # Rician
        return np.clip(np.rint(noisy), 0, 4095).astype(np.uint16)

    def make_brain_mr(self, key, slices, lesion_radius, contrasts):
        labels, centre = self.head_labels()
        size, spacing, step = 192, 1.25, 6.0
        frame_of_reference = self.uid(f'frame-of-reference:{key}')
        positions = [round((k - (slices - 1) / 2.0) * step, 1) for k in range(slices)]
        protocols = {
            0: ('t2', 'AX T2 TSE', 'T2', {'ScanningSequence': 'SE', 'SequenceVariant': ['SK', 'SP'], 'RepetitionTime': 4000,
                                         'EchoTime': 100, 'EchoTrainLength': 16, 'SequenceName': 'tse2d1_16'}),
            1: ('flair', 'AX T2 FLAIR', 'FLAIR', {'ScanningSequence': ['SE', 'IR'], 'SequenceVariant': ['SK', 'SP', 'MP'],
                                                 'RepetitionTime': 9000, 'EchoTime': 120, 'InversionTime': 2500,
                                                 'EchoTrainLength': 16, 'SequenceName': 'tir2d1_16'}),
        }
        for number, contrast in enumerate(contrasts, start=1):
            series_key, description, weighting, params = protocols[contrast]
            rng = self.rng(f'mr:{key}:{series_key}')
            for index, z in enumerate(positions, start=1):
                ds = self.dataset(key, series_key, SOP['mr'], 'MR', number, description, index)
                ds.ImageType = ['ORIGINAL', 'PRIMARY', 'OTHER']
                ds.BodyPartExamined = 'BRAIN'
                for keyword, value in params.items():
                    setattr(ds, keyword, value)
                ds.ScanOptions = ''
                ds.MRAcquisitionType = '2D'
                ds.NumberOfAverages = 1
                ds.ImagingFrequency = 123.2
                ds.ImagedNucleus = '1H'
                ds.MagneticFieldStrength = 3
                ds.EchoNumbers = 1
                ds.SliceThickness = 5
                ds.SpacingBetweenSlices = step
                ds.FlipAngle = 150
                ds.PatientPosition = 'HFS'
                ds.FrameOfReferenceUID = frame_of_reference
                ds.PositionReferenceIndicator = ''
                ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
                ds.ImagePositionPatient = [-120.0, -120.0, z]
                ds.SliceLocation = z
                ds.PixelSpacing = [spacing, spacing]
                ds.AcquisitionNumber = 1
                ds.WindowCenter, ds.WindowWidth = (1000, 2000) if contrast == 0 else (900, 1800)
                image = self.brain_slice(labels, centre, z, lesion_radius, size, rng, contrast)
                pixels = self.grey_pixels(ds, [image], bits_stored=12)
                self.save(ds, key, series_key, f'{index:02d}.dcm', pixels, {'sliceLocation': z},
                          series_extra={'weighting': weighting})

    def make_brain_mrs(self):
        self.make_brain_mr('brainMr', 5, 9.0, (0, 1))
        self.make_brain_mr('brainMrPrior', 5, 5.0, (0, 1))
        self.make_brain_mr('brainMrOlder', 3, 0.0, (0,))

    # --- a study without images: SR and RT objects ---------------------------------------------------------

    def make_reports_only(self):
        key = 'reportsOnly'
        # Basic Text SR (content tree shaped like reportsi.dcm, with DCM/LOINC codes and real text).
        ds = self.dataset(key, 'sr', SOP['basic-text-sr'], 'SR', 1, 'Planning note', 1)
        ds.ReferencedPerformedProcedureStepSequence = Sequence([])
        ds.CompletionFlag = 'COMPLETE'
        ds.VerificationFlag = 'UNVERIFIED'
        ds.PerformedProcedureCodeSequence = Sequence([])
        ds.ValueType = 'CONTAINER'
        ds.ConceptNameCodeSequence = Sequence([code('18748-4', 'LN', 'Diagnostic imaging report')])
        ds.ContinuityOfContent = 'SEPARATE'
        sections = []
        for heading, item, text in ((('121070', 'DCM', 'Findings'), ('121071', 'DCM', 'Finding'),
                                     'Target volume and organs at risk contoured on the planning CT.'),
                                    (('121072', 'DCM', 'Impressions'), ('121073', 'DCM', 'Impression'),
                                     'Plan ready for physics review.')):
            leaf = Dataset()
            leaf.RelationshipType, leaf.ValueType = 'CONTAINS', 'TEXT'
            leaf.ConceptNameCodeSequence = Sequence([code(*item)])
            leaf.TextValue = text
            section = Dataset()
            section.RelationshipType, section.ValueType = 'CONTAINS', 'CONTAINER'
            section.ConceptNameCodeSequence = Sequence([code(*heading)])
            section.ContinuityOfContent = 'SEPARATE'
            section.ContentSequence = Sequence([leaf])
            sections.append(section)
        ds.ContentSequence = Sequence(sections)
        self.save(ds, key, 'sr', '01.dcm')
        # RT Structure Set: rtstruct.dcm's ROIs and contours in a new frame of reference, no image references.
        frame_of_reference = self.uid(f'frame-of-reference:{key}')
        src = source('rtstruct.dcm')
        ds = self.dataset(key, 'rtstruct', SOP['rt-struct'], 'RTSTRUCT', 2, 'Planning structures', 1)
        copy_groups(src, ds, (0x3006,))
        del ds.ContentDate, ds.ContentTime  # not part of the RT Structure Set IOD
        ds.OperatorsName = ''
        ds.FrameOfReferenceUID = frame_of_reference
        ds.PositionReferenceIndicator = ''
        ds.StructureSetDate, ds.StructureSetTime = ds.StudyDate, ds.StudyTime
        ref = ds.ReferencedFrameOfReferenceSequence[0]
        ref.FrameOfReferenceUID = frame_of_reference
        if 'RTReferencedStudySequence' in ref:
            del ref.RTReferencedStudySequence
        for roi in ds.StructureSetROISequence:
            roi.ReferencedFrameOfReferenceUID = frame_of_reference
        self.save(ds, key, 'rtstruct', '01.dcm')
        struct = ds
        # RT Plan: rtplan.dcm's plan, referencing the structure set above.
        src = source('rtplan.dcm')
        ds = self.dataset(key, 'rtplan', SOP['rt-plan'], 'RTPLAN', 3, 'Plan 1', 1)
        copy_groups(src, ds, (0x300A, 0x300C, 0x300E))
        del ds.ContentDate, ds.ContentTime  # not part of the RT Plan IOD
        for group in ds.FractionGroupSequence:
            for beam in group.ReferencedBeamSequence:
                if 'BeamDoseSpecificationPoint' in beam:  # retired since 2017
                    del beam.BeamDoseSpecificationPoint
        ds.OperatorsName = ''
        ds.RTPlanDate, ds.RTPlanTime = ds.StudyDate, ds.StudyTime
        ref = Dataset()
        ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = struct.SOPClassUID, struct.SOPInstanceUID
        ds.ReferencedStructureSetSequence = Sequence([ref])
        self.save(ds, key, 'rtplan', '01.dcm')


def srgb_profile():
    """lcms's built-in sRGB profile, its creation date (header bytes 24-35) fixed so output stays reproducible."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile('sRGB')).tobytes())
    profile[24:36] = struct.pack('>6H', 2024, 1, 1, 0, 0, 0)
    return bytes(profile)


def copy_groups(src, dst, groups):
    """Copies every element of the given groups (the RT modules of a pydicom sample) into dst."""
    for element in src:
        if element.tag.group in groups:
            dst.add(copy.deepcopy(element))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', required=True)
    p.add_argument('--seed', default=DEFAULT_SEED)
    p.add_argument('--patient-name', default=DEFAULT_PATIENT['name'])
    p.add_argument('--patient-id', default=DEFAULT_PATIENT['id'])
    p.add_argument('--birth-date', default=DEFAULT_PATIENT['birthDate'])
    p.add_argument('--accession', default=DEFAULT_PATIENT['accessionNumber'])
    a = p.parse_args()
    patient = {'name': a.patient_name, 'id': a.patient_id, 'birthDate': a.birth_date, 'accessionNumber': a.accession}
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    gen = Generator(out, a.seed, patient)
    gen.make_ultrasound()
    gen.make_whole_slide()
    gen.make_fundus()
    gen.make_oct()
    gen.make_photographs()
    gen.make_brain_mrs()
    gen.make_reports_only()
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(gen.manifest, f, indent=1)


if __name__ == '__main__':
    main()
